"""The concurrent local executor (--jobs N / --devices): the scheduler's order, results identical to the
serial run, and kills (a worker, then the coordinator) that leave every stage undone-but-resumable and
no worker behind."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import MINI, ROOT, repro

SMALL = str(ROOT / "tests" / "profiles" / "small-grid.toml")  # 15 stages, short trainings: the kill test's grid
SLOW = 1800  # seconds a whole run may take on a busy shared machine (conftest's default is 600)
from repro.engine import Stage
from repro.schedule import pick, remaining_path, simulate


def graph():
    """a -> b -> c (a chain), a -> d, and e alone; costs below."""
    a = Stage("p", "a", {}, None, versions=())
    b = Stage("p", "b", {}, None, [a], versions=())
    c = Stage("p", "c", {}, None, [b], versions=())
    d = Stage("p", "d", {}, None, [a], versions=())
    e = Stage("p", "e", {}, None, versions=())
    return [a, b, c, d, e]


COST = {"p/a": 1.0, "p/b": 2.0, "p/c": 4.0, "p/d": 5.0, "p/e": 3.0}


def test_longest_remaining_path_goes_first_and_ties_keep_the_plan_order():
    stages = graph()
    path = remaining_path(stages, lambda s: COST[s.id])
    assert path == {"p/a": 7.0, "p/b": 6.0, "p/c": 4.0, "p/d": 5.0, "p/e": 3.0}
    index = {s.id: i for i, s in enumerate(stages)}
    a, b, c, d, e = stages
    assert [s.id for s in pick([e, d, b], path, index)] == ["p/b", "p/d", "p/e"]
    tied = remaining_path(stages, lambda s: 1.0)  # b and d both have 2 left: b comes first in the plan
    assert [s.id for s in pick([d, b], tied, index)] == ["p/b", "p/d"]


def test_simulated_schedule_respects_dependencies_and_is_deterministic():
    stages = graph()
    runs = [simulate(stages, lambda s: COST[s.id], slots=2) for _ in range(3)]
    assert runs[0] == runs[1] == runs[2]
    sim = runs[0]
    start = {sid: t for t, _, sid in sim["starts"]}
    deps = {s.id: [x.id for x in s.deps] for s in stages}
    for sid, t in start.items():
        assert all(t >= start[u] + COST[u] for u in deps[sid]), sid   # never before its upstream stages end
    # a (path 7) and e (3) start at 0; at 1, b (6) and d (5) are ready but one slot is free: b goes first
    assert [(t, sid) for t, _, sid in sim["starts"]] == [(0.0, "p/a"), (0.0, "p/e"), (1.0, "p/b"), (3.0, "p/d"),
                                                          (3.0, "p/c")]
    assert sim["makespan"] == 8.0 and sim["busy"] == sum(COST.values())
    assert simulate(stages, lambda s: COST[s.id], slots=1)["makespan"] == sum(COST.values())
    assert simulate(stages, lambda s: COST[s.id], slots=2, done=lambda s: s.id in ("p/a", "p/b"))["makespan"] == 7.0


def tables(run_dir: Path) -> dict:
    (agg,) = (run_dir / "aggregate").glob("results-*")
    return {name: (agg / name).read_bytes() for name in ("results.md", "results.json")}


def manifests(run_dir: Path) -> dict:
    out = {}
    for path in run_dir.glob("*/*/manifest.json"):
        m = json.loads(path.read_text())
        out[f"{m['phase']}/{m['name']}"] = m
    return out


def test_two_cpu_workers_give_the_serial_tables_byte_for_byte(mini_run, tmp_path):
    serial, _ = mini_run
    run_dir = tmp_path / "jobs2"
    proc = repro("reproduce", "--all", "--profile", MINI, "--run-dir", run_dir, "--no-verify", "--jobs", "2", timeout=SLOW)
    assert "on cpu 0" in proc.stdout and "on cpu 1" in proc.stdout
    assert tables(run_dir) == tables(serial)
    ours, theirs = manifests(run_dir), manifests(serial)
    assert {k: m["key"] for k, m in ours.items()} == {k: m["key"] for k, m in theirs.items()}
    # What the tables are made of, file by file: every prediction file, every score. (Weights and float
    # features may differ in their last bits: a one-thread worker sums in another order than the two-thread
    # serial run, as a serial run with one thread would.)
    same = lambda m: {f: h for f, h in m["outputs"].items()  # noqa: E731
                      if f.startswith("predictions/") or m["phase"] in ("evaluate", "aggregate")}
    for sid, m in ours.items():
        for dep in m["deps"]:  # a stage starts only once every upstream stage has written its manifest
            assert m["started"] >= ours[dep]["finished"], (sid, dep)
    starts = sorted(m["started"] for m in ours.values())
    overlapping = sum(1 for m in ours.values() for o in ours.values()
                      if m is not o and m["started"] < o["started"] < m["finished"])
    assert overlapping > 0 and starts  # two workers did run stages at the same time
    assert not (run_dir / ".local").exists()
    assert [sid for sid in ours if same(ours[sid]) != same(theirs[sid])] == []
    again = repro("reproduce", "--all", "--profile", MINI, "--run-dir", run_dir, "--no-verify", "--jobs", "2")
    assert "[start]" not in again.stdout and "[skip]" in again.stdout


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"  # a zombie has ended; only its parent's bookkeeping is left


@pytest.mark.slow
def test_killed_worker_then_killed_coordinator_resume_to_the_serial_tables(tmp_path):
    serial, run_dir = tmp_path / "serial", tmp_path / "killed"
    repro("reproduce", "--all", "--profile", SMALL, "--run-dir", serial, "--no-verify", timeout=SLOW)
    args = ["reproduce", "--all", "--profile", SMALL, "--run-dir", run_dir, "--no-verify", "--jobs", "2"]
    # 1. The worker training intermediate/mnli-s1 is SIGKILLed after its checkpoint at step 20.
    first = repro(*args, check=False, env={"REPRO_KILL_AT": "intermediate/mnli-s1:step25"}, timeout=SLOW)
    assert first.returncode == 2, first.stderr
    assert "intermediate/mnli-s1" in first.stderr and "killed by signal 9" in first.stderr
    assert "intermediate/mnli-s1" not in manifests(run_dir)
    status = repro("status", "--profile", SMALL, "--run-dir", run_dir).stdout
    assert any(line.startswith("intermediate/mnli-s1") and "interrupted" in line for line in status.splitlines())
    # 2. The coordinator is SIGKILLed while mnli-s1 runs again (held at step 30): its workers must go too.
    env = {**os.environ, "REPRO_PAUSE_AT": "intermediate/mnli-s1:step30=600"}
    coordinator = subprocess.Popen([sys.executable, "-m", "repro", *map(str, args)], cwd=ROOT, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    record, deadline = {}, time.time() + SLOW
    while "intermediate/mnli-s1" not in record.get("running", {}):
        assert coordinator.poll() is None and time.time() < deadline, coordinator.stdout.read() if coordinator.poll() else ""
        time.sleep(0.5)
        try:
            record = json.loads((run_dir / ".local" / "running.json").read_text())
        except (OSError, json.JSONDecodeError):
            pass
    status = repro("status", "--profile", SMALL, "--run-dir", run_dir).stdout
    row = next(line for line in status.splitlines() if line.startswith("intermediate/mnli-s1"))
    assert "running" in row and row.rstrip().endswith(record["running"]["intermediate/mnli-s1"]["slot"])
    assert "grid:" in status and "ETA" in status
    workers = record["workers"]
    coordinator.send_signal(signal.SIGKILL)
    output = coordinator.communicate()[0]
    deadline = time.time() + 30
    while any(alive(pid) for pid in workers) and time.time() < deadline:
        time.sleep(0.2)
    assert not any(alive(pid) for pid in workers), f"orphan workers {workers}\n{output}"
    assert "intermediate/mnli-s1" not in manifests(run_dir)
    # 3. The same command resumes (mnli-s1 from its rolling checkpoint) and ends with the serial tables.
    resumed = repro(*args, timeout=SLOW)
    assert "resumed at step 20" in resumed.stdout
    assert tables(run_dir) == tables(serial)
    assert {k: m["key"] for k, m in manifests(run_dir).items()} == {k: m["key"] for k, m in manifests(serial).items()}


def test_devices_and_jobs_together_are_refused_with_one_line():
    proc = repro("reproduce", "--all", "--profile", MINI, "--devices", "0,1", "--jobs", "2", "--dry-run", check=False)
    assert proc.returncode == 2 and "executor.local.jobs" in proc.stderr and "Traceback" not in proc.stderr


def test_stages_per_device_is_refused_where_the_recorded_peak_would_not_fit(tmp_path, monkeypatch):
    from repro.errors import ReproError
    from repro.executors import local

    stage = tmp_path / "intermediate" / "mnli-s1-abc"
    stage.mkdir(parents=True)
    (stage / "manifest.json").write_text(json.dumps({"cuda_peak_bytes": 30 * 2**30}))
    monkeypatch.setattr(local, "device_memory", lambda: {"0": 80 * 2**30})
    local.check_memory(tmp_path, ["0"], 2, log=lambda *_: None)          # 2 x 30 GiB fit in 80 GiB
    with pytest.raises(ReproError, match="at most 2 fit"):
        local.check_memory(tmp_path, ["0"], 3, log=lambda *_: None)      # 3 x 30 GiB do not
