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
    # issue 28.4: every user command, each flag
    ["verify", "--run-dir", "runs/x", "--expected", "paper", "--out", "/tmp/v.json"],
    ["status", "--run-dir", "runs/x", "--verify", "--set", "run.seeds=[1]"],
    ["plan", "--profile", "paper", "--estimate", "--calibration", "c.json", "--json", "--run-dir", "runs/p"],
    ["check-data", "--profile", "paper", "--offline", "--set", "data.dir=/d"],
    ["analyze", "--run-dir", "runs/x", "--wait"],
    ["analyze", "--results", "t.json", "--out", "o", "--split", "dev", "--permutations", "100", "--bootstrap", "20",
     "--profile", "smoke"],
    ["score", "--prediction-folder", "p", "--label-folder", "l", "--output-file", "o.json", "--tasks", "xnli", "--tasks",
     "pawsx"],
    ["score", "--prediction-folder", "p", "--label-folder", "l", "--output-file", "o.json"],
])
def test_invoke_task_parses_like_python_m_repro(flags):
    if flags[0] == "score":  # invoke repeats an iterable flag; repro's --tasks takes several values
        direct_flags = [f for i, f in enumerate(flags) if not (f == "--tasks" and i > flags.index("--tasks"))]
    else:
        direct_flags = flags
    through_invoke = build_parser().parse_args(dry(*flags))
    direct = build_parser().parse_args(direct_flags)
    assert vars(through_invoke) == vars(direct)


def _subcommands():
    action = next(a for a in build_parser()._actions if a.dest == "command")
    return action.choices


def test_invoke_has_every_command_and_flag_of_python_m_repro():
    """Issue 28.4: "the same commands work through invoke" held for four of them."""
    listed = ANSI.sub("", invoke("--list").stdout)
    for name, sub in _subcommands().items():
        assert re.search(rf"^\s+{re.escape(name)}\b", listed, re.M), (name, listed)
        task_help = ANSI.sub("", invoke("--help", name).stdout)
        flags = [o for a in sub._actions for o in a.option_strings if o.startswith("--") and o != "--help"
                 and "_" not in o]  # score's evaluate.py spellings (--prediction_folder) are aliases
        missing = [f for f in flags if not re.search(rf"{re.escape(f)}\b", task_help)]
        assert not missing, (name, missing)


def test_analyze_passes_its_extra_flags_through():
    assert dry("analyze", "--profile", "paper", "--", "--format", "md") == \
        ["analyze", "--profile", "paper", "--format", "md"]


@pytest.mark.slow
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
