"""Statistics of the research-question analysis: rank correlations with exact permutation p-values,
ranking-quality scores (NDCG@k, Regret@k), double-centring, Benjamini-Hochberg, bootstrap/jackknife
and the PAWS-X interaction model with permutation inference within targets.

Every function takes plain arrays; NaN marks a missing or masked cell and is dropped pairwise. With
nine sources per target the exact null distribution is cheap (9! = 362,880 orderings), so p-values
for n <= 10 are exact; scipy's default Spearman p is a t-approximation (0.036 at rho = 0.7 for n = 9,
exact 0.043), too optimistic at this size.
"""
from __future__ import annotations

import functools
import math
import warnings
from typing import Callable

import numpy as np
from scipy import stats as sps

EXACT_MAX_N = 10
MONTE_CARLO_PERMUTATIONS = 100_000


def _pairs(x, y) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    return x[keep], y[keep]


@functools.lru_cache(maxsize=4)
def all_permutations(n: int) -> np.ndarray:
    """Every ordering of range(n) as an (n!, n) int8 array, built by insertion (no Python loop per row)."""
    perms = np.zeros((1, 0), dtype=np.int8)
    for k in range(1, n + 1):
        m = perms.shape[0]
        out = np.empty((m * k, k), dtype=np.int8)
        for pos in range(k):
            block = out[pos * m:(pos + 1) * m]
            block[:, :pos] = perms[:, :pos]
            block[:, pos] = k - 1
            block[:, pos + 1:] = perms[:, pos:]
        perms = out
    return perms


def _null_orderings(n: int, seed: int) -> np.ndarray:
    if n <= EXACT_MAX_N:
        return all_permutations(n)
    rng = np.random.default_rng(seed)
    return np.argsort(rng.random((MONTE_CARLO_PERMUTATIONS, n)), axis=1)


def _two_sided_p(null: np.ndarray, observed: float, exact: bool) -> float:
    # A relative tolerance: permuted statistics equal to the observed one up to rounding count as ">=".
    hits = int(np.count_nonzero(np.abs(null) >= abs(observed) - 1e-12))
    return hits / len(null) if exact else (hits + 1) / (len(null) + 1)


def spearman(x, y, seed: int = 0) -> tuple[float, float]:
    """Spearman rho (Pearson on average ranks, so ties are handled) and its two-sided permutation p:
    exact enumeration for n <= 10, else 10^5 seeded Monte Carlo orderings. (nan, nan) when n < 3 or a
    side is constant."""
    x, y = _pairs(x, y)
    n = len(x)
    if n < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan, math.nan
    rx, ry = sps.rankdata(x), sps.rankdata(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    scale = np.linalg.norm(rx) * np.linalg.norm(ry)
    rho = float(rx @ ry / scale)
    null = []
    for chunk in np.array_split(_null_orderings(n, seed), max(1, math.factorial(min(n, 10)) // 500_000)):
        null.append(ry[chunk] @ rx / scale)
    return rho, _two_sided_p(np.concatenate(null), rho, n <= EXACT_MAX_N)


def kendall(x, y, seed: int = 0) -> tuple[float, float]:
    """Kendall tau_b (tie-corrected) and its two-sided permutation p (exact for n <= 10)."""
    x, y = _pairs(x, y)
    n = len(x)
    if n < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan, math.nan
    i, j = np.triu_indices(n, k=1)
    sx = np.sign(x[i] - x[j])
    sy = np.sign(y[:, None] - y[None, :])
    denom = math.sqrt(np.count_nonzero(sx) * np.count_nonzero(sy[i, j]))
    tau = float(sx @ sy[i, j] / denom)
    null = []
    for chunk in np.array_split(_null_orderings(n, seed), max(1, math.factorial(min(n, 10)) // 200_000)):
        null.append(sy[chunk[:, i], chunk[:, j]] @ sx / denom)
    return tau, _two_sided_p(np.concatenate(null), tau, n <= EXACT_MAX_N)


def _tie_groups(scores: np.ndarray) -> list[np.ndarray]:
    """Indices grouped by equal score, best group first."""
    order = np.argsort(-scores, kind="stable")
    groups, start = [], 0
    for k in range(1, len(order) + 1):
        if k == len(order) or scores[order[k]] != scores[order[start]]:
            groups.append(order[start:k])
            start = k
    return groups


def ndcg_at_k(gains, scores, k: int = 3) -> float:
    """NDCG@k of the ranking of sources by `scores`, judged by `gains`: relevance = gains min-max scaled
    to [0, 1], gain 2^rel - 1, discount 1/log2(rank + 1). Tied scores get the expected DCG over random
    tie-breaking (each position of a tie group carries the group's mean gain; McSherry & Najork, ECIR
    2008), so a measure with many ties (D0) is neither flattered nor punished by input order."""
    g, s = _pairs(gains, scores)
    if len(g) == 0 or np.ptp(g) == 0:
        return math.nan
    rel = 2.0 ** ((g - g.min()) / np.ptp(g)) - 1.0
    k = min(k, len(g))
    disc = 1.0 / np.log2(np.arange(2, k + 2))
    dcg, pos = 0.0, 0
    for group in _tie_groups(s):
        take = min(len(group), k - pos)
        if take <= 0:
            break
        dcg += rel[group].mean() * disc[pos:pos + take].sum()
        pos += len(group)
    ideal = float(np.sort(rel)[::-1][:k] @ disc)
    return float(dcg / ideal)


def _expected_max_of_subset(values: np.ndarray, r: int, floor: float) -> float:
    """E[max(floor, max of a uniformly random r-subset of values)]."""
    v = np.sort(values)
    n = len(v)
    total = math.comb(n, r)
    exp = 0.0
    for idx in range(r - 1, n):  # v[idx] is the subset's maximum with probability C(idx, r-1) / C(n, r)
        exp += max(v[idx], floor) * math.comb(idx, r - 1) / total
    return exp


def regret_at_k(gains, scores, k: int = 1) -> float:
    """Regret@k in points: best gain of all sources minus the best gain among the top k by `scores`
    (equal to max R - max_top-k R, since G = R - R_baseline). Ties at the cut-off: expectation over
    random tie-breaking. 0 exactly when the best source is surely in the top k."""
    g, s = _pairs(gains, scores)
    if len(g) == 0:
        return math.nan
    k = min(k, len(g))
    best_in, pos = -math.inf, 0
    for group in _tie_groups(s):
        room = k - pos
        if room <= 0:
            break
        if len(group) <= room:
            best_in = max(best_in, float(g[group].max()))
        else:
            best_in = _expected_max_of_subset(g[group], room, best_in)
        pos += len(group)
    return float(g.max() - best_in)


def double_centre(m) -> np.ndarray:
    """I[s,t] = M[s,t] - mean_s' M[s',t]... (double centring): minus row mean, minus column mean, plus grand
    mean (NaN cells ignored in the means). Removes the 'generally good source' and 'easy target' effects.
    An all-masked row or column stays NaN (numpy's empty-slice warning is expected there)."""
    m = np.asarray(m, dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        rows = np.nanmean(m, axis=1, keepdims=True)
        cols = np.nanmean(m, axis=0, keepdims=True)
        return m - rows - cols + np.nanmean(m)


def zscore_columns(m) -> np.ndarray:
    """z-score each column (target) over its finite cells; a constant column becomes 0."""
    m = np.asarray(m, dtype=float)
    with warnings.catch_warnings():  # an all-masked column: NaN, which the caller skips
        warnings.simplefilter("ignore", RuntimeWarning)
        mu = np.nanmean(m, axis=0, keepdims=True)
        sd = np.nanstd(m, axis=0, ddof=1, keepdims=True)
    sd = np.where(np.isfinite(sd) & (sd > 0), sd, np.inf)
    return (m - mu) / sd


def benjamini_hochberg(pvalues) -> np.ndarray:
    """BH-adjusted q-values (scipy's false_discovery_control); NaN entries stay NaN."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full_like(p, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = sps.false_discovery_control(p[ok], method="bh")
    return out


def paired_bootstrap(units: dict[str, np.ndarray], metric: Callable[[np.ndarray, int], np.ndarray],
                     b: int = 2000, seed: int = 0) -> np.ndarray:
    """Language-averaged scores of every model under B paired resamples of the evaluation examples.

    units[lang]: array (models, examples, c) of additive per-example counts (accuracy: [correct];
    tagging: [tp, fp, fn]; QA: [em, f1]). Each resample draws examples with replacement within each
    language, the same draw for every model (paired), sums the counts and applies
    metric(sums (models, c), n_examples) -> (models,). Returns (b, models)."""
    rng = np.random.default_rng(seed)
    langs = sorted(units)
    out = np.zeros((b, next(iter(units.values())).shape[0]))
    for lang in langs:
        u = units[lang]
        n = u.shape[1]
        for r in range(b):
            idx = rng.integers(0, n, n)
            out[r] += metric(u[:, idx].sum(axis=1), n)
    return out / len(langs)


def jackknife(stat: Callable[[np.ndarray], float], n: int) -> np.ndarray:
    """stat(keep) for every leave-one-out index mask over n sources."""
    vals = []
    for i in range(n):
        keep = np.ones(n, dtype=bool)
        keep[i] = False
        vals.append(stat(keep))
    return np.asarray(vals, dtype=float)


def interaction_fit(z: np.ndarray, sim: np.ndarray, focus: int) -> tuple[float, float]:
    """OLS of z[s,t] = alpha_t + beta sim[s,t] + gamma sim[s,t] 1[t = focus] over the finite cells.
    z and sim are sources x targets, already standardised within target. Returns (beta, gamma)."""
    ok = np.isfinite(z) & np.isfinite(sim)
    s_idx, t_idx = np.nonzero(ok)
    n_t = z.shape[1]
    design = np.zeros((len(s_idx), n_t + 2))
    design[np.arange(len(s_idx)), t_idx] = 1.0
    design[:, n_t] = sim[ok]
    design[:, n_t + 1] = sim[ok] * (t_idx == focus)
    coef, *_ = np.linalg.lstsq(design, z[ok], rcond=None)
    return float(coef[n_t]), float(coef[n_t + 1])


def interaction_test(z, sim, focus: int, permutations: int = 10_000, seed: int = 0) -> dict:
    """beta, gamma and the two-sided permutation p of gamma, permuting sim among the sources of each
    target separately (targets keep their own similarity values; cells are not independent, so no OLS
    p-values). Needs the focus target and at least one other target with >= 3 cells."""
    z, sim = zscore_columns(z), zscore_columns(np.where(np.isfinite(z), sim, np.nan))
    counts = np.isfinite(z * sim).sum(axis=0)
    if counts[focus] < 3 or (np.delete(counts, focus) >= 3).sum() < 1:
        return {"beta": math.nan, "gamma": math.nan, "p_gamma": math.nan}
    beta, gamma = interaction_fit(z, sim, focus)
    rng = np.random.default_rng(seed)
    null = np.empty(permutations)
    for r in range(permutations):
        shuffled = sim.copy()
        for t in range(sim.shape[1]):
            rows = np.nonzero(np.isfinite(sim[:, t]) & np.isfinite(z[:, t]))[0]
            shuffled[rows, t] = sim[rng.permutation(rows), t]
        null[r] = interaction_fit(z, shuffled, focus)[1]
    p = (np.count_nonzero(np.abs(null) >= abs(gamma) - 1e-12) + 1) / (permutations + 1)
    return {"beta": beta, "gamma": gamma, "p_gamma": float(p)}


def percentile_ci(samples, level: float = 0.95) -> list[float]:
    s = np.asarray(samples, dtype=float)
    s = s[np.isfinite(s)]
    if len(s) == 0:
        return [math.nan, math.nan]
    a = (1 - level) / 2 * 100
    return [float(np.percentile(s, a)), float(np.percentile(s, 100 - a))]
