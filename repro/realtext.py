"""Real parallel text from Debian packages, written as XTREME's Tatoeba and BUCC 2018 files.

Sources (all installable from Debian's archive, no hub):
- gettext translation catalogs, /usr/share/locale/<lang>/LC_MESSAGES/<domain>.mo: English msgid ->
  translated msgstr. Read with a small parser of the GNU .mo format (GNU gettext manual, "The Format
  of GNU MO Files"), so contexts and plural forms are handled explicitly.
- SWORD Bible modules (sword-text-web: World English Bible; sword-text-sparv: Reina-Valera 1909; both
  public domain), zText driver: `<testament>.bzs` blocks (u32 offset, size, uncompressed size),
  `.bzv` verses (u32 block, u32 offset, u16 size), `.bzz` zlib blocks of OSIS markup (the layout of
  SWORD's zverse.cpp, https://crosswire.org/sword). Verses are keyed by book.chapter.verse, read off the
  `<chapter osisID=...>` markers, so two versifications align on the verses they share.

Every catalog and module is named in the profile as "debian-package:name"; a missing one is an error that
names the file and the package to install. Sets are deterministic: the same files give the same sets.
"""
from __future__ import annotations

import hashlib
import html
import re
import struct
import zlib
from pathlib import Path

from repro.atomic import sha256_file, write_text
from repro.engine import Stage
from repro.errors import ConfigError, DataError, ReproError
from repro.settings.data import Realtext
from repro.settings.declare import as_table
from repro.tasks.tatoeba import sort_english

# gettext locale directory of a language where it is not the ISO 639-1 code itself.
LOCALE_DIRS = {"zh": "zh_CN", "pt": "pt"}
_FORMAT = re.compile(r"%|\{|\}|<|>|\\|\$|https?:|\.\.\.$|\t")


def _debian_owned(path: Path, package: str, dpkg_info: Path) -> bool | None:
    """Whether dpkg lists `path` under `package` (None where there is no dpkg database)."""
    if not dpkg_info.is_dir():
        return None
    lists = list(dpkg_info.glob(f"{package}.list")) + list(dpkg_info.glob(f"{package}:*.list"))
    return any(str(path) in f.read_text(encoding="utf-8", errors="replace").splitlines() for f in lists)


def _named(entry: str, what: str) -> tuple[str, str]:
    package, sep, name = entry.partition(":")
    if not sep or not package or not name:
        raise ConfigError(f"realtext.{what}: {entry!r} must be 'debian-package:name'")
    return package, name


def catalog_path(cfg: dict, lang: str, entry: str) -> Path:
    package, domain = _named(entry, "catalogs")
    path = Path(cfg["locale_dir"]) / LOCALE_DIRS.get(lang, lang) / "LC_MESSAGES" / f"{domain}.mo"
    if not path.is_file():
        raise ReproError(f"{path}: catalog {domain!r} for language {lang!r} not found; it comes with the Debian "
                         f"package {package} (apt-get install {package}; if that package is installed, it has no "
                         f"{lang!r} translation: drop {lang!r} or the catalog from the profile)")
    if _debian_owned(path, package, Path(cfg["dpkg_info"])) is False:
        raise ReproError(f"{path}: not installed by the Debian package {package} the profile names")
    return path


def read_mo(path: Path) -> list[tuple[str, str]]:
    """(msgid, msgstr) pairs of a GNU .mo file; context dropped, plurals -> their singular forms."""
    data = Path(path).read_bytes()
    if len(data) < 20:
        raise DataError(path, "not a GNU .mo catalog (too short)")
    magic = struct.unpack_from("<I", data)[0]
    order = "<" if magic == 0x950412DE else ">" if magic == 0xDE120495 else None
    if order is None:
        raise DataError(path, f"not a GNU .mo catalog (magic {magic:#x})")
    _, count, originals, translations = struct.unpack_from(order + "4I", data, 4)
    pairs = []
    for i in range(count):
        n_o, o_o = struct.unpack_from(order + "2I", data, originals + 8 * i)
        n_t, o_t = struct.unpack_from(order + "2I", data, translations + 8 * i)
        try:
            msgid = data[o_o:o_o + n_o].decode("utf-8")
            msgstr = data[o_t:o_t + n_t].decode("utf-8")
        except UnicodeDecodeError:
            raise DataError(path, f"entry {i} is not UTF-8") from None
        if not msgid:  # the header entry
            continue
        msgid = msgid.split("\x04")[-1].split("\x00")[0]
        pairs.append((msgid, msgstr.split("\x00")[0]))
    return pairs


def clean(text: str) -> str:
    """UI strings as sentences: mnemonic underscores dropped, whitespace collapsed."""
    text = re.sub(r"_(?=\w)", "", text)
    return " ".join(text.split())


def usable(english: str, translation: str, min_words: int, max_words: int) -> bool:
    # Format codes, markup and paths are shared by every language: they would make retrieval trivial.
    if not translation or translation == english or _FORMAT.search(english) or _FORMAT.search(translation):
        return False
    return min_words <= len(english.split()) <= max_words


def catalog_pairs(cfg: dict, lang: str, entries: list[str]) -> list[tuple[str, str, str]]:
    """(catalog, English, translation), unique on each side, in a fixed order."""
    out, seen_en, seen_tr = [], set(), set()
    for entry in entries:
        for en, tr in read_mo(catalog_path(cfg, lang, entry)):
            en, tr = clean(en), clean(tr)
            if usable(en, tr, cfg["min_words"], cfg["max_words"]) and en not in seen_en and tr not in seen_tr:
                seen_en.add(en)
                seen_tr.add(tr)
                out.append((entry, en, tr))
    return out


# ----------------------------------------------------------------------------------------- SWORD
def _conf(cfg: dict, entry: str) -> tuple[Path, dict]:
    package, module = _named(entry, "bible")
    confs = [Path(cfg["sword_dir"]) / "mods.d" / f"{name}.conf" for name in (module, module.lower())]
    conf = next((c for c in confs if c.is_file()), confs[0])
    if not conf.is_file():
        raise ReproError(f"{conf}: SWORD module {module!r} not found; it comes with the Debian package {package} "
                         f"(apt-get install {package})")
    values = {}
    for line in conf.read_text(encoding="utf-8", errors="replace").splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.startswith("#"):
            values.setdefault(key.strip(), value.strip())
    if values.get("ModDrv") != "zText" or values.get("CompressType", "ZIP") != "ZIP":
        raise ReproError(f"{conf}: module {module} uses ModDrv={values.get('ModDrv')} / "
                         f"CompressType={values.get('CompressType')}; only zText with ZIP is read")
    return conf, values


def sword_files(cfg: dict, entry: str) -> list[Path]:
    conf, values = _conf(cfg, entry)
    root = Path(cfg["sword_dir"]) / values["DataPath"]
    return [conf] + sorted(p for p in root.glob("*.bz?") if p.is_file())


def _verse_text(osis: str) -> str:
    osis = re.sub(r"<note\b.*?</note>|<title\b.*?</title>", " ", osis, flags=re.S)
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", osis)).split())
    # Word tags leave spaces before punctuation and after opening marks ("him , “ What"): close them up.
    text = re.sub(r"\s+([,.;:!?»”’)])", r"\1", text)
    return re.sub(r"([¿¡“‘(«])\s+", r"\1", text)


def read_sword(cfg: dict, entry: str) -> dict[str, str]:
    """{"Matt.1.1": text, ...} for every non-empty verse of a zText module."""
    conf, values = _conf(cfg, entry)
    root = Path(cfg["sword_dir"]) / values["DataPath"]
    verses = {}
    for testament in ("ot", "nt"):
        if not (root / f"{testament}.bzv").is_file():
            continue
        bzs, bzv = (root / f"{testament}.bzs").read_bytes(), (root / f"{testament}.bzv").read_bytes()
        bzz = (root / f"{testament}.bzz").read_bytes()
        blocks, chapter, verse = {}, None, 0
        for i in range(0, len(bzv) - 9, 10):
            block, offset, size = struct.unpack_from("<IIH", bzv, i)
            if not size:
                continue
            if block not in blocks:
                start, length, _ = struct.unpack_from("<3I", bzs, 12 * block)
                blocks[block] = zlib.decompress(bzz[start:start + length])
            osis = blocks[block][offset:offset + size].decode("utf-8", errors="replace")
            marker = re.search(r'<chapter\b[^>]*osisID="([^"]+)"', osis)
            if marker:  # a chapter's heading entry: the verses that follow are 1, 2, ...
                chapter, verse = marker.group(1), 0
                continue
            if chapter is None or re.search(r'<div\b[^>]*type="book"', osis):
                continue
            verse += 1
            text = _verse_text(osis)
            if text:
                verses[f"{chapter}.{verse}"] = text
    if not verses:
        raise DataError(conf, "no verses read")
    return verses


def bible_pairs(cfg: dict) -> list[tuple[str, str, str]]:
    english_entry, other_entry = cfg["bible"]
    english, other = read_sword(cfg, english_entry), read_sword(cfg, other_entry)
    pairs, seen = [], set()
    for ref in english:  # canonical order of the English module
        en, tr = english[ref], other.get(ref)
        if tr and cfg["min_words"] <= len(en.split()) <= cfg["max_words"] and en not in seen:
            seen.add(en)
            pairs.append((ref, en, tr))
    return pairs


# ------------------------------------------------------------------------------------ the sets
def _shuffled(items: list, seed: int, salt: str) -> list:
    """A fixed pseudo-random order that depends only on the items' text, the seed and a salt."""
    return sorted(items, key=lambda x: hashlib.sha256(f"{seed}|{salt}|{x[1]}".encode()).hexdigest())


def _pairs_for(cfg: dict, lang: str, entries: list[str]) -> list[tuple[str, str, str]]:
    return bible_pairs(cfg) if lang == cfg["bible_language"] else catalog_pairs(cfg, lang, entries)


def write_tatoeba(cfg: dict, out: Path) -> dict:
    """tatoeba/{xx}-en.{xx} in original order and {xx}-en.en sorted, as XTREME leaves them."""

    counts = {}
    for lang in cfg["tatoeba_languages"]:
        pairs = _shuffled(_pairs_for(cfg, lang, cfg["catalogs"]), cfg["seed"], f"tatoeba-{lang}")
        pairs = pairs[:cfg["tatoeba_size"]]
        if len(pairs) < cfg["tatoeba_size"]:
            raise ReproError(f"realtext: only {len(pairs)} usable {lang}-en pairs for Tatoeba, "
                             f"realtext.tatoeba_size is {cfg['tatoeba_size']}")
        scrambled = sort_english([(tr, en) for _, en, tr in pairs])
        write_text(out / "tatoeba" / f"{lang}-en.{lang}", "".join(f"{s}\n" for s in scrambled["source"]))
        write_text(out / "tatoeba" / f"{lang}-en.en", "".join(f"{s}\n" for s in scrambled["english"]))
        # XTREME's label layout: per sorted English line, the index of its translation in the source file.
        write_text(out / "labels" / "tatoeba" / f"test-{lang}.tsv", "".join(f"{k}\n" for k in scrambled["gold"]))
        counts[lang] = len(pairs)
    return counts


def write_bucc(cfg: dict, out: Path) -> dict:
    """bucc2018/{xx}-en.{dev,test}.{xx,en} (`ID TAB sentence`), {xx}-en.dev.gold (`xxID TAB enID`) and
    labels/bucc2018/test-{xx}.tsv (the test gold XTREME deletes from the data folder).

    Gold pairs come from realtext.catalogs; distractors from realtext.distractor_catalogs, each entry
    contributing one side only (alternately), so no distractor has its translation in the other file."""
    counts = {}
    for lang in cfg["bucc_languages"]:
        gold = _shuffled(_pairs_for(cfg, lang, cfg["catalogs"]), cfg["seed"], f"bucc-{lang}")
        used = {en for _, en, _ in gold} | {tr for _, _, tr in gold}
        extra = [p for p in _pairs_for(cfg, lang, cfg["distractor_catalogs"]) if p[1] not in used and p[2] not in used]
        extra = _shuffled(extra, cfg["seed"], f"bucc-distractors-{lang}")
        n_gold, n_extra = cfg["bucc_gold"], cfg["bucc_distractors"]
        if len(gold) < 2 * n_gold or len(extra) < 4 * n_extra:
            raise ReproError(f"realtext: {lang}: {len(gold)} gold and {len(extra)} distractor pairs available; "
                             f"BUCC needs {2 * n_gold} and {4 * n_extra} (realtext.bucc_gold, bucc_distractors)")
        for k, split in enumerate(("dev", "test")):
            g = gold[k * n_gold:(k + 1) * n_gold]
            d = extra[k * 2 * n_extra:(k + 1) * 2 * n_extra]
            source = [(tr, True) for _, _, tr in g] + [(tr, False) for _, _, tr in d[0::2]]
            english = [(en, True) for _, en, _ in g] + [(en, False) for _, en, _ in d[1::2]]
            source = _shuffled([(i, s) for i, (s, _) in enumerate(source)], cfg["seed"], f"{split}-{lang}-src")
            english = _shuffled([(i, s) for i, (s, _) in enumerate(english)], cfg["seed"], f"{split}-{lang}-en")
            src_id = {i: f"{lang}-{n + 1:09d}" for n, (i, _) in enumerate(source)}
            en_id = {i: f"en-{n + 1:09d}" for n, (i, _) in enumerate(english)}
            stem = out / "bucc2018" / f"{lang}-en.{split}"
            write_text(stem.with_name(stem.name + f".{lang}"), "".join(f"{src_id[i]}\t{s}\n" for i, s in source))
            write_text(stem.with_name(stem.name + ".en"), "".join(f"{en_id[i]}\t{s}\n" for i, s in english))
            # Gold pair j is source item j and English item j before shuffling (indices < n_gold). As in
            # XTREME, dev gold lies beside the corpora and test gold only in the label folder.
            gold_lines = "".join(f"{src_id[j]}\t{en_id[j]}\n" for j in sorted(range(len(g)), key=src_id.get))
            write_text(stem.with_name(stem.name + ".gold") if split == "dev"
                       else out / "labels" / "bucc2018" / f"test-{lang}.tsv", gold_lines)
            counts[f"{split}-{lang}"] = {"gold": len(g), "source": len(source), "english": len(english)}
    return counts


def source_files(cfg: dict) -> list[Path]:
    """Every input file, checked to exist (missing catalogs fail here, before anything runs)."""
    files = []
    for lang in cfg["tatoeba_languages"] + cfg["bucc_languages"]:
        if lang == cfg["bible_language"]:
            continue
        names = cfg["catalogs"] + (cfg["distractor_catalogs"] if lang in cfg["bucc_languages"] else [])
        files += [catalog_path(cfg, lang, entry) for entry in names]
    if cfg["bible_language"] in cfg["tatoeba_languages"] + cfg["bucc_languages"]:
        if len(cfg["bible"]) != 2:
            raise ConfigError("realtext.bible must name two modules: the English one, then the other language's")
        for entry in cfg["bible"]:
            files += sword_files(cfg, entry)
    return sorted(set(files))


def build(cfg: dict, out: Path) -> dict:
    return {"tatoeba": write_tatoeba(cfg, Path(out)), "bucc2018": write_bucc(cfg, Path(out))}


def realtext_stage(realtext: Realtext):
    """prepare/realtext-data: the files above, keyed by the config and the SHA-256 of every source file."""

    cfg = as_table(realtext)  # the functions above read the [realtext] table
    inputs = {"realtext": cfg, "files": {str(p): sha256_file(p) for p in source_files(cfg)}}

    def run(ctx):
        return {"sets": build(cfg, ctx.out / "data")}

    return Stage("prepare", "realtext-data", inputs, run, versions=(),
                 describe=f"build Tatoeba/BUCC files from Debian catalogs and Bibles "
                          f"({len(cfg['tatoeba_languages'])} + {len(cfg['bucc_languages'])} languages)")
