"""PAN-X (WikiANN NER): English train/dev, 40 test languages; seqeval 0.0.12 entity F1."""
from repro.readers import hub_load
from repro.tasks.base import Task, register
from repro.tasks.xtreme_formats import read_tagged, task_dir

LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]  # google/xtreme PAN-X ClassLabel order


@register
class PANX(Task):
    name = folder = "panx"
    role, head, metric = "target", "tagging", "f1"
    group, order = "tagging", 4  # XTREME's task table
    labels = LABELS
    default_tag = "O"
    languages = ("ar", "he", "vi", "id", "jv", "ms", "tl", "eu", "ml", "ta", "te", "af", "nl", "en", "de", "el",
                 "bn", "hi", "mr", "ur", "fa", "fr", "it", "pt", "es", "bg", "ru", "ja", "ka", "ko", "th", "sw",
                 "yo", "my", "zh", "kk", "tr", "et", "fi", "hu")
    hub_id = "google/xtreme"

    def local_languages(self, folder):
        return self.ordered({p.stem.split("-", 1)[1] for p in folder.glob("*-*.tsv") if p.stem.split("-", 1)[0] in self.splits})

    def read_local(self, source, split, lang):
        path = task_dir(source, self.folder) / f"{split}-{lang}.tsv"
        if split != "train" and not path.is_file():  # a language with only one of dev/test: not evaluated here
            return iter(())
        return read_tagged(self, path, split)

    def read_hub(self, source, split, lang):
        for r in hub_load(source, self.hub_id, f"PAN-X.{lang}", split):
            yield {"tokens": list(r["tokens"]), "tags": [LABELS[t] for t in r["ner_tags"]]}
