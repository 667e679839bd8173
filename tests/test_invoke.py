"""The invoke tasks take `python -m repro`'s flags and hand them on unchanged (subprocess, as a user)."""
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import MINI, ROOT
from repro.cli import build_parser

INVOKE = str(Path(sys.executable).with_name("invoke"))
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def invoke(*args, check=True):
    proc = subprocess.run([INVOKE, *args], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"})
    if check and proc.returncode != 0:
        raise AssertionError(f"invoke {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def dry(*args) -> list[str]:
    """The repro arguments an invoke task would run (`invoke --dry` echoes the command only)."""
    line = ANSI.sub("", invoke("--dry", *args).stdout).strip()
    argv = shlex.split(line)
    assert argv[:3] == [sys.executable, "-m", "repro"], line
    return argv[3:]


@pytest.mark.parametrize("flags", [
    ["reproduce", "--all", "--profile", "paper", "--run-dir", "/tmp/r", "--set", "run.seeds=[1,2]",
     "--set", 'intermediate.tasks=["mnli"]'],
    ["reproduce", "--phase", "intermediate", "--profile", "smoke-grid", "--executor", "slurm", "--no-verify"],
    ["reproduce", "--all", "--dry-run", "--wait"],
    ["status", "--profile", "paper", "--json"],
    ["verify", "--profile", "smoke", "--run-dir", "runs/x", "--expected", "smoke"],
])
def test_invoke_task_parses_like_python_m_repro(flags):
    through_invoke = build_parser().parse_args(dry(*flags))
    direct = build_parser().parse_args(flags)
    assert vars(through_invoke) == vars(direct)


def test_analyze_passes_its_extra_flags_through():
    assert dry("analyze", "--profile", "paper", "--", "--format", "md") == \
        ["analyze", "--profile", "paper", "--format", "md"]


def test_invoke_reproduce_and_status_run_for_real(tmp_path):
    plan = invoke("reproduce", "--all", "--profile", MINI, "--run-dir", str(tmp_path), "--dry-run").stdout
    assert "stages per phase: prepare" in plan and "aggregate 1" in plan
    small = ["--set", 'target.tasks=["xnli"]', "--set", 'intermediate.tasks=["mnli"]', "--set", 'target.encoders=["mnli"]']
    invoke("prepare", "--profile", MINI, "--run-dir", str(tmp_path), *small)
    status = invoke("status", "--profile", MINI, "--run-dir", str(tmp_path), *small).stdout
    assert re.search(r"prepare/xnli\s+\w+\s+done", status), status
    assert re.search(r"intermediate/mnli-s1\s+\w+\s+pending", status), status


def test_invoke_returns_repro_exit_code_and_message():
    proc = invoke("reproduce", "--phase", "nonsense", "--profile", MINI, check=False)
    assert proc.returncode == 2 and "no stages in phase 'nonsense'" in proc.stderr


def test_docker_option_runs_the_same_arguments_in_the_container(monkeypatch):
    import importlib.util

    spec = importlib.util.spec_from_file_location("repro_invoke_tasks", ROOT / "tasks.py")
    tasks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tasks)
    monkeypatch.setenv("HF_TOKEN", "hf_secret_value")
    argv = tasks.docker_command(["reproduce", "--all", "--profile", "paper"])
    assert argv[:6] == ["docker", "run", "--rm", "--gpus", "all", "--ipc=host"]
    assert argv[-5:] == [tasks.IMAGE, "reproduce", "--all", "--profile", "paper"]
    mounts = [argv[i + 1].split(":")[1] for i, a in enumerate(argv) if a == "-v"]
    assert mounts == ["/work/runs", "/data", "/hf"]
    assert "-eHF_TOKEN" in argv and not any("hf_secret_value" in a for a in argv)  # passed by name only
