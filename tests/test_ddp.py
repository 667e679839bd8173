"""Data-parallel training (run.devices = 2) with two CPU processes over gloo: the loss curve and the
weights match one process with the same global batch, and a run killed mid-way resumes from rank 0's
rolling checkpoint on a different number of processes."""
from __future__ import annotations

import pytest
import torch

from repro.errors import ReproError
from repro.training import Checkpoint, train
from training_helpers import SETTINGS, model, state, task_data

CPU = torch.device("cpu")
# Dropout off: masks are drawn per process, so they differ once a batch is split in two.
S = {**SETTINGS, "max_steps": 4}


def _train(work, devices, **kw):
    m = model(dropout=0.0)
    summary = train(m, [task_data()], S, work, seed=1, pad_id=1, device=CPU, checkpoint_every=2,
                    log=lambda *a: None, record_losses=True, devices=devices, tag="ddp", **kw)
    return m, summary


def _close(a, b):
    sa, sb = state(a), state(b)
    return all(torch.allclose(v, sb[k], rtol=1e-4, atol=1e-5) for k, v in sa.items())


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    return _train(tmp_path_factory.mktemp("single"), 1)


def test_two_processes_match_one_with_the_same_global_batch(single, tmp_path):
    one, s_one = single
    two, s_two = _train(tmp_path, 2)
    assert s_two["steps"] == s_one["steps"] == 4
    assert s_two["losses"] == pytest.approx(s_one["losses"], rel=1e-4)
    assert _close(one, two)
    assert not (tmp_path / "final.safetensors").exists()  # rank 0's hand-over file is cleaned up


def test_killed_two_process_run_resumes_on_one_process(single, tmp_path, monkeypatch):
    one, s_one = single
    monkeypatch.setenv("REPRO_KILL_AT", "ddp:step3")  # both workers SIGKILL themselves after step 3
    with pytest.raises(ReproError, match="killed by signal 9"):
        _train(tmp_path, 2)
    assert Checkpoint(tmp_path).exists()  # written at step 2 by rank 0 alone
    monkeypatch.delenv("REPRO_KILL_AT")
    resumed, s = _train(tmp_path, 1)
    assert s["losses"] == pytest.approx(s_one["losses"], rel=1e-4)
    assert _close(one, resumed)
