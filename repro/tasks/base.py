"""What a task module declares, and the registry the phases look tasks up in.

A task is one small module: where its data comes from (hub id/config, or local files in the
dataset's original format), which head it uses, and its metric. Examples are plain dicts whose keys
depend on the head (see repro/heads/); hub and local readers both yield the same example dicts.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from repro.errors import DataError

REGISTRY: dict[str, "Task"] = {}


@dataclass
class DataSource:
    kind: str                  # "hub" | "local" | "synthetic" (synthetic = local files the smoke world wrote)
    root: Path | None = None   # local root: each task reads root/<task folder>/...
    cache_dir: str | None = None
    options: dict | None = None  # task options from the config (e.g. squad_version)

    @property
    def local(self) -> bool:
        return self.kind in ("local", "synthetic", "realtext")


class Task:
    name: str = ""
    role: str = ""             # "intermediate" | "target"
    head: str = ""             # classification | tagging | multiple_choice | span_qa | retrieval | mlm
    labels: list[str] | None = None
    metric: str = ""           # headline dev metric key
    languages: tuple[str, ...] = ("en",)
    train_language = "en"
    splits: tuple[str, ...] = ("train", "dev", "test")
    hub_id: str = ""
    folder: str = ""           # local folder name under the data root
    citation: str = ""

    def source_key(self, source: DataSource) -> dict:
        """What identifies this task's input data (goes into the prepare stage's key)."""
        if source.local:
            root = Path(source.root) / (self.folder or self.name)
            if not root.exists():
                raise DataError(root, f"data for task {self.name!r} not found (see README, 'Data layout')")
            from repro.atomic import sha256_file
            return {"files": {str(p.relative_to(root)): sha256_file(p) for p in sorted(root.rglob("*")) if p.is_file()}}
        return {"hub_id": self.hub_id}

    def split_languages(self, split: str, languages) -> list[str]:
        """Languages that have this split (training is English only; some languages are test-only)."""
        if split == "train":
            return [self.train_language]
        return [lang for lang in languages if self.has_split(split, lang)]

    def has_split(self, split: str, lang: str) -> bool:
        return split in self.splits

    # The dev and test splits are the same questions (XQuAD, TyDiQA-GoldP, Tatoeba: jiant scores them as
    # "val"); gold for dev then also comes from the test-label folder when the files are stripped.
    dev_is_test = False

    def read_selection(self, source: DataSource, lang: str) -> list[dict] | None:
        """English data for checkpoint selection during target training (XTREME/jiant: the English
        dev set of the training data); None = no selection, keep the final weights."""
        return self.read(source, "dev", lang)

    def read(self, source: DataSource, split: str, lang: str) -> list[dict]:
        reader = self.read_local if source.local else self.read_hub
        examples = list(reader(source, split, lang))
        for i, ex in enumerate(examples):
            ex.setdefault("id", f"{self.name}-{split}-{lang}-{i}")
        return examples

    def read_local(self, source: DataSource, split: str, lang: str) -> Iterator[dict]:
        raise NotImplementedError

    def read_hub(self, source: DataSource, split: str, lang: str) -> Iterator[dict]:
        raise NotImplementedError

    def write_gold(self, path, examples: list[dict]) -> bool:
        """Writes gold in XTREME's label layout if the examples carry it (test files often do not)."""
        from repro.heads import get_head

        if not examples or not has_gold(examples[0]):
            return False
        get_head(self.head).write_labels(path, examples)
        return True

    def label_index(self, label, path, line) -> int:
        label = str(label).strip()
        if label not in self.labels:
            raise DataError(path, f"unknown label {label!r} for task {self.name} (expected one of {self.labels})", line)
        return self.labels.index(label)


def has_gold(example: dict) -> bool:
    return bool(example.get("label") is not None or example.get("tags") or example.get("answers"))


def register(cls):
    task = cls()
    REGISTRY[task.name] = task
    return cls


def get_task(name: str) -> Task:
    import repro.tasks  # noqa: F401  (imports every task module, filling REGISTRY)

    if name not in REGISTRY:
        raise KeyError(f"unknown task {name!r}; known: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]


# ---- readers shared by task modules: each error names file and line ----

def decoded_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of a UTF-8 file, decoded line by line so a bad byte is reported at its line."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "file not found")
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            try:
                yield lineno, raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise DataError(path, f"not valid UTF-8 ({e.reason} at byte {e.start} of the line)", lineno) from None


def read_tsv(path: Path, ncols: tuple[int, ...], skip_header=False) -> Iterator[tuple[int, list[str]]]:
    """Tab-separated rows with quoting off (as XTREME's processors read them). Yields (line, fields)."""
    rows = 0
    for lineno, line in decoded_lines(path):
        if skip_header and lineno == 1:
            continue
        line = line.rstrip("\r\n")
        if not line:
            continue
        row = line.split("\t")
        if len(row) not in ncols:
            raise DataError(path, f"expected {' or '.join(map(str, ncols))} tab-separated columns, got {len(row)}", lineno)
        rows += 1
        yield lineno, row
    if not rows:
        raise DataError(path, "no rows: the file is empty")


def read_jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    records = 0
    for lineno, line in decoded_lines(path):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(path, f"invalid JSON: {e.msg}", lineno) from None
        if not isinstance(record, dict):
            raise DataError(path, "expected a JSON object per line", lineno)
        records += 1
        yield lineno, record
    if not records:
        raise DataError(path, "no records: the file is empty")


def read_json(path: Path):
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "file not found")
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise DataError(path, f"invalid JSON: {e.msg} (column {e.colno})", e.lineno) from None
    except UnicodeDecodeError as e:
        raise DataError(path, f"not valid UTF-8 ({e.reason} at byte {e.start})") from None


def read_conll(path: Path, ncols: tuple[int, ...] = (1, 2)) -> Iterator[tuple[int, list[list[str]]]]:
    """Blank-line separated sentences of `token[TAB tag]` lines. Yields (first line, rows)."""
    rows, start, sentences = [], None, 0
    for lineno, line in decoded_lines(path):
        line = line.rstrip("\r\n")
        if not line.strip():
            if rows:
                sentences += 1
                yield start, rows
            rows, start = [], None
            continue
        fields = line.split("\t")
        if len(fields) not in ncols:
            raise DataError(path, f"expected {' or '.join(map(str, ncols))} tab-separated columns, got {len(fields)}", lineno)
        rows.append(fields)
        start = start or lineno
    if rows:
        sentences += 1
        yield start, rows
    if not sentences:
        raise DataError(path, "no sentences: the file is empty")


def hub_load(source: DataSource, hub_id: str, config: str | None, split: str):
    import datasets

    return datasets.load_dataset(hub_id, config, split=split, cache_dir=source.cache_dir or None)


def require(record: dict, keys, path, line):
    for k in keys:
        if k not in record:
            raise DataError(path, f"missing field {k!r}", line)
