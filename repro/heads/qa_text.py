"""The answer text of a predicted piece span, as the paper's code writes it (docs/qa-decoding.md).

jiant (nyu-mll/jiant, jiant/tasks/lib/templates/squad_style/utils.py, `compute_predictions_logits_v2`),
like XTREME (transformers v2.x, src/transformers/data/metrics/squad_metrics.py, which
google-research/xtreme @838c13b third_party/run_squad.py calls), does not cut the answer out of the
context by character offsets. It joins the span's pieces into a text (`convert_tokens_to_string`) and
projects that text onto the whitespace-separated context words the span touches (`get_final_text`):
when the two align character for character, the matching part of those words is returned, otherwise
the whole words. jiant skips the projection for Chinese and returns the pieces' text itself.

This module holds that rule for one span; the span QA head picks the span. The functions below are
written from the published algorithm, not copied.
"""
from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right

# A context word: a run of characters other than SQuAD's whitespace (space, tab, CR, LF and U+202F;
# jiant's squad_style core.py `is_whitespace`).
_WORD = re.compile("[^ \t\r\n\u202f]+")
# SentencePiece's word-start mark: XLM-R's pieces carry it where the text had a space.
WORD_MARK = "▁"

# Languages whose answers jiant does not project onto whole words (jiant/tasks/evaluate/core.py:
# `skip_get_final_text=(lang == "zh")`, for XQuAD, TyDiQA and MLQA alike).
NO_FINAL_TEXT = frozenset({"zh"})

# The CJK ideograph blocks BERT's basic tokenizer puts spaces around (transformers v2.x,
# src/transformers/tokenization_bert.py, BasicTokenizer._is_chinese_char).
_CJK_BLOCKS = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
               (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))


def context_words(context: str) -> list[tuple[int, int]]:
    """The (start, end) characters of the context's words, split on whitespace as SQuAD's readers split it."""
    return [m.span() for m in _WORD.finditer(context)]


def pieces_text(pieces: list[str]) -> str:
    """The text of a run of SentencePiece pieces as XLM-R's `convert_tokens_to_string` writes it, with
    whitespace then stripped and collapsed (jiant's `tok_text`). A bare `▁` piece adds only a space."""
    return " ".join("".join(pieces).replace(WORD_MARK, " ").split())


def _is_control(c: str) -> bool:
    return c not in "\t\n\r" and unicodedata.category(c).startswith("C")


def _is_space(c: str) -> bool:
    return c in " \t\n\r" or unicodedata.category(c) == "Zs"


def _is_punctuation(c: str) -> bool:
    # Every ASCII character that is neither a letter nor a digit counts, as in BERT's tokenizer.
    cp = ord(c)
    return 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126 \
        or unicodedata.category(c).startswith("P")


def basic_tokens(text: str, lower_case: bool = False) -> list[str]:
    """BERT's basic tokenizer (transformers v2.x BasicTokenizer.tokenize): drop NUL, U+FFFD and control
    characters, turn spaces into " ", set CJK ideographs apart, split on whitespace, optionally lower-case
    and strip accents, then split every punctuation character off on its own."""
    spaced = []
    for c in text:
        if c in "\x00\ufffd" or _is_control(c):
            continue
        if _is_space(c):
            spaced.append(" ")
        elif any(low <= ord(c) <= high for low, high in _CJK_BLOCKS):
            spaced.append(f" {c} ")
        else:
            spaced.append(c)
    tokens: list[str] = []
    for word in "".join(spaced).split():
        if lower_case:
            word = "".join(c for c in unicodedata.normalize("NFD", word.lower()) if unicodedata.category(c) != "Mn")
        run = ""
        for c in word:
            if _is_punctuation(c):
                tokens.extend([run, c] if run else [c])
                run = ""
            else:
                run += c
        if run:
            tokens.append(run)
    return [t for t in tokens if t]


def final_text(pred_text: str, orig_text: str, lower_case: bool = False) -> str:
    """`get_final_text`: the part of orig_text (whole context words) that pred_text (the pieces' text)
    stands for. pred_text is looked up in orig_text's basic tokens joined by spaces; when it is absent,
    or the two texts do not have the same non-space characters one for one, the whole orig_text is the
    answer. An empty pred_text (a span of bare `▁` pieces) falls back to the whole words too."""
    tokenized = " ".join(basic_tokens(orig_text, lower_case))
    first = tokenized.find(pred_text)
    last = first + len(pred_text) - 1
    if first < 0 or last < first:
        return orig_text
    # The rank of each non-space character among the non-space characters of its text.
    orig_chars = [i for i, c in enumerate(orig_text) if c != " "]
    tok_rank = {i: r for r, i in enumerate(i for i, c in enumerate(tokenized) if c != " ")}
    if len(orig_chars) != len(tok_rank) or first not in tok_rank or last not in tok_rank:
        return orig_text
    return orig_text[orig_chars[tok_rank[first]]:orig_chars[tok_rank[last]] + 1]


def answer_text(rule: str, lang: str, context: str, pieces: list[str], offsets: list[tuple[int, int]]) -> str:
    """The answer for one predicted span: its pieces and their character offsets in the context.

    rule "jiant": the pieces' text projected onto the context words they touch (`final_text`), or the
    pieces' text itself for the languages in NO_FINAL_TEXT. A piece belongs to the word its first
    character is in, so a bare `▁` belongs to the word it begins.
    rule "exact": the context's characters from the first to the last character the pieces cover; a bare
    `▁` piece covers none (fast tokenizers give it the next word's first character: huggingface/tokenizers
    #1018), so a span of bare `▁` pieces only is the empty answer."""
    if rule == "exact":
        covered = [o for p, o in zip(pieces, offsets) if p != WORD_MARK]
        return context[covered[0][0]:covered[-1][1]] if covered else ""
    pred = pieces_text(pieces)
    if lang in NO_FINAL_TEXT:
        return pred
    words = context_words(context)
    starts = [w[0] for w in words]
    first, last = (max(0, bisect_right(starts, o[0]) - 1) for o in (offsets[0], offsets[-1]))
    return final_text(pred, " ".join(context[a:b] for a, b in words[first:last + 1]))
