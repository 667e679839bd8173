"""Profiles: TOML files in repro/profiles/, each extending another; any value overridable.

`base.toml` declares every key with its default and type; a profile or override naming a key that base
does not have, or giving a value of another type, is an error naming the key and the file.
"""
from __future__ import annotations

import copy
import re
import tomllib
from pathlib import Path

from repro.errors import ConfigError

PROFILE_DIR = Path(__file__).parent / "profiles"
# Tables whose keys are free (per-task overrides): only their leaves are type-checked against defaults.
FREE_TABLES = {("intermediate", "task"), ("target", "task")}


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
            _check(root[prefix[0]]["defaults"], value, where, path, root)
            continue
        if key not in defaults:
            raise ConfigError(f"{where}: unknown config key {dotted!r}")
        default = defaults[key]
        if isinstance(default, dict):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: {dotted} must be a table")
            _check(default, value, where, path, root)
        elif not _same_type(default, value):
            raise ConfigError(f"{where}: {dotted} must be {type(default).__name__}, got {type(value).__name__} {value!r}")


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
    base = _read(PROFILE_DIR / "base.toml")
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


LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}$")


def _check_values(config: dict) -> None:
    """Checks a type check cannot make: names of tasks and languages (they become file names)."""
    from repro.tasks import REGISTRY, get_task

    get_task("xnli")  # fills the registry
    for phase in ("intermediate", "target"):
        for name in config[phase]["tasks"]:
            if name not in REGISTRY or REGISTRY[name].role != phase:
                known = sorted(t for t, task in REGISTRY.items() if task.role == phase)
                raise ConfigError(f"{phase}.tasks: unknown {phase} task {name!r}; known: {', '.join(known)}")
        for name in config[phase]["task"]:
            if name not in REGISTRY and name not in ("multitask", "mlm"):
                raise ConfigError(f"{phase}.task.{name}: no such task")
    for key, langs in (("synthetic.languages", config["synthetic"]["languages"]),
                       ("target.languages", config["target"]["languages"]),
                       ("realtext.tatoeba_languages", config["realtext"]["tatoeba_languages"]),
                       ("realtext.bucc_languages", config["realtext"]["bucc_languages"])):
        for lang in langs:
            if not isinstance(lang, str) or not LANGUAGE_CODE.match(lang):
                raise ConfigError(f"{key}: {lang!r} is not a 2-3 letter language code")
    if not config["run"]["seeds"] or not all(isinstance(s, int) and not isinstance(s, bool) for s in config["run"]["seeds"]):
        raise ConfigError("run.seeds: give at least one integer seed")
    if config["verify"]["expected"] == "":
        raise ConfigError("verify.expected: name an expected-figures file")


def task_settings(config: dict, phase: str, task: str) -> dict:
    """The phase's hyperparameters with the task's own overrides applied."""
    settings = {k: v for k, v in config[phase]["defaults"].items()}
    settings.update(config[phase].get("task", {}).get(task, {}))
    return settings
