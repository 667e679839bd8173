"""The whole profile as one typed object: a section object per TOML table, built once from the loaded
and checked profile (repro/config.py) by `resolve`. SECTIONS is the order of base.toml and the docs."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from repro.settings.analysis import Analysis, Retrieval, Verify
from repro.settings.data import Data, Realtext, Synthetic
from repro.settings.declare import Key, build, defaults_table, walk
from repro.settings.executor import Executor
from repro.settings.phases import Aggregate, Intermediate, Target
from repro.settings.run import Model, Run

SECTIONS = {"run": Run, "model": Model, "data": Data, "synthetic": Synthetic, "realtext": Realtext,
            "intermediate": Intermediate, "target": Target, "retrieval": Retrieval, "aggregate": Aggregate,
            "analysis": Analysis, "verify": Verify, "executor": Executor}


@dataclass(frozen=True)
class Profile:
    name: str            # the profile file's stem (smoke, paper, ...)
    run: Run
    model: Model
    data: Data
    synthetic: Synthetic
    realtext: Realtext
    intermediate: Intermediate
    target: Target
    retrieval: Retrieval
    aggregate: Aggregate
    analysis: Analysis
    verify: Verify
    executor: Executor


def resolve(config: dict) -> Profile:
    """The typed profile of a loaded one (values as the profile wrote them: no type is coerced)."""
    return Profile(config["profile"], **{name: build(cls, config[name]) for name, cls in SECTIONS.items()})


def all_keys() -> list[Key]:
    """Every declared key, section by section (per-task tables as data.task.*.KEY)."""
    return [k for name, cls in SECTIONS.items() for k in walk(cls, name)]


def defaults() -> dict:
    """Every key's default, nested as the TOML tables: what a profile overrides."""
    return {name: defaults_table(cls) for name, cls in SECTIONS.items()}


def per_task_templates() -> dict[tuple, dict]:
    """{("target", "task"): defaults of one [target.task.NAME] table, ...}: the free tables' templates."""
    out = {}
    for name, cls in SECTIONS.items():
        for f in dataclasses.fields(cls):
            if "per_task" in f.metadata:
                out[(name, f.name)] = defaults_table(f.metadata["per_task"])
    return out
