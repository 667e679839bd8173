"""UD-POS: 17 universal POS tags, trained on English UD, zero-shot on 33 languages; seqeval-0.0.12 F1.

The metric is XTREME's chunk-level F1 under seqeval 0.0.12 rules (google-research/xtreme @838c13b: evaluate.py with seqeval 0.0.12): a run of identical
tags counts as one chunk, so it is not token accuracy. The scorer in repro.scoring implements it.

Local layout (XTREME's scripts/download_data.sh): udpos/{train,dev,test}-{lang}.tsv, `word TAB UPOS` lines (test: `word`),
blank line between sentences; these files hold UD v2.5 with multiword tokens kept as surface forms.
Hub: google/xtreme `udpos.<EnglishName>`; it is parsed from raw CoNLL-U without that conversion, so
languages with multiword tokens give different token counts and scores. The fused forms cannot be
rebuilt from those rows: the multiword-token lines (`1-2 du`), which alone carry the surface form, are
not in them. So the paper profile requires XTREME's files ([data.task.udpos] source = "local"), built by
google-research/xtreme's utils_preprocess.py `udpos_preprocess` with third_party/ud-conversion-tools
(`--replace_subtokens_with_fused_forms`), as download_data.sh does; the hub stays usable elsewhere,
with a warning.
"""
import warnings

from repro.readers import hub_load
from repro.tasks.base import Task, register
from repro.tasks.xtreme_formats import read_tagged, task_dir

# the 17 UPOS tags, in the google/xtreme ClassLabel order (= sorted).
LABELS = ["ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN", "PUNCT",
          "SCONJ", "SYM", "VERB", "X"]

# google/xtreme names its udpos configs by English language name.
HUB_NAMES = {"af": "Afrikaans", "ar": "Arabic", "bg": "Bulgarian", "de": "German", "el": "Greek", "en": "English",
             "es": "Spanish", "et": "Estonian", "eu": "Basque", "fa": "Persian", "fi": "Finnish", "fr": "French",
             "he": "Hebrew", "hi": "Hindi", "hu": "Hungarian", "id": "Indonesian", "it": "Italian", "ja": "Japanese",
             "kk": "Kazakh", "ko": "Korean", "mr": "Marathi", "nl": "Dutch", "pt": "Portuguese", "ru": "Russian",
             "ta": "Tamil", "te": "Telugu", "th": "Thai", "tl": "Tagalog", "tr": "Turkish", "ur": "Urdu",
             "vi": "Vietnamese", "yo": "Yoruba", "zh": "Chinese"}

# UD v2.5 has no dev treebank for kk and only test treebanks for tl, th, yo (google/xtreme's loading script).
SPLITS_OF = {"kk": ("train", "test"), "tl": ("test",), "th": ("test",), "yo": ("test",)}


@register
class UDPOS(Task):
    name = folder = "udpos"
    role, head, metric = "target", "tagging", "f1"
    group, order = "tagging", 3  # XTREME's task table
    labels = LABELS
    # A word the tokenizer turns into no piece gets the tag X ("other"): the package's own rule. XTREME
    # (google-research/xtreme @838c13b utils_preprocess.py udpos_tokenize_preprocess) uses X for lines
    # without a label, and replaces such a word by <unk>, whose piece the model then tags.
    default_tag = "X"
    languages = tuple(sorted(HUB_NAMES))
    hub_id = "google/xtreme"

    def has_split(self, split, lang):
        return split in SPLITS_OF.get(lang, self.splits)

    def read_local(self, source, split, lang):
        return read_tagged(self, task_dir(source, self.folder) / f"{split}-{lang}.tsv", split)

    def read_hub(self, source, split, lang):
        warnings.warn("google/xtreme udpos keeps UD syntactic words instead of XTREME's fused surface forms; "
                      "scores differ for languages with multiword tokens (google-research/xtreme @838c13b: utils_preprocess.py, UD v2.5). Use local files "
                      "built from UD v2.5 to match XTREME.", stacklevel=2)
        for r in hub_load(source, self.hub_id, f"udpos.{HUB_NAMES[lang]}", split):
            yield {"tokens": list(r["tokens"]), "tags": [LABELS[t] for t in r["pos_tags"]]}
