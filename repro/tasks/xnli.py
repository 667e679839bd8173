"""XNLI: trained on English MNLI (XTREME's train-en.tsv), zero-shot on 15 languages; accuracy."""
from repro.readers import hub_load
from repro.tasks.base import Task, register
from repro.tasks.xtreme_formats import read_pair_tsv, task_dir

# XTREME's processor order (third_party/processors/xnli.py); hub datasets use other integer orders,
# so labels are always mapped by string.
LABELS = ["contradiction", "entailment", "neutral"]
GLUE_MNLI = ["entailment", "neutral", "contradiction"]  # nyu-mll/glue mnli ClassLabel order


@register
class XNLI(Task):
    name = folder = "xnli"
    role, head, metric = "target", "classification", "accuracy"
    group, order = "classification", 1  # XTREME's task table
    parallel_dev = True  # dev/test: human translations of the same English items
    labels = LABELS
    languages = ("ar", "bg", "de", "el", "en", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur", "vi", "zh")
    hub_id = "google/xtreme"
    # jiant trains XNLI on MNLI and validates on MNLI's matched dev (a 500-example subset: eval_subset_num),
    # jiant/scripts/benchmarks/xtreme/xtreme_runconfig_writer.py; XTREME selects on XNLI-en dev
    # (third_party/run_classify.py). Config target.selection picks one.
    selection_tasks = {"jiant": "mnli"}

    def read_local(self, source, split, lang):
        return read_pair_tsv(self, task_dir(source, self.folder) / f"{split}-{lang}.tsv", split)

    def read_hub(self, source, split, lang):
        if split == "train":  # google/xtreme's XNLI config has no train split: English train is MNLI
            for r in hub_load(source, "nyu-mll/glue", "mnli", "train"):
                yield {"text_a": r["premise"], "text_b": r["hypothesis"], "label": GLUE_MNLI[r["label"]]}
            return
        for r in hub_load(source, self.hub_id, "XNLI", split):
            if r["language"] == lang:
                yield {"text_a": r["sentence1"], "text_b": r["sentence2"], "label": r["gold_label"]}
