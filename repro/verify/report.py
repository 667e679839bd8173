"""The verify command: check a run's results.json against an expected table, print one row per figure
and write the verdicts to <run_dir>/verify.json (against the profile's own table) or
<run_dir>/verify-<table>.json (against another one)."""
from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path

from repro.atomic import write_json
from repro.engine import check_outputs, is_done, stage_dir
from repro.errors import VerifyInputError
from repro.settings.profile import resolve
from repro.verify.quantities import Run
from repro.verify.schema import load_expected, load_results, resolve_expected
from repro.verify.verdicts import Outcome, evaluate_figure, summary


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
    if config and table["profile"] != run.profile().name:
        header.append(f"  note: the run's profile is {run.profile().name!r}, the table's {table['profile']!r}")
    print_report(outcomes, header)
    print(f"{s['figures']} figures: {s['pass']} pass, {s['fail']} FAIL, {s['not_computed']} not computed "
          f"({s['not_computed_optional']} of them optional) -> exit {s['exit_code']}")
    if out_path is not None:
        write_json(out_path, {"expected": str(expected_path), "results": str(results_path),
                              "summary": s, "figures": [asdict(o) for o in outcomes]})
        print(f"verdicts written to {out_path}")
    return s["exit_code"]


def _own_table(expected: str) -> Path | None:
    """The profile's own table (verify.expected), if it is here."""
    try:
        return resolve_expected(expected)
    except VerifyInputError:  # the profile's own table is not here: any other table is "another"
        return None


def verdicts_path(run_dir: Path, expected_path: Path, own_path: Path | None) -> Path:
    """Where the verdicts go: the run's own verify.json against the profile's table; against any other
    table a file named after it (verify-paper.json), so the run's own verdicts are never replaced."""
    if own_path is not None and expected_path.resolve() == own_path.resolve():
        return run_dir / "verify.json"
    return run_dir / f"verify-{expected_path.stem}.json"


def verify_run(run_dir, plan, config: dict, expected: str | None = None, out: Path | None = None) -> int:
    """Verify the run in run_dir against `expected` (name in expected/ or a path; default the profile's
    verify.expected) and write the verdicts to `out` (default: verdicts_path). Returns 0 (all pass),
    1 (a figure fails or is not computed), 2 (cannot verify)."""
    run_dir = Path(run_dir)
    try:
        own = resolve(config).verify.expected
        expected_path = resolve_expected(expected or own)
        own_path = expected_path if not expected else _own_table(own)
        table = load_expected(expected_path)  # an invalid table is reported before anything about the run
        if not is_done(run_dir, plan.aggregate):
            raise VerifyInputError(
                f"the aggregate stage is not done in {run_dir} ({stage_dir(run_dir, plan.aggregate)} has no manifest); "
                "run `python -m repro reproduce --all` with the same --profile and --set options first")
        check_outputs(run_dir, plan.aggregate)  # an edited results table is named, never verified
        return verify_results(stage_dir(run_dir, plan.aggregate) / "results.json", expected_path, config,
                              Path(out) if out else verdicts_path(run_dir, expected_path, own_path), table)
    except VerifyInputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
