"""Soak test (`tox -e soak`): SIGKILL the smoke run again and again, at random moments, until it has
been killed at least N times and in every phase; then finish it and check that every stage's
outputs are bit-identical to an uninterrupted run. Prints how many kills it survived.

    python tests/soak.py [--kills 20] [--profile smoke] [--seed 0] [--keep DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PHASES = ["prepare", "pretrained", "intermediate", "target", "evaluate", "aggregate"]


def start(run_dir: Path, profile: str, env=None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "repro", "reproduce", "--all", "--profile", profile,
                             "--run-dir", str(run_dir), "--no-verify"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env={**os.environ, **(env or {})})


def outputs(run_dir: Path) -> dict:
    return {str(m.parent.relative_to(run_dir)): json.loads(m.read_text())["outputs"]
            for m in sorted(run_dir.glob("*/*/manifest.json"))}


def running_phase(log: str) -> str | None:
    runs = re.findall(r"\[run \] (\w+)/", log)
    return runs[-1] if runs else None


def first_stage_of(phase: str, run_dir: Path, profile: str) -> str | None:
    """A not-yet-done stage of `phase`, to aim a fault point at when random kills keep missing it."""
    out = subprocess.run([sys.executable, "-m", "repro", "status", "--profile", profile, "--run-dir", str(run_dir)],
                         cwd=ROOT, capture_output=True, text=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if parts and parts[0].startswith(phase + "/") and parts[2] != "done":
            return parts[0]
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--profile", default="smoke")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", default=None, help="keep the run directories here")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    base = Path(args.keep or tempfile.mkdtemp(prefix="repro-soak-"))
    clean, killed = base / "clean", base / "killed"
    print(f"uninterrupted reference run in {clean} ...", flush=True)
    ref = start(clean, args.profile)
    ref.communicate()
    if ref.returncode != 0:
        print("the reference run failed", file=sys.stderr)
        return 2
    kills, hit, rounds = 0, {}, 0
    while kills < args.kills or [p for p in PHASES if p not in hit]:
        rounds += 1  # a round ends when its run completes; then it is compared with the reference
        killed = base / f"killed-{rounds}"
        while True:
            missing = [p for p in PHASES if p not in hit]
            env, aimed = None, None
            if kills >= args.kills and missing:  # random kills missed a phase: aim at it
                aimed = first_stage_of(missing[0], killed, args.profile)
                env = {"REPRO_KILL_AT": f"{aimed}:before-manifest"} if aimed else None
            proc = start(killed, args.profile, env)
            if aimed is None and kills < args.kills:
                time.sleep(rng.uniform(2.0, 12.0))
                if proc.poll() is None:
                    proc.send_signal(signal.SIGKILL)
            log, _ = proc.communicate()
            if proc.returncode == -signal.SIGKILL:
                kills += 1
                phase = running_phase(log) or "startup"
                hit[phase] = hit.get(phase, 0) + 1
                print(f"kill {kills} (round {rounds}): during {phase}", flush=True)
                continue
            if proc.returncode != 0:
                print(f"run failed after {kills} kills:\n{log}", file=sys.stderr)
                return 1
            if outputs(clean) != outputs(killed):
                print(f"round {rounds}: outputs differ from the uninterrupted run", file=sys.stderr)
                return 1
            print(f"round {rounds} completed; every stage's outputs identical to the uninterrupted run", flush=True)
            break
    print(f"survived {kills} SIGKILLs in {rounds} round(s) (kills per phase: {hit}); results identical")
    return 0


if __name__ == "__main__":
    sys.exit(main())
