"""BUCC 2018 task end to end on a hand-made example: XTREME-layout files -> loader -> retrieve (dev tunes
the threshold, test reuses it; XTREME's scripts/run_bucc2018.sh) -> prediction lines -> BUCC F1.

The encoder is replaced by a fake `embed` that looks vectors up by sentence. Each sentence has its own
axis plus a shared component (so the k = 2 neighbourhood means differ between pairs and the ratio margins
are distinct); a translation adds a small drift. One distractor pair per split is built from two axes:
weakly similar on dev (margin 1.091, below the three gold pairs at 1.288-1.333), strongly similar on test
(margin 1.255). The dev threshold is the midpoint 1.189, so reusing it on test admits the false pair,
whereas a threshold tuned on the test gold (1.271) would not: that difference proves the reuse.
"""
from __future__ import annotations

import numpy as np
import pytest

from repro.errors import ReproError
from repro.retrieval import bucc_mine, bucc_optimize_threshold
from repro.scoring.metrics import bucc_f1
from repro.tasks import DataSource, get_task

E = np.eye(8)
SHARED = E[7]

DEV_SRC = {"de-000000001": ("hund", E[0]), "de-000000002": ("katze", E[1]), "de-000000003": ("haus", E[2]),
           "de-000000004": ("regen", E[3])}
DEV_EN = {"en-000000001": ("dog", E[0] + 0.2 * E[5]), "en-000000002": ("cat", E[1] + 0.6 * E[5]),
          "en-000000003": ("house", E[2] + 1.0 * E[6]), "en-000000004": ("sunshine", E[4] + 0.2 * E[3])}
TEST_SRC = {"de-000000011": ("baum", E[0]), "de-000000012": ("buch", E[1]), "de-000000013": ("tür", E[2]),
            "de-000000014": ("schnee", E[3])}
TEST_EN = {"en-000000011": ("tree", E[0] + 0.2 * E[5]), "en-000000012": ("book", E[1] + 0.6 * E[5]),
           "en-000000013": ("door", E[2] + 1.0 * E[6]), "en-000000014": ("snowfall", E[4] + 0.8 * E[3])}
DEV_GOLD = [("de-000000001", "en-000000001"), ("de-000000002", "en-000000002"), ("de-000000003", "en-000000003")]
TEST_GOLD = [("de-000000011", "en-000000011"), ("de-000000012", "en-000000012"), ("de-000000013", "en-000000013")]
SETTINGS = {"k": 2}

VECTORS = {text: vec + SHARED for side in (DEV_SRC, DEV_EN, TEST_SRC, TEST_EN) for text, vec in side.values()}


def fake_embed(sentences):
    return np.array([VECTORS[s.strip()] for s in sentences], dtype=np.float32)


def _write(path, rows):
    path.write_text("".join("\t".join(r) + "\n" for r in rows), encoding="utf-8")


@pytest.fixture
def source(tmp_path):
    d = tmp_path / "bucc2018"
    d.mkdir()
    for split, src, en, gold in (("dev", DEV_SRC, DEV_EN, DEV_GOLD), ("test", TEST_SRC, TEST_EN, None)):
        _write(d / f"de-en.{split}.de", [(i, text) for i, (text, _) in src.items()])
        _write(d / f"de-en.{split}.en", [(i, text) for i, (text, _) in en.items()])
        if gold:
            _write(d / f"de-en.{split}.gold", gold)
    return DataSource("local", tmp_path)


def _candidates(example):
    return bucc_mine(example["source_ids"], example["source"], fake_embed(example["source"]),
                     example["english_ids"], example["english"], fake_embed(example["english"]), k=SETTINGS["k"])


def test_dev_threshold_is_reused_on_test(source):
    task = get_task("bucc2018")
    dev, test = task.read(source, "dev", "de"), task.read(source, "test", "de")
    assert test[0]["gold"] is None  # XTREME deletes the test gold

    state = {}
    dev_lines = task.retrieve(dev, fake_embed, SETTINGS, split="dev", lang="de", state=state)
    threshold = state["thresholds"]["de"]
    expected_threshold, f1, *_ = bucc_optimize_threshold(_candidates(dev[0]), set(DEV_GOLD))
    assert threshold == expected_threshold
    assert threshold == pytest.approx(1.1893, abs=1e-4)  # midpoint of 1.2877 (last gold) and 1.0909 (distractor)
    assert state["oracle_dev"]["de"]["f1"] == f1 == 100.0
    assert sorted(dev_lines) == [f"{s}\t{t}" for s, t in DEV_GOLD]

    test_lines = task.retrieve(test, fake_embed, SETTINGS, split="test", lang="de", state=state)
    assert state["thresholds"]["de"] == threshold  # the test split never re-tunes
    assert sorted(test_lines) == sorted([f"{s}\t{t}" for s, t in TEST_GOLD] + ["de-000000014\ten-000000014"])

    # Tuned on the test gold instead, the threshold would drop the false pair: the reuse is observable.
    test_threshold, *_ = bucc_optimize_threshold(_candidates(test[0]), set(TEST_GOLD))
    assert test_threshold > threshold
    assert ("de-000000014", "en-000000014") in {(s, t) for _, s, t in _candidates(test[0])}

    score = bucc_f1(test_lines, [f"{s}\t{t}" for s, t in TEST_GOLD])
    assert score["precision"] == pytest.approx(75.0)
    assert score["recall"] == pytest.approx(100.0)
    assert score["f1"] == pytest.approx(600 / 7)


def test_test_before_dev_is_an_error(source):
    task = get_task("bucc2018")
    with pytest.raises(ReproError, match="no dev threshold"):
        task.retrieve(task.read(source, "test", "de"), fake_embed, SETTINGS, split="test", lang="de", state={})


def test_gold_written_in_label_layout(source, tmp_path):
    task = get_task("bucc2018")
    out = tmp_path / "labels" / "test-de.tsv"
    assert task.write_gold(out, task.read(source, "dev", "de"))
    assert out.read_text() == "".join(f"{s}\t{t}\n" for s, t in DEV_GOLD)
    assert not task.write_gold(tmp_path / "none.tsv", task.read(source, "test", "de"))


def test_test_gold_is_read_when_present(source):
    _write(source.root / "bucc2018" / "de-en.test.gold", TEST_GOLD)
    (ex,) = get_task("bucc2018").read(source, "test", "de")
    assert [tuple(p) for p in ex["gold"]] == TEST_GOLD
