"""base.toml and docs/configuration.md, generated from the declarations so that neither can drift:
`python -m repro.settings.render` rewrites both; tests/test_settings_docs.py checks they are current."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from repro.settings.declare import default_of, leaf_fields
from repro.settings.profile import SECTIONS

ROOT = Path(__file__).resolve().parents[2]
BASE_TOML = ROOT / "repro" / "profiles" / "base.toml"
DOCS_PAGE = ROOT / "docs" / "configuration.md"


def toml_value(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return repr(value)


def _doc(cls) -> str:
    return " ".join((cls.__doc__ or "").split())


def _tables(cls, path: str):
    """(table path, section class, per-task template or None) in the order base.toml lists them."""
    yield path, cls, None
    for f in dataclasses.fields(cls):
        if "section" in f.metadata:
            yield from _tables(f.metadata["section"], f"{path}.{f.name}")
        elif "per_task" in f.metadata:
            yield f"{path}.{f.name}", None, f


def base_toml() -> str:
    out = ["# GENERATED from the declarations in repro/settings by `python -m repro.settings.render`: do not edit.",
           "# Every configuration key with its default. Profiles (paper.toml, smoke.toml, ...) override these;",
           "# a key not declared is rejected. docs/configuration.md lists each key's allowed values."]
    for name, cls in SECTIONS.items():
        for path, table, free in _tables(cls, name):
            out.append("")
            if free is not None:
                out.append(f"[{path}]  # {free.metadata['meaning']}")
                continue
            out.append(f"[{path}]  # {_doc(table)}")
            for f in leaf_fields(table):
                note = f"; {f.metadata['note']}" if f.metadata["note"] else ""
                out.append(f"{f.name} = {toml_value(default_of(f))}  # {f.metadata['meaning']}{note}")
    return "\n".join(out) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def docs_page() -> str:
    out = ["# Configuration keys", "",
           "<!-- GENERATED from the declarations in repro/settings by `python -m repro.settings.render`: "
           "do not edit. -->", "",
           "Every key a profile (`repro/profiles/*.toml`) or `--set KEY=VALUE` may set, with its default, the "
           "values it allows and what it means. A value outside them stops the run before any stage, with one "
           "line naming the key (exit 2). Per-task tables (`[target.task.NAME]`) override, for one task, the "
           "keys their section names. Declared in `repro/settings/` (one frozen dataclass per section)."]
    for name, cls in SECTIONS.items():
        for path, table, free in _tables(cls, name):
            out += ["", f"## `[{path}{'.NAME' if free is not None else ''}]`", ""]
            if free is not None:
                template = free.metadata["per_task"]
                nested = {f.metadata.get("section"): f.name for f in dataclasses.fields(cls)}
                if template in nested:  # [target.task.NAME] takes [target.defaults]'s keys
                    out.append(f"{_cell(free.metadata['meaning'])}. `NAME` is a task; the keys are those of "
                               f"`[{name}.{nested[template]}]`.")
                    continue
                out.append(f"{_cell(free.metadata['meaning'])}. `NAME` is a task; the keys are:")
                table = template
            else:
                out.append(_doc(table))
            out += ["", "| key | default | allowed | meaning |", "|---|---|---|---|"]
            for f in leaf_fields(table):
                note = f" ({f.metadata['note']})" if f.metadata["note"] else ""
                out.append(f"| `{f.name}` | `{_cell(toml_value(default_of(f)))}` | {_cell(f.metadata['rule'].allowed)} "
                           f"| {_cell(f.metadata['meaning'])}{_cell(note)} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    BASE_TOML.write_text(base_toml(), encoding="utf-8")
    DOCS_PAGE.write_text(docs_page(), encoding="utf-8")
    print(f"wrote {BASE_TOML.relative_to(ROOT)} and {DOCS_PAGE.relative_to(ROOT)}")
