"""The analysis plan on a gain matrix and similarity matrices: per-target
predictive validity, double-centred (task-specific) correlation, the PAWS-X interaction model,
uncertainty (bootstrap over sources, jackknife over sources), Benjamini-Hochberg and the verdicts.

Inputs are plain dicts {source: {target: float | None}}; the output is the analysis.json structure."""
from __future__ import annotations

import math
import re
import warnings
from collections import Counter

import numpy as np

from repro.analysis import ladder, stats

MEASURE_IDS = ["M1", "M2", "M3", "M4", "M5", "D0", "B1", "B2"]
LABEL_AWARE = ("M3", "M4")
SURFACE = ("D0", "M1", "M2")
BASELINES = ("B1", "B2")
PRIMARY = ("M4", "D0")   # the pre-registered primary test: gamma for M4 and D0 on PAWS-X
FOCUS = "pawsx"


def matrix(table: dict, sources: list[str], targets: list[str]) -> np.ndarray:
    out = np.full((len(sources), len(targets)), np.nan)
    for i, s in enumerate(sources):
        for j, t in enumerate(targets):
            v = (table.get(s) or {}).get(t)
            if v is not None and math.isfinite(v):
                out[i, j] = v
    return out


def to_table(m: np.ndarray, sources, targets) -> dict:
    return {s: {t: (None if not np.isfinite(m[i, j]) else float(m[i, j])) for j, t in enumerate(targets)}
            for i, s in enumerate(sources)}


def subtable(table: dict, sources, targets) -> dict:
    """The table's (source, target) cells as floats, None where absent or not finite."""
    return to_table(matrix(table, sources, targets), sources, targets)


def self_mask(sources, targets) -> np.ndarray:
    return np.array([[ladder.is_self_transfer(s, t) for t in targets] for s in sources], dtype=bool)


def d0_table(sources, targets) -> dict:
    return {s: {t: (None if ladder.distance(s, t) is None else -float(ladder.distance(s, t))) for t in targets}
            for s in sources}


def b1_table(sources, targets, sizes: dict | None = None) -> dict:
    sizes = sizes or {}
    out = {}
    for s in sources:
        n = sizes.get(s) or ladder.train_size(s)
        out[s] = {t: (math.log(n) if n else None) for t in targets}
    return out


def b2_table(gain: np.ndarray, sources, targets) -> dict:
    """Leave-one-target-out source quality: mean gain of s over the other targets."""
    out = {}
    for i, s in enumerate(sources):
        row = {}
        for j, t in enumerate(targets):
            others = np.delete(gain[i], j)
            others = others[np.isfinite(others)]
            row[t] = float(others.mean()) if len(others) else None
        out[s] = row
    return out


def _f(x) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def rank_undefined(g, sim) -> str | None:
    """Why a rank correlation of these paired cells is not defined, or None when it is."""
    x, y = stats._pairs(g, sim)
    if len(x) < 3:
        return f"n = {len(x)} < 3 sources"
    if np.ptp(x) == 0:
        return "the gains are equal for every source"
    if np.ptp(y) == 0:
        return "the measure is equal for every source"
    return None


def per_target(g: np.ndarray, sim: np.ndarray, targets) -> dict:
    out = {}
    for j, t in enumerate(targets):
        ok = np.isfinite(g[:, j]) & np.isfinite(sim[:, j])
        n = int(ok.sum())
        rho, p = stats.spearman(g[ok, j], sim[ok, j])
        tau, pt = stats.kendall(g[ok, j], sim[ok, j])
        jack = (stats.jackknife(lambda keep: stats.spearman(g[ok, j][keep], sim[ok, j][keep])[0], n)
                if n >= 4 else np.array([np.nan]))
        # Ranking quality needs a choice between at least two sources: with one, Regret@1 is 0 by definition.
        rank_ok = n >= 2
        out[t] = {"spearman": _f(rho), "spearman_p": _f(p), "kendall": _f(tau), "kendall_p": _f(pt),
                  "ndcg3": _f(stats.ndcg_at_k(g[ok, j], sim[ok, j], 3)) if rank_ok else None,
                  "regret1": _f(stats.regret_at_k(g[ok, j], sim[ok, j], 1)) if rank_ok else None,
                  "regret3": _f(stats.regret_at_k(g[ok, j], sim[ok, j], 3)) if n > 3 else None,
                  "n": n, "why": rank_undefined(g[ok, j], sim[ok, j]),
                  "jackknife_spearman": [_f(np.nanmin(jack)) if np.isfinite(jack).any() else None,
                                         _f(np.nanmax(jack)) if np.isfinite(jack).any() else None]}
    return out


def _snap(m: np.ndarray, scale: float) -> np.ndarray:
    """Rounding residue of double-centring (8.9e-16 where the algebra gives 0) set to 0, so that a
    matrix that is constant in exact arithmetic is constant here too."""
    return np.where(np.abs(m) <= 1e-9 * max(scale, 1e-300), 0.0, m)


def pooled_interaction(g: np.ndarray, sim: np.ndarray) -> tuple[float, str | None]:
    """(Spearman over all cells of the double-centred gain and double-centred similarity, why it is
    undefined or None). Double-centring needs at least 3 sources and 2 targets with cells: one source or
    one target centres to 0 exactly, and two sources to mirror images."""
    ok = np.isfinite(g) & np.isfinite(sim)
    rows, cols = int(ok.any(axis=1).sum()), int(ok.any(axis=0).sum())
    if rows < 3 or cols < 2:
        return math.nan, (f"{rows} source(s) × {cols} target(s) with cells; double-centring needs at least 3 "
                          "sources and 2 targets")
    gi = _snap(stats.double_centre(np.where(ok, g, np.nan)), np.nanmax(np.abs(g[ok])))
    si = _snap(stats.double_centre(np.where(ok, sim, np.nan)), np.nanmax(np.abs(sim[ok])))
    if np.ptp(gi[ok]) == 0:
        return math.nan, "the gains have no task-specific part (double-centred gains are all 0)"
    if np.ptp(si[ok]) == 0:
        return math.nan, ("the measure has no task-specific part: each source's value is the same for every "
                          "target, and double-centring removes it")
    return (stats.spearman(gi[ok], si[ok])[0] if ok.sum() <= 10 else _rho(gi[ok], si[ok])), None


def pooled_interaction_rho(g: np.ndarray, sim: np.ndarray) -> float:
    return pooled_interaction(g, sim)[0]


def _rho(x, y) -> float:
    from scipy.stats import spearmanr
    return float(spearmanr(x, y).statistic)


MIN_DISTINCT = 3       # a resample with fewer distinct sources pins the statistic to a bound
MAX_DEGENERATE = 0.05  # beyond this share of such resamples the bootstrap CI is not reported


def source_bootstrap(fn, n_sources: int, b: int, seed: int) -> np.ndarray:
    """fn(row indices) over b resamples of the sources with replacement (a coarse uncertainty with few
    sources; the jackknife range is reported beside it)."""
    rng = np.random.default_rng(seed)
    return np.array([fn(rng.integers(0, n_sources, n_sources)) for _ in range(b)])


def distinct_rows(idx, finite: np.ndarray) -> int:
    """Distinct sources among the resampled rows idx whose cell is finite (finite: one column's mask)."""
    return len({int(i) for i in idx if finite[i]})


def bootstrap_ci(draws: np.ndarray, n_sources: int) -> dict:
    """The percentile CI of the defined draws, or why none is reported. A draw is undefined (NaN) when it
    had fewer than MIN_DISTINCT distinct sources where the statistic needs them: there a correlation is
    ±1 and γ (a difference of two within-target correlations) ±2 by construction, so keeping such draws
    pins the interval to those bounds."""
    draws = np.asarray(draws, dtype=float)
    bad = int((~np.isfinite(draws)).sum())
    out = {"ci": [None, None], "draws": len(draws), "undefined_draws": bad, "why": None}
    if len(draws) == 0 or bad == len(draws):
        out["why"] = "not computed: the statistic itself is undefined"
    elif bad > MAX_DEGENERATE * len(draws):
        out["why"] = (f"not reported: {bad} of {len(draws)} source resamples had fewer than {MIN_DISTINCT} distinct "
                      f"sources (or a constant side), where the statistic sits at a bound by construction; "
                      f"{n_sources} sources are too few for a source bootstrap")
    else:
        lo, hi = stats.percentile_ci(draws)
        out["ci"] = [_f(lo), _f(hi)]
    return out


def exact_threshold(n: int, alpha: float = 0.05) -> float | None:
    """Smallest |rho| that reaches two-sided exact p <= alpha with n sources."""
    if n < 3 or n > stats.EXACT_MAX_N:
        return None
    x = np.arange(n, dtype=float)
    perms = stats.all_permutations(n).astype(float)
    xc = x - x.mean()
    rhos = np.unique(np.round(np.abs((perms - x.mean()) @ xc / (xc @ xc)), 10))
    null = np.abs((perms - x.mean()) @ xc / (xc @ xc))
    for r in rhos:
        if np.mean(null >= r - 1e-12) <= alpha:
            return float(r)
    return None


BASELINE_WHY = {
    "B1": "B1 is the same for every target of a source, so double-centring removes it (nothing task-specific "
          "to correlate); it is compared on ranking quality (NDCG@3, Regret@1 on the raw gains) only",
    "B2": "B2 is built from the same gains: double-centred, B2 = −g/(T−1) exactly, so its double-centred ρ is −1 "
          "by algebra and γ is biased the same way; it is compared on ranking quality (NDCG@3, Regret@1 on the "
          "raw gains) only, where it is a leave-one-target-out prediction",
}


def analyse(*args, **kwargs) -> dict:
    """_analyse, with the numerical warnings it raises (scipy's ConstantInputWarning once per resample of a
    constant column: hundreds) counted into one note each instead of flooding the terminal."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = _analyse(*args, **kwargs)
    counts = Counter((w.category.__name__, str(w.message).splitlines()[0]) for w in caught)
    result["notes"] += [f"{category} {n} time{'s' if n > 1 else ''} during the analysis: {message}"
                        for (category, message), n in counts.items()]
    return result


def _analyse(gain: dict, measures: dict, sources: list[str], targets: list[str], split: str, *,
             permutations: int = 10_000, bootstrap: int = 2000, seed: int = 0, seeds: int = 1,
             reliability: dict | None = None, notes: list[str] | None = None, gain_ci: dict | None = None,
             origin: dict | None = None) -> dict:
    """gain_ci: {source: {target: [lo, hi] | None}}, the gains' 95% CIs from the paired bootstrap over
    evaluation examples (repro.analysis.examples); absent without per-example predictions.
    origin: {measure: what it was computed on} for measures computed on other data than the gains
    (e.g. a profile's synthetic world beside a typed table); every place that shows them marks them."""
    g_raw = matrix(gain, sources, targets)
    mask = self_mask(sources, targets)
    g = np.where(mask, np.nan, g_raw)  # primary analysis: self-transfer cells masked
    sims = {m: matrix(measures.get(m) or {}, sources, targets) for m in MEASURE_IDS}
    available = [m for m in MEASURE_IDS if np.isfinite(sims[m]).any()]
    result = {"split": split, "targets": targets, "sources": sources, "gain": to_table(g_raw, sources, targets),
              "gain_ci": {s: {t: ((gain_ci or {}).get(s) or {}).get(t) for t in targets} for s in sources},
              "masked": [[s, t] for i, s in enumerate(sources) for j, t in enumerate(targets) if mask[i, j]],
              "measures": {m: to_table(sims[m], sources, targets) for m in MEASURE_IDS},
              "measures_available": available,
              "measure_origin": {m: o for m, o in (origin or {}).items() if m in available},
              "per_target": {}, "pawsx_interaction": {}, "pooled": {},
              "verdicts": [], "notes": list(notes or [])}
    pvals, where = [], []
    for m in available:
        pt = per_target(g, sims[m], targets)
        result["per_target"][m] = pt
        for t, row in pt.items():
            pvals.append(np.nan if row["spearman_p"] is None else row["spearman_p"])
            where.append((m, t))
        ranking = {"mean_ndcg3": _mean(pt, "ndcg3"), "mean_regret1": _mean(pt, "regret1"),
                   "ranking_why": None if _mean(pt, "regret1") is not None else
                   "no target has 2 or more unmasked sources to choose between"}
        if m in BASELINES:
            result["pooled"][m] = {"interaction_spearman": None, "why": BASELINE_WHY[m], "ci": [None, None],
                                   "ci_why": BASELINE_WHY[m], **ranking}
        else:
            result["pooled"][m] = {**_pooled_with_ci(g, sims[m], bootstrap, seed), **ranking}
        if FOCUS in targets and targets.index(FOCUS) in _labelled(targets):
            result["pawsx_interaction"][m] = (
                {"beta": None, "gamma": None, "p_gamma": None, "ci_gamma": [None, None], "why": BASELINE_WHY[m]}
                if m in BASELINES else _interaction(g, sims[m], targets, permutations, bootstrap, seed))
    q = stats.benjamini_hochberg(pvals)
    for (m, t), qv in zip(where, q):
        result["per_target"][m][t]["spearman_q_bh"] = _f(qv)
    n_per_target = {t: int(np.isfinite(g[:, j]).sum()) for j, t in enumerate(targets)}
    result["power"] = {"sources_per_target": n_per_target, "seeds": seeds,
                       "sources_with_cells": int(np.isfinite(g).any(axis=1).sum()),
                       "exact_rho_threshold_p05": {t: exact_threshold(n) for t, n in n_per_target.items()}}
    result["reliability"] = reliability or {}
    result["verdicts"] = verdicts(result)
    return result


def _labelled(targets) -> list[int]:
    return [j for j, t in enumerate(targets) if t not in ("bucc2018", "tatoeba")]


def _pooled_with_ci(g, sim, bootstrap: int, seed: int) -> dict:
    rho, why = pooled_interaction(g, sim)
    ok = np.isfinite(g) & np.isfinite(sim)
    has = ok.any(axis=1)

    def draw(idx):
        if distinct_rows(idx, has) < MIN_DISTINCT:
            return math.nan
        return pooled_interaction(g[idx], sim[idx])[0]

    boot = bootstrap_ci(source_bootstrap(draw, len(g), bootstrap, seed) if why is None else [], len(g))
    return {"interaction_spearman": _f(rho), "why": why, "ci": boot["ci"], "ci_why": boot["why"],
            "ci_draws": [boot["draws"] - boot["undefined_draws"], boot["draws"]]}


def _interaction(g, sim, targets, permutations: int, bootstrap: int, seed: int) -> dict:
    labelled = _labelled(targets)
    gl, sl = g[:, labelled], sim[:, labelled]
    focus = [targets[j] for j in labelled].index(FOCUS)
    res = stats.interaction_test(gl, sl, focus, permutations, seed)
    fin = np.isfinite(gl) & np.isfinite(sl)
    if not np.isfinite(res["gamma"]):
        n_focus = int(fin[:, focus].sum())
        why = (f"PAWS-X has {n_focus} source(s) with both a gain and the measure" if n_focus < 3 else
               "no other labelled target has 3 or more sources with both a gain and the measure")
        return {"beta": None, "gamma": None, "p_gamma": None, "ci_gamma": [None, None],
                "why": why + "; the interaction model needs 3 on PAWS-X and on at least one other target"}

    def draw(idx):
        others = [distinct_rows(idx, fin[:, j]) for j in range(fin.shape[1]) if j != focus]
        if distinct_rows(idx, fin[:, focus]) < MIN_DISTINCT or max(others, default=0) < MIN_DISTINCT:
            return math.nan
        return _gamma(gl[idx], sl[idx], focus)

    boot = bootstrap_ci(source_bootstrap(draw, len(g), bootstrap, seed), len(g))
    return {"beta": _f(res["beta"]), "gamma": _f(res["gamma"]), "p_gamma": _f(res["p_gamma"]), "why": None,
            "ci_gamma": boot["ci"], "ci_why": boot["why"],
            "ci_draws": [boot["draws"] - boot["undefined_draws"], boot["draws"]]}


def _gamma(g, s, focus):
    z, sim = stats.zscore_columns(g), stats.zscore_columns(np.where(np.isfinite(g), s, np.nan))
    counts = np.isfinite(z * sim).sum(axis=0)
    if counts[focus] < 3:
        return math.nan
    return stats.interaction_fit(z, sim, focus)[1]


def _mean(pt: dict, key: str) -> float | None:
    vals = [r[key] for r in pt.values() if r[key] is not None]
    return float(np.mean(vals)) if vals else None


def _excludes_zero(ci, sign: int) -> bool:
    lo, hi = ci
    return lo is not None and hi is not None and np.isfinite(lo) and np.isfinite(hi) and (lo > 0 if sign > 0 else hi < 0)


def min_exact_p(n: int) -> float | None:
    """The smallest two-sided exact permutation p of Spearman's ρ with n distinct sources."""
    return 2 / math.factorial(n) if 3 <= n <= stats.EXACT_MAX_N else None


def evidence(r: dict) -> str:
    """What the verdicts rest on and how much they can detect, from the numbers: sources, targets,
    unmasked sources per target, seeds and the single-target detection threshold."""
    pw = r["power"]
    ns = [n for n in pw["sources_per_target"].values()]
    lo, hi = (min(ns), max(ns)) if ns else (0, 0)
    span = f"{lo}" if lo == hi else f"{lo}–{hi}"
    seeds = pw["seeds"]
    n_src = pw.get("sources_with_cells", len(r["sources"]))
    scope = (f"n = {n_src} source{'s' if n_src != 1 else ''} × {len(r['targets'])} target"
             f"{'s' if len(r['targets']) != 1 else ''}, {span} unmasked per target, {seeds} seed{'s' if seeds != 1 else ''}")
    typical = sorted(ns)[len(ns) // 2] if ns else 0
    if typical < 3:
        power = "no power: a rank correlation needs 3 sources"
    elif typical <= 4:
        power = (f"low power: with {typical} sources no single target can reach p ≤ 0.05 (smallest exact p "
                 f"{min_exact_p(typical):.3f}) and the source bootstrap is degenerate")
    else:
        thr = exact_threshold(typical)
        need = f"{thr:.2f}" if thr is not None else f"≈ {1.96 / math.sqrt(typical - 1):.2f}"
        level = "low" if typical < 9 else "moderate" if typical < 20 else "fair"
        power = f"{level} power: with {typical} sources one target needs |ρ| ≥ {need} for p ≤ 0.05"
    if seeds < 2:
        power += " (one seed: the gains' own noise is unquantified)"
    return f"{scope}; {power}"


def mark_other_data(r: dict, sentence: str) -> str:
    """Marks every measure in the sentence that was computed on other data than the gains (‡) and says so
    in the same sentence."""
    origin = r.get("measure_origin", {})
    hits = [m for m in origin if re.search(rf"\b{m}\b", sentence)]
    if not hits:
        return sentence
    for m in hits:
        sentence = re.sub(rf"\b{m}\b", f"{m}‡", sentence)
    where = "; ".join(sorted({origin[m] for m in hits}))
    return sentence.rstrip(".") + f" (‡ {', '.join(hits)}: computed on {where}, not on the data behind the gains)."


def verdicts(r: dict) -> list[str]:
    """The decision rules, as sentences: each rule is the condition beside the sentence it adds, and each
    sentence states its evidence (n and power)."""
    out = []
    pooled = r["pooled"]
    ev = evidence(r)
    pw = r["power"]
    n_sources = pw.get("sources_with_cells", len(r["sources"]))
    usable = [t for t, n in pw["sources_per_target"].items() if n >= 3]
    if n_sources < 3 or len(r["targets"]) < 2 or not pooled:
        per = ", ".join(f"{t} {n}" for t, n in pw["sources_per_target"].items())
        return [f"The data cannot resolve either question ({ev}): unmasked sources per target {per or 'none'}; "
                f"double-centring and rank correlations need at least 3 sources and 2 targets "
                f"({len(usable)} of {len(r['targets'])} targets have 3 or more; the paper's design has 9 sources)."]
    base_ndcg = [pooled[b]["mean_ndcg3"] for b in BASELINES if b in pooled and pooled[b]["mean_ndcg3"] is not None]
    base_reg = [pooled[b]["mean_regret1"] for b in BASELINES if b in pooled and pooled[b]["mean_regret1"] is not None]
    winners, failed = [], []
    for m in (*LABEL_AWARE, "D0"):
        p = pooled.get(m)
        if not p:
            continue
        if p["interaction_spearman"] is None:
            failed.append(f"{m}: double-centred ρ not defined")
            continue
        lacks = []
        if not _excludes_zero(p["ci"], +1):
            lacks.append("CI not above 0" if p["ci"][0] is not None else "CI not reported")
        for key, name, better in (("mean_ndcg3", "NDCG@3", max), ("mean_regret1", "Regret@1", min)):
            base = {b: pooled[b][key] for b in BASELINES if b in pooled and pooled[b][key] is not None}
            if p[key] is None:
                lacks.append(f"no mean {name}")
            elif any(better(p[key], v) != p[key] or p[key] == v for v in base.values()):
                lacks.append(f"mean {name} {p[key]:.2f} not better than " + ", ".join(
                    f"{b}'s {v:.2f}" for b, v in base.items() if better(p[key], v) != p[key] or p[key] == v))
        (failed.append(f"{m}: ρ {p['interaction_spearman']:+.2f}, " + "; ".join(lacks))
         if lacks else winners.append(m))
    if winners:
        out.append(f"Task similarity matters ({ev}): {', '.join(winners)} correlate(s) with the task-specific "
                   "(double-centred) gain with a 95% CI above 0 and rank sources better than data size (B1) and "
                   "static source quality (B2) in mean NDCG@3 and Regret@1.")
    else:
        out.append(f"Task similarity is not shown to matter beyond a generally good source ({ev}): no label-aware "
                   "measure (M3/M4) or D0 has a double-centred ρ whose 95% CI is above 0 while it also ranks "
                   "sources better than B1 and B2 ("
                   + ("; ".join(failed) if failed else "none of M3, M4, D0 was computed") + ").")
    inter = r["pawsx_interaction"]
    rel = r.get("reliability", {}).get(FOCUS)
    reliable = rel is not None and rel >= 0.5
    neg = [m for m in SURFACE if m in inter and _excludes_zero(inter[m]["ci_gamma"], -1)]
    if not inter:
        out.append("PAWS-X is not among the analysed targets; the PAWS-X contrast is not computed.")
    elif neg and reliable:
        out.append(f"Semantic distance affects PAWS-X differently ({ev}): gamma < 0 with a 95% CI excluding 0 for "
                   f"{', '.join(neg)}, and PAWS-X gains pass the seed-reliability check ({rel:.2f} >= 0.5).")
    elif neg:
        out.append(f"gamma < 0 with a 95% CI excluding 0 for {', '.join(neg)} ({ev}), but PAWS-X's seed "
                   "reliability is " + ("unquantified (one seed)" if rel is None else f"{rel:.2f} < 0.5")
                   + ": PAWS-X gains may be within noise; the data cannot resolve the contrast.")
    else:
        out.append(f"PAWS-X gains are within noise of the other targets' pattern ({ev}): no surface measure (D0, "
                   "M1, M2) has gamma < 0 with a 95% CI excluding 0; the data cannot resolve the contrast.")
    prim = [f"{m}: gamma {inter[m]['gamma']:+.2f}, permutation p {inter[m]['p_gamma']:.3f}"
            for m in PRIMARY if m in inter and inter[m]["gamma"] is not None]
    if prim:
        out.append("Pre-registered primary test (gamma on PAWS-X; " + ev + "): " + "; ".join(prim) + ".")
    return [mark_other_data(r, v) for v in out]
