"""Results tables typed in by hand for `analyze --results`: the gains (or the scores) and little else.

A table with `schema_version` is a run's results.json (repro/schemas/results.schema.json); any other is a
typed table (repro/schemas/typed-results.schema.json), which is turned into the part of a results.json that
the analysis reads: the gain of every source on every target, with its seeds. Nobody typing numbers from
a paper knows a run's provenance, so none is asked for.
"""
from __future__ import annotations

from pathlib import Path

from repro.errors import VerifyInputError
from repro.verify.schema import load_results, load_schema, read_json, validate

TYPED_SCHEMA = "typed-results.schema.json"
BASELINE = "baseline"


def load_analysis_table(path: Path) -> dict:
    """A run's results.json, or a typed table as the results.json the analysis reads."""
    table = read_json(path, "results")
    if isinstance(table, dict) and "schema_version" in table:
        return load_results(path)
    validate(table, load_schema(TYPED_SCHEMA), path, "typed results")
    return from_typed(table, path)


def _stats(cell) -> dict:
    """A cell as {mean, sd, n}. Without a typed sd, n is 1: a seed spread not given is never taken as zero
    (the reliability of a target needs cells of n >= 2)."""
    if isinstance(cell, dict):
        return {"mean": float(cell["mean"]), "sd": float(cell.get("sd", 0.0)), "n": int(cell.get("n", 1)) if "sd" in cell else 1}
    return {"mean": float(cell), "sd": 0.0, "n": 1}


def from_typed(table: dict, path: Path) -> dict:
    seeds = int(table.get("seeds", 1))
    if "gains" in table:
        gain = {s: {t: _stats(c) for t, c in row.items()} for s, row in table["gains"].items()}
    else:
        scores, base = table["scores"], table["scores"][BASELINE]
        gain = {}
        for source, row in scores.items():
            if source == BASELINE:
                continue
            missing = [t for t in row if t not in base]
            if missing:
                raise VerifyInputError(f"typed results file {path}: at scores.{source}.{missing[0]}: no baseline score "
                                       f"for {missing[0]!r} to take the gain against (scores.baseline.{missing[0]})")
            # The spread of a difference of two typed means is unknown: mean only (n = 1).
            gain[source] = {t: {"mean": _stats(c)["mean"] - _stats(base[t])["mean"], "sd": 0.0, "n": 1}
                            for t, c in row.items()}
        if not gain:
            raise VerifyInputError(f"typed results file {path}: at scores: only the baseline; a gain needs an "
                                   "intermediate task's scores too")
    targets = list(dict.fromkeys(t for row in gain.values() for t in row))
    split = table.get("split", "test")
    return {"schema_version": 1, "profile": "typed-in", "model": table.get("model", "typed in"),
            "seeds": list(range(1, seeds + 1)), "encoders": [BASELINE, *gain], "targets": targets,
            "headline_split": split, "splits": {split: {"cells": {}, "xtreme": {}, "gain": gain}},
            "provenance": {"note": f"typed in: {table.get('source') or path}"}}
