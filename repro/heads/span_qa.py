"""Extractive QA (SQuAD, XQuAD, MLQA, TyDiQA-GoldP): sliding windows over the context with a doc
step (doc_stride, as jiant and XTREME), start/end logits, n-best decoding with a maximum answer length; SQuAD 2.0 adds "no answer"
(the CLS position), predicted when its score beats the best span (threshold 0, as SQuAD 2.0's script).
The answer text of a span is written as jiant writes it (repro/heads/qa_text.py, docs/qa-decoding.md)."""
from __future__ import annotations

import logging

import torch
from transformers import AutoModelForQuestionAnswering

from repro.atomic import write_json
from repro.heads.base import Head
from repro.heads.qa_text import answer_text
from repro.scoring.files import read_prediction_json, read_squad_json
from repro.scoring.metrics import ScoringError, squad_em_f1, unanswered_ids

log = logging.getLogger(__name__)


def squad_dataset(examples: list[dict]) -> list[dict]:
    """Examples as SQuAD v1.1 JSON `data` (one article per question, as XTREME's stripped files)."""
    return [{"title": ex.get("title", ""), "paragraphs": [{"context": ex["context"], "qas": [
        {"id": ex["id"], "question": ex["question"],
         # An unanswerable (SQuAD 2.0) question is scored against the empty answer, as SQuAD 2.0's script does.
         "answers": ex["answers"] or [{"text": "", "answer_start": -1}]}]}]} for ex in examples]


class SpanQAHead(Head):
    model_class = AutoModelForQuestionAnswering
    ext = "json"
    settings_read = (*Head.settings_read, "doc_stride", "max_query_length", "n_best", "max_answer_length", "answer_text")

    def num_labels(self, task):
        return None

    def featurize(self, task, examples, tokenizer, settings, train):
        max_len, step = settings["max_seq_length"], settings["doc_stride"]
        before, between, after = _pair_specials(tokenizer)
        room_all = max_len - len(before) - len(between) - len(after)
        feats = []
        for i, ex in enumerate(examples):
            # The question is cut by piece ids, as jiant (tokenizer.encode(..., max_length=max_query_length)):
            # cutting its text instead can end inside a bare `▁` piece and re-tokenise to more pieces.
            question = tokenizer(ex["question"].lstrip(), add_special_tokens=False)["input_ids"][:settings["max_query_length"]]
            context = tokenizer(ex["context"], add_special_tokens=False, return_offsets_mapping=True)
            pieces = tokenizer.convert_ids_to_tokens(context["input_ids"]) if not train else None
            # jiant and XTREME (HF's squad_convert_example_to_features) read doc_stride as the STEP between
            # window starts; a window holds `room` context pieces, so a doc_stride beyond the room is cut to
            # it (the package's choice: no context piece is skipped; repro/settings/check.py refuses such a doc_stride).
            room = room_all - len(question)
            windows = _windows(i, question, context, pieces, (before, between, after), room, min(step, room))
            for f in windows:
                ctx, offsets = f.pop("context_positions"), f["offsets"]
                if train:
                    del f["max_context"]  # decoding only
                    # The answer outside this window (or cut by its edge): the target is CLS (position 0),
                    # for SQuAD v1.1 too: jiant and XTREME keep such windows (out_of_span -> cls_index).
                    f["start_positions"], f["end_positions"] = 0, 0
                    if ex["answers"] and ctx:
                        a = ex["answers"][0]
                        start_char, end_char = a["answer_start"], a["answer_start"] + len(a["text"])
                        if offsets[ctx[0]][0] <= start_char and offsets[ctx[-1]][1] >= end_char:
                            f["start_positions"] = next(k for k in ctx if offsets[k][1] > start_char)
                            f["end_positions"] = next(k for k in reversed(ctx) if offsets[k][0] < end_char)
                feats.append(f)
        return feats

    def collate(self, features, pad_id):
        batch = super().collate(features, pad_id)
        if "start_positions" in features[0]:
            batch["start_positions"] = torch.tensor([f["start_positions"] for f in features])
            batch["end_positions"] = torch.tensor([f["end_positions"] for f in features])
        return batch

    def split_outputs(self, out, chunk):
        return list(torch.stack([out.start_logits, out.end_logits], dim=-1).float().cpu())

    def predict(self, task, model, examples, features, settings, pad_id, device, lang="en"):
        """The best valid span of each question (start in a window where it has most context, end after it,
        at most max_answer_length pieces), written as settings["answer_text"] says (repro.heads.qa_text and
        docs/qa-decoding.md). A question without any valid span gets the empty answer (XTREME and jiant
        write the word `empty` there; both score 0 against any gold answer, and both are the "no answer"
        of SQuAD 2.0 only when empty, so the package writes "")."""
        logits = self.outputs(model, features, pad_id, settings["eval_batch_size"], device)
        n_best, max_len = settings["n_best"], settings["max_answer_length"]
        best: dict[str, tuple] = {ex["id"]: (float("-inf"), None, 0, 0) for ex in examples}
        null = {ex["id"]: float("inf") for ex in examples}
        for f, l in zip(features, logits):
            ex = examples[f["example"]]
            n = len(f["input_ids"])  # logits are padded to the batch's longest feature
            start, end = l[:n, 0], l[:n, 1]
            null[ex["id"]] = min(null[ex["id"]], float(start[0] + end[0]))
            # Stable: on equal logits the earlier position first, as jiant's sorted() n-best lists.
            starts = torch.argsort(start, descending=True, stable=True)[:n_best].tolist()
            ends = torch.argsort(end, descending=True, stable=True)[:n_best].tolist()
            for s in starts:
                if not f["max_context"][s]:  # the token is scored in the window where it has most context
                    continue
                for e in ends:
                    if f["offsets"][s] is None or f["offsets"][e] is None or e < s or e - s + 1 > max_len:
                        continue
                    score = float(start[s] + end[e])
                    if score > best[ex["id"]][0]:
                        best[ex["id"]] = (score, f, s, e)
        allow_null = task.allows_no_answer(settings)
        answers = {}
        for ex in examples:
            score, f, s, e = best[ex["id"]]
            if f is None or (allow_null and null[ex["id"]] > score):
                answers[ex["id"]] = ""
            else:
                answers[ex["id"]] = answer_text(settings["answer_text"], lang, ex["context"], f["pieces"][s:e + 1],
                                                f["offsets"][s:e + 1])
        return answers

    def score(self, task, examples, predictions, lang="en"):
        answerable = [ex for ex in examples if ex["answers"]]
        unanswerable = [ex for ex in examples if not ex["answers"]]
        if not unanswerable:
            return task.file_metric(predictions, squad_dataset(examples), lang)
        # SQuAD 2.0's official rule: an unanswerable question scores 1 (EM and F1) exactly when the
        # prediction is empty; SQuAD 1.1 token F1 would give 0 for empty-vs-empty.
        null = 100.0 * sum(predictions.get(ex["id"], "") == "" for ex in unanswerable)
        if not answerable:
            return {"exact_match": null / len(examples), "f1": null / len(examples)}
        part = task.file_metric(predictions, squad_dataset(answerable), lang)
        n = len(examples)
        return {k: (part[k] * len(answerable) + null) / n for k in ("exact_match", "f1")}

    def write_predictions(self, path, examples, predictions):
        write_json(path, {ex["id"]: predictions[ex["id"]] for ex in examples})

    def write_labels(self, path, examples):
        write_json(path, {"data": squad_dataset(examples), "version": "1.1"})

    read_prediction_file = staticmethod(read_prediction_json)
    read_label_file = staticmethod(read_squad_json)

    def file_metric(self, predictions, gold, lang):
        """SQuAD v1.1 EM/F1 with English normalisation (XQuAD, TyDiQA-GoldP); MLQA declares its own."""
        return squad_em_f1(predictions, gold)

    def score_files(self, task, prediction_file, label_file, lang):
        predictions = self.read_prediction_file(prediction_file)
        dataset = self.read_label_file(label_file)
        try:
            missing = unanswered_ids(predictions, dataset)
            if missing:
                log.warning("%s: %d of the gold questions have no prediction and score 0", prediction_file, len(missing))
            return task.file_metric(predictions, dataset, lang)
        except ScoringError as exc:
            raise exc.in_file(label_file) from exc

    def headline(self, metrics):
        """XTREME's QA number: (EM + F1) / 2."""
        return (metrics["exact_match"] + metrics["f1"]) / 2
def _pair_specials(tokenizer) -> tuple[list[int], list[int], list[int]]:
    """The special tokens the tokenizer puts before, between and after a pair (XLM-R: <s> | </s></s> | </s>),
    read from one encoded pair, so windows can be built from piece ids."""
    enc = tokenizer("a", "b")
    ids, seq = enc["input_ids"], enc.sequence_ids()
    first, second = seq.index(0), seq.index(1)
    last_first, last_second = max(k for k, s in enumerate(seq) if s == 0), max(k for k, s in enumerate(seq) if s == 1)
    return ids[:first], ids[last_first + 1:second], ids[last_second + 1:]


def _windows(example: int, question: list[int], context, pieces, specials, room: int, step: int) -> list[dict]:
    """<s> question </s></s> context-window </s> for windows of `room` context pieces starting every `step`
    pieces, until one reaches the context's end (one window for an empty context). `offsets` (and, for
    decoding, `pieces`) hold each position's context characters (piece), None outside the context."""
    before, between, after = specials
    prefix, total = len(before) + len(question) + len(between), len(context["input_ids"])
    windows = []
    for start in range(0, max(1, total), step):
        ids = context["input_ids"][start:start + room]
        n = len(ids)
        w = {"input_ids": before + question + between + ids + after, "example": example,
             "offsets": [None] * prefix + [tuple(o) for o in context["offset_mapping"][start:start + n]] + [None] * len(after),
             "context_positions": list(range(prefix, prefix + n))}
        if pieces is not None:  # the answer text is written from them (repro.heads.qa_text)
            w["pieces"] = [None] * prefix + pieces[start:start + n] + [None] * len(after)
        windows.append(w)
        if start + n >= total:
            break
    _mark_max_context(windows, step)
    return windows


def _mark_max_context(windows: list[dict], step: int) -> None:
    """Sets each window's `max_context` (one flag per position): True where this window gives the context
    token its largest context, min(tokens left, tokens right) + 0.01 * window length, the first window on
    ties (the original BERT SQuAD code's `_check_is_max_context`, kept by jiant and XTREME). Window j's
    context starts at token j * step of the context."""
    spans = [(j * step, len(w["context_positions"])) for j, w in enumerate(windows)]
    best: dict[int, tuple[float, int]] = {}
    for j, (start, n) in enumerate(spans):
        for token in range(start, start + n):
            score = min(token - start, start + n - 1 - token) + 0.01 * n
            if token not in best or score > best[token][0]:
                best[token] = (score, j)
    for j, w in enumerate(windows):
        flags = [False] * len(w["input_ids"])
        for k, pos in enumerate(w["context_positions"]):
            flags[pos] = best[spans[j][0] + k][1] == j
        w["max_context"] = flags

