"""Token tagging (UD-POS, PAN-X, CCG): the label sits on each word's first sub-token.

Sentences longer than the model's length are cut into word-aligned chunks (as XTREME's
preprocess_udpos.sh / preprocess_panx.sh do) and the chunks' predictions are stitched back, so every
word of every sentence gets exactly one predicted tag.
"""
from __future__ import annotations

import torch
from transformers import AutoModelForTokenClassification

from repro.atomic import write_text
from repro.heads.base import Head
from repro.scoring.files import read_tag_file
from repro.scoring.metrics import tagging_f1


class TaggingHead(Head):
    model_class = AutoModelForTokenClassification

    def featurize(self, task, examples, tokenizer, settings, train):
        # A chunk holds max_seq_length - 2 pieces: <s> X </s>, as jiant budgets it. XTREME
        # (google-research/xtreme @838c13b utils_preprocess.py, udpos/panx_tokenize_preprocess) budgets 3
        # special tokens for XLM-R (<s> X </s></s>), one piece fewer. That moves cut points (always between
        # words, so never a tag's alignment) in few sentences: PAN-X dev, 8 languages, XLM-R's vocabulary,
        # 1.4 % at max_seq_length 128 and 0.5 % at 256, nearly all in ja and zh (at 256: 2.4 %, 1.1 %).
        budget = settings["max_seq_length"] - 2
        enc = tokenizer([ex["tokens"] for ex in examples], is_split_into_words=True, add_special_tokens=False)
        feats = []
        for i, ex in enumerate(examples):
            pieces: list[list[int]] = [[] for _ in ex["tokens"]]
            for tok_id, word in zip(enc["input_ids"][i], enc.word_ids(i)):
                if word is not None:
                    pieces[word].append(tok_id)
            chunk_words: list[int] = []
            length = 0
            for w, p in enumerate(pieces):
                p = p[:budget]  # a single over-long word keeps its first pieces
                if chunk_words and length + len(p) > budget:
                    feats.append(self._feature(task, ex, i, chunk_words, pieces, budget, tokenizer))
                    chunk_words, length = [], 0
                chunk_words.append(w)
                length += len(p)
            if chunk_words:
                feats.append(self._feature(task, ex, i, chunk_words, pieces, budget, tokenizer))
        return feats

    def _feature(self, task, ex, i, words, pieces, budget, tokenizer):
        ids, labels, first = [tokenizer.cls_token_id], [-100], []
        for w in words:
            p = pieces[w][:budget]
            if p:
                first.append((w, len(ids)))
                tag = ex.get("tags")[w] if ex.get("tags") else None
                labels += [task.labels.index(tag) if tag is not None else -100] + [-100] * (len(p) - 1)
                ids += p
        ids.append(tokenizer.sep_token_id)
        labels.append(-100)
        f = {"input_ids": ids, "example": i, "first": first}
        if ex.get("tags"):
            f["labels"] = labels
        return f

    def collate(self, features, pad_id):
        batch = super().collate(features, pad_id)
        if "labels" in features[0]:
            longest = batch["input_ids"].shape[1]
            batch["labels"] = torch.tensor([f["labels"] + [-100] * (longest - len(f["labels"])) for f in features])
        return batch

    def predict(self, task, model, examples, features, settings, pad_id, device, lang="en"):
        logits = self.outputs(model, features, pad_id, settings["eval_batch_size"], device)
        # Words without any sub-token (e.g. a lone zero-width character) get the task's default tag.
        default = task.default_tag or task.labels[0]
        preds = {ex["id"]: [default] * len(ex["tokens"]) for ex in examples}
        for f, l in zip(features, logits):
            tags = preds[examples[f["example"]]["id"]]
            for w, pos in f["first"]:
                tags[w] = task.labels[int(l[pos].argmax())]
        return preds

    def score(self, task, examples, predictions):
        """The task's metric on the examples' gold: the same code the XTREME scorer runs on the files."""
        return task.file_metric([predictions[ex["id"]] for ex in examples], [ex["tags"] for ex in examples], "en")

    def write_predictions(self, path, examples, predictions):
        write_text(path, "\n".join("".join(f"{t}\n" for t in predictions[ex["id"]]) for ex in examples))

    def write_labels(self, path, examples):
        write_text(path, "\n".join("".join(f"{t}\n" for t in ex["tags"]) for ex in examples))

    read_prediction_file = staticmethod(read_tag_file)
    read_label_file = staticmethod(read_tag_file)
    count_unit = "sentences"

    def file_metric(self, predictions, gold, lang):
        return tagging_f1(predictions, gold)
