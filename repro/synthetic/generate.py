"""Writes the smoke world's data in each task's real on-disk format, so the same loaders that read
real data read these files. Targets use XTREME's processed layout (download/<task>/...), with test
files stripped of labels as XTREME strips them and gold kept apart in labels/<task>/test-<lang>.<ext>
(the scorer's label layout); intermediate tasks use their datasets' original file formats.

Every writer is seeded from (seed, task name), so adding a task never changes another task's data.
"""
from __future__ import annotations

import random
import zlib
from pathlib import Path
from typing import Callable


WRITERS: dict[str, Callable] = {}


def writers() -> dict[str, Callable]:
    _register_writers()
    return WRITERS


def writer(name):
    def wrap(fn):
        WRITERS[name] = fn
        return fn
    return wrap


class Spec:
    def __init__(self, root: Path, seed: int, train_size: int, eval_size: int, languages: list[str]):
        self.root, self.seed, self.train_size, self.eval_size = Path(root), seed, train_size, eval_size
        self.languages = languages
        self.foreign = [lang for lang in languages if lang != "en"]

    def rng(self, name: str, *parts) -> random.Random:
        return random.Random(zlib.crc32(f"{self.seed}/{name}/{'/'.join(map(str, parts))}".encode()))

    def label_file(self, task: str, lang: str, ext: str = "tsv") -> Path:
        return self.root / "labels" / task / f"test-{lang}.{ext}"


def generate(root: Path, tasks: list[str], seed: int, train_size: int, eval_size: int, languages: list[str]) -> list[str]:
    _register_writers()
    spec = Spec(root, seed, train_size, eval_size, languages)
    done = []
    for name in tasks:
        if name in WRITERS and WRITERS[name] not in [WRITERS[d] for d in done]:
            WRITERS[name](spec)
            done.append(name)
    return done


def _tsv(rows) -> str:
    return "".join("\t".join(r) + "\n" for r in rows)


def _conll(sentences) -> str:
    return "\n".join("".join("\t".join(cols) + "\n" for cols in zip(*s)) for s in sentences)


def _register_writers() -> None:
    # The writer modules register themselves through @writer on import.
    from repro.synthetic import writers_intermediate, writers_target  # noqa: F401
