"""TyDiQA-GoldP: trained on the English part of GoldP train, tested on the GoldP dev sets of 9 languages;
SQuAD v1.1 EM/F1 with English normalisation for every language (google-research/xtreme @838c13b: third_party/evaluate_squad.py).

Splits:
* train: tydiqa/tydiqa-goldp-v1.1-train/tydiqa.goldp.en.train.json (XTREME splits the train file by the
  id's language prefix and shortens ids to their last `-` segment);
* dev = test: tydiqa/tydiqa-goldp-v1.1-dev/tydiqa.goldp.{lang}.dev.json. GoldP has no other held-out set
  (XTREME's test is the official dev; jiant scores it as "val"). XTREME strips the answers of these files,
  so their gold comes from the label folder;
* checkpoint selection: the English GoldP dev with its answers (train_qa.sh predicts on it; jiant
  validates on it). Because XTREME strips tydiqa.goldp.en.dev.json, the answers are read from the
  official `tydiqa-goldp-dev-english.json` when present, else from tydiqa.goldp.en.dev.json if it still
  has them; with neither, the final weights are kept, which is what XTREME's QA scripts do.
Hub: google/xtreme `tydiqa` (all languages in one config; the language is the id's prefix).
"""
import warnings

from repro.readers import hub_load
from repro.tasks.base import Task, register
from repro.tasks.xtreme_formats import hub_squad_rows, read_squad, task_dir

# Language code -> the prefix of TyDiQA question ids and of the official dev file names.
LANG_NAMES = {"en": "english", "ar": "arabic", "bn": "bengali", "fi": "finnish", "id": "indonesian",
              "ko": "korean", "ru": "russian", "sw": "swahili", "te": "telugu"}


@register
class TyDiQA(Task):
    name = folder = "tydiqa"
    role, head, metric = "target", "span_qa", "f1"
    group, order = "qa", 7  # XTREME's task table
    languages = tuple(LANG_NAMES)
    hub_id = "google/xtreme"
    dev_is_test = True

    def local_languages(self, folder):
        return self.ordered({p.name.split(".")[2] for p in folder.glob("tydiqa-goldp-v1.1-dev/tydiqa.goldp.*.dev.json")})

    def read_local(self, source, split, lang):
        d = task_dir(source, self.folder)
        if split == "train":
            train = d / "tydiqa-goldp-v1.1-train"
            path = train / f"tydiqa.goldp.{lang}.train.json"
            if not path.is_file() and (train / f"tydiqa.{lang}.train.json").is_file():
                path = train / f"tydiqa.{lang}.train.json"  # the name some XTREME versions write
            return read_squad(path)
        # Stripped answers (an empty text) are dropped by read_squad, leaving the question unlabelled.
        return read_squad(d / "tydiqa-goldp-v1.1-dev" / f"tydiqa.goldp.{lang}.dev.json")

    def read_selection(self, source, lang):
        if not source.local:
            return self.read(source, "dev", lang)  # the hub copy keeps its answers
        dev = task_dir(source, self.folder) / "tydiqa-goldp-v1.1-dev"
        official = dev / f"tydiqa-goldp-dev-{LANG_NAMES[lang]}.json"
        examples = list(read_squad(official)) if official.is_file() else self.read(source, "dev", lang)
        if any(ex["answers"] for ex in examples):
            return examples
        warnings.warn(f"{dev}: the English GoldP dev has no answers (XTREME strips them) and {official.name} is "
                      "absent, so TyDiQA keeps its final weights instead of selecting a checkpoint", stacklevel=2)
        return None

    def read_hub(self, source, split, lang):
        prefix = LANG_NAMES[lang] + "-"
        rows = hub_load(source, self.hub_id, "tydiqa", "train" if split == "train" else "dev")
        return hub_squad_rows(r for r in rows if r["id"].startswith(prefix))
