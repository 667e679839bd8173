"""Soak test (`tox -e soak`, short in CI: `tox -e soak-ci`): interrupt a smoke run again and again —
SIGKILL at random moments, and preemption as Slurm does it (SIGTERM, then SIGKILL after a grace
period) — until it has been interrupted at least N times and in every phase; then let it finish and
check that every stage's outputs are bit-identical to an uninterrupted run.

Each interruption is attributed to the phase of the stage that was in progress, read from the run
directory (a stage's `.tmp`/`.work` directory, or its final directory before its manifest), not from
the child's log. Phases random interruptions missed are then hit by aimed fault points
(REPRO_KILL_AT), a bounded number of times, so the soak always ends.

    python tests/soak.py [--kills 20] [--profile smoke] [--set K=V]... [--seed 0] [--keep DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from repro.config import load_config
from repro.engine import MANIFEST, is_done, topological
from repro.plan import PHASES, build_plan

ROOT = Path(__file__).resolve().parents[1]
GRACE_S = 5.0         # Slurm's KillWait between SIGTERM and SIGKILL is 30 s by default; shorter here
AIMS_PER_PHASE = 3    # aimed attempts per missed phase before the soak gives up on it (and fails)


def start(run_dir: Path, args, env=None) -> subprocess.Popen:
    cmd = [sys.executable, "-u", "-m", "repro", "reproduce", "--all", "--profile", args.profile,
           "--run-dir", str(run_dir), "--no-verify"] + [x for s in args.set for x in ("--set", s)]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})


def outputs(run_dir: Path) -> dict:
    return {str(m.parent.relative_to(run_dir)): json.loads(m.read_text())["outputs"]
            for m in sorted(run_dir.glob(f"*/*/{MANIFEST}"))}


def phase_in_progress(run_dir: Path, since: float) -> str:
    """The phase of the unfinished stage directory touched most recently, and after `since` (the
    child's start: a directory left by an earlier interruption and not yet taken up again does not
    count); "startup" if none (the process was importing, planning, or between two stages)."""
    unfinished = []
    for phase in PHASES:
        for d in (run_dir / phase).glob("*") if (run_dir / phase).is_dir() else []:
            final = d.parent / d.name.removeprefix(".").removesuffix(".tmp").removesuffix(".work")
            if d.is_dir() and not (final / MANIFEST).exists():
                try:
                    touched = max([p.stat().st_mtime for p in d.rglob("*")] + [d.stat().st_mtime])
                except FileNotFoundError:  # renamed while we looked: it was this stage
                    touched = time.time()
                if touched >= since:
                    unfinished.append((touched, phase))
    return max(unfinished)[1] if unfinished else "startup"


def interrupt(proc: subprocess.Popen, kind: str) -> None:
    if kind == "preempt":
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(GRACE_S)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
    else:
        proc.send_signal(signal.SIGKILL)


def next_stage_of(phase: str, run_dir: Path, plan) -> str | None:
    """A not-yet-done stage of `phase`, to aim a fault point at."""
    return next((s.id for s in topological(plan.stages) if s.phase == phase and not is_done(run_dir, s)), None)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=20, help="random interruptions (SIGKILL or preemption)")
    ap.add_argument("--profile", default="smoke")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", default=None, help="keep the run directories here")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    plan = build_plan(load_config(args.profile, args.set))
    base = Path(args.keep or tempfile.mkdtemp(prefix="repro-soak-"))
    clean = base / "clean"
    print(f"uninterrupted reference run in {clean} ...", flush=True)
    ref = start(clean, args)
    log, _ = ref.communicate()
    if ref.returncode != 0:
        print(f"the reference run failed:\n{log}", file=sys.stderr)
        return 2
    random_hits, aimed_hits, kinds, aims = Counter(), Counter(), Counter(), Counter()
    kills, rounds = 0, 0
    while True:
        rounds += 1  # a round ends when its run completes; then it is compared with the reference
        killed = base / f"killed-{rounds}"
        while True:
            missing = [p for p in PHASES if p not in random_hits and p not in aimed_hits]
            aimed = None
            if kills >= args.kills and missing:  # random interruptions missed a phase: aim at one
                given_up = [p for p in missing if aims[p] >= AIMS_PER_PHASE]
                if given_up:
                    print(f"phase {given_up[0]} was not hit in {AIMS_PER_PHASE} aimed attempts", file=sys.stderr)
                    return 1
                # a missed phase with a stage still to run in this round (else the round finishes)
                aimed = next((st for p in missing if (st := next_stage_of(p, killed, plan))), None)
            started = time.time()
            if aimed:
                aims[aimed.split("/")[0]] += 1
                proc = start(killed, args, {"REPRO_KILL_AT": f"{aimed}:before-manifest"})
            else:
                proc = start(killed, args)
                if kills < args.kills:
                    time.sleep(rng.uniform(2.0, 12.0))
                    if proc.poll() is None:
                        kind = rng.choice(["sigkill", "preempt"])
                        phase = phase_in_progress(killed, started)  # read before the process can move on
                        interrupt(proc, kind)
            log, _ = proc.communicate()
            if proc.returncode in (-signal.SIGKILL, -signal.SIGTERM):
                kills += 1
                if aimed:
                    phase, kind = phase_in_progress(killed, started), "aimed SIGKILL"
                    aimed_hits[phase] += 1
                else:
                    random_hits[phase] += 1
                kinds[kind] += 1
                print(f"interruption {kills} (round {rounds}, {kind}): during {phase}", flush=True)
                continue
            if proc.returncode != 0:
                print(f"run failed after {kills} interruptions:\n{log}", file=sys.stderr)
                return 1
            if outputs(clean) != outputs(killed):
                print(f"round {rounds}: outputs differ from the uninterrupted run", file=sys.stderr)
                return 1
            print(f"round {rounds} completed; every stage's outputs identical to the uninterrupted run", flush=True)
            break
        if kills >= args.kills and all(p in random_hits or p in aimed_hits for p in PHASES):
            break
    print(f"survived {kills} interruptions in {rounds} round(s); results identical")
    print(f"  random, per phase: {dict(random_hits)}")
    print(f"  aimed, per phase:  {dict(aimed_hits)}")
    print(f"  by kind: {dict(kinds)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
