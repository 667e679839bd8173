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
    assert ("DEFAULT, not measured" in out) == (profile == "paper")


def test_estimate_scales_with_the_calibration(tmp_path):
    default = json.loads(repro("plan", "--profile", "paper", "--estimate", "--json").stdout)
    cal = tmp_path / "calibration.json"
    cal.write_text(json.dumps({"device": "test card", "peak_flops": 989e12, "mfu": 0.2, "source": "measured"}))
    halved = json.loads(repro("plan", "--profile", "paper", "--estimate", "--json", "--calibration", cal).stdout)
    assert halved["total_hours"] == pytest.approx(2 * default["total_hours"])
    # XLM-R Large: 24 x (4·1024² + 2·1024·4096) non-embedding parameters, and ~10 intermediate stages
    assert default["model"]["non_embedding_params"] == 24 * (4 * 1024**2 + 2 * 1024 * 4096)
    assert sum(r["stage"].startswith("intermediate/") for r in default["stages"]) == 10
    assert all(r["hours"] > 0 for r in default["stages"] if r["stage"].startswith("intermediate/"))


def test_bad_calibration_file_is_one_line_exit_2(tmp_path):
    bad = tmp_path / "c.json"
    bad.write_text('{"mfu": 0.4}')
    proc = repro("plan", "--profile", "paper", "--estimate", "--calibration", bad, check=False)
    assert proc.returncode == 2 and "peak_flops" in proc.stderr and "Traceback" not in proc.stderr


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
    assert {"P1", "P3", "P5"} <= set(results) and results["machine"]["quick"] is True
    assert all(v["tokens_per_s"] > 0 and 0 < v["mfu"] for v in results["P5"].values())
    assert results["P1"]["bfloat16"]["agreement"]["queries"] > 0
    written = json.loads(cal.read_text())
    assert written["measured"] is False and "not a measurement" in written["source"]
    estimate = repro("plan", "--profile", "paper", "--estimate", "--calibration", cal).stdout
    assert "not a measurement" in estimate and "whole grid:" in estimate
