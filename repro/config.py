"""Profiles: TOML files in repro/profiles/, each extending another; any value overridable.

Every key is declared once, with its default, type, rule and meaning, in repro/settings (base.toml and
docs/configuration.md are generated from the declarations). A profile or override naming a key that is
not declared, or giving a value of another type, is an error naming the key and the file. Every value
is then checked against its rule, and the keys that relate to each other together (repro/settings/check.py).
"""
from __future__ import annotations

import copy
import difflib
import tomllib
from pathlib import Path

from repro.errors import ConfigError
from repro.settings.check import check_cross, check_rules
from repro.settings.profile import defaults, per_task_templates, resolve
from repro.tasks import REGISTRY

PROFILE_DIR = Path(__file__).parent / "profiles"
# Tables whose keys are free (per-task overrides, [target.task.NAME]): each leaf is type-checked against
# the default of the same key in the table's template ([target.defaults]).
TEMPLATES = per_task_templates()
FREE_TABLES = set(TEMPLATES)


def profile_path(name_or_path: str) -> Path:
    p = Path(name_or_path)
    if p.suffix == ".toml" and p.exists():
        return p
    candidate = PROFILE_DIR / f"{name_or_path}.toml"
    if not candidate.exists():
        known = sorted(f.stem for f in PROFILE_DIR.glob("*.toml"))
        raise ConfigError(f"unknown profile {name_or_path!r}; known: {', '.join(known)} (or a path to a .toml file)")
    return candidate


def _read(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: {e}") from None


def _check(defaults: dict, values: dict, where: str, prefix: tuple = (), root: dict | None = None) -> None:
    root = defaults if root is None else root
    for key, value in values.items():
        path = (*prefix, key)
        dotted = ".".join(path)
        if prefix in FREE_TABLES:  # [phase.task.NAME]: same keys and types as [phase.defaults]
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: {dotted} must be a table of overrides")
            _check(TEMPLATES[prefix], value, where, path, root)
            continue
        if key not in defaults:
            raise ConfigError(f"{where}: unknown config key {dotted!r}{_did_you_mean(root, dotted)}")
        default = defaults[key]
        if isinstance(default, dict):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: {dotted} must be a table")
            _check(default, value, where, path, root)
        elif not _same_type(default, value):
            raise ConfigError(f"{where}: {dotted} must be {type(default).__name__}, got {type(value).__name__} {value!r}")


def _key_paths(table: dict, prefix: str = "") -> list[str]:
    out = []
    for key, value in table.items():
        path = f"{prefix}{key}"
        out.append(path)
        if isinstance(value, dict):
            out += _key_paths(value, path + ".")
    return out


def _did_you_mean(root: dict, dotted: str) -> str:
    """'; did you mean 'target.defaults.lr'?' for a misspelt key, or one given without its table."""
    paths = _key_paths(root)
    last = dotted.rsplit(".", 1)[-1]
    same_name = [p for p in paths if p.rsplit(".", 1)[-1] == last and p != dotted]
    close = (difflib.get_close_matches(dotted, paths, n=1, cutoff=0.85) or same_name
             or difflib.get_close_matches(dotted, paths, n=1, cutoff=0.7))
    return f"; did you mean {' or '.join(repr(c) for c in close[:3])}?" if close else ""


def _same_type(default, value) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    return isinstance(value, type(default))


def _merge(into: dict, values: dict) -> dict:
    for key, value in values.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)
    return into


def parse_override(text: str) -> tuple[list[str], object]:
    """`a.b.c=VALUE`; VALUE is read as TOML (numbers, booleans, ["lists"]) and otherwise as a string."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like key.path=value")
    key, raw = text.split("=", 1)
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key.strip().split("."), value


def load_config(profile: str = "smoke", overrides: list[str] = ()) -> dict:
    base = defaults()
    chain, path = [], profile_path(profile)
    while True:
        data = _read(path)
        chain.append((path, data))
        parent = data.pop("extends", None)
        if parent is None or parent == "base":
            break
        path = profile_path(parent)
    config = copy.deepcopy(base)
    for path, data in reversed(chain):
        _check(base, data, str(path))
        _merge(config, data)
    for text in overrides:
        keys, value = parse_override(text)
        nested = value
        for k in reversed(keys):
            nested = {k: nested}
        _check(base, nested, f"override {text!r}")
        _merge(config, nested)
    config["profile"] = chain[0][0].stem
    _check_values(config)
    return config


def _check_values(config: dict) -> None:
    """Ranges, choices and cross-field rules (repro/settings/check.py), after the type check above."""
    for phase in ("intermediate", "target"):
        for name in config[phase]["task"]:
            if name not in REGISTRY and name not in ("multitask", "mlm"):
                raise ConfigError(f"{phase}.task.{name}: no such task")
    for name in config["data"]["task"]:
        if name not in REGISTRY:
            raise ConfigError(f"data.task.{name}: no such task")
    check_rules(config, FREE_TABLES)
    check_cross(resolve(config))

