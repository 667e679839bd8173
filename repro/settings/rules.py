"""The kinds of rule a configuration key obeys (ranges, choices, lists, paths, devices), each able to
say what it allows in one line. A key's declaration (repro/settings/sections) names its rule.

Each rule knows a value it refuses (`bad`), so tests/test_config_rules.py tries one violation per key.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import torch

from repro.errors import ConfigError

LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}$")
# <s> A </s></s> B </s>: the special tokens XLM-R puts around a sentence pair.
PAIR_SPECIAL_TOKENS = 4


@dataclass(frozen=True)
class Rule:
    allowed: str            # what the error message says is allowed
    bad: object             # a value this rule refuses (the test tries it)

    def ok(self, value) -> bool:
        raise NotImplementedError

    def explain(self, value) -> str:
        """What is allowed, said about this value."""
        return self.allowed


@dataclass(frozen=True)
class Num(Rule):
    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False      # low itself is not allowed

    def ok(self, value) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return False
        return (value > self.low if self.low_open else value >= self.low) and value <= self.high


def count(low: int = 0) -> Num:
    """An integer count: ≥ low."""
    return Num(f"an integer ≥ {low}", low - 1, low)


def positive(what: str = "a number") -> Num:
    return Num(f"{what} > 0", -1, 0, low_open=True)


def fraction() -> Num:
    return Num("a number in [0, 1]", 2.0, 0, 1)


@dataclass(frozen=True)
class Choice(Rule):
    choices: tuple = ()

    def ok(self, value) -> bool:
        return value in self.choices


def choice(*choices) -> Choice:
    return Choice("one of " + ", ".join(map(str, choices)), "no-such-value", choices)


@dataclass(frozen=True)
class Text(Rule):
    nonempty: bool = True

    def ok(self, value) -> bool:
        return isinstance(value, str) and (bool(value.strip()) or not self.nonempty)


def text(nonempty: bool = True) -> Text:
    # A free string can only be violated by its type (or by being empty where a name is needed).
    return Text("a non-empty string" if nonempty else "a string", "" if nonempty else 7, nonempty)


@dataclass(frozen=True)
class PathTo(Rule):
    kind: str = "file"      # file | dir

    def ok(self, value) -> bool:
        if not isinstance(value, str):
            return False
        p = Path(value).expanduser()
        return value == "" or (p.is_file() if self.kind == "file" else p.is_dir())


def path_to(kind: str) -> PathTo:
    return PathTo(f'"" or an existing {kind}', "/nonexistent/repro-config-check", kind)


@dataclass(frozen=True)
class Items(Rule):
    item: Rule | None = None
    min_items: int = 0
    unique: bool = True

    def ok(self, value) -> bool:
        if not isinstance(value, list) or len(value) < self.min_items:
            return False
        if self.unique and len({repr(v) for v in value}) != len(value):
            return False
        return all(self.item.ok(v) for v in value)

    def explain(self, value) -> str:
        wrong = [v for v in value if not self.item.ok(v)] if isinstance(value, list) else []
        return f"{show(wrong[0])} is not {self.item.allowed}" if wrong else self.allowed


def items(item: Rule, what: str, min_items: int = 0, bad=None) -> Items:
    need = f"at least {min_items} " if min_items else ""
    return Items(f"a list of {need}{what}, no repeats", [item.bad] if bad is None else bad, item, min_items)


@dataclass(frozen=True)
class Device(Rule):
    def ok(self, value) -> bool:
        if value == "auto":
            return True
        try:
            torch.device(value)
        except (RuntimeError, TypeError, ValueError):
            return False
        return True


@dataclass(frozen=True)
class Flag(Rule):
    def ok(self, value) -> bool:
        return isinstance(value, bool)


@dataclass(frozen=True)
class Language(Rule):
    def ok(self, value) -> bool:
        return isinstance(value, str) and bool(LANGUAGE_CODE.match(value))


FLAG = Flag("true or false", "yes")
LANGUAGE = Language("a 2-3 letter language code", "../x")  # they become file names


def show(value) -> str:
    """A value as the user would write it in TOML (strings quoted, booleans lower case)."""
    return json.dumps(value, ensure_ascii=False)


def refuse(key: str, value, allowed: str) -> ConfigError:
    return ConfigError(f"{key} = {show(value)} is not allowed: {allowed}")
