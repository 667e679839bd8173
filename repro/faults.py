"""Fault injection for the reliability tests: `REPRO_KILL_AT=POINT[,POINT...]` makes the process
SIGKILL itself when it reaches a named point (e.g. `intermediate/mnli-s1:step30`,
`target/baseline__xnli-s1:before-manifest`); `REPRO_PAUSE_AT=POINT=SECONDS` makes it sleep there (a
slow stage, so a Slurm test can make a job reach its time limit). Unset in normal use: the check is
one dict lookup."""
from __future__ import annotations

import os
import signal
import time


def point(name: str) -> None:
    wanted = os.environ.get("REPRO_KILL_AT")
    if wanted and name in wanted.split(","):
        os.kill(os.getpid(), signal.SIGKILL)
    pause = os.environ.get("REPRO_PAUSE_AT")
    if pause and pause.rpartition("=")[0] == name:
        time.sleep(float(pause.rpartition("=")[2]))
