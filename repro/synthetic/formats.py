"""What the smoke-world writers share: the writer registry, the world's spec, and the plain text
formats (TSV, CoNLL-style columns) the real datasets use."""
from __future__ import annotations

import random
import zlib
from pathlib import Path
from typing import Callable

WRITERS: dict[str, Callable] = {}


def writer(name):
    """Registers the decorated function as the smoke-world writer of task `name`."""
    def wrap(fn):
        WRITERS[name] = fn
        return fn
    return wrap


class WorldSpec:
    """Where and how big the smoke world is; every random stream is seeded from (seed, task, parts),
    so adding a task never changes another task's data."""

    def __init__(self, root: Path, seed: int, train_size: int, eval_size: int, languages: list[str]):
        self.root, self.seed, self.train_size, self.eval_size = Path(root), seed, train_size, eval_size
        self.languages = languages
        self.foreign = [lang for lang in languages if lang != "en"]

    def rng(self, name: str, *parts) -> random.Random:
        return random.Random(zlib.crc32(f"{self.seed}/{name}/{'/'.join(map(str, parts))}".encode()))

    def label_file(self, task: str, lang: str, ext: str = "tsv") -> Path:
        return self.root / "labels" / task / f"test-{lang}.{ext}"


def tsv(rows) -> str:
    return "".join("\t".join(r) + "\n" for r in rows)


def conll(sentences) -> str:
    """Sentences given as column tuples (tokens, tags) -> token TAB tag lines, a blank line between."""
    return "\n".join("".join("\t".join(cols) + "\n" for cols in zip(*s)) for s in sentences)
