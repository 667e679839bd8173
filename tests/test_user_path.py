"""What a user meets in the first hour, tried from outside as a user runs it (issue 22, issue 28): a log
redirected to a file, a run directory read back without its profile, verdicts against another table,
mistyped options. Each test failed on the code before its fix."""
import json
import os
import subprocess
import sys

import pytest

from conftest import MINI, ROOT, repro
from repro.config import load_config
from repro.engine import MANIFEST, stage_dir
from repro.plan import build_plan


def _one_error_line(proc, *needles, code=2):
    assert proc.returncode == code, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    for n in needles:
        assert str(n) in errors[0], (n, proc.stderr)
    return errors[0]


def test_stage_lines_reach_a_redirected_log_as_they_happen(tmp_path):
    """stdout a file (nohup, tee, a batch job): each stage line is in it when printed, so a run killed
    mid-way keeps them. The process kills itself (SIGKILL) before its second stage is marked done."""
    log = tmp_path / "log"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    env["REPRO_KILL_AT"] = "prepare/mnli:before-manifest"
    with open(log, "w") as out:
        proc = subprocess.run([sys.executable, "-m", "repro", "reproduce", "--phase", "prepare", "--profile", MINI,
                               "--run-dir", tmp_path / "run"], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                              env=env, timeout=600)
    assert proc.returncode == -9
    lines = log.read_text().splitlines()
    assert any(line.startswith("[run ] prepare/synthetic-data") for line in lines), lines
    assert any(line.startswith("[run ] prepare/mnli") for line in lines), lines
