"""XTREME metrics with the behaviour of google-research/xtreme @838c13b (third_party/evaluate.py,
evaluate_squad.py, evaluate_mlqa.py; tagging F1 as seqeval 0.0.12 computes it), re-implemented, not copied.

Every function here is pure: it takes already-parsed predictions and gold data and returns a dict of
scores on a 0-100 scale, keyed by the metric names that XTREME's ``evaluate.py`` uses
(``accuracy``; ``f1``/``precision``/``recall``; ``exact_match``/``f1``). Reading files and naming them
in error messages is the job of :mod:`repro.scoring.xtreme`.

Argument order is ``(predictions, gold)`` throughout.
"""
from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

from repro.errors import ScoringError

__all__ = [
    "ScoringError",
    "MLQA_LANGS",
    "accuracy",
    "extract_chunks",
    "tagging_f1",
    "normalize_squad_answer",
    "normalize_mlqa_answer",
    "squad_em_f1",
    "mlqa_em_f1",
    "unanswered_ids",
    "bucc_f1",
]

_PERCENT = 100.0


def _precision_recall_f1(n_correct: int, n_predicted: int, n_gold: int) -> dict[str, float]:
    """Micro P/R/F1 x100 from counts; every score is 0 when nothing is correct (seqeval 0.0.12, evaluate.py bucc_f1).

    F1 is computed from the unscaled P and R (2PR/(P+R)) and scaled afterwards, the order in which both
    seqeval and ``bucc_f1`` compute it, so the floats match the official ones bit for bit.
    """
    if n_correct == 0:
        precision = recall = f1 = 0.0
    else:
        precision = n_correct / n_predicted
        recall = n_correct / n_gold
        f1 = 2 * precision * recall / (precision + recall)
    return {"f1": f1 * _PERCENT, "precision": precision * _PERCENT, "recall": recall * _PERCENT}


# --------------------------------------------------------------------------------------------------
# Accuracy (XNLI, PAWS-X, Tatoeba)
# --------------------------------------------------------------------------------------------------

def accuracy(predictions: Sequence[str], labels: Sequence[str]) -> dict[str, float]:
    """Position-wise exact-match accuracy x100 (evaluate.py); items are compared as given (already stripped).

    The official scorer asserts equal lengths before scoring, so unequal lengths raise ScoringError here.
    An empty input raises too: the official scorer would divide by zero.
    """
    if len(predictions) != len(labels):
        raise ScoringError(f"{len(predictions)} predictions but {len(labels)} labels")
    if not predictions:
        raise ScoringError("nothing to score: no predictions and no labels")
    correct = sum(1 for p, g in zip(predictions, labels) if p == g)
    return {"accuracy": correct / len(predictions) * _PERCENT}


# --------------------------------------------------------------------------------------------------
# Tagging F1 (UD-POS, PAN-X) with seqeval 0.0.12 chunk semantics
# --------------------------------------------------------------------------------------------------

def _prefix_and_type(label: str) -> tuple[str, str]:
    """Split a tag the seqeval-0.0.12 way (seqeval 0.0.12).

    prefix = first character, type = text after the last ``-`` (the whole tag when it has none). So the
    UPOS tag ``NOUN`` has prefix ``N`` and type ``NOUN``, ``SCONJ`` has prefix ``S`` (a single-token chunk
    marker!) and type ``SCONJ``, and ``CCONJ``/``SCONJ`` stay different types (seqeval 1.x merges them).
    """
    if not label:
        raise ScoringError("empty tag")
    return label[0], label.rsplit("-", 1)[-1]


def _ends_chunk(prev_prefix: str, prefix: str, prev_type: str, type_: str) -> bool:
    """Whether a chunk ends just before the current token (seqeval 0.0.12)."""
    if prev_prefix in ("E", "S"):
        return True
    if prev_prefix in ("B", "I") and prefix in ("B", "S", "O"):
        return True
    return prev_prefix not in ("O", ".") and prev_type != type_


def _starts_chunk(prev_prefix: str, prefix: str, prev_type: str, type_: str) -> bool:
    """Whether a chunk starts at the current token (seqeval 0.0.12)."""
    if prefix in ("B", "S"):
        return True
    if prev_prefix in ("E", "S", "O") and prefix in ("E", "I"):
        return True
    return prefix not in ("O", ".") and prev_type != type_


def _flatten_with_boundaries(sentences: Sequence[Sequence[str]]) -> list[str]:
    """All sentences in one sequence, an ``O`` after each and one more at the end (seqeval 0.0.12).

    The ``O`` separators keep chunks from running across sentence boundaries; positions in the chunks
    returned by :func:`extract_chunks` are positions in this sequence.
    """
    flat: list[str] = []
    for sentence in sentences:
        flat.extend(sentence)
        flat.append("O")
    flat.append("O")
    return flat


def extract_chunks(sentences: Sequence[Sequence[str]]) -> set[tuple[str, int, int]]:
    """Chunks ``(type, start, end)`` (inclusive, global positions) of a list of tagged sentences.

    Implements seqeval 0.0.12's ``get_entities`` rules . Tags without a
    ``B-``/``I-`` prefix (UPOS) make every run of identical tags one chunk.
    """
    chunks: set[tuple[str, int, int]] = set()
    # seqeval starts from an "O" with an empty type, so the first non-O tag always opens a chunk.
    prev_prefix, prev_type, begin = "O", "", 0
    for i, label in enumerate(_flatten_with_boundaries(sentences)):
        prefix, type_ = _prefix_and_type(label)
        if _ends_chunk(prev_prefix, prefix, prev_type, type_):
            chunks.add((prev_type, begin, i - 1))
        if _starts_chunk(prev_prefix, prefix, prev_type, type_):
            begin = i
        prev_prefix, prev_type = prefix, type_
    return chunks


def tagging_f1(predictions: Sequence[Sequence[str]], labels: Sequence[Sequence[str]]) -> dict[str, float]:
    """Chunk-level micro P/R/F1 x100 over all sentences of one language (seqeval 0.0.12).

    Like seqeval 0.0.12, sentences are not required to have equal lengths here (positions simply
    misalign); the folder scorer checks the sentence counts, as evaluate.py does.
    """
    gold = extract_chunks(labels)
    predicted = extract_chunks(predictions)
    return _precision_recall_f1(len(gold & predicted), len(predicted), len(gold))


# --------------------------------------------------------------------------------------------------
# Extractive QA: SQuAD v1.1 (XQuAD, TyDiQA-GoldP) and MLQA
# --------------------------------------------------------------------------------------------------

_ASCII_PUNCT = frozenset(string.punctuation)
_SQUAD_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_squad_answer(text: str) -> str:
    """SQuAD v1.1 normalisation (evaluate_squad.py): lower-case, drop ASCII punctuation, blank out the English
    articles a/an/the as whole words, collapse whitespace. Used for every language of XQuAD and TyDiQA."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _ASCII_PUNCT)
    text = _SQUAD_ARTICLES.sub(" ", text)
    return " ".join(text.split())


def _is_mlqa_punct(ch: str) -> bool:
    """MLQA punctuation: any Unicode category P* character, plus ASCII string.punctuation (evaluate_mlqa.py);
    the latter adds symbols such as ``$ + < = > ^ ` | ~`` that Unicode files under S*."""
    return ch in _ASCII_PUNCT or unicodedata.category(ch).startswith("P")


def _whole_words(words: Iterable[str]) -> re.Pattern[str]:
    return re.compile(r"\b(" + "|".join(words) + r")\b")


# evaluate_mlqa.py's per-language articles. Arabic is special: the official regex removes *every* occurrence of the substring
# "ال" (the definite article), also inside words, so it is a plain substring pattern here.
_MLQA_ARTICLES: dict[str, re.Pattern[str] | None] = {
    "en": _whole_words(["a", "an", "the"]),
    "es": _whole_words(["un", "una", "unos", "unas", "el", "la", "los", "las"]),
    "de": _whole_words(["ein", "eine", "einen", "einem", "eines", "einer", "der", "die", "das", "den", "dem",
                        "des"]),
    "vi": _whole_words(["của", "là", "cái", "chiếc", "những"]),
    "ar": re.compile("ال"),
    "hi": None,
    "zh": None,
}
MLQA_LANGS = tuple(_MLQA_ARTICLES)
_MIXED_SEGMENTATION_LANGS = frozenset({"zh"})


def _is_cjk(ch: str) -> bool:
    """The CJK range that MLQA's mixed segmentation splits per character: U+4E00..U+9FA5 (evaluate_mlqa.py)."""
    return "\u4e00" <= ch <= "\u9fa5"


def _mixed_segmentation(text: str) -> list[str]:
    """zh tokenisation (evaluate_mlqa.py): every CJK character and every punctuation character is a token
    of its own; the text between them is whitespace-split."""
    tokens: list[str] = []
    pending = ""
    for ch in text:
        if _is_cjk(ch) or _is_mlqa_punct(ch):
            tokens.extend(pending.split())
            pending = ""
            tokens.append(ch)
        else:
            pending += ch
    tokens.extend(pending.split())
    return tokens


def _check_mlqa_lang(lang: str) -> None:
    if lang not in _MLQA_ARTICLES:
        raise ScoringError(f"unknown MLQA language {lang!r}; expected one of {', '.join(MLQA_LANGS)}")


def normalize_mlqa_answer(text: str, lang: str) -> str:
    """MLQA's language-specific normalisation (evaluate_mlqa.py): lower-case, remove Unicode punctuation,
    remove the language's articles, then tokenise (whitespace, or mixed segmentation for zh) and re-join
    non-empty tokens with single spaces. An unknown ``lang`` raises ScoringError."""
    _check_mlqa_lang(lang)
    text = text.lower()
    text = "".join(ch for ch in text if not _is_mlqa_punct(ch))
    articles = _MLQA_ARTICLES[lang]
    if articles is not None:
        text = articles.sub(" ", text)
    tokens = _mixed_segmentation(text) if lang in _MIXED_SEGMENTATION_LANGS else text.split()
    return " ".join(t for t in tokens if t.strip())


def _exact_match(prediction: str, gold: str, normalize: Callable[[str], str]) -> float:
    return float(normalize(prediction) == normalize(gold))


def _token_f1(prediction: str, gold: str, normalize: Callable[[str], str]) -> float:
    """Bag-of-tokens F1 between two answers (evaluate_squad.py): 0 without overlap, else 2PR/(P+R)."""
    predicted_tokens = normalize(prediction).split()
    gold_tokens = normalize(gold).split()
    overlap = sum((Counter(predicted_tokens) & Counter(gold_tokens)).values())
    if overlap == 0:
        return 0.0
    precision = overlap / len(predicted_tokens)
    recall = overlap / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def _articles_of(dataset: object) -> list:
    """The article list of a SQuAD-style dataset: ``{"data": [...]}`` or the bare list (evaluate.py read_squad)."""
    if isinstance(dataset, Mapping):
        if "data" not in dataset:
            raise ScoringError("SQuAD-style JSON object has no 'data' key")
        dataset = dataset["data"]
    if not isinstance(dataset, list):
        raise ScoringError(f"SQuAD-style data must be a list of articles, got {type(dataset).__name__}")
    return dataset


def _gold_questions(dataset: object) -> Iterator[tuple[str, list[str]]]:
    """``(question id, gold answer texts)`` for every question of a SQuAD-style dataset, in file order."""
    try:
        for article in _articles_of(dataset):
            for paragraph in article["paragraphs"]:
                for qa in paragraph["qas"]:
                    answers = [answer["text"] for answer in qa["answers"]]
                    if not answers:
                        raise ScoringError(f"question {qa['id']!r} has no gold answer")
                    yield qa["id"], answers
    except (KeyError, TypeError) as exc:
        raise ScoringError(f"malformed SQuAD-style data ({type(exc).__name__}: {exc})") from exc


def _check_predictions(predictions: object) -> Mapping[str, str]:
    if not isinstance(predictions, Mapping):
        kind = type(predictions).__name__
        raise ScoringError(f"QA predictions must be a JSON object id -> answer, got {kind}")
    for qid, answer in predictions.items():
        if not isinstance(answer, str):
            raise ScoringError(f"prediction for {qid!r} is not a string: {answer!r}")
    return predictions


def _qa_em_f1(predictions: object, dataset: object, normalize: Callable[[str], str]) -> dict[str, float]:
    """SQuAD aggregation (evaluate_squad.py): per question the max over gold answers, EM and F1 separately;
    averaged over **all** gold questions, so an unanswered one counts 0; extra predicted ids are ignored."""
    predictions = _check_predictions(predictions)
    total = 0
    exact_sum = f1_sum = 0.0
    for qid, gold_answers in _gold_questions(dataset):
        total += 1
        if qid not in predictions:
            continue
        answer = predictions[qid]
        exact_sum += max(_exact_match(answer, gold, normalize) for gold in gold_answers)
        f1_sum += max(_token_f1(answer, gold, normalize) for gold in gold_answers)
    if total == 0:
        raise ScoringError("nothing to score: the gold data has no questions")
    return {"exact_match": _PERCENT * exact_sum / total, "f1": _PERCENT * f1_sum / total}


def squad_em_f1(predictions: Mapping[str, str], dataset: object) -> dict[str, float]:
    """SQuAD v1.1 exact match and F1 x100 (evaluate_squad.py), English normalisation for every language.

    ``predictions`` maps question id -> answer string; ``dataset`` is ``{"data": [...]}`` or the list of
    articles. Missing ids score 0.
    """
    return _qa_em_f1(predictions, dataset, normalize_squad_answer)


def mlqa_em_f1(predictions: Mapping[str, str], dataset: object, lang: str) -> dict[str, float]:
    """MLQA exact match and F1 x100 (evaluate_mlqa.py): SQuAD aggregation with ``lang``'s normalisation
    (``lang`` is the file's 2-letter code; one of :data:`MLQA_LANGS`, else ScoringError)."""
    _check_mlqa_lang(lang)
    return _qa_em_f1(predictions, dataset, lambda text: normalize_mlqa_answer(text, lang))


def unanswered_ids(predictions: Mapping[str, str], dataset: object) -> list[str]:
    """Gold question ids that have no prediction (they score 0); the official scorer reports them."""
    return [qid for qid, _ in _gold_questions(dataset) if qid not in predictions]


# --------------------------------------------------------------------------------------------------
# BUCC
# --------------------------------------------------------------------------------------------------

def bucc_f1(predictions: Sequence[str], labels: Sequence[str]) -> dict[str, float]:
    """Set-based P/R/F1 x100 over ``srcID<TAB>trgID`` pairs (evaluate.py bucc_f1).

    Each line becomes the tuple of its TAB-separated fields; duplicates collapse, and the two files need
    not have the same number of lines.
    """
    gold = {tuple(line.split("\t")) for line in labels}
    predicted = {tuple(line.split("\t")) for line in predictions}
    return _precision_recall_f1(len(gold & predicted), len(predicted), len(gold))
