"""UD-POS: 17 universal POS tags, trained on English UD, zero-shot on 33 languages; seqeval-0.0.12 F1.

The metric is XTREME's chunk-level F1 under seqeval 0.0.12 rules (google-research/xtreme @838c13b: evaluate.py with seqeval 0.0.12): a run of identical
tags counts as one chunk, so it is not token accuracy. The scorer in repro.scoring implements it.

Local layout (XTREME's scripts/download_data.sh): udpos/{train,dev,test}-{lang}.tsv, `word TAB UPOS` lines (test: `word`),
blank line between sentences; these files hold UD v2.5 with multiword tokens kept as surface forms.
Local layout, alternatively: the UD v2.5 release's own CoNLL-U files anywhere under udpos/
(`<lang>_<treebank>-ud-<split>.conllu`), converted here the way XTREME builds its files
(repro/tasks/ud_conversion.py); the XTREME file wins where both exist. Languages are those the file names
carry, so a treebank added to the folder adds its language.
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
from repro.tasks.ud_conversion import conllu_files, xtreme_sentences
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

    def local_languages(self, folder):
        tsv = {p.stem.split("-", 1)[1] for p in folder.glob("*-*.tsv") if p.stem.split("-", 1)[0] in self.splits}
        found = tsv | {lang for lang, _ in conllu_files(folder)}
        return self.ordered(found)

    def read_local(self, source, split, lang):
        folder = self.local_dir(source.root)
        tsv = folder / f"{split}-{lang}.tsv"
        if tsv.is_file():
            return read_tagged(self, tsv, split)
        return self._read_conllu(conllu_files(folder).get((lang, split), []), lang)

    def _read_conllu(self, paths, lang):
        """Every treebank of the language and split, pooled (no file: no examples, so not evaluated)."""
        for path in paths:
            for tokens, tags in xtreme_sentences(path, lang):
                for tag in tags:
                    self.label_index(tag, path, None)
                yield {"tokens": tokens, "tags": tags}

    def read_hub(self, source, split, lang):
        warnings.warn("google/xtreme udpos keeps UD syntactic words instead of XTREME's fused surface forms; "
                      "scores differ for languages with multiword tokens (google-research/xtreme @838c13b: utils_preprocess.py, UD v2.5). Use local files "
                      "built from UD v2.5 to match XTREME.", stacklevel=2)
        for r in hub_load(source, self.hub_id, f"udpos.{HUB_NAMES[lang]}", split):
            yield {"tokens": list(r["tokens"]), "tags": [LABELS[t] for t in r["pos_tags"]]}
