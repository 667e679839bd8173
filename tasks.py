"""Invoke tasks: the same commands and flags as `python -m repro` (`invoke --list`).

    invoke reproduce --all --profile paper [--run-dir D] [--set K=V]... [--executor slurm]
    invoke reproduce --phase intermediate --profile paper --set 'intermediate.tasks=["mnli"]'
    invoke status --profile paper          invoke verify --profile paper
    invoke analyze --profile paper [-- extra flags of `python -m repro analyze`]
    invoke reproduce --all --profile paper --docker   # the same inside the CUDA container

Every task is a thin wrapper over `python -m repro ...`; stages that are done are skipped, so any
task can be re-run after a crash and continues where it stopped. Exit codes are repro's.
"""
from __future__ import annotations

import os
import shlex
import sys

from invoke import task

IMAGE = os.environ.get("REPRO_IMAGE", "repro-xstilts:latest")
COMMON_HELP = {"profile": "smoke | smoke-grid | paper | path.toml", "run_dir": "default runs/<profile>",
               "set": "override KEY=VALUE, read as TOML (repeatable)"}


def repro_args(command: str, profile: str, run_dir: str, sets, *flags: str) -> list[str]:
    """`python -m repro` arguments for one task; empty options are left out so repro's defaults apply."""
    args = [command, *[f for f in flags if f], "--profile", profile]
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
                              "no_verify": "skip the verification after --all", "docker": "run in the CUDA container"})
def reproduce(c, all_=False, phase="", profile="smoke", run_dir="", set=None, executor="", dry_run=False,
              wait=False, no_verify=False, docker=False):
    """Run stages of a profile (skipping done ones); with --all, verify the figures afterwards."""
    flags = ("--all" if all_ else "", f"--phase={phase}" if phase else "", f"--executor={executor}" if executor else "",
             "--dry-run" if dry_run else "", "--wait" if wait else "", "--no-verify" if no_verify else "")
    _run(c, repro_args("reproduce", profile, run_dir, set, *flags), docker)


def _phase_task(phase: str):
    @task(iterable=["set"], auto_shortflags=False, help={**COMMON_HELP, "docker": "run in the CUDA container"}, name=phase)
    def run_phase(c, profile="smoke", run_dir="", set=None, docker=False):
        _run(c, repro_args("reproduce", profile, run_dir, set, f"--phase={phase}"), docker)

    run_phase.__doc__ = f"Run phase `{phase}` (and the stages it needs); same as reproduce --phase {phase}."
    return run_phase


prepare = _phase_task("prepare")
pretrained = _phase_task("pretrained")
intermediate = _phase_task("intermediate")
target = _phase_task("target")
evaluate = _phase_task("evaluate")
aggregate = _phase_task("aggregate")


@task(iterable=["set"], auto_shortflags=False, help={**COMMON_HELP, "expected": "expected-figures file (default: the profile's)"})
def verify(c, profile="smoke", run_dir="", set=None, expected="", docker=False):
    """Check the run's figures against the expected tables (exit 0 / 1 / 2)."""
    _run(c, repro_args("verify", profile, run_dir, set, f"--expected={expected}" if expected else ""), docker)


@task(iterable=["set"], auto_shortflags=False, help={**COMMON_HELP, "json": "machine-readable rows"})
def status(c, profile="smoke", run_dir="", set=None, json=False, docker=False):
    """Table of stages: done / stale / pending / running / interrupted, with Slurm job ids and states."""
    _run(c, repro_args("status", profile, run_dir, set, "--json" if json else ""), docker)


@task(iterable=["set"], auto_shortflags=False, help=COMMON_HELP)
def analyze(c, profile="smoke", run_dir="", set=None, docker=False):
    """`python -m repro analyze`; flags after `--` are passed through unchanged."""
    _run(c, repro_args("analyze", profile, run_dir, set) + shlex.split(c.remainder or ""), docker)


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
