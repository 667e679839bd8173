"""SQuAD (intermediate): span extraction, v2.0 by default (no-answer allowed), v1.1 as an option
(the paper's version is unverified: jiant's X-STILTs guide names squad_v1). Dev metric: EM/F1.

Local files: squad/{train,dev}-v{2.0,1.1}.json (the official releases). Hub: rajpurkar/squad_v2, rajpurkar/squad."""
from pathlib import Path

from repro.tasks.base import Task, hub_load, register
from repro.tasks.xtreme_formats import hub_squad_rows, read_squad


@register
class SQuAD(Task):
    name = folder = "squad"
    role, head, metric = "intermediate", "span_qa", "f1"
    splits = ("train", "dev")
    options = ("squad_version",)

    def version(self, source) -> str:
        return (source.options or {}).get("squad_version", "2.0")

    def allows_no_answer(self, settings) -> bool:
        return settings.get("squad_version", "2.0") == "2.0"

    def source_key(self, source):
        return {**super().source_key(source), "version": self.version(source)}

    def read_local(self, source, split, lang):
        return read_squad(Path(source.root) / self.folder / f"{split}-v{self.version(source)}.json")

    def read_hub(self, source, split, lang):
        hub_id = "rajpurkar/squad_v2" if self.version(source) == "2.0" else "rajpurkar/squad"
        return hub_squad_rows(hub_load(source, hub_id, None, {"train": "train", "dev": "validation"}[split]))
