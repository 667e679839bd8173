"""Span-QA windows as jiant and XTREME cut them: doc_stride is the step between window starts (the fast
tokenizer's `stride` is an overlap and is converted), windows without the answer stay as CLS targets in
SQuAD v1.1 training, and decoding takes a start token only from the window where it has most context."""
from __future__ import annotations

import pytest
import torch

from repro.heads import get_head
from repro.modeling import load_tokenizer, resolve_model
from repro.tasks import get_task

SETTINGS = {"max_seq_length": 40, "doc_stride": 8, "max_query_length": 16, "n_best": 20,
            "max_answer_length": 30, "answer_text": "jiant", "eval_batch_size": 8, "squad_version": "1.1"}
WORDS = [f"w{k}" for k in range(60)]


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer(resolve_model("tiny"))


def long_example(answer_word="w50"):
    context = " ".join(WORDS)
    start = context.index(answer_word)
    return {"id": "q", "question": "where is it ?", "context": context,
            "answers": [{"text": answer_word, "answer_start": start}]}


def test_doc_stride_is_the_step_between_windows(tokenizer):
    ex = long_example()
    feats = get_head("span_qa").featurize(get_task("squad"), [ex], tokenizer, SETTINGS, train=False)
    full = tokenizer(ex["context"], add_special_tokens=False)["input_ids"]
    # Window j holds context tokens j * doc_stride ... (read as an overlap it would start at j * (room - 8)).
    for j, f in enumerate(feats):
        ids = [t for t, o in zip(f["input_ids"], f["offsets"]) if o is not None]
        assert ids == full[j * SETTINGS["doc_stride"]:j * SETTINGS["doc_stride"] + len(ids)]
    assert len(feats) > 3
    # Every window is full except the last, which reaches the end of the context.
    last = [o for o in feats[-1]["offsets"] if o is not None][-1]
    assert last[1] == len(ex["context"])


def test_v11_training_keeps_windows_without_the_answer_as_cls(tokenizer):
    ex = long_example()
    head = get_head("span_qa")
    train = head.featurize(get_task("squad"), [ex], tokenizer, SETTINGS, train=True)
    evaluation = head.featurize(get_task("squad"), [ex], tokenizer, SETTINGS, train=False)
    assert len(train) == len(evaluation)  # no window is dropped
    cls = [f for f in train if f["start_positions"] == 0]
    spans = [f for f in train if f["start_positions"] != 0]
    assert cls and spans
    for f in spans:
        s, e = f["offsets"][f["start_positions"]], f["offsets"][f["end_positions"]]
        assert ex["context"][s[0]:e[1]] == "w50"


def test_each_context_token_is_max_context_in_exactly_one_window(tokenizer):
    ex = long_example()
    feats = get_head("span_qa").featurize(get_task("squad"), [ex], tokenizer, SETTINGS, train=False)
    owners, total = {}, 0
    for j, f in enumerate(feats):
        ctx = [p for p, o in enumerate(f["offsets"]) if o is not None]
        total = max(total, j * SETTINGS["doc_stride"] + len(ctx))
        assert not any(flag for p, flag in enumerate(f["max_context"]) if p not in ctx)
        for k, p in enumerate(ctx):
            if f["max_context"][p]:
                owners.setdefault(j * SETTINGS["doc_stride"] + k, []).append(j)
    assert sorted(owners) == list(range(total))  # every context token has one window...
    assert all(len(js) == 1 for js in owners.values())  # ...and only one
    # Away from the ends a token belongs to the window where it is nearest the middle.
    n = len([o for o in feats[0]["offsets"] if o is not None])
    assert owners[n // 2] == [0] and owners[SETTINGS["doc_stride"] + n // 2] == [1]
    # A token at a window's left edge (no left context) belongs to a window where it sits further in.
    second = feats[1]
    edge = next(p for p, o in enumerate(second["offsets"]) if o is not None)
    assert not second["max_context"][edge]


class FakeModel(torch.nn.Module):
    """Start/end logits that favour one span per window: (start_pos, end_pos) by window index."""

    def __init__(self, favoured):
        super().__init__()
        self.favoured, self.calls = favoured, 0

    def forward(self, input_ids, attention_mask):
        from types import SimpleNamespace

        start = torch.zeros(input_ids.shape)
        end = torch.zeros(input_ids.shape)
        for b in range(input_ids.shape[0]):
            s, e, score = self.favoured[self.calls]
            start[b, s], end[b, e] = score, score
            self.calls += 1
        return SimpleNamespace(start_logits=start, end_logits=end)


def test_decoding_ignores_a_start_outside_its_max_context_window(tokenizer):
    ex = long_example()
    head = get_head("span_qa")
    feats = head.featurize(get_task("squad"), [ex], tokenizer, SETTINGS, train=False)
    second, third = feats[1], feats[2]
    edge = next(p for p, o in enumerate(second["offsets"]) if o is not None)
    ctx3 = [p for p, o in enumerate(third["offsets"]) if o is not None]
    inner = ctx3[len(ctx3) // 2]
    assert not second["max_context"][edge] and third["max_context"][inner]
    favoured = [(0, 0, 0.0)] * len(feats)
    favoured[1] = (edge, edge, 9.0)   # the highest score, at a token this window does not own
    favoured[2] = (inner, inner, 5.0)
    pred = head.predict(get_task("squad"), FakeModel(favoured), [ex], feats, SETTINGS, 1, "cpu")
    o = third["offsets"][inner]
    assert pred["q"] == ex["context"][o[0]:o[1]]
