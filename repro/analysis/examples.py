"""Per-example uncertainty of the gains (a paired bootstrap over evaluation examples within
language). The target stages keep their predictions in XTREME's layout and the evaluate stages
the gold beside them, so each example's additive contribution to the metric is read back from the files:

  accuracy (classification): [correct]            metric = 100 * correct / n
  chunk F1 (tagging):        [tp, fp, fn] per sentence, metric = 100 * 2tp / (2tp + fp + fn)

The chunk counts of a sentence are those seqeval 0.0.12 finds in it alone (a sentence boundary ends
every chunk, repro.scoring.metrics), so their sums give the file's F1 exactly. Tasks with another
metric (QA's per-question max over answers, BUCC's mined pairs, task-specific file metrics) keep only
the between-seed spread: no per-example CI is claimed for them."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from repro.analysis import stats
from repro.scoring.metrics import extract_chunks
from repro.tasks.base import Task


def supported(task) -> bool:
    """Whether the task's metric is the plain accuracy or chunk F1 of its head (decomposable per example)."""
    return task.head in ("classification", "tagging") and type(task).file_metric is Task.file_metric


def units(task, prediction_file: Path, label_file: Path) -> np.ndarray:
    """(examples, c) additive counts of one language."""
    head = task.head_impl
    pred, gold = head.read_prediction_file(str(prediction_file)), head.read_label_file(str(label_file))
    if len(pred) != len(gold):
        raise ValueError(f"{prediction_file}: {len(pred)} items, {len(gold)} in {label_file}")
    if task.head == "classification":
        return np.array([[float(p == g)] for p, g in zip(pred, gold)])
    rows = []
    for p, g in zip(pred, gold):
        cp, cg = extract_chunks([p]), extract_chunks([g])
        tp = len(cp & cg)
        rows.append([tp, len(cp) - tp, len(cg) - tp])
    return np.array(rows, dtype=float).reshape(-1, 3)


def metric_of(task):
    """metric(sums (models, c), n) -> (models,) in points, matching repro.scoring.metrics."""
    if task.head == "classification":
        return lambda sums, n: 100.0 * sums[:, 0] / n

    def f1(sums, n):
        tp, fp, fn = sums[:, 0], sums[:, 1], sums[:, 2]
        den = 2 * tp + fp + fn
        return np.where(tp > 0, 100.0 * 2 * tp / np.where(den > 0, den, 1), 0.0)
    return f1


def gain_ci(task, pairs: list[tuple[Path, Path]], labels: Path, b: int, seed: int) -> list[float] | None:
    """95% percentile CI of the language-averaged gain (points) of one (source, target) cell.

    pairs: per seed, (source predictions dir, baseline predictions dir), each holding test-<lang>.<ext>
    for the languages whose gold is in `labels`. Every resample draws the same examples for every model
    and seed (paired), and averages the per-seed gains, as the aggregate phase does."""
    langs = sorted(p.name.removeprefix("test-").removesuffix(f".{task.ext}") for p in labels.glob(f"test-*.{task.ext}"))
    if not langs or not pairs:
        return None
    u = {}
    for lang in langs:
        name = f"test-{lang}.{task.ext}"
        u[lang] = np.stack([units(task, d / name, labels / name) for pair in pairs for d in pair])
    boot = stats.paired_bootstrap(u, metric_of(task), b, seed)   # (b, 2 * seeds): source, baseline, ...
    gains = (boot[:, 0::2] - boot[:, 1::2]).mean(axis=1)
    return stats.percentile_ci(gains)
