"""SST-2 (intermediate): Stanford Sentiment Treebank, binary sentence sentiment, from GLUE (Socher et al. 2013;
Wang et al. 2019); single-sentence classification (no second segment); accuracy.

Local files: GLUE's SST-2/{train,dev}.tsv, header `sentence label`, tab-separated without quoting, label 0/1.
Hub: nyu-mll/glue, config sst2 (validation as dev).

Dataset: Socher et al. 2013, Recursive Deep Models for Semantic Compositionality (EMNLP); GLUE.
"""
from pathlib import Path

from repro.errors import DataError
from repro.readers import hub_load, read_headed_tsv
from repro.tasks.base import Task, register

LABELS = ["negative", "positive"]  # nyu-mll/glue ClassLabel order
HEADER = ["sentence", "label"]


@register
class SST2(Task):
    name = "sst2"
    folder = "SST-2"            # GLUE's folder name
    alt_folders = ("sst2/SST-2",)  # the same folder under a per-task directory
    role, head, metric = "intermediate", "classification", "accuracy"
    labels = LABELS
    splits = ("train", "dev")
    hub_id = "nyu-mll/glue"

    def read_local(self, source, split, lang):
        path = self.local_dir(source.root) / f"{split}.tsv"
        for line, row in read_headed_tsv(path, HEADER):
            if row[1] not in ("0", "1"):
                raise DataError(path, f"unknown label {row[1]!r} (expected 0 or 1)", line)
            yield {"id": f"sst2-{split}-{line}", "text_a": row[0], "label": LABELS[int(row[1])]}

    def read_hub(self, source, split, lang):
        for r in hub_load(source, self.hub_id, "sst2", split):
            if r["label"] >= 0:
                yield {"id": str(r["idx"]), "text_a": r["sentence"], "label": LABELS[r["label"]]}
