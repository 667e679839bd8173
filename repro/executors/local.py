"""The local executor: stages in dependency order in this process.

One stage at a time, so a machine never trains two models on one GPU (several training stages on one
card would only contend for its memory); a multi-GPU machine runs its grid faster as several Slurm
jobs or several run directories, one per card (CUDA_VISIBLE_DEVICES)."""
from __future__ import annotations

from pathlib import Path

from repro.engine import Stage, log_line, run_stages


def run_local(run_dir: Path, stages: list[Stage], log=log_line) -> None:
    run_stages(run_dir, stages, log)
