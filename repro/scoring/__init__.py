"""XTREME scoring: the official ``evaluate.py`` behaviour, re-implemented from ``shared/spec/xtreme.md``.

:mod:`repro.scoring.metrics` holds the pure metric functions, :mod:`repro.scoring.xtreme` the folder
scorer and its command line (``python -m repro.scoring.xtreme``).
"""
from __future__ import annotations

import importlib

from .metrics import (
    MLQA_LANGS,
    ScoringError,
    accuracy,
    bucc_f1,
    extract_chunks,
    mlqa_em_f1,
    normalize_mlqa_answer,
    normalize_squad_answer,
    squad_em_f1,
    tagging_f1,
)

# Names from repro.scoring.xtreme are loaded on first use rather than imported here, so that
# `python -m repro.scoring.xtreme` does not find its own module already imported (runpy warns then).
_XTREME_NAMES = frozenset({
    "GROUP2TASKS",
    "QA_TASKS",
    "TASK2EXT",
    "TASK2LANGS",
    "by_language",
    "read_line_file",
    "read_prediction_json",
    "read_squad_json",
    "read_tag_file",
    "score_folders",
    "score_task",
})


def __getattr__(name: str):
    if name in _XTREME_NAMES:
        return getattr(importlib.import_module(f"{__name__}.xtreme"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = sorted({
    "MLQA_LANGS",
    "ScoringError",
    "accuracy",
    "bucc_f1",
    "extract_chunks",
    "mlqa_em_f1",
    "normalize_mlqa_answer",
    "normalize_squad_answer",
    "squad_em_f1",
    "tagging_f1",
} | _XTREME_NAMES)
