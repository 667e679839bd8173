"""[data] (where each task's data comes from), its per-task tables, and the two generated sources:
[synthetic] (the smoke world) and [realtext] (Tatoeba/BUCC files from Debian packages)."""
from __future__ import annotations

from dataclasses import dataclass

from repro.settings.declare import key, per_task
from repro.settings.rules import LANGUAGE, choice, count, items, path_to, text

LANGUAGES = "2-3 letter language codes"


@dataclass(frozen=True)
class DataTask:
    """[data.task.NAME]: where one task's data comes from; a key left out (or "") = the [data] one."""
    source: str = key("", choice("hub", "local"), 'hub | local; "" = data.source')
    dir: str = key("", text(nonempty=False), '"" = data.dir')
    eval_cap: int = key(0, count(0), "0 = data.eval_cap")
    languages: list = key([], items(LANGUAGE, LANGUAGES),
                          "the evaluated languages among those whose files are present; [] = all of them")


@dataclass(frozen=True)
class Data:
    """Where each task's data comes from."""
    source: str = key("hub", choice("hub", "local", "synthetic", "realtext"), "hub | local | synthetic | realtext")
    dir: str = key("", text(nonempty=False), "local: the root holding each task's files (see docs/data-layout.md)")
    test_labels: str = key("", path_to("dir"), "optional folder of gold test labels in XTREME's label layout")
    cache_dir: str = key("", text(nonempty=False), 'Hugging Face datasets cache; "" = the library default')
    eval_cap: int = key(0, count(0), "targets: at most this many dev/test items per language; 0 = all",
                        "retrieval: pairs; BUCC: distractor sentences per side besides the gold ones")
    task: dict = per_task(DataTask, '[data.task.ccg] source = "local", dir = "/data": one task\'s own source')


@dataclass(frozen=True)
class Synthetic:
    """Only for data.source = "synthetic" (the smoke world)."""
    seed: int = key(0, count(0), "seed of the generated world")
    train_size: int = key(256, count(1), "training examples per task")
    eval_size: int = key(48, count(1), "dev/test examples per task and language")
    languages: list = key(["en", "xa", "xb"], items(LANGUAGE, LANGUAGES, 1), 'the world\'s languages; must include "en"')


ENTRIES = '"debian-package:gettext-domain" entries'


@dataclass(frozen=True)
class Realtext:
    """Only for data.source = "realtext": Tatoeba/BUCC files from Debian packages (repro/realtext.py)."""
    locale_dir: str = key("/usr/share/locale", text(), "where the gettext catalogs are")
    sword_dir: str = key("/usr/share/sword", text(), "where the SWORD Bible modules are")
    dpkg_info: str = key("/var/lib/dpkg/info", text(), "each file must belong to the Debian package its entry names")
    catalogs: list = key([], items(text(), ENTRIES, bad=[""]),
                         '"debian-package:gettext-domain": Tatoeba pairs and BUCC gold pairs')
    distractor_catalogs: list = key([], items(text(), ENTRIES, bad=[""]),
                                    '"debian-package:gettext-domain": BUCC\'s non-parallel distractors')
    bible: list = key([], items(text(), '"package:SwordModule" entries', bad=[""]),
                      '["package:EnglishModule", "package:OtherModule"] (SWORD zText)')
    bible_language: str = key("", text(nonempty=False), "the language whose pairs come from the Bibles instead of the catalogs")
    tatoeba_languages: list = key([], items(LANGUAGE, LANGUAGES), "Tatoeba's languages")
    bucc_languages: list = key([], items(LANGUAGE, LANGUAGES), "BUCC's languages")
    tatoeba_size: int = key(300, count(1), "pairs per Tatoeba language")
    bucc_gold: int = key(100, count(1), "gold pairs per split (dev, test)")
    bucc_distractors: int = key(400, count(0), "distractor sentences per side per split")
    min_words: int = key(3, count(1), "shortest sentence kept, in words")
    max_words: int = key(40, count(1), "longest sentence kept, in words")
    seed: int = key(0, count(0), "seed of the sampling")
