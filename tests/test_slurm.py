"""The Slurm executor. The unit tests run anywhere; the cluster tests need a running Slurm cluster
(`tox -e slurm` starts a one-node one with scripts/slurm_start.sh) and are skipped, with the reason,
when none answers — except under REPRO_REQUIRE_SLURM=1 (CI), where a missing cluster is a failure."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import repro.executors.slurm as slurm
from conftest import MINI, ROOT, repro
from repro.cli import main
from repro.config import load_config
from repro.engine import MANIFEST, stage_dir
from repro.plan import build_plan

SMALL = str(ROOT / "tests" / "profiles" / "small-grid.toml")  # 15 stages: classification and retrieval
# The test cluster's node has no GPU and little memory. Slurm sends the pre-timeout signal up to ~30 s
# earlier than `signal_delay_s` asks (it checks time limits periodically): with a 3-minute limit and a
# 30 s delay a job is signalled 120-150 s after it starts, after every stage of this grid has ended
# (even on a loaded machine), except the one made to sleep for 240 s.
ON_TEST_CLUSTER = ["--set", "executor.slurm.gpus_per_node=0", "--set", "executor.slurm.cpus_per_task=1",
                   "--set", "executor.slurm.mem_gb=0", "--set", "executor.slurm.time_min=3",
                   "--set", "executor.slurm.signal_delay_s=30", "--set", "executor.slurm.max_num_timeout=3",
                   "--set", "executor.slurm.poll_s=2.0"]
SLOW_STAGE = "intermediate/mnli-s1"


def test_waves_are_arrays_of_independent_cells_after_their_upstream(tmp_path):
    plan = build_plan(load_config(SMALL))
    waves = slurm.waves(plan.stages, tmp_path)
    assert sorted(s.id for w in waves for s in w) == sorted(s.id for s in plan.stages)
    seen = set()
    for wave in waves:
        ids = {s.id for s in wave}
        assert len({s.phase for s in wave}) == 1
        for s in wave:
            assert {d.id for d in s.deps} <= seen, f"{s.id} runs before one of its upstream stages"
            assert not {d.id for d in s.deps} & ids, f"{s.id} depends on a cell of its own array"
        seen |= ids
    targets = [w for w in waves if w[0].phase == "target"]
    assert [sorted(s.name for s in w) for w in targets] == [
        ["baseline__tatoeba-s1", "baseline__xnli-s1"], ["mnli__tatoeba-s1", "mnli__xnli-s1"]]
    for s in plan.phase("prepare"):  # done stages are not submitted again
        stage_dir(tmp_path, s).mkdir(parents=True)
        (stage_dir(tmp_path, s) / MANIFEST).write_text(json.dumps({"key": s.key}))
    assert all(s.phase != "prepare" for w in slurm.waves(plan.stages, tmp_path) for s in w)


def test_gpus_memory_and_partition_are_asked_only_where_configured():
    settings = load_config("paper")["executor"]["slurm"] | {"partition": "gpu"}
    train, prep = slurm._parameters(settings, "target"), slurm._parameters(settings, "prepare")
    assert train["gpus_per_node"] == 1 and "gpus_per_node" not in prep
    assert train["slurm_partition"] == "gpu" and train["mem_gb"] == 64
    assert "mem_gb" not in slurm._parameters(settings | {"mem_gb": 0}, "target")


def test_slurm_executor_without_sbatch_is_one_clear_line(tmp_path):
    proc = repro("reproduce", "--phase", "prepare", "--profile", MINI, "--run-dir", tmp_path, "--executor", "slurm",
                 check=False, env={"PATH": str(Path(sys.executable).parent)})
    assert proc.returncode == 2 and "sbatch is not on PATH" in proc.stderr and "Traceback" not in proc.stderr


def test_status_shows_job_ids_and_slurm_states(tmp_path, monkeypatch, capsys):
    plan = build_plan(load_config(MINI))
    first, second = plan.stages[0].id, plan.stages[1].id
    (tmp_path / ".slurm").mkdir()
    (tmp_path / ".slurm" / slurm.JOBS_FILE).write_text(json.dumps({first: "41", second: "42_1"}))
    answers = {"squeue": "42_1 RUNNING\n42_0 PENDING\n", "scontrol": "JobId=41 JobName=x JobState=COMPLETED Reason=None"}
    monkeypatch.setattr(slurm, "_ask", lambda argv: answers.get(argv[0], ""))
    assert main(["status", "--profile", MINI, "--run-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert re.search(rf"^{re.escape(first)}\s.*\s41\s+COMPLETED$", out, re.M), out
    assert re.search(rf"^{re.escape(second)}\s.*\s42_1\s+RUNNING$", out, re.M), out


def _cluster_or_skip():
    try:
        proc = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=20)
        up = proc.returncode == 0 and re.search(r"idle|mix|alloc", proc.stdout)
        reason = (proc.stderr.strip().splitlines() or ["no node is up"])[-1]
    except (OSError, subprocess.TimeoutExpired) as e:
        up, reason = False, str(e)
    if not up:
        message = f"no Slurm cluster answers ({reason}); `tox -e slurm` starts a one-node one"
        pytest.fail(message) if os.environ.get("REPRO_REQUIRE_SLURM") == "1" else pytest.skip(message)


def outputs(run_dir: Path) -> dict:
    return {str(m.parent.relative_to(run_dir)): json.loads(m.read_text())["outputs"]
            for m in sorted(run_dir.glob("*/*/manifest.json"))}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The small grid once locally and once through Slurm, where one training job is made to reach
    its time limit (it sleeps at step 20, just after a rolling checkpoint) and must be requeued."""
    _cluster_or_skip()
    local, on_slurm = tmp_path_factory.mktemp("local"), tmp_path_factory.mktemp("slurm")
    # The local reference runs meanwhile: the Slurm run spends most of its time waiting on the queue.
    reference = subprocess.Popen([sys.executable, "-m", "repro", "reproduce", "--all", "--profile", SMALL,
                                  "--run-dir", str(local), "--no-verify"], cwd=ROOT, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True)
    try:
        proc = repro("reproduce", "--all", "--profile", SMALL, *ON_TEST_CLUSTER, "--executor", "slurm",
                     "--run-dir", on_slurm, "--no-verify", env={"REPRO_PAUSE_AT": f"{SLOW_STAGE}:step20=240"},
                     timeout=1800)  # ~5 min on an idle 2-core machine; far more when it is shared
    finally:
        log, _ = reference.communicate(timeout=900)
    assert reference.returncode == 0, log
    return local, on_slurm, proc


def test_slurm_grid_gives_the_local_tables(runs):
    local, on_slurm, proc = runs
    assert "result tables:" in proc.stdout
    assert outputs(on_slurm) == outputs(local)  # every stage's files, byte for byte (SHA-256)
    table = lambda d: next(d.glob("aggregate/results-*/results.json")).read_text()
    assert table(on_slurm) == table(local)
    status = repro("status", "--profile", SMALL, "--run-dir", on_slurm).stdout
    rows = [l for l in status.splitlines() if re.match(r"^(prepare|pretrained|intermediate|target|evaluate|aggregate)/", l)]
    assert len(rows) == 15 and all(re.search(r"\sdone\s.*\s\d+(_\d+)?\s+COMPLETED$", r) for r in rows), status


def test_timed_out_job_is_requeued_and_resumes_to_the_same_numbers(runs):
    local, on_slurm, _ = runs
    job = slurm.recorded_jobs(on_slurm)[SLOW_STAGE]
    info = subprocess.run(["scontrol", "-o", "show", "job", job], capture_output=True, text=True).stdout
    log = "".join(p.read_text() for p in (on_slurm / ".slurm").glob(f"{job}/*_log.*"))
    restarts = re.search(r"Restarts=(\d+)", info)
    assert (restarts and int(restarts.group(1)) >= 1) or "Requeued job" in log, info + log
    assert "timed-out" in log or "preempted" in log, log
    inter = {k: v for k, v in outputs(on_slurm).items() if k.startswith("intermediate/")}
    assert inter and inter == {k: v for k, v in outputs(local).items() if k.startswith("intermediate/")}


def test_stage_with_a_job_still_queued_is_not_submitted_twice(tmp_path, monkeypatch):
    plan = build_plan(load_config(SMALL))
    (tmp_path / ".slurm").mkdir()
    (tmp_path / ".slurm" / slurm.JOBS_FILE).write_text(json.dumps({"intermediate/mnli-s1": "50"}))
    monkeypatch.setattr(slurm, "_ask", lambda argv: "50 RUNNING None\n" if argv[0] == "squeue" else "")
    settings = load_config(SMALL)["executor"]["slurm"]
    with pytest.raises(slurm.ReproError, match=r"intermediate/mnli-s1 \(job 50 RUNNING\)"):
        slurm.submit(tmp_path, plan.stages, settings, SMALL, [])


def test_dependency_is_lifted_when_upstream_is_done_on_disk_but_failed_in_slurm(tmp_path, monkeypatch):
    plan = build_plan(load_config(SMALL))
    stage = next(s for s in plan.stages if s.id == "target/mnli__xnli-s1")
    for d in stage.deps:
        stage_dir(tmp_path, d).mkdir(parents=True)
        (stage_dir(tmp_path, d) / MANIFEST).write_text(json.dumps({"key": d.key}))
    calls = []

    class Job:
        job_id, polls, paths = "61_0", 0, type("Paths", (), {"stderr": "61_0_log.err"})

        def done(self):
            self.polls += 1
            return self.polls > 1

        def result(self):
            return stage.key

    monkeypatch.setattr(slurm, "_ask", lambda argv: calls.append(argv) or (
        "61_0 PENDING DependencyNeverSatisfied\n" if argv[0] == "squeue" else ""))
    slurm.wait({stage.id: Job()}, {stage.id: stage}, tmp_path, 0.0, log=lambda m: None)
    assert ["scontrol", "update", "JobId=61_0", "Dependency="] in calls
    for d in stage.deps:  # an upstream stage really not done: the same Slurm verdict is an error
        (stage_dir(tmp_path, d) / MANIFEST).unlink()
    Job.polls = -10
    with pytest.raises(slurm.ReproError, match="DependencyNeverSatisfied"):
        slurm.wait({stage.id: Job()}, {stage.id: stage}, tmp_path, 0.0, log=lambda m: None)
