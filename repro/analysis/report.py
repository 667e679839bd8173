"""Writes an analysis: analysis.json (the structure of repro.analysis.core.analyse), report.md and
PNG plots (gain heatmap with masked cells marked, similarity vs gain per target with PAWS-X
highlighted, CI forest plot). matplotlib runs on its Agg backend: no display is needed."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from repro.analysis.core import FOCUS, MEASURE_IDS, matrix
from repro.atomic import write_json, write_text

MEASURE_NAMES = {"M1": "vocabulary overlap (Jaccard)", "M2": "centred TextEmb cosine (last layer)",
                 "M3": "Fisher TaskEmb (frozen encoder)", "M4": "ΔLogME (ΔA for BUCC/Tatoeba)",
                 "M5": "ΔCKA (exploratory)", "D0": "a-priori distance ladder (−d)",
                 "B1": "log training-set size", "B2": "leave-one-target-out source quality"}


def _n(x, fmt="{:+.2f}") -> str:
    return "–" if x is None or (isinstance(x, float) and not math.isfinite(x)) else fmt.format(x)


def markdown(a: dict, smoke_note: str = "") -> str:
    out = ["# Research question: task similarity, semantic distance and the gain", ""]
    if smoke_note:
        out += [f"> {smoke_note}", ""]
    out += [f"Split `{a['split']}`; {len(a['sources'])} intermediate sources × {len(a['targets'])} targets; "
            f"self-transfer cells masked: {', '.join(f'{s}→{t}' for s, t in a['masked']) or 'none'}.", "",
            "## Effect sizes (95% CIs first)", "",
            "| measure | double-centred ρ (task-specific) | 95% CI | γ PAWS-X | 95% CI | permutation p | "
            "mean NDCG@3 | mean Regret@1 |", "|---|---|---|---|---|---|---|---|"]
    for m in a["measures_available"]:
        p, i = a["pooled"][m], a["pawsx_interaction"].get(m, {})
        ci = p["ci"]
        ig = i.get("ci_gamma", [None, None])
        out.append(f"| {m} {MEASURE_NAMES[m]} | {_n(p['interaction_spearman'])} | [{_n(ci[0])}, {_n(ci[1])}] | "
                   f"{_n(i.get('gamma'))} | [{_n(ig[0])}, {_n(ig[1])}] | {_n(i.get('p_gamma'), '{:.3f}')} | "
                   f"{_n(p['mean_ndcg3'], '{:.2f}')} | {_n(p['mean_regret1'], '{:.2f}')} |")
    out += ["", "## Gains with 95% CIs (points; paired bootstrap over evaluation examples within language)", "",
            "| source | " + " | ".join(a["targets"]) + " |", "|---" * (len(a["targets"]) + 1) + "|"]
    masked = {(s, t) for s, t in a["masked"]}
    for s in a["sources"]:
        cis = a.get("gain_ci", {}).get(s, {})
        cell = lambda t: _n(a["gain"][s].get(t)) + ("" if not cis.get(t) else f" [{_n(cis[t][0])}, {_n(cis[t][1])}]") \
            + (" (self, masked)" if (s, t) in masked else "")
        out.append(f"| {s} | " + " | ".join(cell(t) for t in a["targets"]) + " |")
    out += ["", "No bracket: no per-example predictions (a results table), or a metric that does not decompose "
            "per example (QA, retrieval: only the seeds' spread)."]
    missing = [m for m in MEASURE_IDS if m not in a["measures_available"]]
    if missing:
        out += ["", f"Not computed here: {', '.join(missing)} (see notes)."]
    out += ["", "The effect sizes' CIs (first table) resample the sources (percentile bootstrap); with nine sources "
            "they are coarse, so the "
            "jackknife range of ρ per target is given below too.", "", "## Verdicts", ""]
    out += [f"- {v}" for v in a["verdicts"]]
    out += ["", "## Per target (Spearman ρ, exact p, BH q, Kendall τ_b, NDCG@3, Regret@1 in points, n)", ""]
    for m in a["measures_available"]:
        out += [f"### {m} — {MEASURE_NAMES[m]}", "", "| target | ρ | p | q (BH) | τ_b | p(τ) | NDCG@3 | Regret@1 | "
                "Regret@3 | n | jackknife ρ |", "|---|---|---|---|---|---|---|---|---|---|---|"]
        for t, r in a["per_target"][m].items():
            j = r["jackknife_spearman"]
            star = " **(PAWS-X)**" if t == FOCUS else ""
            out.append(f"| {t}{star} | {_n(r['spearman'])} | {_n(r['spearman_p'], '{:.3f}')} | "
                       f"{_n(r.get('spearman_q_bh'), '{:.3f}')} | {_n(r['kendall'])} | {_n(r['kendall_p'], '{:.3f}')} | "
                       f"{_n(r['ndcg3'], '{:.2f}')} | {_n(r['regret1'], '{:.2f}')} | {_n(r['regret3'], '{:.2f}')} | "
                       f"{r['n']} | [{_n(j[0])}, {_n(j[1])}] |")
        out.append("")
    out += ["## PAWS-X contrast", ""]
    if a["pawsx_interaction"]:
        out += ["z[s,t] = α_t + β·Sim + γ·Sim·1[t = PAWS-X] on the labelled targets (Sim, z standardised within "
                "target). γ < 0: similarity predicts PAWS-X gains worse than the other targets'; β + γ < 0: "
                "the wrong direction. p permutes Sim within each target.", "",
                "| measure | β | γ | β + γ | p(γ) | ρ on PAWS-X | rank of PAWS-X ρ among targets |", "|---|---|---|---|---|---|---|"]
        for m, i in a["pawsx_interaction"].items():
            rhos = {t: r["spearman"] for t, r in a["per_target"][m].items() if r["spearman"] is not None}
            rank = (sorted(rhos, key=lambda t: -rhos[t]).index(FOCUS) + 1) if FOCUS in rhos else None
            both = None if i["beta"] is None or i["gamma"] is None else i["beta"] + i["gamma"]
            out.append(f"| {m} | {_n(i['beta'])} | {_n(i['gamma'])} | {_n(both)} | {_n(i['p_gamma'], '{:.3f}')} | "
                       f"{_n(rhos.get(FOCUS))} | {rank if rank else '–'} of {len(rhos)} |")
    else:
        out.append("Not computed (PAWS-X absent or too few sources).")
    pw = a["power"]
    out += ["", "## Power", "",
            f"Sources per target (unmasked): {', '.join(f'{t} {n}' for t, n in pw['sources_per_target'].items())}; "
            f"seeds: {pw['seeds']}. With n sources the exact two-sided p ≤ 0.05 needs |ρ| ≥ "
            + ", ".join(f"{_n(v, '{:.3f}')} ({t})" for t, v in pw["exact_rho_threshold_p05"].items()) + ". "
            "A real but moderate relation (ρ ≈ 0.5) is therefore usually not significant for one target; "
            "the pooled and interaction analyses carry the evidence."
            + (" With one seed the ranking noise of each target's gains is unquantified." if pw["seeds"] < 2 else ""),
            ""]
    if a["notes"]:
        out += ["## Notes", ""] + [f"- {n}" for n in a["notes"]] + [""]
    out += ["Plots: `gain_heatmap.png`, `similarity_vs_gain.png`, `forest.png`.", ""]
    return "\n".join(out)


def plots(a: dict, out: Path) -> list[str]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sources, targets = a["sources"], a["targets"]
    g = matrix(a["gain"], sources, targets)
    masked = {(s, t) for s, t in a["masked"]}
    fig, ax = plt.subplots(figsize=(1.0 + 0.9 * len(targets), 1.0 + 0.5 * len(sources)))
    lim = np.nanmax(np.abs(g)) if np.isfinite(g).any() else 1.0
    im = ax.imshow(np.ma.masked_invalid(g), cmap="RdBu", vmin=-lim, vmax=lim, aspect="auto")
    for i, s in enumerate(sources):
        for j, t in enumerate(targets):
            txt = "–" if not np.isfinite(g[i, j]) else f"{g[i, j]:+.1f}"
            if (s, t) in masked:
                ax.add_patch(plt.Rectangle((j - .5, i - .5), 1, 1, fill=False, hatch="///", edgecolor="black"))
                txt += "\nself"
            ax.text(j, i, txt, ha="center", va="center", fontsize=7)
    ax.set_xticks(range(len(targets)), targets, rotation=45, ha="right")
    ax.set_yticks(range(len(sources)), sources)
    ax.set_title(f"gain over baseline ({a['split']}, points)\nhatched: self-transfer (masked)", fontsize=9)
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    fig.savefig(out / "gain_heatmap.png", dpi=110)
    plt.close(fig)

    shown = [m for m in ("M4", "D0", "M2", "M1") if m in a["measures_available"]][:2] or a["measures_available"][:1]
    if shown:
        fig, axes = plt.subplots(len(shown), len(targets), figsize=(2.2 * len(targets), 2.2 * len(shown)), squeeze=False)
        for r, m in enumerate(shown):
            sim = matrix(a["measures"][m], sources, targets)
            for j, t in enumerate(targets):
                ax = axes[r][j]
                ok = np.isfinite(sim[:, j]) & np.isfinite(g[:, j]) & np.array([(s, t) not in masked for s in sources])
                color = "crimson" if t == FOCUS else "steelblue"
                ax.scatter(sim[ok, j], g[ok, j], c=color, s=18)
                for i in np.flatnonzero(ok):
                    ax.annotate(sources[i][:5], (sim[i, j], g[i, j]), fontsize=6)
                rho = a["per_target"][m][t]["spearman"]
                ax.set_title(f"{t}{' (PAWS-X)' if t == FOCUS else ''}\nρ={_n(rho)}", fontsize=8,
                             color=color, fontweight="bold" if t == FOCUS else "normal")
                ax.tick_params(labelsize=6)
                if j == 0:
                    ax.set_ylabel(f"gain | {m}", fontsize=8)
        fig.suptitle("similarity (x) vs gain (y) per target; PAWS-X in red", fontsize=9)
        fig.tight_layout()
        fig.savefig(out / "similarity_vs_gain.png", dpi=110)
        plt.close(fig)

    rows = []
    for m in a["measures_available"]:
        p = a["pooled"][m]
        rows.append((f"{m} ρ(interaction)", p["interaction_spearman"], p["ci"]))
        if m in a["pawsx_interaction"]:
            i = a["pawsx_interaction"][m]
            rows.append((f"{m} γ PAWS-X", i["gamma"], i["ci_gamma"]))
    fig, ax = plt.subplots(figsize=(6, 0.35 * len(rows) + 1.2))
    for k, (label, v, ci) in enumerate(rows):
        if v is None:
            continue
        lo, hi = ci
        if lo is not None and hi is not None and math.isfinite(lo) and math.isfinite(hi):
            ax.plot([lo, hi], [k, k], color="gray")
        ax.plot([v], [k], "o", color="crimson" if "γ" in label else "steelblue")
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(range(len(rows)), [r[0] for r in rows], fontsize=7)
    ax.invert_yaxis()
    ax.set_title("effect sizes with 95% CIs (source bootstrap)", fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "forest.png", dpi=110)
    plt.close(fig)
    return ["gain_heatmap.png", "similarity_vs_gain.png", "forest.png"]


def write(a: dict, out: Path, smoke_note: str = "") -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "analysis.json", _clean(a))
    plots(a, out)
    write_text(out / "report.md", markdown(a, smoke_note))
    return out / "report.md"


def _clean(x):
    """NaN is not JSON: undefined numbers are written as null."""
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x
