"""MNLI (intermediate): 3-way sentence-pair classification; matched dev accuracy.

Local files: the MultiNLI 1.0 release's JSON lines, mnli/multinli_1.0_{train,dev_matched}.jsonl.
Hub: nyu-mll/glue, config mnli (validation_matched)."""
from pathlib import Path

from repro.readers import hub_load, read_jsonl, require
from repro.tasks.base import Task, register

LABELS = ["entailment", "neutral", "contradiction"]  # nyu-mll/glue ClassLabel order


def read_nli_jsonl(task, path: Path):
    """The SNLI 1.0 / MultiNLI 1.0 JSON-lines releases (sentence1, sentence2, gold_label); pairs without an
    annotator majority (gold_label "-") are excluded, the datasets' own convention."""
    for line, r in read_jsonl(path):
        require(r, ("sentence1", "sentence2", "gold_label"), path, line)
        if r["gold_label"] == "-":
            continue
        task.label_index(r["gold_label"], path, line)
        yield {"id": str(r.get("pairID", line)), "text_a": r["sentence1"], "text_b": r["sentence2"],
               "label": r["gold_label"]}


@register
class MNLI(Task):
    name = folder = "mnli"
    role, head, metric = "intermediate", "classification", "accuracy"
    labels = LABELS
    splits = ("train", "dev")
    hub_id = "nyu-mll/glue"

    def read_local(self, source, split, lang):
        path = Path(source.root) / self.folder / f"multinli_1.0_{'train' if split == 'train' else 'dev_matched'}.jsonl"
        return read_nli_jsonl(self, path)

    def read_hub(self, source, split, lang):
        for r in hub_load(source, self.hub_id, "mnli", "train" if split == "train" else "validation_matched"):
            if r["label"] >= 0:
                yield {"id": str(r["idx"]), "text_a": r["premise"], "text_b": r["hypothesis"], "label": LABELS[r["label"]]}
