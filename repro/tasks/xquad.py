"""XQuAD: trained on SQuAD v1.1, English dev = SQuAD v1.1 dev, test = XQuAD in 11 languages;
SQuAD EM/F1 with English normalisation for every language."""
from repro.tasks.base import Task, hub_load, register
from repro.tasks.xtreme_formats import hub_squad_rows, read_squad, task_dir


@register
class XQuAD(Task):
    name = folder = "xquad"
    role, head, metric = "target", "span_qa", "f1"
    languages = ("en", "es", "de", "el", "ru", "tr", "ar", "vi", "th", "zh", "hi")
    hub_id = "google/xtreme"

    def has_split(self, split, lang):
        return split == "test" or lang == "en"  # XQuAD itself is test-only

    def read_local(self, source, split, lang):
        if split in ("train", "dev"):
            return read_squad(task_dir(source, "squad") / f"{split}-v1.1.json")
        return read_squad(task_dir(source, self.folder) / f"xquad.{lang}.json", keep_answers=False)

    def read_hub(self, source, split, lang):
        if split in ("train", "dev"):
            return hub_squad_rows(hub_load(source, "rajpurkar/squad", "plain_text",
                                           {"train": "train", "dev": "validation"}[split]))
        return hub_squad_rows(hub_load(source, self.hub_id, f"XQuAD.{lang}", "validation"))
