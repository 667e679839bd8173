"""Verification: compute each figure of an expected-figure table (expected/*.json) from a run's results.json
and check it.

Exit codes of :func:`verify_run`:
  0  every figure was computed and passes (an *optional* figure may be "not computed");
  1  a figure fails, or a non-optional figure could not be computed from the results (task not run,
     split not scored, encoder absent): a missing input is never a pass;
  2  the run cannot be verified: the expected file or results.json is missing, unreadable or does not
     match its schema (the message names the file and the JSON path), or the aggregate stage is not done.

A figure is computed once per seed (seeds paired across its inputs) and reported as mean ± sd over the
seeds; the verdict uses the mean. What each `definition.quantity` means is documented in
expected/schema.json and in the ``_q_*`` functions below. The verdicts are written to
``<run_dir>/verify.json``.
"""
from __future__ import annotations

import functools
import json
import math
import statistics
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from repro.atomic import write_json
from repro.errors import VerifyInputError

REPO_EXPECTED = Path(__file__).resolve().parents[1] / "expected"
PACKAGE_SCHEMAS = Path(__file__).resolve().parent / "schemas"
FIGURE_SCHEMA = "schema.json"
RESULTS_SCHEMA = "results.schema.json"
MAX_LISTED = 5  # missing items / schema errors listed per figure / file


class NotComputed(Exception):
    """A figure's inputs are not in the results."""


# ---------------------------------------------------------------- files and schemas

def schema_path(name: str) -> Path:
    """The canonical copy in the repository's expected/ when present, else the one shipped in the package."""
    for folder in (REPO_EXPECTED, PACKAGE_SCHEMAS):
        if (folder / name).is_file():
            return folder / name
    raise VerifyInputError(f"schema {name} not found in {REPO_EXPECTED} or {PACKAGE_SCHEMAS}")


@functools.cache
def load_schema(name: str) -> dict:
    """The parsed schema, checked to be a valid 2020-12 schema (cached: it is read-only)."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    path = schema_path(name)
    schema = read_json(path, "schema")
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as e:
        raise VerifyInputError(f"{path}: not a valid JSON Schema at {json_path(e.absolute_path)}: {e.message}") from None
    return schema


def read_json(path: Path, what: str):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise VerifyInputError(f"{what} file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as e:
        raise VerifyInputError(f"{what} file {path} cannot be read: {e}") from None
    except json.JSONDecodeError as e:
        raise VerifyInputError(f"{what} file {path} is not valid JSON: {e}") from None


def json_path(parts) -> str:
    """('figures', 2, 'tolerance', 'abs') -> 'figures[2].tolerance.abs'; the root is '$'."""
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "$"


def validate(obj, schema: dict, path: Path, what: str) -> None:
    from jsonschema import Draft202012Validator

    errors = sorted(Draft202012Validator(schema).iter_errors(obj), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        lines = [f"  at {json_path(e.absolute_path)}: {e.message}" for e in errors[:MAX_LISTED]]
        more = f"\n  ... and {len(errors) - MAX_LISTED} more" if len(errors) > MAX_LISTED else ""
        raise VerifyInputError(f"{what} file {path} does not match {schema_path_label(schema)}:\n"
                               + "\n".join(lines) + more)


def schema_path_label(schema: dict) -> str:
    return schema.get("$id", "its schema").rsplit("/", 1)[-1]


def resolve_expected(ref: str) -> Path:
    """A name in expected/ (without .json) or a path to a .json file."""
    p = Path(ref)
    if p.suffix == ".json" or len(p.parts) > 1:
        return p
    # The repository's expected/ (a checkout, an editable install), else ./expected (an installed
    # package run from a checkout or from the container's working directory).
    folders = [REPO_EXPECTED, Path.cwd() / "expected"]
    for folder in folders:
        if (folder / f"{ref}.json").is_file():
            return folder / f"{ref}.json"
    known = sorted({f.stem for d in folders for f in d.glob("*.json") if "schema" not in f.name})
    raise VerifyInputError(f"no expected table named {ref!r} in {' or '.join(map(str, folders))}; "
                           f"known: {', '.join(known) or 'none'} (or give a path to a .json file)")


def load_expected(path: Path) -> dict:
    table = read_json(path, "expected-figures")
    validate(table, load_schema(FIGURE_SCHEMA), path, "expected-figures")
    seen = {}
    for i, fig in enumerate(table["figures"]):
        if fig["id"] in seen:
            raise VerifyInputError(f"expected-figures file {path}: at figures[{i}].id: id {fig['id']!r} "
                                   f"already used by figures[{seen[fig['id']]}]")
        seen[fig["id"]] = i
    return table


def load_results(path: Path) -> dict:
    results = read_json(path, "results")
    validate(results, load_schema(RESULTS_SCHEMA), path, "results")
    return results


# ---------------------------------------------------------------- the run's inputs

@dataclass
class Run:
    results: dict
    config: dict | None = None

    def split(self, name: str) -> str:
        return self.results["headline_split"] if name == "headline" else name

    def table(self, name: str) -> dict:
        split = self.split(name)
        if split not in self.results["splits"]:
            raise NotComputed(f"split {split!r} was not scored in this run")
        return self.results["splits"][split]

    def seeds(self) -> list[str]:
        seeds = self.config["run"]["seeds"] if self.config else self.results["seeds"]
        return [str(s) for s in seeds]

    def encoders(self, spec) -> list[str]:
        if isinstance(spec, list):
            return spec
        if spec == "results":
            return list(self.results["encoders"])
        if spec == "results_intermediate":
            return [e for e in self.results["encoders"] if e != "baseline"]
        return config_encoders(self.require_config())

    def targets(self, spec) -> list[str]:
        if isinstance(spec, list):
            return spec
        return list(self.results["targets"]) if spec == "results" else list(self.require_config()["target"]["tasks"])

    def require_config(self) -> dict:
        if self.config is None:
            raise NotComputed("the definition refers to the profile's configuration, which was not given")
        return self.config


def intermediate_names(config: dict) -> list[str]:
    """The intermediate stages a profile trains (repro.plan.build_plan's naming)."""
    inter = config["intermediate"]
    return list(inter["tasks"]) + (["multitask"] if inter["multitask"] and len(inter["tasks"]) > 1 else [])


def config_encoders(config: dict) -> list[str]:
    tgt = config["target"]
    return (["baseline"] if tgt["baseline"] else []) + list(tgt["encoders"] or intermediate_names(config))


def cell_per_seed(table: dict, encoder: str, target: str, language: str | None = None) -> dict[str, float]:
    if encoder not in table["cells"]:
        raise NotComputed(f"encoder {encoder!r} has no cells on this split (it has: {', '.join(table['cells']) or 'none'})")
    cell = table["cells"][encoder].get(target)
    if cell is None:
        raise NotComputed(f"no {target} cell for encoder {encoder!r}")
    if language is None:
        return dict(cell["per_seed"])
    values = {s: langs[language] for s, langs in cell["languages_per_seed"].items() if language in langs}
    if not values:
        raise NotComputed(f"language {language!r} not scored in the {target} cell of {encoder!r}")
    return values


def per_target(targets: list[str], compute) -> list[dict[str, float]]:
    """compute(target) for every target; all missing inputs are named together."""
    values, missing = [], []
    for t in targets:
        try:
            values.append(compute(t))
        except NotComputed as e:
            missing.append(str(e))
    if missing:
        unique = list(dict.fromkeys(missing))
        raise NotComputed("; ".join(unique[:MAX_LISTED]) + (f"; ... ({len(unique)} in all)" if len(unique) > MAX_LISTED else ""))
    return values


def paired(per_seed: list[dict[str, float]], combine) -> dict[str, float]:
    """combine([v_1, ..., v_k]) for every seed that all k inputs have."""
    common = set.intersection(*(set(d) for d in per_seed)) if per_seed else set()
    if not common:
        raise NotComputed("no seed has all the inputs of this figure")
    return {s: combine([d[s] for d in per_seed]) for s in sorted(common, key=int)}


def best_encoder(run: Run, d: dict, target: str) -> str:
    """The candidate with the highest seed-mean on the selection split (ties: first name)."""
    table = run.table(d["selection_split"])
    scored = [(statistics.fmean(table["cells"][e][target]["per_seed"].values()), e)
              for e in run.encoders(d["encoders"]) if target in table["cells"].get(e, {})]
    if not scored:
        raise NotComputed(f"no candidate encoder has a {target} cell on split {run.split(d['selection_split'])!r}")
    return min(scored, key=lambda t: (-t[0], t[1]))[1]


# ---------------------------------------------------------------- quantities (per seed)

def _q_cell(run: Run, d: dict) -> dict[str, float]:
    return cell_per_seed(run.table(d["split"]), d["encoder"], d["targets"][0], d["language"])


def _q_best_cell(run: Run, d: dict) -> dict[str, float]:
    target = d["targets"][0]
    return cell_per_seed(run.table(d["split"]), best_encoder(run, d, target), target)


def _q_mean_gain(run: Run, d: dict) -> dict[str, float]:
    table = run.table(d["split"])
    gains = per_target(run.targets(d["targets"]), lambda t: paired(
        [cell_per_seed(table, d["encoder"], t), cell_per_seed(table, d["baseline"], t)], lambda v: v[0] - v[1]))
    return paired(gains, statistics.fmean)


def _q_xtreme_score(run: Run, d: dict) -> dict[str, float]:
    table = run.table(d["split"])
    return paired(per_target(run.targets(d["targets"]), lambda t: cell_per_seed(table, d["encoder"], t)),
                  statistics.fmean)


def _q_xtreme_best_gain(run: Run, d: dict) -> dict[str, float]:
    table = run.table(d["split"])

    def gain(t: str) -> dict[str, float]:
        best = cell_per_seed(table, best_encoder(run, d, t), t)
        return paired([best, cell_per_seed(table, d["baseline"], t)], lambda v: v[0] - v[1])

    return paired(per_target(run.targets(d["targets"]), gain), statistics.fmean)


def _q_intermediate_dev(run: Run, d: dict) -> dict[str, float]:
    entry = run.results["intermediate_dev"].get(d["encoder"])
    if entry is None:
        raise NotComputed(f"no intermediate dev score for {d['encoder']!r}")
    if entry["metric"] != d["metric"]:
        raise NotComputed(f"{d['encoder']!r} reports {entry['metric']!r}, the figure is defined on {d['metric']!r}")
    return dict(entry["per_seed"])


NUMERIC = {"cell": _q_cell, "best_cell": _q_best_cell, "mean_gain": _q_mean_gain, "xtreme_score": _q_xtreme_score,
           "xtreme_best_gain": _q_xtreme_best_gain, "intermediate_dev": _q_intermediate_dev}


# ---------------------------------------------------------------- structure and all-values checks

def targets_with_split(run: Run, targets: list[str], split: str) -> list[str]:
    """The targets that can have a cell on `split`: the split is configured (target.splits) and the task
    declares it (Tatoeba, for one, has only a test set)."""
    from repro.tasks import get_task

    if run.config is not None and split not in run.config["target"]["splits"]:
        raise NotComputed(f"split {split!r} is not in the profile's target.splits")
    return [t for t in targets if split in get_task(t).splits]


def _s_all_cells_present(run: Run, d: dict) -> list[str]:
    split = run.split(d["split"])
    table = run.results["splits"].get(split, {"cells": {}})
    targets = targets_with_split(run, run.targets(d["targets"]), split)
    if not targets:
        raise NotComputed(f"none of the targets has a {split!r} split")
    seeds, missing = run.seeds(), []
    for enc in run.encoders(d["encoders"]):
        for tgt in targets:
            have = table["cells"].get(enc, {}).get(tgt, {}).get("per_seed", {})
            lacking = [s for s in seeds if s not in have]
            if lacking:
                missing.append(f"{enc}×{tgt}" + ("" if not have else f" (seeds {', '.join(lacking)})"))
    return missing


def _s_xtreme_present(run: Run, d: dict) -> list[str]:
    table = run.results["splits"].get(run.split(d["split"]), {"xtreme": {}})
    return [enc for enc in run.encoders(d["encoders"]) if table["xtreme"].get(enc) is None]


def _s_intermediate_dev_present(run: Run, d: dict) -> list[str]:
    config, seeds, missing = run.require_config(), run.seeds(), []
    names = list(config["intermediate"]["tasks"])
    if "multitask" in intermediate_names(config):
        names += [f"multitask/{t}" for t in config["intermediate"]["tasks"]]
    for name in names:
        have = run.results["intermediate_dev"].get(name, {}).get("per_seed", {})
        if any(s not in have for s in seeds):
            missing.append(name)
    return missing


STRUCTURE = {"all_cells_present": _s_all_cells_present, "xtreme_present": _s_xtreme_present,
             "intermediate_dev_present": _s_intermediate_dev_present}


def all_scores(run: Run, d: dict) -> list[float]:
    """Every score of the split's table for the named encoders x targets (per seed, per language, means),
    the XTREME scores of those encoders, and every intermediate dev score."""
    table, values = run.table(d["split"]), []
    targets = set(run.targets(d["targets"]))
    for enc in run.encoders(d["encoders"]):
        for tgt, cell in table["cells"].get(enc, {}).items():
            if tgt in targets:
                values += [cell["mean"], *cell["per_seed"].values(), *cell["languages"].values()]
                values += [v for langs in cell["languages_per_seed"].values() for v in langs.values()]
        if table["xtreme"].get(enc):
            values.append(table["xtreme"][enc]["mean"])
    for entry in run.results["intermediate_dev"].values():
        values += [entry["mean"], *entry["per_seed"].values()]
    if not values:
        raise NotComputed(f"no scores on split {run.split(d['split'])!r} for these encoders and targets")
    return values


# ---------------------------------------------------------------- verdicts

@dataclass
class Outcome:
    id: str
    check: str
    expected: str
    tolerance: str
    got: str
    verdict: str            # pass | FAIL | not computed
    confidence: str
    optional: bool
    reason: str = ""
    mean: float | None = None
    sd: float | None = None
    n: int | None = None
    per_seed: dict = field(default_factory=dict)


def in_bounds(x: float, lo: float | None, hi: float | None) -> bool:
    return math.isfinite(x) and (lo is None or x >= lo) and (hi is None or x <= hi)


def expected_text(fig: dict) -> tuple[str, str]:
    if fig["check"] == "value":
        tol = fig["tolerance"]
        rel = f" or {100 * tol['rel']:g}%" if "rel" in tol else ""
        return f"{fig['value']:+.2f}" if fig["definition"]["quantity"].endswith("gain") else f"{fig['value']:.2f}", \
            f"±{tol['abs']:g}{rel}"
    if fig["check"] == "range":
        r = fig["range"]
        return f"[{r.get('min', '-inf')}, {r.get('max', 'inf')}]", ""
    return "complete", ""


def numeric_verdict(fig: dict, mean: float) -> bool:
    if fig["check"] == "range":
        return in_bounds(mean, fig["range"].get("min"), fig["range"].get("max"))
    tol = fig["tolerance"]
    allowed = max(tol["abs"], tol.get("rel", 0.0) * abs(fig["value"]))
    return math.isfinite(mean) and abs(mean - fig["value"]) <= allowed + 1e-9


def evaluate_figure(run: Run, fig: dict) -> Outcome:
    expected, tolerance = expected_text(fig)
    out = Outcome(fig["id"], fig["check"], expected, tolerance, "–", "not computed",
                  fig["provenance"]["confidence"], fig.get("optional", False))
    d = fig["definition"]
    try:
        if d["quantity"] in STRUCTURE:
            _structure(out, STRUCTURE[d["quantity"]](run, d))
        elif d["quantity"] == "all_scores":
            _all_values(out, fig, all_scores(run, d))
        else:
            _numeric(out, fig, NUMERIC[d["quantity"]](run, d))
    except NotComputed as e:
        out.reason = str(e)
    return out


def _structure(out: Outcome, missing: list[str]) -> None:
    out.got = "complete" if not missing else f"{len(missing)} missing"
    out.verdict = "pass" if not missing else "FAIL"
    if missing:
        out.reason = "missing: " + ", ".join(missing[:MAX_LISTED]) + (" ..." if len(missing) > MAX_LISTED else "")


def _all_values(out: Outcome, fig: dict, values: list[float]) -> None:
    bad = [v for v in values if not in_bounds(v, fig["range"].get("min"), fig["range"].get("max"))]
    finite = [v for v in values if math.isfinite(v)]
    out.got = f"{min(finite):.2f}..{max(finite):.2f} ({len(values)} values)" if finite else f"{len(values)} non-finite"
    out.verdict = "pass" if not bad else "FAIL"
    if bad:
        out.reason = f"{len(bad)} of {len(values)} values out of range, e.g. {bad[0]!r}"


def _numeric(out: Outcome, fig: dict, per_seed: dict[str, float]) -> None:
    values = list(per_seed.values())
    out.mean, out.n, out.per_seed = statistics.fmean(values), len(values), per_seed
    out.sd = statistics.stdev(values) if len(values) > 1 else 0.0
    out.got = f"{out.mean:.2f} ± {out.sd:.2f} (n={out.n})"
    out.verdict = "pass" if numeric_verdict(fig, out.mean) else "FAIL"


def exit_code(outcomes: list[Outcome]) -> int:
    ok = all(o.verdict == "pass" or (o.verdict == "not computed" and o.optional) for o in outcomes)
    return 0 if ok else 1


# ---------------------------------------------------------------- report

def print_report(outcomes: list[Outcome], header: list[str]) -> None:
    cols = ["id", "check", "expected", "tolerance", "got", "verdict", "confidence"]
    rows = [[o.id, o.check, o.expected, o.tolerance, o.got,
             o.verdict + (" (optional)" if o.optional and o.verdict == "not computed" else ""), o.confidence]
            for o in outcomes]
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(cols)]
    for line in header:
        print(line)
    print("  ".join(c.ljust(w) for c, w in zip(cols, widths)).rstrip())
    for o, r in zip(outcomes, rows):
        print("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())
        if o.reason:
            print(f"    {o.reason}")


def summary(outcomes: list[Outcome]) -> dict:
    count = lambda v: sum(o.verdict == v for o in outcomes)
    return {"figures": len(outcomes), "pass": count("pass"), "fail": count("FAIL"),
            "not_computed": count("not computed"),
            "not_computed_optional": sum(o.verdict == "not computed" and o.optional for o in outcomes),
            "exit_code": exit_code(outcomes)}


def verify_results(results_path: Path, expected_path: Path, config: dict | None, out_path: Path | None,
                   table: dict | None = None) -> int:
    """Check one results.json against one expected table (loaded from expected_path unless given); prints
    the report and writes verify.json to out_path. Raises VerifyInputError for an invalid file."""
    table = table if table is not None else load_expected(expected_path)
    results = load_results(results_path)
    run = Run(results, config)
    outcomes = [evaluate_figure(run, fig) for fig in table["figures"]]
    s = summary(outcomes)
    header = [f"verify: {expected_path} (written for profile {table['profile']!r}) against {results_path}",
              (f"  run: profile {results['profile']!r}, model {results['model']!r}, data {results['data_source']}, "
               f"seeds {results['seeds']}, headline split {results['headline_split']!r}")]
    if config and table["profile"] != config["profile"]:
        header.append(f"  note: the run's profile is {config['profile']!r}, the table's {table['profile']!r}")
    print_report(outcomes, header)
    print(f"{s['figures']} figures: {s['pass']} pass, {s['fail']} FAIL, {s['not_computed']} not computed "
          f"({s['not_computed_optional']} of them optional) -> exit {s['exit_code']}")
    if out_path is not None:
        write_json(out_path, {"expected": str(expected_path), "results": str(results_path),
                              "summary": s, "figures": [asdict(o) for o in outcomes]})
        print(f"verdicts written to {out_path}")
    return s["exit_code"]


def verify_run(run_dir, plan, config: dict, expected: str | None = None) -> int:
    """Verify the run in run_dir against `expected` (name in expected/ or a path; default the profile's
    verify.expected). Returns 0 (all pass), 1 (a figure fails or is not computed), 2 (cannot verify)."""
    from repro.engine import check_outputs, is_done, stage_dir

    run_dir = Path(run_dir)
    try:
        expected_path = resolve_expected(expected or config["verify"]["expected"])
        table = load_expected(expected_path)  # an invalid table is reported before anything about the run
        if not is_done(run_dir, plan.aggregate):
            raise VerifyInputError(
                f"the aggregate stage is not done in {run_dir} ({stage_dir(run_dir, plan.aggregate)} has no manifest); "
                "run `python -m repro reproduce --all` with the same --profile and --set options first")
        check_outputs(run_dir, plan.aggregate)  # an edited results table is named, never verified
        return verify_results(stage_dir(run_dir, plan.aggregate) / "results.json", expected_path, config,
                              run_dir / "verify.json", table)
    except VerifyInputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
