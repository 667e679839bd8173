from __future__ import annotations

from pathlib import Path

import torch


class Head:
    kind = ""
    model_class = None       # a transformers AutoModelFor... class
    ext = "tsv"              # XTREME prediction/label file extension
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
        with torch.inference_mode():
            for i in range(0, len(features), batch_size):
                chunk = features[i:i + batch_size]
                batch = {k: v.to(device) for k, v in self.collate(chunk, pad_id).items() if k in self.model_inputs}
                results.extend(self.split_outputs(model(**batch), chunk))
        return results

    model_inputs = ("input_ids", "attention_mask")

    def split_outputs(self, out, chunk) -> list:
        return list(out.logits.float().cpu())

    def predict(self, task, model, examples, features, settings, pad_id, device) -> dict:
        """id -> prediction (label string, tag list, or answer text)."""
        raise NotImplementedError

    def score(self, task, examples: list[dict], predictions: dict) -> dict:
        raise NotImplementedError

    # XTREME layout writers (one file per language)
    def write_predictions(self, path: Path, examples: list[dict], predictions: dict) -> None:
        raise NotImplementedError

    def write_labels(self, path: Path, examples: list[dict]) -> None:
        raise NotImplementedError
