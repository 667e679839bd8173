"""PAWS-X: paraphrase identification, trained on English PAWS-Wiki, zero-shot on 7 languages; accuracy.

Local layout (XTREME's scripts/download_data.sh): pawsx/train-en.tsv, dev-{lang}.tsv, test-{lang}.tsv with
`sentence1 TAB sentence2 TAB label` (test files: no label column). Some human translations are missing,
so rows with an empty sentence are real rows: they are kept, because the scorer pairs predictions and
gold line by line (evaluate.py) and dropping one would shift every later line.
Hub: google/xtreme `PAWS-X.<lang>`, whose `label` is a string ("0" / "1").

Without train-en.tsv (over 4 MiB, so absent from XTREME mirrors that cap file sizes) but with a
labelled-test-hf-export/ folder, the English dev set becomes the training data and evaluation moves to the
labelled test files:
* train = dev-en.tsv minus every fifth row; checkpoint selection = every fifth row (rows 5, 10, ...: 400);
* dev (what is scored) = labelled-test-hf-export/test-<lang>.tsv (`id TAB sentence1 TAB sentence2 TAB
  label` with a header): the held-out test set, for the languages that have such a file. The other
  languages' dev files are translations of the training items, so they are not evaluated.
"""
from repro.readers import HUB_SPLITS, hub_load, read_headed_tsv
from repro.tasks.base import Task, register
from repro.tasks.xtreme_formats import read_pair_tsv, task_dir

LABELS = ["0", "1"]  # 1 = paraphrase; XTREME's processor order (third_party/processors/pawsx.py)
LABELLED_TEST = "labelled-test-hf-export"
SELECT_EVERY = 5  # without train-en.tsv: every fifth English dev row selects checkpoints, the rest train


@register
class PAWSX(Task):
    name = folder = "pawsx"
    role, head, metric = "target", "classification", "accuracy"
    group, order = "classification", 2  # XTREME's task table
    parallel_dev = True  # dev/test: human translations of the same English items
    labels = LABELS
    languages = ("de", "en", "es", "fr", "ja", "ko", "zh")
    hub_id = "google/xtreme"

    @staticmethod
    def dev_trains(folder) -> bool:
        return (not (folder / "train-en.tsv").is_file() and (folder / "dev-en.tsv").is_file()
                and (folder / LABELLED_TEST).is_dir())

    def local_languages(self, folder):
        if self.dev_trains(folder):
            found = {p.stem.removeprefix("test-") for p in (folder / LABELLED_TEST).glob("test-*.tsv")}
        else:
            found = {p.stem.removeprefix("dev-") for p in folder.glob("dev-*.tsv")}
        return self.ordered(found)

    def read_local(self, source, split, lang):
        folder = self.local_dir(source.root)
        if not self.dev_trains(folder):
            return read_pair_tsv(self, folder / f"{split}-{lang}.tsv", split)
        if split == "train":
            return self._dev_part(folder, selection=False)
        if split == "dev":
            return self._labelled_test(folder / LABELLED_TEST / f"test-{lang}.tsv")
        return read_pair_tsv(self, folder / f"{split}-{lang}.tsv", split)

    def read_selection(self, source, lang):
        folder = self.local_dir(source.root) if source.local else None
        if folder is None or not self.dev_trains(folder):
            return super().read_selection(source, lang)
        return list(self._dev_part(folder, selection=True))

    def _dev_part(self, folder, selection: bool):
        rows = read_pair_tsv(self, folder / "dev-en.tsv", "dev")
        return (ex for i, ex in enumerate(rows, start=1) if (i % SELECT_EVERY == 0) == selection)

    def _labelled_test(self, path):
        for line, (_, text_a, text_b, label) in read_headed_tsv(path, ["id", "sentence1", "sentence2", "label"]):
            self.label_index(label.strip(), path, line)
            yield {"text_a": text_a, "text_b": text_b, "label": label.strip()}

    def read_hub(self, source, split, lang):
        config = f"PAWS-X.{lang}"
        where = f"hub:{self.hub_id}/{config}/{HUB_SPLITS[split]}"
        for i, r in enumerate(hub_load(source, self.hub_id, config, HUB_SPLITS[split])):
            label = str(r["label"]).strip()
            self.label_index(label, where, f"row {i}")  # a non-"0"/"1" label is a data error, not a silent class
            # Missing translations arrive as None or "": keep the row (see module docstring).
            yield {"text_a": r["sentence1"] or "", "text_b": r["sentence2"] or "", "label": label}
