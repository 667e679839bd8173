"""Readers of raw data files in their original formats, shared by the task modules.

Every error is a DataError naming the file and line, so a malformed download is reported where it is.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

from repro.errors import DataError

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


def read_headed_tsv(path: Path, header: list[str]) -> Iterator[tuple[int, list[str]]]:
    """Rows of a TSV file whose first line must be exactly `header` (GLUE's files); yields (line, fields)."""
    for lineno, row in read_tsv(path, (len(header),)):
        if lineno == 1:
            if row != header:
                raise DataError(path, f"expected the header {' '.join(header)!r}", lineno)
            continue
        yield lineno, row


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


# The package's split names -> the names the hub's datasets use; other names pass through unchanged.
HUB_SPLITS = {"train": "train", "dev": "validation", "test": "test"}


def hub_load(source, hub_id: str, config: str | None, split: str, revision: str | None = None,
             data_dir: str | None = None):
    """One split of a hub dataset (`split` in the package's names or the hub's), cached under the
    source's cache_dir, streamed when the source says so (check-data reads one row). Imported lazily:
    datasets is heavy and local runs never need it."""
    import datasets

    extra = {k: v for k, v in (("revision", revision), ("data_dir", data_dir)) if v}
    if source.streaming:
        extra["streaming"] = True
    return datasets.load_dataset(hub_id, config, split=HUB_SPLITS.get(split, split),
                                 cache_dir=source.cache_dir or None, **extra)


def require(record: dict, keys, path, line):
    for k in keys:
        if k not in record:
            raise DataError(path, f"missing field {k!r}", line)
