"""Multiple choice (CommonsenseQA, Cosmos QA, HellaSwag): one encoding per (context, choice) pair."""
from __future__ import annotations

import torch
from transformers import AutoModelForMultipleChoice

from repro.atomic import write_text
from repro.heads.base import Head


class MultipleChoiceHead(Head):
    model_class = AutoModelForMultipleChoice

    def num_labels(self, task):
        return None

    def featurize(self, task, examples, tokenizer, settings, train):
        feats = []
        for i, ex in enumerate(examples):
            first = [ex["context"]] * len(ex["choices"])
            enc = tokenizer(first, ex["choices"], truncation=True, max_length=settings["max_seq_length"])
            f = {"choices": enc["input_ids"], "example": i}
            if ex.get("label") is not None:
                f["labels"] = int(ex["label"])
            feats.append(f)
        return feats

    def collate(self, features, pad_id):
        longest = max(len(ids) for f in features for ids in f["choices"])
        ids = [[c + [pad_id] * (longest - len(c)) for c in f["choices"]] for f in features]
        mask = [[[1] * len(c) + [0] * (longest - len(c)) for c in f["choices"]] for f in features]
        batch = {"input_ids": torch.tensor(ids), "attention_mask": torch.tensor(mask)}
        if "labels" in features[0]:
            batch["labels"] = torch.tensor([f["labels"] for f in features])
        return batch

    def predict(self, task, model, examples, features, settings, pad_id, device, lang="en"):
        logits = self.outputs(model, features, pad_id, settings["eval_batch_size"], device)
        return {examples[f["example"]]["id"]: str(int(l.argmax())) for f, l in zip(features, logits)}

    def score(self, task, examples, predictions):
        """The task's metric (accuracy) on the examples' gold, as the files would be scored."""
        return task.file_metric([predictions[ex["id"]] for ex in examples], [str(ex["label"]) for ex in examples], "en")

    def write_predictions(self, path, examples, predictions):
        write_text(path, "".join(f"{predictions[ex['id']]}\n" for ex in examples))

    def write_labels(self, path, examples):
        write_text(path, "".join(f"{ex['label']}\n" for ex in examples))
