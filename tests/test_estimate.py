"""`plan --estimate`: device-hours per stage and for the grid, for every profile, with or without a
calibration file; bad calibration files are refused with one line."""
from __future__ import annotations

import json

import pytest

from conftest import repro


@pytest.mark.parametrize("profile", ["paper", "smoke", "smoke-grid"])
def test_estimate_works_for_every_profile(profile):
    out = repro("plan", "--profile", profile, "--estimate").stdout
    assert "whole grid:" in out and "device-hours" in out and "calibration:" in out
    # GPU profiles: latencies measured on an H200 (repro/resources/calibration-h200.json), fixed costs assumed
    assert ("fixed costs assumed" in out) == (profile == "paper")
    assert ("measured by tests/bench/gpu.py on NVIDIA H200" in out) == (profile == "paper")


def test_estimate_scales_with_the_calibration(tmp_path):
    cal = tmp_path / "calibration.json"
    flops_only = {"device": "test card", "peak_flops": 989e12, "mfu": 0.4, "step_latency_s": 0, "forward_latency_s": 0,
                  "stage_overhead_s": {}, "source": "measured"}
    cal.write_text(json.dumps(flops_only))
    default = json.loads(repro("plan", "--profile", "paper", "--estimate", "--json", "--calibration", cal).stdout)
    cal.write_text(json.dumps({**flops_only, "mfu": 0.2}))
    halved = json.loads(repro("plan", "--profile", "paper", "--estimate", "--json", "--calibration", cal).stdout)
    assert halved["total_hours"] == pytest.approx(2 * default["total_hours"])
    # XLM-R Large: 24 x (4·1024² + 2·1024·4096) non-embedding parameters, and ~10 intermediate stages
    assert default["model"]["non_embedding_params"] == 24 * (4 * 1024**2 + 2 * 1024 * 4096)
    assert sum(r["stage"].startswith("intermediate/") for r in default["stages"]) == 10
    assert all(r["hours"] > 0 for r in default["stages"] if r["stage"].startswith("intermediate/"))


def test_small_batch_training_is_bound_by_step_latency():
    """MNLI at the paper's batch 4 x 3 epochs is ~295k optimizer steps: with the default 0.12 s per step it
    takes hours, not the minutes its FLOPs at 40 % MFU would say."""
    result = json.loads(repro("plan", "--profile", "paper", "--estimate", "--json").stdout)
    mnli = next(r for r in result["stages"] if r["stage"] == "intermediate/mnli-s1")
    assert mnli["steps"] == -(-392_702 * 3 // 4)
    assert mnli["latency_s"] > 10 * mnli["flop_s"]
    assert mnli["seconds"] == pytest.approx(max(mnli["latency_s"], mnli["flop_s"]) + mnli["overhead_s"])


@pytest.mark.slow
@pytest.mark.parametrize("profile", ["paper", "smoke-grid"])
def test_makespan_on_n_devices_comes_from_the_executor_schedule(profile):
    one = json.loads(repro("plan", "--profile", profile, "--estimate", "--json").stdout)["makespan"]
    eight = json.loads(repro("plan", "--profile", profile, "--estimate", "--json", "--devices", "8").stdout)["makespan"]
    assert one["makespan_s"] == pytest.approx(one["serial_s"])
    # eight devices cannot beat a perfect split, nor finish before the longest chain (the multi-task stage)
    assert one["serial_s"] / 8 <= eight["makespan_s"] < one["makespan_s"]
    text = repro("plan", "--profile", profile, "--estimate", "--devices", "8", "--stages-per-device", "2").stdout
    assert "makespan on 8 device(s) x 2 stage(s) each" in text
    # the GPU default carries the card-sharing throughput measured on an H200 (x1.747 for 2 stages); the
    # CPU default has none, and says that it assumes no gain
    assert ("assumed no gain" in text) == (profile != "paper")
    assert ("x1.747 of one" in text) == (profile == "paper")


def test_bad_calibration_file_is_one_line_exit_2(tmp_path):
    bad = tmp_path / "c.json"
    bad.write_text('{"mfu": 0.4}')
    proc = repro("plan", "--profile", "paper", "--estimate", "--calibration", bad, check=False)
    assert proc.returncode == 2 and "peak_flops" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_gpu_benchmark_script_runs_and_its_calibration_is_read(tmp_path):
    """tests/bench/gpu.py has never had a GPU here: --quick runs every code path on small shapes on the CPU,
    so the script is known to run, and the calibration it writes is one `plan --estimate` accepts."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parent / "bench" / "gpu.py"
    spec = importlib.util.spec_from_file_location("gpu_bench", path)
    gpu = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu)
    out, cal = tmp_path / "bench-gpu.json", tmp_path / "calibration.json"
    assert gpu.main(["--quick", "--peak-flops", "1e12", "--out", str(out), "--calibration", str(cal)]) == 0
    results = json.loads(out.read_text())
    assert {"P1", "P3", "P5", "P9"} <= set(results) and results["machine"]["quick"] is True
    assert len(results["P9"]["2"]["worker_step_s"]) == 2 and results["P9"]["2"]["share_throughput"] > 0
    assert all(v["tokens_per_s"] > 0 and 0 < v["mfu"] for v in results["P5"].values())
    assert results["P1"]["bfloat16"]["agreement"]["queries"] > 0
    written = json.loads(cal.read_text())
    assert written["measured"] is False and "not a measurement" in written["source"]
    assert written["step_latency_s"] > 0 and set(written["share_throughput"]) == {"1", "2"}
    estimate = repro("plan", "--profile", "paper", "--estimate", "--calibration", cal).stdout
    assert "not a measurement" in estimate and "whole grid:" in estimate


def test_a_calibration_is_fitted_to_a_run_dirs_stage_durations(tmp_path):
    """Durations made by a known model (fixed cost per phase + micro-batches x step + evaluation batches x
    forward) are fitted back to that model."""
    from conftest import MINI
    from repro.config import load_config
    from repro.engine import stage_dir
    from repro.estimate import estimate, fit_calibration
    from repro.plan import build_plan

    config = load_config(MINI)
    plan = build_plan(config, need_data=False)
    truth = {"intermediate": 3.0, "target": 1.5, "prepare": 0.2, "evaluate": 0.1}
    for row in estimate(config, plan)["stages"]:
        st = next(s for s in plan.stages if s.id == row["stage"])
        seconds = truth.get(st.phase, 0.5) + row.get("micro_batches", 0) * 0.05 + row.get("eval_batches", 0) * 0.02
        (stage_dir(tmp_path, st)).mkdir(parents=True)
        (stage_dir(tmp_path, st) / "manifest.json").write_text(json.dumps({"key": st.key, "duration_s": seconds}))
    cal = fit_calibration(config, plan, tmp_path)
    assert cal["step_latency_s"] == pytest.approx(0.05, rel=1e-3)
    assert cal["forward_latency_s"] == pytest.approx(0.02, rel=1e-3)
    assert cal["stage_overhead_s"]["intermediate"] == pytest.approx(3.0, rel=1e-3)
    assert cal["stage_overhead_s"]["target"] == pytest.approx(1.5, rel=1e-3)
    assert cal["stage_overhead_s"]["prepare"] == pytest.approx(0.2)
    out = tmp_path / "cal.json"
    repro("plan", "--profile", MINI, "--estimate", "--run-dir", tmp_path, "--fit-calibration", out)
    assert json.loads(out.read_text())["step_latency_s"] == pytest.approx(0.05, rel=1e-3)


def test_an_analysis_stage_that_trains_keeps_its_own_fixed_cost(tmp_path):
    """The planted world (analyze/planted) trains eleven models; it is fitted and charged as its own kind,
    not averaged into the analysis stages that read a table."""
    from conftest import MINI
    from repro.config import load_config
    from repro.engine import stage_dir
    from repro.estimate import estimate, fit_calibration, stage_kind
    from repro.plan import build_plan

    assert stage_kind("analyze/logme-mnli") == "analyze/logme" and stage_kind("analyze/planted") == "analyze/planted"
    config = load_config(MINI, ["analysis.planted=true"])
    plan = build_plan(config, need_data=False)
    assert any(s.id == "analyze/planted" for s in plan.stages)
    for row in estimate(config, plan)["stages"]:
        st = next(s for s in plan.stages if s.id == row["stage"])
        seconds = {"analyze/planted": 20.0}.get(st.id, 1.0 if st.phase == "analyze" else 0.5) \
            + row.get("micro_batches", 0) * 0.05 + row.get("eval_batches", 0) * 0.02
        (stage_dir(tmp_path, st)).mkdir(parents=True)
        (stage_dir(tmp_path, st) / "manifest.json").write_text(json.dumps({"key": st.key, "duration_s": seconds}))
    cal = fit_calibration(config, plan, tmp_path)
    assert cal["stage_overhead_s"]["analyze/planted"] == pytest.approx(20.0)
    assert cal["stage_overhead_s"]["analyze/logme"] == pytest.approx(1.0)
    cal_file = tmp_path / "cal.json"
    cal_file.write_text(json.dumps(cal))
    rows = {r["stage"]: r for r in estimate(config, plan, None, str(cal_file))["stages"]}
    assert rows["analyze/planted"]["seconds"] == pytest.approx(20.0)
    assert rows["analyze/report"]["seconds"] == pytest.approx(1.0)
