"""SQuAD (intermediate): span extraction, v2.0 by default (no-answer allowed), v1.1 as an option
(the paper's version is unverified: jiant's X-STILTs guide names squad_v1). Dev metric: EM/F1.

Local files: squad/{train,dev}-v{2.0,1.1}.json (the official releases), or the SQuAD-format files named by
intermediate.squad_train_files / squad_dev_file (version 1.1 only: e.g. SQuAD-Shifts, Miller et al. 2020,
collected with SQuAD v1.1's protocol; a top-level `canary` key is ignored). Hub: rajpurkar/squad_v2, rajpurkar/squad."""
from repro.readers import hub_load
from repro.tasks.base import Task, register
from repro.errors import ConfigError
from repro.settings.declare import Option
from repro.settings.rules import choice
from repro.tasks.xtreme_formats import SQUAD_OPTIONS, hub_squad_rows, read_squad_files, squad_files


@register
class SQuAD(Task):
    name = folder = "squad"
    role, head, metric = "intermediate", "span_qa", "f1"
    splits = ("train", "dev")
    config_options = {"squad_version": Option("2.0", choice("2.0", "1.1"),
                                              "2.0 | 1.1 (paper.toml: 1.1, as jiant's X-STILTs guide)"),
                      **SQUAD_OPTIONS}
    hub_id = "rajpurkar/squad"  # v1.1; v2.0 reads rajpurkar/squad_v2

    def version(self, source) -> str:
        return (source.options or {}).get("squad_version", "2.0")

    def allows_no_answer(self, settings) -> bool:
        return settings.get("squad_version", "2.0") == "2.0"

    def source_key(self, source):
        return {**super().source_key(source), "version": self.version(source)}

    def read_local(self, source, split, lang):
        named = (source.options or {}).get("squad_train_files" if split == "train" else "squad_dev_file")
        if named and self.version(source) != "1.1":
            raise ConfigError("intermediate.squad_train_files / squad_dev_file name SQuAD v1.1-style files: "
                              'set intermediate.squad_version = "1.1"')
        return read_squad_files(squad_files(source, split, self.version(source)))

    def read_hub(self, source, split, lang):
        hub_id = "rajpurkar/squad_v2" if self.version(source) == "2.0" else self.hub_id
        return hub_squad_rows(hub_load(source, hub_id, None, split))
