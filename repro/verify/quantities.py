"""The quantities an expected figure can name (`definition.quantity`), computed per seed from a run's
results.json; what each means is documented in repro/schemas/schema.json and in the functions below."""
from __future__ import annotations

import statistics
from dataclasses import dataclass

from repro.plan import intermediate_names, target_encoders
from repro.settings.profile import Profile, resolve
from repro.tasks import get_task

MAX_LISTED = 5  # missing items listed per figure


class NotComputed(Exception):
    """A figure's inputs are not in the results."""


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
        seeds = self.profile().run.seeds if self.config else self.results["seeds"]
        return [str(s) for s in seeds]

    def encoders(self, spec) -> list[str]:
        if isinstance(spec, list):
            return spec
        if spec == "results":
            return list(self.results["encoders"])
        if spec == "results_intermediate":
            return [e for e in self.results["encoders"] if e != "baseline"]
        p = self.profile()
        return target_encoders(p.intermediate, p.target)

    def targets(self, spec) -> list[str]:
        if isinstance(spec, list):
            return spec
        return list(self.results["targets"]) if spec == "results" else list(self.profile().target.tasks)

    def require_config(self) -> dict:
        if self.config is None:
            raise NotComputed("the definition refers to the profile's configuration, which was not given")
        return self.config

    def profile(self) -> Profile:
        """The run's profile, typed."""
        return resolve(self.require_config())


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
    declares it (a task without that split, e.g. a retrieval task asked for "train", has no cell)."""
    if run.config is not None and split not in run.profile().target.splits:
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
    inter, seeds, missing = run.profile().intermediate, run.seeds(), []
    names = list(inter.tasks)
    if "multitask" in intermediate_names(inter):
        names += [f"multitask/{t}" for t in inter.tasks]
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
