"""A training stage killed with SIGKILL resumes from its rolling checkpoint and ends with exactly the
numbers (and weights) of an uninterrupted run."""
import json
import signal

import pytest

from conftest import MINI, repro

COMMON = ["--profile", MINI, "--set", 'intermediate.tasks=["mnli"]', "--set", "intermediate.multitask=false",
          "--set", 'target.tasks=["xnli"]', "--set", 'target.encoders=["mnli"]', "--set", "target.baseline=false",
          "--set", "run.checkpoint_every=10", "--set", "intermediate.defaults.epochs=3.0"]


def outputs(run_dir, phase):
    (d,) = [p for p in (run_dir / phase).iterdir() if not p.name.startswith(".")]
    m = json.loads((d / "manifest.json").read_text())
    return m["outputs"], m


@pytest.mark.slow
@pytest.mark.parametrize("phase,kill_at", [
    ("intermediate", "intermediate/mnli-s1:step25"),
    ("target", "target/mnli__xnli-s1:step37"),   # after an evaluation: best-so-far must survive too
])
def test_kill_and_resume_gives_identical_results(tmp_path, phase, kill_at):
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    repro("reproduce", "--phase", phase, "--run-dir", clean, *COMMON)
    proc = repro("reproduce", "--phase", phase, "--run-dir", killed, *COMMON, check=False,
                 env={"REPRO_KILL_AT": kill_at})
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    work = [p for p in (killed / phase).iterdir() if p.name.endswith(".work")]
    assert work and (work[0] / "checkpoint" / "state.pt").is_file()
    status = repro("status", "--run-dir", killed, *COMMON).stdout
    assert "interrupted" in status
    resumed = repro("reproduce", "--phase", phase, "--run-dir", killed, *COMMON)
    assert "resumed at step" in resumed.stdout
    out_clean, m_clean = outputs(clean, phase)
    out_killed, m_killed = outputs(killed, phase)
    assert out_clean == out_killed  # every output file, weights and predictions included, bit-identical
    assert m_clean.get("dev_metrics") == m_killed.get("dev_metrics")
    assert m_clean["training"] == m_killed["training"]
    assert not work[0].exists()      # checkpoints are removed once the stage is done
