"""The MLM pseudo-task of the intermediate phase (the paper's alternative of continuing multilingual
masked language modelling): a plain-text file named by `intermediate.mlm_text`, one example per line.
Its head is repro/heads/mlm.py."""
from __future__ import annotations

from pathlib import Path

from repro.errors import DataError
from repro.readers import decoded_lines
from repro.tasks.base import Task


class MLMText(Task):
    """The MLM pseudo-task. Not registered: it is not a dataset of the registry but a file named by
    intermediate.mlm_text, and it joins whichever intermediate stage runs."""
    name = "mlm"
    role, head, metric = "auxiliary", "mlm", "perplexity"
    splits = ("train", "dev")


def read_text(path) -> list[str]:
    """Non-blank lines of a UTF-8 plain-text file, stripped."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "file not found (intermediate.mlm_text: a plain-text file, one example per line)")
    lines = [text.strip() for _, text in decoded_lines(path)]  # bad UTF-8 is reported at its line
    lines = [line for line in lines if line]
    if not lines:
        raise DataError(path, "no text (every line is blank)")
    return lines


def split_heldout(lines: list[str]) -> tuple[list[str], list[str]]:
    """Train / held-out lines: the last 5% (at most 1,000) lines are held out for the perplexity that is
    recorded after training; a file of fewer than 20 lines is all training."""
    n_dev = min(1000, len(lines) // 20)
    return (lines[:-n_dev], lines[-n_dev:]) if n_dev else (lines, [])
