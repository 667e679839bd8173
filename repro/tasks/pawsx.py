"""PAWS-X: paraphrase identification, trained on English PAWS-Wiki, zero-shot on 7 languages; accuracy.

Local layout (XTREME's scripts/download_data.sh): pawsx/train-en.tsv, dev-{lang}.tsv, test-{lang}.tsv with
`sentence1 TAB sentence2 TAB label` (test files: no label column). Some human translations are missing,
so rows with an empty sentence are real rows: they are kept, because the scorer pairs predictions and
gold line by line (evaluate.py) and dropping one would shift every later line.
Hub: google/xtreme `PAWS-X.<lang>`, whose `label` is a string ("0" / "1").
"""
from repro.readers import HUB_SPLITS, hub_load
from repro.tasks.base import Task, register
from repro.tasks.xtreme_formats import read_pair_tsv, task_dir

LABELS = ["0", "1"]  # 1 = paraphrase; XTREME's processor order (third_party/processors/pawsx.py)


@register
class PAWSX(Task):
    name = folder = "pawsx"
    role, head, metric = "target", "classification", "accuracy"
    group, order = "classification", 2  # XTREME's task table
    parallel_dev = True  # dev/test: human translations of the same English items
    labels = LABELS
    languages = ("de", "en", "es", "fr", "ja", "ko", "zh")
    hub_id = "google/xtreme"

    def read_local(self, source, split, lang):
        return read_pair_tsv(self, task_dir(source, self.folder) / f"{split}-{lang}.tsv", split)

    def read_hub(self, source, split, lang):
        config = f"PAWS-X.{lang}"
        where = f"hub:{self.hub_id}/{config}/{HUB_SPLITS[split]}"
        for i, r in enumerate(hub_load(source, self.hub_id, config, HUB_SPLITS[split])):
            label = str(r["label"]).strip()
            self.label_index(label, where, f"row {i}")  # a non-"0"/"1" label is a data error, not a silent class
            # Missing translations arrive as None or "": keep the row (see module docstring).
            yield {"text_a": r["sentence1"] or "", "text_b": r["sentence2"] or "", "label": label}
