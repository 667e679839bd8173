"""The task registry. Importing this package imports every task module, whose `@register` fills
REGISTRY; everything else (scorer tables, aggregate order, schema enums, plan) is derived from it."""
from __future__ import annotations

import importlib
import pkgutil

from repro.tasks.base import REGISTRY, DataSource, Task

_HELPERS = ("base", "xtreme_formats", "mlm_text", "ud_conversion")  # modules of shared code, not tasks

for _module in pkgutil.iter_modules(__path__):
    if _module.name not in _HELPERS:
        importlib.import_module(f"{__name__}.{_module.name}")


def get_task(name: str) -> Task:
    if name not in REGISTRY:
        raise KeyError(f"unknown task {name!r}; known: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]


def tasks_with_role(role: str) -> list[Task]:
    """Registered tasks of one role ("intermediate" or "target"), targets in XTREME's table order."""
    return sorted((t for t in REGISTRY.values() if t.role == role), key=lambda t: (t.order, t.name))


__all__ = ["REGISTRY", "DataSource", "Task", "get_task", "tasks_with_role"]
