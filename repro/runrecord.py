"""Which profile and `--set` options a run directory was made with, so that the commands that read a run
(status, verify, analyze, plan) need only `--run-dir`.

`reproduce` writes RUN_DIR/run.json ({"profile": name or absolute .toml path, "overrides": [...]}). A run
directory made before the record existed is recognised by its stage keys: the named profile (without
`--set` options) to which most of its finished stages belong is taken, and a note says so.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from repro.atomic import write_json
from repro.errors import ReproError

RECORD = "run.json"
DEFAULT_PROFILE = "smoke"


def recorded_profile(profile: str) -> str:
    """A profile as a later command finds it from any working directory: a .toml path made absolute."""
    p = Path(profile)
    return str(p.resolve()) if p.suffix == ".toml" and p.exists() else profile


def write_record(run_dir: Path, profile: str, overrides: list[str]) -> None:
    write_json(Path(run_dir) / RECORD, {"profile": recorded_profile(profile), "overrides": list(overrides)})


def read_record(run_dir: Path) -> tuple[str, list[str]] | None:
    """(profile, overrides) recorded in run_dir, or None where there is no record."""
    path = Path(run_dir) / RECORD
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        profile, overrides = data["profile"], data["overrides"]
        if not isinstance(profile, str) or not isinstance(overrides, list) or not all(isinstance(o, str) for o in overrides):
            raise TypeError("profile must be a string and overrides a list of strings")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as e:
        raise ReproError(f"{path}: not a run record ({e}); pass --profile and the --set options the run was made with") from None
    return profile, overrides


def check_run_dir(run_dir: Path) -> None:
    """A run directory path that exists must be a folder (a file there would only fail later, obscurely)."""
    if Path(run_dir).exists() and not Path(run_dir).is_dir():
        raise ReproError(f"--run-dir {run_dir} is not a directory")


def _finished_stage_dirs(run_dir: Path) -> set[str]:
    return {f"{m.parent.parent.name}/{m.parent.name}" for m in Path(run_dir).glob("*/*/manifest.json")}


def infer_profile(run_dir: Path, profile_dir: Path, plan_of) -> str:
    """The named profile whose stages (keyed by their inputs) are done in run_dir: for run directories
    written before run.json existed. plan_of(profile) -> the plan's stages. Raises ReproError naming what
    is needed when no profile matches."""
    done = _finished_stage_dirs(run_dir)
    best, best_score = None, (0, 0.0)
    if done:
        for path in sorted(profile_dir.glob("*.toml")):
            if path.stem == "base":
                continue
            try:
                stages = plan_of(path.stem)
            except ReproError:  # a profile needing data not here: cannot be the one
                continue
            hits = sum(f"{s.phase}/{s.name}-{s.key}" in done for s in stages)
            score = (hits, hits / max(len(stages), 1))
            # Most of what the run holds must be this profile's: a run of another profile (a .toml path,
            # --set options) shares a few stages with a named one and is not that one.
            if score > best_score and hits >= len(done) / 2:
                best, best_score = path.stem, score
    if best is None:
        raise ReproError(f"{run_dir} has no run record ({RECORD}) and its finished stages are not those of a named "
                         "profile; pass the --profile (and --set options) it was made with")
    print(f"note: {run_dir} has no {RECORD}; read as profile {best!r}, whose stages it holds "
          "(pass --profile and --set options to read it otherwise)", file=sys.stderr)
    return best


def resolve(profile: str | None, overrides: list[str], run_dir: str | None, profile_dir: Path, plan_of,
            default_run_dir: str, reads_run: bool) -> tuple[str, list[str], Path]:
    """(profile, overrides, run dir) of a command. An explicit --profile wins; otherwise a run directory's
    record (its --set options first, then the command's); otherwise an explicit --run-dir that holds
    stages is recognised by them; otherwise the default profile, except for a command that reads a run
    (reads_run) given a --run-dir: that one says what it needs rather than guess."""
    if profile is not None:
        path = Path(run_dir or default_run_dir.format(profile=Path(profile).stem))
        check_run_dir(path)
        return profile, list(overrides), path
    path = Path(run_dir or default_run_dir.format(profile=DEFAULT_PROFILE))
    check_run_dir(path)
    record = read_record(path)
    if record is not None:
        return record[0], record[1] + list(overrides), path
    if run_dir is not None and path.is_dir() and not overrides and _finished_stage_dirs(path):
        return infer_profile(path, profile_dir, plan_of), [], path
    if reads_run and run_dir is not None:
        what = "does not exist" if not path.exists() else f"has no run record ({RECORD}) and no finished stage"
        raise ReproError(f"--run-dir {path} {what}, so its profile is unknown; pass the --profile "
                         "(and --set options) it was made with, or run `python -m repro reproduce` there first")
    return DEFAULT_PROFILE, list(overrides), path
