"""MLQA: trained on SQuAD v1.1, zero-shot on 7 languages (same-language context and question only);
EM/F1 with MLQA's language-specific answer normalisation (google-research/xtreme @838c13b: third_party/evaluate_mlqa.py).

Splits:
* train: SQuAD v1.1 train, as XQuAD (XTREME trains both QA tasks with one SQuAD run, scripts/train_qa.sh);
* checkpoint selection: SQuAD v1.1 dev (XTREME's predict_file for that run; jiant validates it the same way);
* dev: MLQA dev per language, English included (XTREME leaves `MLQA_V1/dev` with its answers);
* test: MLQA test per language (XTREME strips `MLQA_V1/test`; gold then comes from the label folder).

Local layout: mlqa/MLQA_V1/{dev,test}/{split}-context-{l}-question-{l}.json (SQuAD JSON with titles),
plus squad/{train,dev}-v1.1.json. Hub: google/xtreme `MLQA.{l}.{l}` (validation = dev, test = test).
"""
from repro.readers import hub_load
from repro.scoring.metrics import mlqa_em_f1
from repro.tasks.base import register
from repro.tasks.xtreme_formats import TrainedOnSquadV11, hub_squad_rows, read_squad, task_dir


@register
class MLQA(TrainedOnSquadV11):
    name = folder = "mlqa"
    role, head, metric = "target", "span_qa", "f1"
    group, order = "qa", 6  # XTREME's task table
    languages = ("en", "es", "de", "ar", "hi", "vi", "zh")
    hub_id = "google/xtreme"

    def file_metric(self, predictions, gold, lang):
        """MLQA's answer normalisation is per language (mlqa_evaluation_v1.py), SQuAD's is English."""
        return mlqa_em_f1(predictions, gold, lang)

    def local_languages(self, folder):
        found = {p.name.split("-")[2] for p in folder.glob("MLQA_V1/*/*-context-*-question-*.json")
                 if p.name.split("-")[2] == p.stem.split("-")[-1]}  # same-language files only
        return self.ordered(found)

    def read_evaluation_local(self, source, split, lang):
        # Stripped test answers (an empty text) are dropped by read_squad, leaving the question unlabelled.
        path = task_dir(source, self.folder) / "MLQA_V1" / split / f"{split}-context-{lang}-question-{lang}.json"
        return read_squad(path)

    def read_evaluation_hub(self, source, split, lang):
        return hub_squad_rows(hub_load(source, self.hub_id, f"MLQA.{lang}.{lang}", split))
