import os

# Offline before transformers/huggingface_hub are imported: they read these at import time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from transformers import AutoModel, AutoTokenizer  # noqa: E402

from repro.modeling import TINY_MODEL  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MINI = str(ROOT / "tests" / "profiles" / "mini.toml")


def pytest_collection_modifyitems(items):
    """Every test built on the shared mini run, directly or through a fixture made from it (fixturenames is
    the whole closure), is `slow`: the run alone takes minutes on two cores. `tox -e tests` leaves them out;
    `tox -e tests-slow` runs them (CI both)."""
    for item in items:
        if "mini_run" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _hf_home(tmp_path_factory, monkeypatch):
    # datasets writes caches under HF_HOME; keep them out of the user's home.
    monkeypatch.setenv("HF_HOME", str(tmp_path_factory.getbasetemp() / "hf"))


@pytest.fixture(scope="module")
def tiny():
    """The committed tiny XLM-R encoder and its tokenizer, in eval mode."""
    tok = AutoTokenizer.from_pretrained(str(TINY_MODEL))
    model = AutoModel.from_pretrained(str(TINY_MODEL))
    model.eval()
    return model, tok


def write_file(root: Path, rel: str, text: str | bytes) -> Path:
    """Writes text (UTF-8) or bytes to root/rel, creating folders; returns the path."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def repro(*args, check=True, env=None, timeout=600):
    """Runs `python -m repro ARGS` in a subprocess (as a user would); returns the CompletedProcess."""
    proc = subprocess.run([sys.executable, "-m", "repro", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"repro {' '.join(map(str, args))} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="session")
def mini_run(tmp_path_factory):
    """One run of the mini smoke profile shared by the end-to-end tests."""
    run_dir = tmp_path_factory.mktemp("mini-run")
    proc = repro("reproduce", "--all", "--profile", MINI, "--run-dir", run_dir, "--no-verify")
    return run_dir, proc
