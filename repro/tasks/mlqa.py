"""MLQA: trained on SQuAD v1.1, zero-shot on 7 languages (same-language context and question only);
EM/F1 with MLQA's language-specific answer normalisation (xtreme.md §2.6, §3.4).

Splits:
* train and the English dev that selects the checkpoint: SQuAD v1.1, as XQuAD (XTREME trains both QA
  tasks with one SQuAD run, scripts/train_qa.sh; jiant validates that run on SQuAD v1.1 dev);
* dev for the other languages: MLQA dev (`MLQA_V1/dev`, which XTREME leaves with its answers);
* test: MLQA test (`MLQA_V1/test`, whose answers XTREME strips; gold comes from the label folder).

Local layout: mlqa/MLQA_V1/{dev,test}/{split}-context-{l}-question-{l}.json (SQuAD JSON with titles).
Hub: google/xtreme `MLQA.{l}.{l}` (validation = MLQA dev, test = MLQA test).
"""
from repro.tasks.base import Task, hub_load, register
from repro.tasks.xtreme_formats import hub_squad_rows, read_squad, task_dir


@register
class MLQA(Task):
    name = folder = "mlqa"
    role, head, metric = "target", "span_qa", "f1"
    qa_scorer = "mlqa"  # the span head then scores with MLQA normalisation (§3.4), not SQuAD's (§3.3)
    languages = ("en", "es", "de", "ar", "hi", "vi", "zh")
    hub_id = "google/xtreme"

    def has_split(self, split, lang):
        return split in ("dev", "test") or lang == "en"

    def source_key(self, source):
        """The SQuAD v1.1 files live outside mlqa/, so they are hashed into the key too."""
        key = super().source_key(source)
        if source.local:
            from repro.atomic import sha256_file
            squad = task_dir(source, "squad")
            key["squad"] = {f: sha256_file(squad / f) for f in ("train-v1.1.json", "dev-v1.1.json")
                            if (squad / f).is_file()}
        return key

    def mlqa_file(self, source, split, lang):
        return task_dir(source, self.folder) / "MLQA_V1" / split / f"{split}-context-{lang}-question-{lang}.json"

    def read_local(self, source, split, lang):
        if split == "train" or (split == "dev" and lang == "en"):
            return read_squad(task_dir(source, "squad") / f"{split}-v1.1.json")
        # Test answers are stripped in XTREME's layout (§2.6): gold comes from the test-label folder.
        return read_squad(self.mlqa_file(source, split, lang), keep_answers=split != "test")

    def read_hub(self, source, split, lang):
        if split == "train" or (split == "dev" and lang == "en"):
            return hub_squad_rows(hub_load(source, "rajpurkar/squad", "plain_text",
                                           {"train": "train", "dev": "validation"}[split]))
        return hub_squad_rows(hub_load(source, self.hub_id, f"MLQA.{lang}.{lang}",
                                       {"dev": "validation", "test": "test"}[split]))
