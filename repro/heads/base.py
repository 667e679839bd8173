"""What a head declares: how examples of one shape become features, which transformers model head
trains on them, how its outputs become predictions, how predictions and gold are written in XTREME's
layout and read back, and the metric both the dev selection and the XTREME scorer use."""
from __future__ import annotations

import time
from pathlib import Path

import torch

from repro import progress
from repro.attention import attention_kernels
from repro.scoring.files import read_line_file
from repro.scoring.metrics import ScoringError, accuracy


class Head:
    model_class = None       # a transformers AutoModelFor... class; None: nothing to train (retrieval)
    ext = "tsv"              # XTREME prediction/label file extension
    model_inputs = ("input_ids", "attention_mask")

    @property
    def trainable(self) -> bool:
        return self.model_class is not None
    # The [phase.defaults] keys featurize/predict read: only these enter a stage key for this head, so a
    # span-QA stride never retrains a classifier.
    settings_read: tuple[str, ...] = ("max_seq_length", "eval_batch_size")

    def num_labels(self, task) -> int | None:
        return len(task.labels) if task.labels else None

    def featurize(self, task, examples: list[dict], tokenizer, settings: dict, train: bool) -> list[dict]:
        raise NotImplementedError

    def collate(self, features: list[dict], pad_id: int) -> dict:
        """Pads input_ids/attention_mask to the longest in the batch (dynamic padding)."""
        longest = max(len(f["input_ids"]) for f in features)
        batch = {
            "input_ids": torch.tensor([f["input_ids"] + [pad_id] * (longest - len(f["input_ids"])) for f in features]),
            "attention_mask": torch.tensor([[1] * len(f["input_ids"]) + [0] * (longest - len(f["input_ids"])) for f in features]),
        }
        return batch

    def outputs(self, model, features: list[dict], pad_id: int, batch_size: int, device) -> list:
        """Runs the model over features in order; returns one output (logits, on CPU) per feature."""
        results = []
        model.eval()
        tokens, start = 0, time.perf_counter()
        with torch.inference_mode(), attention_kernels(device), progress.bar(len(features), "predict", unit="ex") as bar:
            for i in range(0, len(features), batch_size):
                chunk = features[i:i + batch_size]
                batch = {k: v.to(device) for k, v in self.collate(chunk, pad_id).items() if k in self.model_inputs}
                results.extend(self.split_outputs(model(**batch), chunk))
                tokens += int(batch["attention_mask"].sum())  # real tokens, whatever the head's feature layout
                bar.update(len(chunk))
                bar.set_postfix_str(f"{tokens / max(time.perf_counter() - start, 1e-9):.0f} tok/s", refresh=False)
        return results

    def split_outputs(self, out, chunk) -> list:
        return list(out.logits.float().cpu())

    def predict(self, task, model, examples, features, settings, pad_id, device, lang="en") -> dict:
        """id -> prediction (label string, tag list, or answer text); lang: the examples' language (span QA
        writes Chinese answers as jiant does, docs/qa-decoding.md)."""
        raise NotImplementedError

    def score(self, task, examples: list[dict], predictions: dict) -> dict:
        """Dev scores of predictions against the examples' gold (checkpoint selection, intermediate dev)."""
        raise NotImplementedError

    # ---- XTREME layout: one file per language ----

    def write_predictions(self, path: Path, examples: list[dict], predictions: dict) -> None:
        raise NotImplementedError

    def write_labels(self, path: Path, examples: list[dict]) -> None:
        raise NotImplementedError

    read_prediction_file = staticmethod(read_line_file)
    read_label_file = staticmethod(read_line_file)

    def file_metric(self, predictions, gold, lang: str) -> dict[str, float]:
        """The metric of what read_*_file returned; a task may declare its own (Task.file_metric)."""
        return accuracy(predictions, gold)

    def score_files(self, task, prediction_file: str, label_file: str, lang: str) -> dict[str, float]:
        """One language of the XTREME scorer: read both files (predictions first, as evaluate.py does),
        check the item counts where evaluate.py asserts them, apply the task's metric."""
        predictions = self.read_prediction_file(prediction_file)
        gold = self.read_label_file(label_file)
        if task.count_checked and len(predictions) != len(gold):
            raise ScoringError(f"{task.name}: {len(predictions)} {self.count_unit} in the predictions but "
                               f"{len(gold)} in the labels ({label_file})", prediction_file)
        try:
            return task.file_metric(predictions, gold, lang)
        except ScoringError as exc:
            raise exc.in_file(prediction_file) from exc

    count_unit = "lines"

    def headline(self, metrics: dict) -> float:
        """XTREME's one number per task: F1 where the metric has one, else accuracy."""
        return metrics["f1"] if "f1" in metrics else metrics["accuracy"]
