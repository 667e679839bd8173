"""Single-sentence and sentence-pair classification (XNLI, PAWS-X, MNLI, ANLI, QQP, SST-2)."""
from __future__ import annotations

import torch
from transformers import AutoModelForSequenceClassification

from repro.atomic import write_text
from repro.heads.base import Head


class ClassificationHead(Head):
    model_class = AutoModelForSequenceClassification

    def featurize(self, task, examples, tokenizer, settings, train):
        texts_b = [ex.get("text_b") for ex in examples]
        pair = any(t is not None for t in texts_b)
        enc = tokenizer([ex["text_a"] for ex in examples], texts_b if pair else None,
                        truncation=True, max_length=settings["max_seq_length"])
        feats = []
        for i, ex in enumerate(examples):
            f = {"input_ids": enc["input_ids"][i], "example": i}
            if ex.get("label") is not None:
                f["labels"] = task.labels.index(ex["label"])
            feats.append(f)
        return feats

    def collate(self, features, pad_id):
        batch = super().collate(features, pad_id)
        if "labels" in features[0]:
            batch["labels"] = torch.tensor([f["labels"] for f in features])
        return batch

    def predict(self, task, model, examples, features, settings, pad_id, device, lang="en"):
        logits = self.outputs(model, features, pad_id, settings["eval_batch_size"], device)
        return {examples[f["example"]]["id"]: task.labels[int(l.argmax())] for f, l in zip(features, logits)}

    def score(self, task, examples, predictions):
        """The task's metric on the examples' gold: the same code the XTREME scorer runs on the files."""
        return task.file_metric([predictions[ex["id"]] for ex in examples], [ex["label"] for ex in examples], "en")

    def write_predictions(self, path, examples, predictions):
        write_text(path, "".join(f"{predictions[ex['id']]}\n" for ex in examples))

    def write_labels(self, path, examples):
        write_text(path, "".join(f"{ex['label']}\n" for ex in examples))
