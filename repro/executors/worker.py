"""One worker of the concurrent local executor (repro/executors/local.py): started once per slot (a GPU
or a CPU share), it rebuilds the plan from the same profile and overrides, then runs the stages the
coordinator sends, one at a time, through the engine's `run_stage` (atomic outputs, manifest last).

Protocol: the coordinator writes one JSON line per stage to the worker's stdin ({"stage": id, "key": key});
the worker answers on the file descriptor --results with {"done": id} or {"failed": id, "error": line}.
End of stdin ends the worker. Stage logs go to the inherited stdout, each line prefixed by the slot.

A worker never outlives its coordinator: the kernel kills it when the coordinator dies (Linux
prctl PR_SET_PDEATHSIG), and a watchdog thread exits when it finds itself re-parented (elsewhere).
A stage interrupted that way keeps its rolling checkpoint and is not marked done: the next run resumes it."""
from __future__ import annotations

import argparse
import ctypes
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import torch

from repro import progress
from repro.config import load_config
from repro.engine import log_line, run_stage, topological
from repro.plan import build_plan

PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # not Linux: the watchdog below is the only guard
    if os.getppid() != parent:  # the coordinator died before the request above was in place
        os._exit(1)

    def watch():
        while os.getppid() == parent:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


class Prefixed:
    """A text stream that puts `prefix` before every line (the coordinator's terminal is shared)."""

    def __init__(self, stream, prefix: str):
        self.stream, self.prefix, self.pending = stream, prefix, ""

    def write(self, text: str) -> int:
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            self.stream.write(f"{self.prefix}{line}\n")
        if lines:
            self.stream.flush()
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return False


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="repro.executors.worker")
    p.add_argument("--profile", required=True)
    p.add_argument("--overrides", required=True, help="JSON list of KEY=VALUE overrides")
    p.add_argument("--run-dir", required=True)
    p.add_argument("--slot", required=True, help="label of this worker's slot, e.g. 'cuda 0' or 'cpu 1'")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--parent", type=int, required=True)
    p.add_argument("--results", type=int, required=True, help="file descriptor for the answers")
    args = p.parse_args(argv)
    die_with_parent(args.parent)
    results = os.fdopen(args.results, "w", buffering=1)
    sys.stdout = Prefixed(sys.stdout, f"{args.slot:>6} | ")

    progress.quiet_libraries()
    overrides = json.loads(args.overrides)
    if args.threads:  # run.num_threads is in no stage key: the keys are checked below all the same
        overrides = [*overrides, f"run.num_threads={args.threads}"]
        torch.set_num_threads(args.threads)
    stages = {s.id: s for s in topological(build_plan(load_config(args.profile, overrides), need_data=False).stages)}
    for line in sys.stdin:
        order = json.loads(line)
        stage = stages.get(order["stage"])
        if stage is None or stage.key != order["key"]:
            found = "not in its plan" if stage is None else f"key {stage.key}, not {order['key']}"
            results.write(json.dumps({"failed": order["stage"], "error": f"the worker's plan differs ({found})"}) + "\n")
            continue
        try:
            run_stage(Path(args.run_dir), stage, log=log_line)
        except KeyboardInterrupt:
            return 130
        except Exception as e:  # reported by the coordinator; nothing of the stage is marked done
            error = " ".join(f"{type(e).__name__}: {e}".split())[:500]
            results.write(json.dumps({"failed": stage.id, "error": error}) + "\n")
            continue
        results.write(json.dumps({"done": stage.id}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
