"""Cosmos QA (intermediate; Huang et al. 2019, EMNLP): 4-way multiple-choice reading comprehension; accuracy.

Local files: the release's cosmosqa/{train,valid}.csv (header id,context,question,answer0,...,answer3,label;
standard CSV quoting), or cosmosqa/{train,valid}.jsonl with the same fields; the .csv is used when both
exist. As in jiant's cosmosqa task, the context is `context + " " + question`. The files may also lie in
cosmosqa/data/, the release repository's own layout (wilburOne/cosmosqa).

In that layout without a training file (train.csv is over 4 MiB, so absent from size-capped mirrors), valid.csv is split
in two by context: a question whose context's SHA-1 is 0 modulo 5 is dev (about a fifth), the rest train.
Questions on one context never straddle the two parts.

Hub: allenai/cosmos_qa is a loading-script dataset, which datasets >= 4 refuses to run ("Dataset scripts
are no longer supported", huggingface/datasets issue #7693). Its rows are read from the hub's own Parquet
conversion instead (the dataset viewer's `refs/convert/parquet` branch, one folder per config: `default/`),
the same columns the script produced (id, context, question, answer0-3, label).

Dataset: Huang et al. 2019, Cosmos QA (EMNLP).
"""
import csv
import hashlib
from pathlib import Path

from repro.errors import DataError
from repro.readers import decoded_lines, hub_load, read_jsonl, require
from repro.tasks.base import Task, register

FIELDS = ("id", "context", "question", "answer0", "answer1", "answer2", "answer3", "label")


def _example(r: dict, where, line=None) -> dict:
    label = str(r["label"]).strip()
    if label not in ("0", "1", "2", "3"):
        raise DataError(where, f"unknown label {r['label']!r} (expected 0-3)", line)
    return {"id": str(r["id"]), "context": f"{r['context']} {r['question']}",
            "choices": [r[f"answer{k}"] for k in range(4)], "label": int(label)}


def read_csv(path: Path):
    """Yields (line, record); a record's line is the line its row ends on (quoted fields may span lines)."""
    reader = csv.reader(line for _, line in decoded_lines(path))  # bad UTF-8 is reported at its line
    try:
        header = next(reader, None)
        missing = [k for k in FIELDS if k not in (header or [])]
        if missing:
            raise DataError(path, f"header lacks column(s) {', '.join(missing)}", 1)
        for row in reader:
            if not row:
                continue
            if len(row) != len(header):
                raise DataError(path, f"expected {len(header)} comma-separated columns, got {len(row)}", reader.line_num)
            yield reader.line_num, dict(zip(header, row))
    except csv.Error as e:
        raise DataError(path, f"malformed CSV: {e}", reader.line_num) from None


def dev_part(context: str) -> bool:
    """Whether a question of this context is in the dev part when valid.csv is split (module docstring)."""
    return int(hashlib.sha1(context.encode("utf-8")).hexdigest(), 16) % 5 == 0


@register
class CosmosQA(Task):
    name = folder = "cosmosqa"
    role, head, metric = "intermediate", "multiple_choice", "accuracy"
    splits = ("train", "dev")
    hub_id = "allenai/cosmos_qa"
    hub_revision, hub_data_dir = "refs/convert/parquet", "default"

    def read_local(self, source, split, lang):
        folder = self.local_dir(source.root)
        if not any((folder / f"valid{ext}").is_file() for ext in (".csv", ".jsonl")) and (folder / "data").is_dir():
            folder = folder / "data"
        # The dev set is split only in the release repository's own layout (data/valid.csv) without train.csv.
        has_train = folder.name != "data" or any((folder / f"train{ext}").is_file() for ext in (".csv", ".jsonl"))
        for ex, context in self._rows(folder, "train" if split == "train" and has_train else "valid"):
            if has_train or dev_part(context) == (split != "train"):
                yield ex

    def _rows(self, folder, stem_name):
        stem = folder / stem_name
        csv_path, jsonl_path = stem.with_suffix(".csv"), stem.with_suffix(".jsonl")
        if csv_path.is_file():
            path, rows = csv_path, read_csv(csv_path)
        elif jsonl_path.is_file():
            path, rows = jsonl_path, read_jsonl(jsonl_path)
        else:
            raise DataError(csv_path, f"file not found (nor {jsonl_path.name})")
        for line, r in rows:
            require(r, FIELDS, path, line)
            yield _example(r, path, line), r["context"]

    def read_hub(self, source, split, lang):
        for r in hub_load(source, self.hub_id, None, split, revision=self.hub_revision, data_dir=self.hub_data_dir):
            yield _example(r, self.hub_id)
