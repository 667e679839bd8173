"""Kills at every phase, concurrent runs, stale results, disk errors, untrusted files."""
import errno
import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import MINI, ROOT, repro

KILL_POINTS = [  # in execution order, one per phase, including between outputs and done marker
    "prepare/xnli:before-rename",
    "pretrained/tiny:before-manifest",
    "intermediate/multitask-s1:step30",
    "target/baseline__panx-s1:step40",
    "evaluate/multitask__xquad-s1:before-rename",
    "aggregate/results:before-manifest",
]


def outputs(run_dir, phase):
    out = {}
    for m in sorted((run_dir / phase).glob("*/manifest.json")):
        out[m.parent.name] = json.loads(m.read_text())["outputs"]
    return out


def test_killed_at_every_phase_resumes_to_identical_results(mini_run, tmp_path):
    clean, _ = mini_run
    run_dir = tmp_path / "killed"
    for point in KILL_POINTS:
        proc = repro("reproduce", "--all", "--profile", MINI, "--run-dir", run_dir, "--no-verify",
                     check=False, env={"REPRO_KILL_AT": point})
        assert proc.returncode == -signal.SIGKILL, f"{point} was not reached:\n{proc.stdout}\n{proc.stderr}"
    repro("reproduce", "--all", "--profile", MINI, "--run-dir", run_dir, "--no-verify")
    for phase in ("prepare", "intermediate", "target", "evaluate", "aggregate"):
        assert outputs(run_dir, phase) == outputs(clean, phase), phase
    leftovers = [p.name for p in run_dir.glob("*/.*") if p.name != ".lock"]
    assert leftovers == []  # no half-written or checkpoint directories remain


@pytest.mark.slow
def test_second_run_on_same_dir_is_refused_then_waits(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from repro.engine import RunLock\n"
        f"with RunLock({str(tmp_path)!r}):\n    print('locked', flush=True); time.sleep(20)")],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    proc = repro("reproduce", "--phase", "prepare", "--profile", MINI, "--run-dir", tmp_path, check=False)
    assert proc.returncode == 2 and f"in use by another run (pid {holder.pid}" in proc.stderr
    started = time.time()
    repro("reproduce", "--phase", "pretrained", "--profile", MINI, "--run-dir", tmp_path, "--wait")
    assert time.time() - started > 1  # it waited for the holder to finish
    holder.wait()


def test_lock_of_a_killed_run_is_recovered(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", (
        "import time; from repro.engine import RunLock\n"
        f"with RunLock({str(tmp_path)!r}):\n    print('locked', flush=True); time.sleep(60)")],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    repro("reproduce", "--phase", "pretrained", "--profile", MINI, "--run-dir", tmp_path)


def test_package_version_change_reruns_exactly_the_dependent_stages(monkeypatch):
    import repro.engine as engine
    from repro.config import load_config
    from repro.plan import build_plan

    before = {s.id: s.key for s in build_plan(load_config(MINI)).stages}
    real = engine.package_versions
    monkeypatch.setattr(engine, "package_versions",
                        lambda names=(): {**real(names), **({"torch": "9.9.9"} if "torch" in names else {})})
    after = {s.id: s.key for s in build_plan(load_config(MINI)).stages}
    changed = {sid for sid in before if before[sid] != after[sid]}
    assert {s for s in before if s.startswith("prepare/")}.isdisjoint(changed)
    assert {s for s in before if s.split("/")[0] in ("pretrained", "intermediate", "target")} <= changed
    assert "aggregate/results" in changed  # downstream of everything that changed


def test_changed_input_file_reruns_its_prepare_stage(tmp_path):
    from repro.config import load_config
    from repro.plan import build_plan
    from repro.synthetic.generate import generate

    generate(tmp_path, ["xnli", "panx"], 0, 8, 4, ["en", "xa"])
    sets = ['data.source="local"', f'data.dir="{tmp_path}"', 'target.languages=["en","xa"]',
            'intermediate.tasks=["mnli"]', 'target.tasks=["xnli","panx"]', 'target.encoders=["mnli"]']

    def keys():
        return {s.id: s.key for s in build_plan(load_config(MINI, sets)).stages if s.phase == "prepare"}

    generate(tmp_path, ["mnli"], 0, 8, 4, ["en"])
    before = keys()
    with open(tmp_path / "panx" / "dev-xa.tsv", "a") as f:
        f.write("\nanna\tB-PER\n")
    after = keys()
    assert [s for s in before if before[s] != after[s]] == ["prepare/panx"]


def test_disk_full_fails_cleanly_and_the_next_run_redoes_the_stage(tmp_path, monkeypatch, capsys):
    import repro.atomic as atomic
    from repro.cli import main

    real = atomic.write_bytes

    def full(path, data):
        if Path(path).name == "results.json":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, data)

    args = ["reproduce", "--phase", "aggregate", "--profile", MINI, "--run-dir", str(tmp_path),
            "--set", 'target.tasks=["tatoeba"]', "--set", 'intermediate.tasks=["mnli"]',
            "--set", 'target.encoders=["mnli"]']
    monkeypatch.setattr(atomic, "write_bytes", full)
    assert main(args) == 1
    assert "No space left on device" in capsys.readouterr().err
    assert not list((tmp_path / "aggregate").glob("*/manifest.json"))
    monkeypatch.setattr(atomic, "write_bytes", real)
    assert main(args) == 0
    assert list((tmp_path / "aggregate").glob("*/manifest.json"))


class Payload:
    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


MARKER = Path("/tmp/repro-pickle-payload-ran")


def test_pickled_checkpoint_payload_is_refused(tmp_path):
    args = ["reproduce", "--phase", "intermediate", "--profile", MINI, "--run-dir", tmp_path,
            "--set", 'intermediate.tasks=["mnli"]', "--set", "intermediate.multitask=false",
            "--set", 'target.encoders=["mnli"]']
    proc = repro(*args, check=False, env={"REPRO_KILL_AT": "intermediate/mnli-s1:step25"})
    assert proc.returncode == -signal.SIGKILL
    (state,) = tmp_path.glob("intermediate/.mnli-s1-*.work/checkpoint/state.pt")
    MARKER.unlink(missing_ok=True)
    with open(state, "wb") as f:
        pickle.dump({"step": Payload()}, f)
    proc = repro(*args, check=False)
    assert proc.returncode == 2 and "refusing to load this checkpoint" in proc.stderr
    assert not MARKER.exists()
    assert not list(tmp_path.glob("intermediate/*/manifest.json"))


def test_no_unsafe_loading_in_the_package():
    source = "\n".join(p.read_text() for p in (ROOT / "repro").rglob("*.py"))
    for forbidden in ("trust_remote_code=True", "weights_only=False", "pickle.load", "use_safetensors=False"):
        assert forbidden not in source
