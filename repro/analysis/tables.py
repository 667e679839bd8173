"""Reads the gain matrix out of a results table (expected/results.schema.json) and runs the analysis
that needs no checkpoints (`python -m repro analyze --results FILE --out DIR`): D0, B1 and B2, and,
when the tasks' data were read (`--profile P`), M1, M2, M3 (b) and C2 from the pretrained encoder."""
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
                    seed=0, data: dict | None = None, profile: str | None = None) -> Path:
    """data: {"lexical": lexical.json, "embeddings": embeddings.json} of the analyze stages run on the
    tasks' data as `profile` reads them; None: only D0, B1, B2."""
    split, gain, sources, targets, rel = gains_of(results, split)
    g = core.matrix(gain, sources, targets)
    g_masked = np.where(core.self_mask(sources, targets), np.nan, g)
    measures = {"D0": core.d0_table(sources, targets), "B1": core.b1_table(sources, targets),
                "B2": core.b2_table(g_masked, sources, targets)}
    seeds = len(results.get("seeds") or [1])
    notes = ["From a results table: B1 uses the datasets' published training-set sizes (repro/analysis/ladder.toml); "
             "M4 and M5 need the intermediate and target checkpoints (`analyze --run-dir`): skipped."]
    variants, origin = {}, {}
    if data:
        lex, emb = data["lexical"], data["embeddings"]
        for m, table in (("M1", lex["M1"]), ("M2", emb["M2"]), ("M3", emb["M3"])):
            measures[m] = core.subtable(table, sources, targets)
        variants = {"M1_weighted": core.subtable(lex["M1_weighted"], sources, targets),
                    "M2_mid": core.subtable(emb["M2_mid"], sources, targets),
                    "C2": lex["C2"]}
        if results.get("profile") != profile:  # not the run behind the table: the report marks these measures
            origin = {m: f"profile `{profile}`'s data and pretrained encoder" for m in ("M1", "M2", "M3")}
        notes.append(f"M1, M2, M3 (b) and C2 from the tasks' data as profile `{profile}` reads them "
                     f"({lex['sample_size']} English examples per task) and its pretrained encoder: these "
                     "describe that profile's data and model, which need not be the ones behind the table. C2 r: "
                     + (", ".join(f"{k} {v:+.2f}" for k, v in lex["C2"].items() if v is not None) or "no pair task")
                     + ".")
    else:
        notes.append("M1, M2, M3 and C2 skipped: no task data were read (pass `--profile P` to read them the way "
                     "profile P does, with its tokenizer and pretrained encoder).")
    a = core.analyse(gain, measures, sources, targets, split, permutations=permutations, bootstrap=bootstrap,
                     seed=seed, seeds=seeds, reliability=rel, notes=notes, origin=origin)
    if variants:
        a["variants"] = variants
    return report.write(a, out, results.get("provenance", {}).get("note", ""))
