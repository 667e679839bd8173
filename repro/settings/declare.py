"""How a configuration key is declared: a field of a frozen dataclass (one class per TOML section)
carrying its rule (repro/settings/rules.py) and a one-line meaning as metadata, as transformers'
TrainingArguments carries `help`. Everything else (the defaults table that profiles override, the rule
of every dotted key, base.toml and docs/configuration.md) is derived from these declarations.

Frozen dataclasses rather than pydantic models: the loader checks types and rules itself, so every
error stays one line naming the key (pydantic's are multi-line), and values keep the type the profile
wrote (pydantic would turn `epochs = 3` into 3.0 and so change the stage keys hashed from it)."""
from __future__ import annotations

import dataclasses
from dataclasses import MISSING, dataclass, field

from repro.settings.rules import Rule


def key(default, rule: Rule, meaning: str, note: str = ""):
    """A configuration key: its default, the rule its values obey, and what it means (one line).
    note: a longer remark for base.toml and the docs page (e.g. where the value comes from)."""
    meta = {"rule": rule, "meaning": meaning, "note": note}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class Option:
    """A key a task module declares (Task.config_options): an [intermediate] option that shapes that
    task's data or features (squad_version, ...). It becomes a field of [intermediate] like any other."""
    default: object
    rule: Rule
    meaning: str
    note: str = ""


def section(cls):
    """A nested section ([executor.local] inside [executor])."""
    return field(default_factory=cls, metadata={"section": cls})


def per_task(template, meaning: str):
    """A free table of per-task overrides ([target.task.NAME]): each NAME takes template's keys."""
    return field(default_factory=dict, metadata={"per_task": template, "meaning": meaning})


@dataclass(frozen=True)
class Key:
    """One declared key, found by walking the declarations."""
    path: str           # dotted: intermediate.defaults.lr (per-task tables: data.task.*.dir)
    default: object
    rule: Rule
    meaning: str
    note: str


def default_of(f: dataclasses.Field):
    return f.default_factory() if f.default is MISSING else f.default


def leaf_fields(cls) -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(cls) if "rule" in f.metadata]


def walk(cls, prefix: str) -> list[Key]:
    """Every key of a section and of its nested sections and per-task templates, in declaration order."""
    out = []
    for f in dataclasses.fields(cls):
        path = f"{prefix}.{f.name}"
        if "rule" in f.metadata:
            out.append(Key(path, default_of(f), f.metadata["rule"], f.metadata["meaning"], f.metadata["note"]))
        elif "section" in f.metadata:
            out += walk(f.metadata["section"], path)
        elif "per_task" in f.metadata:
            out += walk(f.metadata["per_task"], f"{path}.*")
    return out


def defaults_table(cls) -> dict:
    """The section's defaults as the nested dict a TOML file would give (per-task tables empty)."""
    out = {}
    for f in dataclasses.fields(cls):
        if "rule" in f.metadata:
            out[f.name] = default_of(f)
        elif "section" in f.metadata:
            out[f.name] = defaults_table(f.metadata["section"])
        elif "per_task" in f.metadata:
            out[f.name] = {}
    return out


def build(cls, table: dict):
    """The section object of a checked table (nested sections built too; per-task tables kept as dicts)."""
    values = {}
    for f in dataclasses.fields(cls):
        if f.name not in table:
            continue
        values[f.name] = build(f.metadata["section"], table[f.name]) if "section" in f.metadata else table[f.name]
    return cls(**values)


def as_table(obj) -> dict:
    """A section object back as its TOML table (what stage keys hash: the same dict the loader gave)."""
    return dataclasses.asdict(obj)
