"""Task modules. Importing this package registers every task (see repro.tasks.base.REGISTRY)."""
import importlib
import pkgutil

for _m in pkgutil.iter_modules(__path__):
    if _m.name not in ("base", "xtreme_formats"):
        importlib.import_module(f"{__name__}.{_m.name}")

from repro.tasks.base import REGISTRY, DataSource, Task, get_task  # noqa: E402,F401
