"""Invoke tasks: every user command of `python -m repro`, with the same flags (`invoke --list`,
`invoke --help TASK`).

    invoke reproduce --all --profile paper [--run-dir D] [--set K=V]... [--executor slurm]
    invoke reproduce --phase intermediate --profile paper --set 'intermediate.tasks=["mnli"]'
    invoke plan --profile paper --estimate      invoke check-data --profile paper --offline
    invoke status --run-dir runs/paper          invoke verify --run-dir runs/paper [--expected paper]
    invoke analyze --run-dir runs/paper         invoke analyze --results typed.json --out report/
    invoke score --prediction-folder P --label-folder L --output-file scores.json
    invoke reproduce --all --profile paper --docker   # the same inside the CUDA container

Every task is a thin wrapper over `python -m repro ...`; stages that are done are skipped, so any
task can be re-run after a crash and continues where it stopped. Exit codes are repro's. Without
--profile, a command on an existing --run-dir reads the profile that run was made with.
"""
from __future__ import annotations

import os
import shlex
import sys

from invoke import task

IMAGE = os.environ.get("REPRO_IMAGE", "repro-xstilts:latest")
COMMON_HELP = {"profile": "smoke | smoke-grid | paper | path.toml (default: the one --run-dir was made with, else smoke)",
               "run_dir": "default runs/<profile>", "set": "override KEY=VALUE, read as TOML (repeatable)",
               "docker": "run in the CUDA container"}


def repro_args(command: str, profile: str, run_dir: str, sets, *flags: str) -> list[str]:
    """`python -m repro` arguments for one task; empty options are left out so repro's defaults apply."""
    args = [command, *[f for f in flags if f]]
    if profile:
        args += ["--profile", profile]
    if run_dir:
        args += ["--run-dir", run_dir]
    for s in sets or []:
        args += ["--set", s]
    return args


def docker_command(args: list[str]) -> list[str]:
    """The container's entry point takes repro's arguments as they are (docker/entrypoint.sh). GPUs,
    ./runs, ./data and the Hugging Face cache are mounted; the container user is not root."""
    cwd = os.getcwd()
    hub = os.path.expanduser(os.environ.get("HF_HOME", "~/.cache/huggingface"))
    env = [f"-e{name}" for name in ("HF_TOKEN",) if name in os.environ]  # passed by name, never baked in
    return ["docker", "run", "--rm", "--gpus", "all", "--ipc=host", "-v", f"{cwd}/runs:/work/runs",
            "-v", f"{cwd}/data:/data", "-v", f"{hub}:/hf", *env, IMAGE, *args]


def _run(c, args: list[str], docker: bool = False) -> None:
    argv = docker_command(args) if docker else [sys.executable, "-m", "repro", *args]
    c.run(shlex.join(argv), pty=False)


@task(iterable=["set"], auto_shortflags=False, help={**COMMON_HELP, "all": "every stage of the profile, then verify",
                              "phase": "one phase (and what it needs)", "dry_run": "print the plan only",
                              "executor": "local (default) | slurm", "wait": "wait for a run holding the run dir",
                              "no_verify": "skip the verification after --all", "docker": "run in the CUDA container",
                              "devices": "GPU ids, e.g. 0,1,2,3: independent stages run concurrently, one worker per GPU",
                              "stages_per_device": "workers sharing each GPU", "jobs": "N concurrent CPU workers"})
def reproduce(c, all_=False, phase="", profile="", run_dir="", set=None, executor="", dry_run=False,
              wait=False, no_verify=False, docker=False, devices="", stages_per_device=0, jobs=0):
    """Run stages of a profile (skipping done ones); with --all, verify the figures afterwards."""
    flags = ("--all" if all_ else "", f"--phase={phase}" if phase else "", f"--executor={executor}" if executor else "",
             "--dry-run" if dry_run else "", "--wait" if wait else "", "--no-verify" if no_verify else "",
             _opt("--devices", devices), _opt("--stages-per-device", stages_per_device), _opt("--jobs", jobs))
    _run(c, repro_args("reproduce", profile, run_dir, set, *flags), docker)


def _phase_task(phase: str):
    @task(iterable=["set"], auto_shortflags=False, help={**COMMON_HELP, "docker": "run in the CUDA container"}, name=phase)
    def run_phase(c, profile="", run_dir="", set=None, docker=False):
        _run(c, repro_args("reproduce", profile, run_dir, set, f"--phase={phase}"), docker)

    run_phase.__doc__ = f"Run phase `{phase}` (and the stages it needs); same as reproduce --phase {phase}."
    return run_phase


prepare = _phase_task("prepare")
pretrained = _phase_task("pretrained")
intermediate = _phase_task("intermediate")
target = _phase_task("target")
evaluate = _phase_task("evaluate")
aggregate = _phase_task("aggregate")


def _opt(flag: str, value) -> str:
    """`--flag=value` for a given value, `--flag` for True, nothing for an empty one (repro's default)."""
    if value is True:
        return flag
    return f"{flag}={value}" if value not in (None, "", False) else ""


@task(iterable=["set"], auto_shortflags=False, help={**COMMON_HELP, "estimate": "device-hours per stage and for the grid",
                              "calibration": "calibration.json written by tests/bench/gpu.py", "json": "machine-readable",
                              "devices": "with --estimate: the grid's makespan on N devices",
                              "stages_per_device": "with --estimate: K stages sharing each device",
                              "fit_calibration": "with --estimate: fit step latency and per-stage costs to the run dir's finished stages, write FILE"})
def plan(c, profile="", run_dir="", set=None, estimate=False, calibration="", json=False, devices=0,
         stages_per_device=0, fit_calibration="", docker=False):
    """The stage plan; with --estimate, device-hours per stage and for the grid (and its makespan on N devices)."""
    _run(c, repro_args("plan", profile, run_dir, set, _opt("--estimate", estimate), _opt("--calibration", calibration),
                       _opt("--json", json), _opt("--devices", devices), _opt("--stages-per-device", stages_per_device),
                       _opt("--fit-calibration", fit_calibration)), docker)


@task(iterable=["set"], auto_shortflags=False, help={**COMMON_HELP, "offline": "try no hub load; list the ones not tried"})
def check_data(c, profile="", run_dir="", set=None, offline=False, docker=False):
    """Read one example of every dataset the profile needs (run before a long job)."""
    _run(c, repro_args("check-data", profile, run_dir, set, _opt("--offline", offline)), docker)


@task(iterable=["set"], auto_shortflags=False, help={**COMMON_HELP, "expected": "expected-figures file (default: the profile's)",
                              "out": "where the verdicts go (default RUN_DIR/verify.json, or verify-<table>.json)"})
def verify(c, profile="", run_dir="", set=None, expected="", out="", docker=False):
    """Check the run's figures against the expected tables (exit 0 / 1 / 2)."""
    _run(c, repro_args("verify", profile, run_dir, set, _opt("--expected", expected), _opt("--out", out)), docker)


@task(iterable=["set"], auto_shortflags=False, help={**COMMON_HELP, "json": "machine-readable rows",
                              "verify": "re-hash every output against its manifest (slow)"})
def status(c, profile="", run_dir="", set=None, json=False, verify=False, docker=False):
    """Table of stages: done / stale / pending / running / interrupted, with Slurm job ids and states."""
    _run(c, repro_args("status", profile, run_dir, set, _opt("--json", json), _opt("--verify", verify)), docker)


@task(iterable=["set"], auto_shortflags=False, help={**COMMON_HELP, "wait": "wait for a run holding the run dir",
                              "results": "analyse this results table (a run's or typed in) instead of a run",
                              "out": "with --results: where the report goes", "split": "with --results: the split",
                              "permutations": "with --results: interaction-test permutations",
                              "bootstrap": "with --results: source-bootstrap resamples"})
def analyze(c, profile="", run_dir="", set=None, wait=False, results="", out="", split="", permutations="",
            bootstrap="", docker=False):
    """The research-question report of a run (--run-dir) or of a results table (--results); flags after `--`
    are passed through unchanged."""
    flags = (_opt("--wait", wait), _opt("--results", results), _opt("--out", out), _opt("--split", split),
             _opt("--permutations", permutations), _opt("--bootstrap", bootstrap))
    _run(c, repro_args("analyze", profile, run_dir, set, *flags) + shlex.split(c.remainder or ""), docker)


@task(iterable=["tasks"], auto_shortflags=False, help={
    "prediction_folder": "folder with one sub-folder per task of test-<lang>.<ext> prediction files",
    "label_folder": "folder with the gold files in the same layout", "output_file": "where to write the JSON report",
    "tasks": "score only this task (repeatable; default: every task present on both sides)",
    "docker": "run in the CUDA container"})
def score(c, prediction_folder, label_folder, output_file, tasks=None, docker=False):
    """Score an XTREME prediction folder like the official evaluate.py."""
    args = ["score", "--prediction-folder", prediction_folder, "--label-folder", label_folder,
            "--output-file", output_file]
    _run(c, args + (["--tasks", *tasks] if tasks else []), docker)


@task
def smoke(c):
    """The CPU smoke run (tiny model, synthetic data)."""
    c.run("tox -e smoke")


@task
def tests(c):
    """The test suite."""
    c.run("tox -e tests")


@task
def bench(c):
    """Benchmarks: embedding extraction and retrieval k-NN beside their naive anchors."""
    c.run("tox -e bench")


@task
def build_image(c, tag=IMAGE):
    """Build the CUDA container (docker/Dockerfile)."""
    c.run(shlex.join(["docker", "build", "-f", "docker/Dockerfile", "-t", tag, "."]))
