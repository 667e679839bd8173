"""Writes the smoke world's data in each task's real on-disk format, so the same loaders that read
real data read these files. Targets use XTREME's processed layout (download/<task>/...), with test
files stripped of labels as XTREME strips them and gold kept apart in labels/<task>/test-<lang>.<ext>
(the scorer's label layout); intermediate tasks use their datasets' original file formats.
"""
from __future__ import annotations

from pathlib import Path

# The writer modules register themselves in WRITERS through @writer when imported.
from repro.synthetic import writers_intermediate, writers_target  # noqa: F401
from repro.synthetic.formats import WRITERS, WorldSpec


def generate(root: Path, tasks: list[str], seed: int, train_size: int, eval_size: int, languages: list[str]) -> list[str]:
    """Writes every task of `tasks` that has a writer; a writer shared by several tasks runs once."""
    spec = WorldSpec(root, seed, train_size, eval_size, languages)
    done = []
    for name in tasks:
        if name in WRITERS and WRITERS[name] not in [WRITERS[d] for d in done]:
            WRITERS[name](spec)
            done.append(name)
    return done


def has_writer(task: str) -> bool:
    return task in WRITERS
