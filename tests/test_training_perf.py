"""Training-loop performance options on CPU: precision (bf16 / fp16 autocast), length-grouped batches
(seeded, resumable), the progress bar, and that the default fp32 path is untouched by them."""
from __future__ import annotations

import pytest
import torch

from repro.errors import ReproError
from repro.heads import get_head
from repro.training import Checkpoint, MEGA_BATCH, Sampler, grouped_order, train
from training_helpers import SETTINGS, model, state, task_data

CPU = torch.device("cpu")


def _run(tmp_path, name, m=None, **kw):
    m = m or model()
    summary = train(m, [task_data()], SETTINGS, tmp_path / name, seed=1, pad_id=1, device=CPU,
                    checkpoint_every=10**9, log=lambda *a: None, record_losses=True, **kw)
    return m, summary


def test_default_fp32_path_is_bit_identical_to_explicit_fp32(tmp_path):
    a, sa = _run(tmp_path, "a")
    b, sb = _run(tmp_path, "b", precision="fp32", group_by_length=False, devices=1)
    assert sa["losses"] == sb["losses"]
    assert all(torch.equal(v, state(b)[k]) for k, v in state(a).items())


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_trains_with_fp32_master_weights(tmp_path, precision):
    ref, s_ref = _run(tmp_path, "fp32")
    m, s = _run(tmp_path, precision, precision=precision)
    assert all(p.dtype == torch.float32 for p in m.parameters())  # master weights stay fp32
    assert s["losses"] != s_ref["losses"]                          # autocast really ran in low precision
    assert all(abs(a - b) < 0.1 for a, b in zip(s["losses"], s_ref["losses"]))


def test_unknown_precision_is_refused(tmp_path):
    with pytest.raises(ReproError, match="run.precision"):
        _run(tmp_path, "x", precision="int8")


def test_grouped_order_is_a_permutation_sorted_within_mega_batches():
    lengths = [(i * 7919) % 97 for i in range(1000)]
    order = list(range(999, -1, -1))
    out = grouped_order(order, lengths, batch_size=4)
    assert sorted(out) == list(range(1000))
    mega = 4 * MEGA_BATCH
    for start in range(0, 1000, mega):
        chunk = out[start:start + mega]
        assert set(chunk) == set(order[start:start + mega])     # the random order decides the mega-batch
        assert [lengths[i] for i in chunk] == sorted((lengths[i] for i in chunk), reverse=True)


def test_grouping_cuts_padding_and_is_seeded():
    data = task_data(n=400)

    def padded(sampler):
        total = 0
        for _ in range(50):
            batch = sampler.next_batch(0)
            total += max(len(f["input_ids"]) for f in batch) * len(batch)
        return total

    random_order = padded(Sampler([data], 8, 1, "proportional", 1.0))
    grouped = padded(Sampler([data], 8, 1, "proportional", 1.0, group_by_length=True))
    assert grouped < 0.75 * random_order
    a, b = Sampler([data], 8, 1, "proportional", 1.0, True), Sampler([data], 8, 1, "proportional", 1.0, True)
    assert [f["example"] for f in a.next_batch(0)] == [f["example"] for f in b.next_batch(0)]


def test_grouped_run_resumes_exactly_and_checkpoints_refuse_another_grouping(tmp_path, monkeypatch):
    clean, s_clean = _run(tmp_path, "clean", group_by_length=True)
    # Interrupt: stop after step 5 by making the fault point raise, then resume from the checkpoint.
    from repro import faults

    def stop(name):
        if name.endswith(":step5"):
            raise KeyboardInterrupt
    monkeypatch.setattr(faults, "point", stop)
    m = model()
    with pytest.raises(KeyboardInterrupt):
        train(m, [task_data()], SETTINGS, tmp_path / "killed", seed=1, pad_id=1, device=CPU, checkpoint_every=5,
              log=lambda *a: None, record_losses=True, group_by_length=True)
    assert Checkpoint(tmp_path / "killed").exists()
    with pytest.raises(ReproError, match="different settings"):
        train(model(), [task_data()], SETTINGS, tmp_path / "killed", seed=1, pad_id=1, device=CPU,
              checkpoint_every=5, log=lambda *a: None)
    monkeypatch.setattr(faults, "point", lambda name: None)
    resumed = model()
    s = train(resumed, [task_data()], SETTINGS, tmp_path / "killed", seed=1, pad_id=1, device=CPU,
              checkpoint_every=5, log=lambda *a: None, record_losses=True, group_by_length=True)
    assert s["losses"] == s_clean["losses"]
    assert all(torch.equal(v, state(resumed)[k]) for k, v in state(clean).items())


def test_progress_bar_shows_steps_loss_and_tokens_per_second(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("REPRO_PROGRESS", "1")
    m = model()
    capsys.readouterr()  # the model loader's own output
    _run(tmp_path, "bar", m)
    err = capsys.readouterr().err
    # the total is always drawn; the last refresh depends on tqdm's mininterval, so "6/6" may be skipped
    assert "train" in err and "loss=" in err and "tok_s=" in err and "/6 " in err
    monkeypatch.setenv("REPRO_PROGRESS", "0")
    m = model()
    capsys.readouterr()
    _run(tmp_path, "quiet", m)
    assert capsys.readouterr().err == ""


def test_prediction_shows_a_progress_bar_on_a_terminal_only(monkeypatch, capsys):
    feats = task_data(n=12).features
    m = model()
    head = get_head("classification")
    for setting, shown in (("1", True), ("0", False)):
        monkeypatch.setenv("REPRO_PROGRESS", setting)
        capsys.readouterr()
        out = head.outputs(m.heads["toy"], feats, pad_id=1, batch_size=5, device=CPU)
        err = capsys.readouterr().err
        assert len(out) == 12
        assert ("predict" in err and "/12 " in err) if shown else err == "", err
