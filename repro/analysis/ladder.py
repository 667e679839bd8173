"""Reads the package's D0 ladder file (ladder.toml): task attributes, the distance d(s, t), the
self-transfer mask, documented training-set sizes and the C2 positive labels."""
from __future__ import annotations

import functools
import tomllib
from pathlib import Path

LADDER_FILE = Path(__file__).with_name("ladder.toml")
ATTRIBUTES = ("granularity", "format", "family")


@functools.lru_cache(maxsize=2)
def load(path: str = str(LADDER_FILE)) -> dict:
    with open(path, "rb") as f:
        return tomllib.load(f)


def task(name: str) -> dict:
    return load()["task"].get(name, {})


def distance(source: str, target: str) -> int | None:
    s, t = task(source), task(target)
    if not all(a in s and a in t for a in ATTRIBUTES):
        return None
    return sum(s[a] != t[a] for a in ATTRIBUTES)


def is_self_transfer(source: str, target: str) -> bool:
    return target in load().get("self_transfer", {}).get(source, [])


def train_size(name: str) -> int | None:
    return task(name).get("train_size")


def positive_label(name: str) -> str | None:
    return task(name).get("positive")
