"""Reads the gain matrix out of a results table (expected/results.schema.json) and runs the analysis
that needs no checkpoints: D0, B1 and B2 (`python -m repro analyze --results FILE --out DIR`)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from repro.analysis import core, ladder, report
from repro.errors import ReproError


def gains_of(results: dict, split: str | None = None) -> tuple[str, dict, list[str], list[str], dict]:
    """(split, gain {source: {target: mean}}, sources, targets, reliability {target: float}).
    Sources are the single intermediate tasks the ladder knows (the multi-task encoder is no source)."""
    split = split or results["headline_split"]
    table = results["splits"].get(split)
    if table is None or not table["gain"]:
        raise ReproError(f"results: no gains on split {split!r} (splits present: {', '.join(results['splits']) or 'none'})")
    sources = sorted(e for e in table["gain"] if ladder.task(e) and ladder.train_size(e))
    if not sources:
        raise ReproError(f"results: splits.{split}.gain names no intermediate task of the ladder "
                         f"({', '.join(table['gain'])}); sources must be task names such as mnli, squad")
    targets = [t for t in results["targets"] if any(t in table["gain"][s] for s in sources)] or \
        sorted({t for s in sources for t in table["gain"][s]})
    gain = {s: {t: table["gain"][s][t]["mean"] for t in table["gain"][s]} for s in sources}
    return split, gain, sources, targets, reliability(table["gain"], sources, targets)


def reliability(gain: dict, sources, targets) -> dict:
    """var_s(mean gain) / (var_s(mean gain) + mean_s var_seed / n_seeds) per target, with >= 2 seeds."""
    out = {}
    for t in targets:
        cells = [gain[s][t] for s in sources if t in gain[s] and gain[s][t]["n"] >= 2]
        if len(cells) < 3:
            continue
        between = float(np.var([c["mean"] for c in cells], ddof=1))
        noise = float(np.mean([c["sd"] ** 2 / c["n"] for c in cells]))
        out[t] = between / (between + noise) if between + noise > 0 else 0.0
    return out


def analyse_results(results: dict, out: Path, split: str | None = None, *, permutations=10_000, bootstrap=2000,
                    seed=0) -> Path:
    split, gain, sources, targets, rel = gains_of(results, split)
    g = core.matrix(gain, sources, targets)
    g_masked = np.where(core.self_mask(sources, targets), np.nan, g)
    measures = {"D0": core.d0_table(sources, targets), "B1": core.b1_table(sources, targets),
                "B2": core.b2_table(g_masked, sources, targets)}
    seeds = len(results.get("seeds") or [1])
    notes = ["From a results table alone: only D0, B1 (the datasets' published training-set sizes, "
             "repro/analysis/ladder.toml) and B2 are available; M1-M5 need data or checkpoints "
             "(`analyze --run-dir`)."]
    a = core.analyse(gain, measures, sources, targets, split, permutations=permutations, bootstrap=bootstrap,
                     seed=seed, seeds=seeds, reliability=rel, notes=notes)
    return report.write(a, out, results.get("provenance", {}).get("note", ""))
