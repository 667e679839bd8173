"""Per-example units of the gains' paired bootstrap (repro/analysis/examples.py), checked by hand and
against the XTREME scorer's own numbers."""
import numpy as np
import pytest

from conftest import write_file
from repro.analysis import examples
from repro.scoring.metrics import accuracy, tagging_f1
from repro.tasks import get_task

XNLI, PANX = get_task("xnli"), get_task("panx")
TAGS_GOLD = [["B-PER", "I-PER", "O"], ["O", "B-LOC"], ["B-ORG", "O", "B-PER"]]
TAGS_PRED = [["B-PER", "I-PER", "O"], ["B-LOC", "B-LOC"], ["B-ORG", "O", "O"]]


def _tags(sentences):
    return "\n".join("".join(f"{t}\n" for t in s) for s in sentences)


def test_units_reproduce_the_scorers_metrics(tmp_path):
    gold = write_file(tmp_path, "g/test-en.tsv", _tags(TAGS_GOLD))
    pred = write_file(tmp_path, "p/test-en.tsv", _tags(TAGS_PRED))
    u = examples.units(PANX, pred, gold)
    assert u.tolist() == [[1, 0, 0], [1, 1, 0], [1, 0, 1]]   # tp, fp, fn per sentence, by hand
    f1 = examples.metric_of(PANX)(u.sum(axis=0)[None], len(u))[0]
    assert f1 == pytest.approx(tagging_f1(TAGS_PRED, TAGS_GOLD)["f1"])
    g = write_file(tmp_path, "g/test-de.tsv", "0\n1\n2\n1\n")
    p = write_file(tmp_path, "p/test-de.tsv", "0\n1\n1\n1\n")
    u = examples.units(XNLI, p, g)
    assert examples.metric_of(XNLI)(u.sum(axis=0)[None], len(u))[0] == pytest.approx(
        accuracy(["0", "1", "1", "1"], ["0", "1", "2", "1"])["accuracy"])


def test_gain_ci_is_paired_and_covers_the_gain(tmp_path):
    n = 200
    rng = np.random.default_rng(0)
    gold = rng.integers(0, 3, n)
    base = np.where(rng.random(n) < 0.5, gold, (gold + 1) % 3)        # about 50% correct
    better = np.where(rng.random(n) < 0.3, gold, base)                 # fixes some of the baseline's errors
    for lang in ("en", "de"):
        write_file(tmp_path, f"gold/test-{lang}.tsv", "".join(f"{x}\n" for x in gold))
        write_file(tmp_path, f"base/test-{lang}.tsv", "".join(f"{x}\n" for x in base))
        write_file(tmp_path, f"src/test-{lang}.tsv", "".join(f"{x}\n" for x in better))
    gain = 100 * ((better == gold).mean() - (base == gold).mean())
    lo, hi = examples.gain_ci(XNLI, [(tmp_path / "src", tmp_path / "base")], tmp_path / "gold", 500, 0)
    assert lo < gain < hi and lo > 0                 # paired: the shared examples cancel, the CI excludes 0
    same = examples.gain_ci(XNLI, [(tmp_path / "base", tmp_path / "base")], tmp_path / "gold", 100, 0)
    assert same == [0.0, 0.0]
    assert examples.supported(XNLI) and examples.supported(PANX)
    assert not examples.supported(get_task("xquad")) and not examples.supported(get_task("tatoeba"))
