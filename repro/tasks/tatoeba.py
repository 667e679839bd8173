"""Tatoeba: sentence retrieval scored straight from the encoder (no training); accuracy.

Local layout (XTREME): tatoeba/{xx}-en.{xx} (source, original order) and {xx}-en.en (English, sorted
alphabetically); gold for English line j is the index of its translation in the source file.
The hub copy (google/xtreme tatoeba.{xxx}) is aligned, so the sort-and-index step is applied here.
Local layout, alternatively: LASER's own release (facebookresearch/LASER data/tatoeba/v1/:
tatoeba.{xxx}-eng.{xxx} and tatoeba.{xxx}-eng.eng, aligned line by line), which XTREME's
utils_preprocess.py `tatoeba_preprocess` turns into its layout by the same sort-and-index step (applied
here; gold is then known). A LASER code outside XTREME's mapping is its own language code, so any pair
file added to the folder adds a language.
"""
import re

from pathlib import Path

from repro.atomic import write_text
from repro.errors import DataError
from repro.readers import decoded_lines, hub_load
from repro.retrieval import tatoeba_predict
from repro.tasks.base import Task, register

LASER = {"af": "afr", "ar": "ara", "bg": "bul", "bn": "ben", "de": "deu", "el": "ell", "es": "spa", "et": "est",
         "eu": "eus", "fa": "pes", "fi": "fin", "fr": "fra", "he": "heb", "hi": "hin", "hu": "hun", "id": "ind",
         "it": "ita", "ja": "jpn", "jv": "jav", "ka": "kat", "kk": "kaz", "ko": "kor", "ml": "mal", "mr": "mar",
         "nl": "nld", "pt": "por", "ru": "rus", "sw": "swh", "ta": "tam", "te": "tel", "th": "tha", "tl": "tgl",
         "tr": "tur", "ur": "urd", "vi": "vie", "zh": "cmn"}


FROM_LASER = {code: lang for lang, code in LASER.items()}
LASER_FILE = re.compile(r"^tatoeba\.(?P<code>[a-z]{3})-eng\.(?P=code)$")


def _lines(path: Path) -> list[str]:
    # Lines end at "\n" only, as XTREME's readers (file iteration); str.splitlines() would also split
    # inside a sentence at U+2028, U+0085, form feed and other separators, shifting every later index.
    return [line.rstrip("\r\n") for _, line in decoded_lines(path)]


def sort_english(pairs: list[tuple[str, str]]) -> dict:
    """XTREME's scrambling: English sorted (stable) on stripped text; gold = original position."""
    order = sorted(range(len(pairs)), key=lambda k: pairs[k][1].strip())
    return {"source": [s for s, _ in pairs], "english": [pairs[k][1] for k in order], "gold": order}


@register
class Tatoeba(Task):
    name = folder = "tatoeba"
    role, head, metric = "target", "retrieval", "accuracy"
    fit_measure = "alignment"  # M4 is ΔA: no labels to fit
    group, order = "retrieval", 9  # XTREME's task table
    # XTREME's scorer order (evaluate.py's XTREME_TASK2LANGS); LASER maps each to its Tatoeba code.
    languages = ("ar", "he", "vi", "id", "jv", "tl", "eu", "ml", "ta", "te", "af", "nl", "de", "el", "bn", "hi",
                 "mr", "ur", "fa", "fr", "it", "pt", "es", "bg", "ru", "ja", "ka", "ko", "th", "sw", "zh", "kk",
                 "tr", "et", "fi", "hu")
    # One set only: scored as "val" by jiant and as test on the leaderboard, so it is both splits here.
    splits = ("dev", "test")
    dev_is_test = True
    hub_id = "google/xtreme"

    def split_languages(self, split, languages):
        return [lang for lang in languages if lang != "en"] if split in self.splits else []

    def local_languages(self, folder):
        found = {p.name.split("-", 1)[0] for p in folder.glob("*-en.en")}
        found |= {FROM_LASER.get(m["code"], m["code"]) for p in folder.glob("tatoeba.*-eng.*")
                  if (m := LASER_FILE.match(p.name))}
        return self.ordered(found)

    def cap_examples(self, examples, n):
        """The first n pairs of the aligned set, scrambled as the whole set is (a stable sort keeps the
        order of any subset), so gold indices stay exact."""
        if n <= 0 or examples[0]["gold"] is None or len(examples[0]["source"]) <= n:
            return examples
        (ex,) = examples
        kept = [(k, j) for k, j in enumerate(ex["gold"]) if j < n]
        return [{**ex, "source": ex["source"][:n], "english": [ex["english"][k] for k, _ in kept],
                 "gold": [j for _, j in kept]}]

    def read_local(self, source, split, lang):
        d = self.local_dir(source.root)
        code = LASER.get(lang, lang)
        laser_src, laser_en = d / f"tatoeba.{code}-eng.{code}", d / f"tatoeba.{code}-eng.eng"
        if not (d / f"{lang}-en.{lang}").is_file() and laser_src.is_file():
            src, en = _lines(laser_src), _lines(laser_en)
            if len(src) != len(en):
                raise DataError(laser_en, f"{len(en)} English lines but {len(src)} in {laser_src.name}")
            yield {"id": f"tatoeba-{lang}", **sort_english(list(zip(src, en)))}
            return
        src, en = _lines(d / f"{lang}-en.{lang}"), _lines(d / f"{lang}-en.en")
        if len(src) != len(en):
            raise DataError(d / f"{lang}-en.en", f"{len(en)} English lines but {len(src)} in {lang}-en.{lang}")
        yield {"id": f"tatoeba-{lang}", "source": src, "english": en, "gold": None}

    def retrieve(self, examples, embed, settings, split, lang, state):
        """One predicted source index per (sorted) English line, as XTREME's prediction files."""

        (ex,) = examples
        return [str(i) for i in tatoeba_predict(embed(ex["source"]), embed(ex["english"]))]

    def write_gold(self, path, examples) -> bool:
        (ex,) = examples
        if ex["gold"] is None:
            return False
        write_text(path, "".join(f"{i}\n" for i in ex["gold"]))
        return True

    def read_hub(self, source, split, lang):
        rows = hub_load(source, self.hub_id, f"tatoeba.{LASER[lang]}", "validation")
        pairs = [(r["source_sentence"].rstrip("\n"), r["target_sentence"].rstrip("\n")) for r in rows]
        yield {"id": f"tatoeba-{lang}", **sort_english(pairs)}

