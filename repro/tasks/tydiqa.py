"""TyDiQA-GoldP: trained on the English part of GoldP train, tested on the GoldP dev sets of 9 languages;
SQuAD v1.1 EM/F1 with English normalisation for every language (xtreme.md §2.7, §3.3).

Splits:
* train: tydiqa/tydiqa-goldp-v1.1-train/tydiqa.goldp.en.train.json (XTREME splits the train file by the
  id's language prefix and shortens ids to their last `-` segment);
* test: tydiqa/tydiqa-goldp-v1.1-dev/tydiqa.goldp.{lang}.dev.json (XTREME renames the official dev files
  and strips their answers; gold comes from the test-label folder);
* dev (English, for checkpoint selection): the English GoldP dev. XTREME has no other held-out English
  set (train_qa.sh predicts on tydiqa.goldp.en.dev.json), so English dev and English test are the same
  questions. Because XTREME strips that file, its answers are read from the official
  `tydiqa-goldp-dev-english.json` when present, else from tydiqa.goldp.en.dev.json if it still has them.
Hub: google/xtreme `tydiqa` (all languages in one config; the language is the id's prefix).
"""
from pathlib import Path

from repro.errors import DataError
from repro.tasks.base import Task, hub_load, register
from repro.tasks.xtreme_formats import hub_squad_rows, read_squad, task_dir

# Language code -> the prefix of TyDiQA question ids and of the official dev file names.
LANG_NAMES = {"en": "english", "ar": "arabic", "bn": "bengali", "fi": "finnish", "id": "indonesian",
              "ko": "korean", "ru": "russian", "sw": "swahili", "te": "telugu"}


@register
class TyDiQA(Task):
    name = folder = "tydiqa"
    role, head, metric = "target", "span_qa", "f1"
    languages = tuple(LANG_NAMES)
    hub_id = "google/xtreme"

    def has_split(self, split, lang):
        return split == "test" or lang == "en"

    def read_local(self, source, split, lang):
        d = task_dir(source, self.folder)
        if split == "train":
            train = d / "tydiqa-goldp-v1.1-train"
            path = train / f"tydiqa.goldp.{lang}.train.json"
            if not path.is_file() and (train / f"tydiqa.{lang}.train.json").is_file():
                path = train / f"tydiqa.{lang}.train.json"  # the name some XTREME versions write (§2.7)
            return read_squad(path)
        dev = d / "tydiqa-goldp-v1.1-dev"
        if split == "test":
            return read_squad(dev / f"tydiqa.goldp.{lang}.dev.json", keep_answers=False)
        return self._english_dev(dev, lang)

    def _english_dev(self, dev: Path, lang: str) -> list[dict]:
        official = dev / f"tydiqa-goldp-dev-{LANG_NAMES[lang]}.json"
        path = official if official.is_file() else dev / f"tydiqa.goldp.{lang}.dev.json"
        examples = list(read_squad(path))
        if not any(ex["answers"] for ex in examples):
            raise DataError(path, "no question has an answer (XTREME strips them); checkpoint selection needs "
                                  f"the English dev gold: put the official {official.name} in {dev}")
        return examples

    def read_hub(self, source, split, lang):
        prefix = LANG_NAMES[lang] + "-"
        rows = hub_load(source, self.hub_id, "tydiqa", "train" if split == "train" else "validation")
        return hub_squad_rows(r for r in rows if r["id"].startswith(prefix))
