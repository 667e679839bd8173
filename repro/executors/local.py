"""The local executor: the stages of a run on this machine.

Serial (the default: no executor.local.devices, no jobs): stages in dependency order in this process.

Concurrent (`--devices 0,1,2,3` or `--jobs N`): one worker process per slot (each GPU, `stages_per_device`
times; or N CPU workers), started once and fed one stage at a time (repro/executors/worker.py). Every
stage whose upstream stages are done waits for a free slot; free slots take the waiting stages with the
longest remaining path first (repro/schedule.py). A stage is the same code, key and outputs as in the
serial run, written atomically with its manifest last by the worker, so results do not depend on the
executor; the run lock stays with this process (and its workers hold it too: a new run cannot start
beside a worker still alive). RUN_DIR/.local/running.json says which slot runs which stage (`status`).

A failed or killed worker's stage is not done (its rolling checkpoint stays): no new stage starts, the
running ones finish, and the run ends with the error; the same command resumes. A killed coordinator
takes its workers with it (worker.py)."""
from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from repro.atomic import write_json
from repro.engine import MANIFEST, Stage, lock_held, log_line, recheck, run_stages, stage_dir, topological
from repro.errors import ReproError
from repro.estimate import stage_seconds
from repro.schedule import pick, remaining_path, simulate
from repro.settings.profile import resolve

RUNNING_FILE = Path(".local") / "running.json"


@dataclass
class Slot:
    label: str                  # "cuda 0" (device id as CUDA_VISIBLE_DEVICES names it) or "cpu 1"
    env: dict                   # what the worker's environment changes
    threads: int = 0
    proc: subprocess.Popen | None = None
    answers: object = None      # the worker's answer stream
    stage: Stage | None = None
    since: float = 0.0
    old: dict | None = field(default=None, repr=False)  # the manifest a re-run stage replaces


def slots_for(devices: list[str], jobs: int, per_device: int, num_threads: int, cpus: int) -> list[Slot]:
    """Slots of a concurrent run: per_device workers on each GPU of `devices`, or `jobs` CPU workers (no
    GPU visible to them). Each worker gets an equal share of the CPU threads (num_threads or the cores)."""
    if devices and jobs:
        raise ReproError("executor.local: give devices (GPU workers) or jobs (CPU workers), not both")
    n = len(devices) * per_device if devices else jobs
    threads = max(1, (num_threads or cpus) // max(n, 1))
    if devices:
        return [Slot(f"cuda {d}" + (f".{k}" if per_device > 1 else ""), {"CUDA_VISIBLE_DEVICES": str(d)}, threads)
                for d in devices for k in range(per_device)]
    return [Slot(f"cpu {i}", {"CUDA_VISIBLE_DEVICES": ""}, threads) for i in range(jobs)]


def local_overrides(devices: str | None, jobs: int | None, per_device: int | None) -> list[str]:
    """--devices 0,1 / --jobs N / --stages-per-device K as config overrides (checked by the config's rules,
    and passed on to the workers like every --set)."""
    out = []
    if devices is not None:
        out.append("executor.local.devices=" + json.dumps([d.strip() for d in devices.split(",") if d.strip()]))
    if jobs is not None:
        out.append(f"executor.local.jobs={jobs}")
    if per_device is not None:
        out.append(f"executor.local.stages_per_device={per_device}")
    return out


def local_slots(config: dict, plan, run_dir: Path, log=log_line) -> tuple[list[Slot], Callable | None]:
    """The slots a config asks for ([] = serial) and the stage cost that orders them (estimated seconds)."""
    p = resolve(config)
    local = p.executor.local
    slots = slots_for(local.devices, local.jobs, local.stages_per_device, p.run.num_threads, os.cpu_count() or 1)
    if not slots:
        return [], None
    if local.devices and local.stages_per_device > 1:
        check_memory(Path(run_dir), local.devices, local.stages_per_device, log)
    try:
        seconds = stage_seconds(config, plan)
    except ReproError as e:  # no shape known for this model: every stage counts the same
        log(f"[note] no cost estimate ({e}); stages are ordered by the length of their chain of dependents")
        seconds = {}
    return slots, lambda s: seconds.get(s.id, 1.0)


def recorded_peak(run_dir: Path) -> int:
    """The largest GPU memory peak (bytes) a done stage of the run dir recorded in its manifest (0: none)."""
    peak = 0
    for path in Path(run_dir).glob(f"*/*/{MANIFEST}"):
        try:
            peak = max(peak, int(json.loads(path.read_text()).get("cuda_peak_bytes", 0)))
        except (OSError, ValueError, TypeError):
            continue
    return peak


def device_memory() -> dict[str, int]:
    """GPU index and UUID -> total memory in bytes, from nvidia-smi ({} where it cannot say)."""
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=index,uuid,memory.total", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return {}
    totals = {}
    for line in out.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 3 and parts[2].isdigit():
            totals[parts[0]] = totals[parts[1]] = int(parts[2]) * 2**20
    return totals


def check_memory(run_dir: Path, devices: list[str], k: int, log=log_line) -> None:
    """K workers on one GPU need K x the largest peak a stage has recorded; refused where it would not fit."""
    peak = recorded_peak(run_dir)
    if not peak:
        log(f"[note] executor.local.stages_per_device = {k}: no stage in {run_dir} has recorded its GPU memory peak "
            "yet, so the fit is not checked (docs/concurrency.md: run a first stage with 1 per device)")
        return
    totals = device_memory()
    for d in devices:
        if d not in totals:
            log(f"[note] GPU {d}: total memory unknown (no nvidia-smi answer); {k} workers share it unchecked")
        elif k * peak > totals[d]:
            raise ReproError(f"executor.local.stages_per_device = {k}: {k} x {peak / 2**30:.1f} GiB (the largest GPU "
                             f"peak a stage recorded in {run_dir}) exceeds GPU {d}'s {totals[d] / 2**30:.1f} GiB; "
                             f"at most {totals[d] // peak} fit")


def run_local(run_dir: Path, stages: list[Stage], log=log_line, *, slots: list[Slot] | None = None,
              profile: str = "", overrides: list[str] = (), cost: Callable[[Stage], float] | None = None,
              lock_fd: int | None = None) -> None:
    """Serial without slots; with slots, concurrent workers that rebuild the plan from `profile` and
    `overrides`; `cost` (seconds, estimated) orders the waiting stages; `lock_fd`, the run lock's
    descriptor, is shared with the workers."""
    if not slots:
        run_stages(run_dir, stages, log)
        return
    Coordinator(Path(run_dir), stages, slots, profile, list(overrides), cost or (lambda s: 1.0), log, lock_fd).run()


class Coordinator:
    def __init__(self, run_dir, stages, slots, profile, overrides, cost, log, lock_fd):
        self.run_dir, self.slots, self.log, self.lock_fd = run_dir, slots, log, lock_fd
        self.order = topological(stages)
        self.index = {s.id: i for i, s in enumerate(self.order)}
        self.path = remaining_path(self.order, cost)
        self.profile = str(Path(profile).resolve()) if Path(profile).suffix == ".toml" else profile
        self.overrides = overrides
        self.waiting = {s.id for s in self.order}
        self.finished: set[str] = set()
        self.changed: set[str] = set()   # re-run stages whose outputs differ (their dependents re-run: recheck)
        self.old: dict[str, dict | None] = {}  # stage id -> the manifest a re-run replaces, once rechecked
        self.failures: list[str] = []
        self.selector = selectors.DefaultSelector()
        self.started = time.time()

    def run(self) -> None:
        try:
            while True:
                if not self.failures:
                    self._dispatch()
                busy = [s for s in self.slots if s.stage is not None]
                if not busy:
                    break
                self._receive()
        except BaseException:
            self._stop(kill=True)
            raise
        self._stop(kill=False)
        if self.failures:
            raise ReproError("; ".join(self.failures) + "; nothing of a failed stage is marked done: "
                             "run the same command again to resume")
        left = sorted(self.waiting)
        if left:  # cannot happen with a plan's graph; said rather than silently skipped
            raise ReproError(f"stages never became ready: {', '.join(left)}")

    def _ready(self) -> list[Stage]:
        """Stages whose upstream stages are finished, after skipping those that are done and trusted."""
        while True:
            ready = [s for s in self.order if s.id in self.waiting and all(d.id in self.finished for d in s.deps)]
            skipped = False
            for s in ready:
                if s.id in self.old:
                    continue
                done, self.old[s.id] = recheck(self.run_dir, s, self.changed, self.log)
                if done:
                    self.waiting.discard(s.id)
                    self.finished.add(s.id)
                    skipped = True
            if not skipped:
                return [s for s in ready if s.id in self.waiting]

    def _dispatch(self) -> None:
        for stage in pick(self._ready(), self.path, self.index):
            free = [s for s in self.slots if s.stage is None]
            if not free:
                return
            slot = free[0]
            if slot.proc is None or slot.proc.poll() is not None:
                self._start(slot)
            slot.stage, slot.since, slot.old = stage, time.time(), self.old[stage.id]
            self.waiting.discard(stage.id)
            self.log(f"[start] {stage.id} on {slot.label}")
            slot.proc.stdin.write(json.dumps({"stage": stage.id, "key": stage.key}) + "\n")
            slot.proc.stdin.flush()
            self._record()

    def _start(self, slot: Slot) -> None:
        read, write = os.pipe()
        env = {**os.environ, **slot.env}
        if slot.threads:
            env.update(OMP_NUM_THREADS=str(slot.threads), MKL_NUM_THREADS=str(slot.threads))
        argv = [sys.executable, "-m", "repro.executors.worker", "--profile", self.profile,
                "--overrides", json.dumps(self.overrides), "--run-dir", str(self.run_dir.resolve()),
                "--slot", slot.label, "--threads", str(slot.threads), "--parent", str(os.getpid()),
                "--results", str(write)]
        # The run lock's descriptor (one open file, one flock) goes with the worker: while it lives, the lock is held.
        keep = (write,) if self.lock_fd is None else (write, self.lock_fd)
        try:
            slot.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, text=True, env=env, pass_fds=keep)
        finally:
            os.close(write)
        slot.answers = os.fdopen(read, "r")
        self.selector.register(slot.answers, selectors.EVENT_READ, slot)

    def _receive(self) -> None:
        for key, _ in self.selector.select():
            slot: Slot = key.data
            line = slot.answers.readline()
            if not line:  # the worker is gone
                self.selector.unregister(slot.answers)
                slot.answers.close()
                code = slot.proc.wait()
                if slot.stage is not None:
                    how = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
                    self.failures.append(f"{slot.stage.id}: its worker on {slot.label} stopped ({how})")
                    self.log(f"[fail] {slot.stage.id} on {slot.label}: worker stopped ({how})")
                    slot.stage = None
                    self._record()
                continue
            answer = json.loads(line)
            stage = slot.stage
            if "failed" in answer:
                self.failures.append(f"{answer['failed']} on {slot.label}: {answer['error']}")
            else:
                manifest = json.loads((stage_dir(self.run_dir, stage) / MANIFEST).read_text())
                if slot.old is not None and slot.old.get("outputs") != manifest.get("outputs"):
                    self.changed.add(stage.id)
                self.finished.add(stage.id)
                self.log(f"[done] {stage.id} on {slot.label} ({time.time() - slot.since:.1f} s)")
            slot.stage, slot.old = None, None
            self._record()

    def _record(self) -> None:
        running = {s.stage.id: {"slot": s.label, "pid": s.proc.pid, "since": s.since}
                   for s in self.slots if s.stage is not None}
        write_json(self.run_dir / RUNNING_FILE, {
            "coordinator": os.getpid(), "started": self.started, "slots": [s.label for s in self.slots],
            "workers": [s.proc.pid for s in self.slots if s.proc is not None and s.proc.poll() is None],
            "running": running})

    def _stop(self, kill: bool) -> None:
        """Ends every worker: end of input lets an idle one exit; with kill (the coordinator is failing),
        a busy one is terminated, its stage left undone."""
        for slot in self.slots:
            if slot.proc is None:
                continue
            if kill and slot.proc.poll() is None and slot.stage is not None:
                slot.proc.send_signal(signal.SIGTERM)
            try:
                slot.proc.stdin.close()
            except OSError:
                pass
        for slot in self.slots:
            if slot.proc is None:
                continue
            try:
                slot.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                slot.proc.kill()
                slot.proc.wait()
            if slot.answers is not None and not slot.answers.closed:
                slot.answers.close()
        shutil.rmtree(self.run_dir / RUNNING_FILE.parent, ignore_errors=True)


def running_stages(run_dir: Path) -> dict:
    """Stage id -> {"slot", "pid", "since"} of a concurrent run in progress ({} when none)."""
    try:
        return json.loads((Path(run_dir) / RUNNING_FILE).read_text()).get("running", {})
    except (OSError, json.JSONDecodeError):
        return {}


def grid_progress(config: dict, plan, run_dir: Path, rows: list[dict]) -> str | None:
    """For a run in progress (its lock held): puts each running stage's slot into its status row and says
    how many stages are done / running / waiting, with an ETA: plan --estimate's per-stage costs (less what
    a running stage has already spent) scheduled on the run's slots as the executor schedules them.
    None when no run holds the lock."""
    if not lock_held(run_dir):
        return None
    try:
        record = json.loads((Path(run_dir) / RUNNING_FILE).read_text())
    except (OSError, json.JSONDecodeError):
        record = {}
    running = record.get("running", {})
    for r in rows:
        if r["stage"] in running:
            r["slot"] = running[r["stage"]]["slot"]
    state = {r["stage"]: r["state"] for r in rows}
    counts = {k: sum(1 for v in state.values() if v == k) for k in ("done", "running")}
    waiting = len(state) - counts["done"] - counts["running"]
    slots = max(len(record.get("slots", [])), 1)
    line = f"grid: {counts['done']} done, {counts['running']} running, {waiting} waiting; {slots} slot(s)"
    try:
        seconds = stage_seconds(config, plan)
    except ReproError:
        return line
    now = time.time()
    spent = {sid: now - info["since"] for sid, info in running.items()}
    left = simulate(plan.stages, lambda s: max(seconds.get(s.id, 0.0) - spent.get(s.id, 0.0), 0.0), slots,
                    done=lambda s: state.get(s.id) == "done")["makespan"]
    finish = time.strftime("%H:%M", time.localtime(now + left))
    return f"{line}; ETA {left / 60:.1f} min (about {finish}; plan --estimate's per-stage costs, scheduled as the run does)"
