"""Universal Dependencies CoNLL-U -> XTREME's UD-POS sentences (word, UPOS), as google-research/xtreme
builds udpos/{split}-{lang}.tsv (commit 091824888a60, scripts/download_data.sh `download_treebank` and
utils_preprocess.py `udpos_preprocess`):

1. Each treebank file is converted by third_party/ud-conversion-tools/conllu_to_conll.py
   `--lang <lang> --replace_subtokens_with_fused_forms --print_fused_forms`. A multiword token (`3-4 du`)
   becomes ONE word: its surface form replaces the form of the span's head word, whose UPOS it keeps, and
   the span's other syntactic words are dropped (lib/conll.py `_keep_fused_form`). The head is the single
   span word with the fewest ancestors in the graph of basic HEAD and enhanced DEPS edges; on a tie, the
   tied word whose UPOS comes first in the language's precedence list (`_choose_spanhead_from_heuristics`).
   Empty nodes (`8.1`) and comment lines are dropped.
2. udpos_preprocess pools all treebank files of a language (the language is the file name's prefix before
   `_`, e.g. en_ewt-ud-train.conllu -> en; files in sorted name order; the split is the name's
   train/dev/test), drops sentences whose forms are all (or all but one) `_` (`_read_one_file`), and removes
   ZERO WIDTH NON-JOINER (U+200C) and spaces inside a word (`remove_empty_space`: Vietnamese syllables).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

from repro.errors import DataError
from repro.readers import decoded_lines

# conllu_to_conll.py POSRANKPRECEDENCEDICT (xtreme's third_party copy): es and fr have their own lists.
PRECEDENCE = {
    "default": "VERB NOUN PROPN PRON ADJ NUM ADV INTJ AUX ADP DET PART CCONJ SCONJ X PUNCT".split(),
    "es": "VERB AUX PRON ADP DET".split(),
    "fr": "VERB AUX PRON NOUN ADJ ADV ADP DET PART SCONJ CONJ".split(),
    "it": "VERB AUX ADV PRON ADP DET INTJ".split(),
}
FILE_NAME = re.compile(r"^(?P<lang>[a-z]{2,3})_[^/]*-ud-(?P<split>train|dev|test)\.conllu$")


def conllu_files(folder: Path) -> dict[tuple[str, str], list[Path]]:
    """{(lang, split): files} of every `<lang>_<treebank>-ud-<split>.conllu` under `folder`, in XTREME's
    order (sorted by file name within a language)."""
    found: dict[tuple[str, str], list[Path]] = {}
    for path in sorted(Path(folder).rglob("*.conllu"), key=lambda p: p.name):
        m = FILE_NAME.match(path.name)
        if m:
            found.setdefault((m["lang"], m["split"]), []).append(path)
    return found


def read_conllu(path: Path) -> Iterator[tuple[int, list[list[str]], dict[int, tuple[int, str]]]]:
    """(first line, word rows, {first word id: (last word id, surface form)}) per sentence."""
    words, multi, start = [], {}, None
    for lineno, line in decoded_lines(path):
        line = line.rstrip("\r\n")
        if not line:
            if words:
                yield start, words, multi
            words, multi, start = [], {}, None
            continue
        if line.startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) != 10:
            raise DataError(path, f"expected 10 tab-separated CoNLL-U columns, got {len(cols)}", lineno)
        start = start or lineno
        wid = cols[0]
        if "." in wid:  # an empty node of the enhanced graph: not a word
            continue
        if "-" in wid:
            first, last = wid.split("-")
            multi[int(first)] = (int(last), cols[1])
            continue
        if not wid.isdigit() or int(wid) != len(words) + 1:
            raise DataError(path, f"word id {wid!r} out of sequence (expected {len(words) + 1})", lineno)
        words.append(cols)
    if words:
        yield start, words, multi


def _depths(words: list[list[str]]) -> list[int]:
    """Number of ancestors of each word (node 0 = root counts) over basic HEAD and enhanced DEPS edges."""
    parents = {}
    for cols in words:
        heads = {int(cols[6])} if cols[6].isdigit() else set()
        if cols[8] != "_":
            heads |= {int(p.split(":")[0]) for p in cols[8].split("|") if p.split(":")[0].isdigit()}
        parents[int(cols[0])] = heads
    depths = []
    for cols in words:
        seen, todo = set(), list(parents[int(cols[0])])
        while todo:
            node = todo.pop()
            if node not in seen:
                seen.add(node)
                todo.extend(parents.get(node, ()))
        seen.discard(int(cols[0]))  # a cycle through the word itself: networkx's ancestors exclude it
        depths.append(len(seen))
    return depths


def fuse(words: list[list[str]], multi: dict[int, tuple[int, str]], lang: str) -> tuple[list[str], list[str]]:
    """The sentence's (forms, UPOS tags) with each multiword token as one word tagged like its head."""
    forms, tags = [c[1] for c in words], [c[3] for c in words]
    if not multi:
        return forms, tags
    order = PRECEDENCE.get(lang, PRECEDENCE["default"])
    depth = _depths(words)
    drop = set()
    for first, (last, surface) in multi.items():
        span = [i for i in range(first - 1, last) if i < len(words)]
        if not span:
            continue
        top = min(depth[i] for i in span)
        highest = [i for i in span if depth[i] == top]
        head = highest[0] if len(highest) == 1 else min(
            highest, key=lambda i: order.index(tags[i]) if tags[i] in order else len(order))
        forms[head] = surface
        drop.update(i for i in span if i != head)
    keep = [i for i in range(len(words)) if i not in drop]
    return [forms[i] for i in keep], [tags[i] for i in keep]


def xtreme_sentences(path: Path, lang: str) -> Iterator[tuple[list[str], list[str]]]:
    """One treebank file as XTREME's UD-POS sentences (see the module docstring)."""
    for _, words, multi in read_conllu(path):
        forms, tags = fuse(words, multi, lang)
        empty = sum(f == "_" for f in forms)
        if empty and empty >= len(forms) - 1:  # udpos_preprocess keeps num_empty == 0 or < len - 1
            continue
        yield ["".join(f.replace("\u200c", "").split(" ")) for f in forms], tags
