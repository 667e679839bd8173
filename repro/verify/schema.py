"""The expected-figure tables and results tables, and their JSON schemas (2020-12).

The schemas ship in the package (repro/schemas/). Task names are not spelled out in them: the enum of
`$defs.task` is filled from the task registry when a schema is loaded, so a new target task is valid
in both files with no edit to either.
"""
from __future__ import annotations

import copy
import functools
import json
from pathlib import Path

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from repro.errors import VerifyInputError
from repro.tasks import tasks_with_role

REPO_EXPECTED = Path(__file__).resolve().parents[2] / "expected"
PACKAGE_SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
FIGURE_SCHEMA = "schema.json"
RESULTS_SCHEMA = "results.schema.json"
MAX_LISTED = 5  # schema errors listed per file


def schema_path(name: str) -> Path:
    path = PACKAGE_SCHEMAS / name
    if not path.is_file():
        raise VerifyInputError(f"schema {name} not found in {PACKAGE_SCHEMAS} (a damaged installation)")
    return path


@functools.cache
def _load_schema(name: str, tasks: tuple[str, ...]) -> dict:
    """Cached per registry content: a task registered later (a plug-in module) gets a fresh schema."""
    path = schema_path(name)
    schema = read_json(path, "schema")
    schema["$defs"]["task"]["enum"] = list(tasks)
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as e:
        raise VerifyInputError(f"{path}: not a valid JSON Schema at {json_path(e.absolute_path)}: {e.message}") from None
    return schema


def load_schema(name: str) -> dict:
    """The parsed schema with the registry's task names, checked to be a valid 2020-12 schema."""
    return copy.deepcopy(_load_schema(name, tuple(t.name for t in tasks_with_role("target"))))


def read_json(path: Path, what: str):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise VerifyInputError(f"{what} file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as e:
        raise VerifyInputError(f"{what} file {path} cannot be read: {e}") from None
    except json.JSONDecodeError as e:
        raise VerifyInputError(f"{what} file {path} is not valid JSON: {e}") from None


def json_path(parts) -> str:
    """('figures', 2, 'tolerance', 'abs') -> 'figures[2].tolerance.abs'; the root is '$'."""
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "$"


def validate(obj, schema: dict, path: Path, what: str) -> None:
    errors = sorted(Draft202012Validator(schema).iter_errors(obj), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        lines = [f"  at {json_path(e.absolute_path)}: {e.message}" for e in errors[:MAX_LISTED]]
        more = f"\n  ... and {len(errors) - MAX_LISTED} more" if len(errors) > MAX_LISTED else ""
        raise VerifyInputError(f"{what} file {path} does not match {schema_path_label(schema)}:\n"
                               + "\n".join(lines) + more)


def schema_path_label(schema: dict) -> str:
    return schema.get("$id", "its schema").rsplit("/", 1)[-1]


def resolve_expected(ref: str) -> Path:
    """A name in expected/ (without .json) or a path to a .json file."""
    p = Path(ref)
    if p.suffix == ".json" or len(p.parts) > 1:
        return p
    # The repository's expected/ (a checkout, an editable install), else ./expected (an installed
    # package run from a checkout or from the container's working directory).
    folders = [REPO_EXPECTED, Path.cwd() / "expected"]
    for folder in folders:
        if (folder / f"{ref}.json").is_file():
            return folder / f"{ref}.json"
    known = sorted({f.stem for d in folders for f in d.glob("*.json") if "schema" not in f.name})
    raise VerifyInputError(f"no expected table named {ref!r} in {' or '.join(map(str, folders))}; "
                           f"known: {', '.join(known) or 'none'} (or give a path to a .json file)")


def load_expected(path: Path) -> dict:
    table = read_json(path, "expected-figures")
    validate(table, load_schema(FIGURE_SCHEMA), path, "expected-figures")
    seen = {}
    for i, fig in enumerate(table["figures"]):
        if fig["id"] in seen:
            raise VerifyInputError(f"expected-figures file {path}: at figures[{i}].id: id {fig['id']!r} "
                                   f"already used by figures[{seen[fig['id']]}]")
        seen[fig["id"]] = i
    return table


def load_results(path: Path) -> dict:
    results = read_json(path, "results")
    validate(results, load_schema(RESULTS_SCHEMA), path, "results")
    return results
