"""XQuAD: trained on SQuAD v1.1; checkpoint selection on SQuAD v1.1 dev; XQuAD's 11 languages are
both the dev and the test split (XQuAD has only one set; jiant scores it as "val"); SQuAD EM/F1 with
English normalisation for every language (google-research/xtreme @838c13b: third_party/evaluate_squad.py)."""
from repro.readers import hub_load
from repro.tasks.base import register
from repro.tasks.xtreme_formats import TrainedOnSquadV11, hub_squad_rows, read_squad, task_dir


@register
class XQuAD(TrainedOnSquadV11):
    name = folder = "xquad"
    role, head, metric = "target", "span_qa", "f1"
    group, order = "qa", 5  # XTREME's task table
    languages = ("en", "es", "de", "el", "ru", "tr", "ar", "vi", "th", "zh", "hi")
    hub_id = "google/xtreme"

    dev_is_test = True

    def local_languages(self, folder):
        return self.ordered({p.name.split(".")[1] for p in folder.glob("xquad.*.json")})

    def read_evaluation_local(self, source, split, lang):
        # XTREME strips XQuAD's answers: gold then comes from the label folder.
        return read_squad(task_dir(source, self.folder) / f"xquad.{lang}.json")

    def read_evaluation_hub(self, source, split, lang):
        return hub_squad_rows(hub_load(source, self.hub_id, f"XQuAD.{lang}", "validation"))
