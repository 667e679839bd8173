"""Invoke tasks: each paper phase as its own resumable step (`invoke --list`).

    invoke smoke                         # whole pipeline on CPU, tiny model, synthetic data
    invoke intermediate --profile paper  # one phase (and whatever it needs that is not done)
    invoke reproduce --profile paper --docker   # the same inside the pinned CUDA container

Every task is a thin wrapper over `python -m repro ...`; stages that are done are skipped, so any
task can be re-run after a crash and continues where it stopped.
"""
from __future__ import annotations

import os
import shlex

from invoke import task

IMAGE = os.environ.get("REPRO_IMAGE", "repro-xstilts:latest")


def _repro(c, args: str, profile: str, run_dir: str, sets, docker: bool, invoke_task: str = ""):
    options = f" --profile {shlex.quote(profile)}"
    if run_dir:
        options += f" --run-dir {shlex.quote(run_dir)}"
    for s in sets or []:
        options += f" --set {shlex.quote(s)}"
    if not docker:
        c.run(f"python -m repro {args}{options}", pty=False)
        return
    # Inside the container the entry point is invoke itself, so the same task runs there without
    # --docker. GPUs, ./runs and the Hugging Face cache are mounted; the container user is not root.
    home = os.path.expanduser(os.environ.get("HF_HOME", "~/.cache/huggingface"))
    inner = invoke_task + "".join(f" --set {shlex.quote(s)}" for s in sets or [])
    inner += f" --profile {shlex.quote(profile)}" + (f" --run-dir {shlex.quote(run_dir)}" if run_dir else "")
    c.run(f"docker run --rm --gpus all --ipc=host -v {shlex.quote(os.getcwd())}/runs:/work/runs "
          f"-v {shlex.quote(home)}:/hf -e HF_HOME=/hf {IMAGE} {inner}", pty=False)


def _phase_task(phase: str):
    @task(help={"profile": "smoke | smoke-grid | paper | path.toml", "run_dir": "default runs/<profile>",
                "set": "override KEY=VALUE (repeatable)", "docker": "run inside the CUDA container"},
          iterable=["set"], name=phase)
    def run_phase(c, profile="smoke", run_dir="", set=None, docker=False):
        _repro(c, f"reproduce --phase {phase}", profile, run_dir, set, docker, phase)

    run_phase.__doc__ = f"Run phase `{phase}` (and the stages it needs) as resumable stages."
    return run_phase


prepare = _phase_task("prepare")
pretrained = _phase_task("pretrained")
intermediate = _phase_task("intermediate")
target = _phase_task("target")
evaluate = _phase_task("evaluate")
aggregate = _phase_task("aggregate")


@task(iterable=["set"], help={"dry_run": "print the plan only"})
def reproduce(c, profile="smoke", run_dir="", set=None, docker=False, dry_run=False):
    """Run every stage of a profile, then verify the figures."""
    _repro(c, "reproduce --all" + (" --dry-run" if dry_run else ""), profile, run_dir, set, docker,
           "reproduce" + (" --dry-run" if dry_run else ""))


@task(iterable=["set"])
def verify(c, profile="smoke", run_dir="", set=None, docker=False):
    """Check the run's figures against the expected tables (exit 0 / 1 / 2)."""
    _repro(c, "verify", profile, run_dir, set, docker, "verify")


@task(iterable=["set"])
def status(c, profile="smoke", run_dir="", set=None):
    """Table of stages: done / stale / pending / running."""
    _repro(c, "status", profile, run_dir, set, False)


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
    c.run(f"docker build -f docker/Dockerfile -t {tag} .")
