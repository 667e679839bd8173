"""QQP (intermediate): Quora Question Pairs from GLUE (Wang et al. 2019), duplicate or not; binary
sentence-pair classification; metric (accuracy + F1 of the duplicate class) / 2, jiant's AccAndF1.

Local files: GLUE's QQP/{train,dev}.tsv, header `id qid1 qid2 question1 question2 is_duplicate`, tab-separated
without quoting, is_duplicate 0/1. Hub: nyu-mll/glue, config qqp (validation as dev).

Dataset: Iyer et al. 2017, First Quora Dataset Release: Question Pairs; GLUE (Wang et al. 2019).
"""
from pathlib import Path

from repro.errors import DataError
from repro.readers import hub_load, read_headed_tsv
from repro.scoring.metrics import accuracy
from repro.tasks.base import Task, register

LABELS = ["not_duplicate", "duplicate"]  # nyu-mll/glue ClassLabel order; the positive class is LABELS[1]
HEADER = ["id", "qid1", "qid2", "question1", "question2", "is_duplicate"]


@register
class QQP(Task):
    name = "qqp"
    folder = "QQP"              # GLUE's folder name
    role, head, metric = "intermediate", "classification", "acc_and_f1"
    labels = LABELS
    splits = ("train", "dev")
    hub_id = "nyu-mll/glue"

    def file_metric(self, predictions, gold, lang):
        """jiant's AccAndF1: accuracy, F1 of the duplicate class (LABELS[1]), and their mean."""
        result = accuracy(predictions, gold)
        positive = LABELS[1]
        tp = sum(p == g == positive for p, g in zip(predictions, gold))
        fp = sum(p == positive != g for p, g in zip(predictions, gold))
        fn = sum(g == positive != p for p, g in zip(predictions, gold))
        result["f1"] = 100 * 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        result["acc_and_f1"] = (result["accuracy"] + result["f1"]) / 2
        return result

    def read_local(self, source, split, lang):
        path = Path(source.root) / self.folder / f"{split}.tsv"
        for line, row in read_headed_tsv(path, HEADER):
            if row[5] not in ("0", "1"):
                raise DataError(path, f"unknown is_duplicate value {row[5]!r} (expected 0 or 1)", line)
            yield {"id": row[0], "text_a": row[3], "text_b": row[4], "label": LABELS[int(row[5])]}

    def read_hub(self, source, split, lang):
        for r in hub_load(source, self.hub_id, "qqp", split):
            if r["label"] >= 0:
                yield {"id": str(r["idx"]), "text_a": r["question1"], "text_b": r["question2"], "label": LABELS[r["label"]]}
