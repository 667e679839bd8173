"""Readers of XTREME's prediction and label files, with the behaviour of google-research/xtreme's
`evaluate.py` (third_party/evaluate.py @838c13b): text is read as UTF-8 with universal newlines, line by
line; every failure becomes a ScoringError naming the file."""
from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

from repro.scoring.metrics import ScoringError


@contextlib.contextmanager
def _reading(path: str) -> Iterator[None]:
    """Turn the ways reading ``path`` can fail into ScoringErrors that name it."""
    try:
        yield
    except FileNotFoundError as exc:
        raise ScoringError("file not found", path) from exc
    except UnicodeDecodeError as exc:
        raise ScoringError(f"not valid UTF-8 ({exc.reason} at byte {exc.start})", path) from exc
    except OSError as exc:
        raise ScoringError(f"cannot read file ({exc.strerror or exc})", path) from exc


def _stripped_lines(path: str) -> list[str]:
    with _reading(path), open(path, encoding="utf-8") as handle:
        return [line.strip() for line in handle]


def read_line_file(path: str) -> list[str]:
    """One item per line, stripped. Blank lines are kept as empty items, as in evaluate.py,
    so they count towards the item total."""
    return _stripped_lines(path)


def read_tag_file(path: str) -> list[list[str]]:
    """Tag sentences: non-blank stripped lines are tags; a blank line closes the
    current sentence, even an empty one; a final sentence without a trailing blank line is kept."""
    sentences: list[list[str]] = []
    current: list[str] = []
    for line in _stripped_lines(path):
        if line:
            current.append(line)
        else:
            sentences.append(current)
            current = []
    if current:
        sentences.append(current)
    return sentences


def _read_json(path: str) -> object:
    with _reading(path), open(path, encoding="utf-8") as handle:
        text = handle.read()
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScoringError(f"invalid JSON: {exc.msg} (column {exc.colno})", path, exc.lineno) from exc


def read_squad_json(path: str) -> list:
    """The article list of a SQuAD-style label file: accepts ``{"data": [...], ...}`` or a bare list
    (evaluate.py's ``read_squad``)."""
    data = _read_json(path)
    if isinstance(data, dict):
        if "data" not in data:
            raise ScoringError("SQuAD-style JSON object has no 'data' key", path)
        data = data["data"]
    if not isinstance(data, list):
        raise ScoringError(f"expected a list of articles, got {type(data).__name__}", path)
    return data


def read_prediction_json(path: str) -> dict[str, str]:
    """A QA prediction file: a JSON object question id -> answer string."""
    data = _read_json(path)
    if not isinstance(data, dict):
        raise ScoringError(f"expected a JSON object id -> answer, got {type(data).__name__}", path)
    for qid, answer in data.items():
        if not isinstance(answer, str):
            raise ScoringError(f"prediction for {qid!r} is not a string", path)
    return data
