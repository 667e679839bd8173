"""Fault injection for the reliability tests: `REPRO_KILL_AT=POINT[,POINT...]` makes the process
SIGKILL itself when it reaches a named point (e.g. `intermediate/mnli-s1:step30`,
`target/baseline__xnli-s1:before-manifest`). Unset in normal use: the check is one dict lookup."""
from __future__ import annotations

import os
import signal


def point(name: str) -> None:
    wanted = os.environ.get("REPRO_KILL_AT")
    if wanted and name in wanted.split(","):
        os.kill(os.getpid(), signal.SIGKILL)
