"""Extractive QA (SQuAD, XQuAD, MLQA, TyDiQA-GoldP): sliding windows over the context with a doc
stride, start/end logits, n-best decoding with a maximum answer length; SQuAD 2.0 adds "no answer"
(the CLS position), predicted when its score beats the best span (threshold 0, as SQuAD 2.0's script)."""
from __future__ import annotations

import torch
from transformers import AutoModelForQuestionAnswering

from repro.atomic import write_json
from repro.heads.base import Head
from repro.scoring.metrics import mlqa_em_f1, squad_em_f1


def squad_dataset(examples: list[dict]) -> list[dict]:
    """Examples as SQuAD v1.1 JSON `data` (one article per question, as XTREME's stripped files)."""
    return [{"title": ex.get("title", ""), "paragraphs": [{"context": ex["context"], "qas": [
        {"id": ex["id"], "question": ex["question"],
         # An unanswerable (SQuAD 2.0) question is scored against the empty answer, as SQuAD 2.0's script does.
         "answers": ex["answers"] or [{"text": "", "answer_start": -1}]}]}]} for ex in examples]


class SpanQAHead(Head):
    kind = "span_qa"
    model_class = AutoModelForQuestionAnswering
    ext = "json"
    settings_read = (*Head.settings_read, "doc_stride", "max_query_length", "n_best", "max_answer_length")

    def num_labels(self, task):
        return None

    def featurize(self, task, examples, tokenizer, settings, train):
        questions = []
        for ex in examples:  # cut the question to max_query_length pieces without re-decoding it
            q = ex["question"].lstrip()
            enc = tokenizer(q, add_special_tokens=False, return_offsets_mapping=True)
            if len(enc["input_ids"]) > settings["max_query_length"]:
                q = q[:enc["offset_mapping"][settings["max_query_length"] - 1][1]]
            questions.append(q)
        enc = tokenizer(questions, [ex["context"] for ex in examples], truncation="only_second",
                        max_length=settings["max_seq_length"], stride=settings["doc_stride"],
                        return_overflowing_tokens=True, return_offsets_mapping=True, padding=False)
        feats = []
        for j, i in enumerate(enc["overflow_to_sample_mapping"]):
            ex, seq_ids, offsets = examples[i], enc.sequence_ids(j), enc["offset_mapping"][j]
            ctx = [k for k, s in enumerate(seq_ids) if s == 1]
            f = {"input_ids": enc["input_ids"][j], "example": i,
                 "offsets": [tuple(o) if s == 1 else None for o, s in zip(offsets, seq_ids)]}
            if train:
                f["start_positions"], f["end_positions"] = 0, 0  # CLS: answer absent from this window
                if ex["answers"] and ctx:
                    a = ex["answers"][0]
                    start_char, end_char = a["answer_start"], a["answer_start"] + len(a["text"])
                    if offsets[ctx[0]][0] <= start_char and offsets[ctx[-1]][1] >= end_char:
                        f["start_positions"] = next(k for k in ctx if offsets[k][1] > start_char)
                        f["end_positions"] = next(k for k in reversed(ctx) if offsets[k][0] < end_char)
                    elif not task_allows_no_answer(task, settings):
                        continue  # SQuAD 1.1 style: windows without the answer carry no signal
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

    def predict(self, task, model, examples, features, settings, pad_id, device):
        logits = self.outputs(model, features, pad_id, settings["eval_batch_size"], device)
        n_best, max_len = settings["n_best"], settings["max_answer_length"]
        best = {ex["id"]: (float("-inf"), "") for ex in examples}
        null = {ex["id"]: float("inf") for ex in examples}
        for f, l in zip(features, logits):
            ex = examples[f["example"]]
            n = len(f["input_ids"])  # logits are padded to the batch's longest feature
            start, end = l[:n, 0], l[:n, 1]
            null[ex["id"]] = min(null[ex["id"]], float(start[0] + end[0]))
            starts = torch.argsort(start, descending=True)[:n_best].tolist()
            ends = torch.argsort(end, descending=True)[:n_best].tolist()
            for s in starts:
                for e in ends:
                    if f["offsets"][s] is None or f["offsets"][e] is None or e < s or e - s + 1 > max_len:
                        continue
                    score = float(start[s] + end[e])
                    if score > best[ex["id"]][0]:
                        best[ex["id"]] = (score, ex["context"][f["offsets"][s][0]:f["offsets"][e][1]])
        allow_null = task_allows_no_answer(task, settings)
        return {i: ("" if allow_null and null[i] > score else text) for i, (score, text) in best.items()}

    def score(self, task, examples, predictions, lang="en"):
        if getattr(task, "qa_scorer", "squad") == "mlqa":
            return mlqa_em_f1(predictions, squad_dataset(examples), lang)
        answerable = [ex for ex in examples if ex["answers"]]
        unanswerable = [ex for ex in examples if not ex["answers"]]
        if not unanswerable:
            return squad_em_f1(predictions, squad_dataset(examples))
        # SQuAD 2.0's official rule: an unanswerable question scores 1 (EM and F1) exactly when the
        # prediction is empty; SQuAD 1.1 token F1 would give 0 for empty-vs-empty.
        null = 100.0 * sum(predictions.get(ex["id"], "") == "" for ex in unanswerable)
        if not answerable:
            return {"exact_match": null / len(examples), "f1": null / len(examples)}
        part = squad_em_f1(predictions, squad_dataset(answerable))
        n = len(examples)
        return {k: (part[k] * len(answerable) + null) / n for k in ("exact_match", "f1")}

    def write_predictions(self, path, examples, predictions):
        write_json(path, {ex["id"]: predictions[ex["id"]] for ex in examples})

    def write_labels(self, path, examples):
        write_json(path, {"data": squad_dataset(examples), "version": "1.1"})


def task_allows_no_answer(task, settings) -> bool:
    return bool(getattr(task, "allows_no_answer", lambda s: False)(settings))
