"""Writes an analysis: analysis.json (the structure of repro.analysis.core.analyse), report.md and
PNG plots (gain heatmap with masked cells marked, similarity vs gain per target with PAWS-X
highlighted, CI forest plot). matplotlib runs on its Agg backend: no display is needed.

A statistic that is not defined is never printed as a number: "–" in report.md with its reason below
the table, null in analysis.json, "n/a" with the reason in the plots."""
from __future__ import annotations

import math
import re
import textwrap
from pathlib import Path

import numpy as np

from repro.analysis import core, known_answer
from repro.analysis.core import BASELINES, FOCUS, MEASURE_IDS, matrix
from repro.atomic import write_json, write_text

MEASURE_NAMES = {"M1": "vocabulary overlap (Jaccard)", "M2": "centred TextEmb cosine (last layer)",
                 "M3": "Fisher TaskEmb (frozen encoder)", "M4": "ΔLogME (ΔA for BUCC/Tatoeba)",
                 "M5": "ΔCKA (exploratory)", "D0": "a-priori distance ladder (−d)",
                 "B1": "log training-set size", "B2": "leave-one-target-out source quality"}
# What a plot's similarity axis is measured in.
MEASURE_UNITS = {"M1": "Jaccard, 0–1", "M2": "cosine", "M3": "cosine", "M4": "nats per example; ΔA: cosine margin",
                 "M5": "ΔCKA", "D0": "−ladder steps", "B1": "log examples", "B2": "points"}
RHO_LABEL = "double-centred ρ (task-specific)"
OTHER_DATA = "‡"


def _n(x, fmt="{:+.2f}") -> str:
    return "–" if x is None or (isinstance(x, float) and not math.isfinite(x)) else fmt.format(x)


def label(a: dict, m: str, names: bool = True) -> str:
    """A measure's name as every table, heading and plot shows it; ‡ marks one computed on other data."""
    mark = OTHER_DATA if m in a.get("measure_origin", {}) else ""
    return f"{m}{mark}" + (f" {MEASURE_NAMES[m]}" if names else "")


def short(why: str | None) -> str:
    """The first clause of a reason, for a plot."""
    return re.split(r"[;:,]", why or "not computed")[0].strip()


def _why_lines(a: dict) -> list[str]:
    """One line per (statistic, reason), naming every measure it applies to."""
    groups: dict[tuple[str, str], list[str]] = {}
    for m in a["measures_available"]:
        if m in BASELINES:  # explained once, in the paragraph on the baselines
            continue
        p, i = a["pooled"][m], a["pawsx_interaction"].get(m, {})
        for what, why in ((RHO_LABEL, p.get("why")), ("CI of ρ", None if p.get("why") else p.get("ci_why")),
                          ("γ", i.get("why")), ("CI of γ", None if i.get("why") else i.get("ci_why")),
                          ("NDCG@3, Regret@1", p.get("ranking_why"))):
            if why:
                groups.setdefault((what, why), []).append(label(a, m, False))
    return [f"{', '.join(ms)} {what}: {why}." for (what, why), ms in groups.items()]


def _origin_lines(a: dict) -> list[str]:
    return [f"{OTHER_DATA} {m} is computed on {o}, not on the data behind the gains: it describes that data and "
            "model, which need not be the ones the gains come from." for m, o in a.get("measure_origin", {}).items()]


def _ci(ci) -> str:
    return "–" if ci is None or ci[0] is None or ci[1] is None else f"[{_n(ci[0])}, {_n(ci[1])}]"


def markdown(a: dict, smoke_note: str = "") -> str:
    n_src = a["power"].get("sources_with_cells", len(a["sources"]))
    out = ["# Research question: task similarity, semantic distance and the gain", ""]
    if smoke_note:
        out += [f"> {smoke_note}", ""]
    if a.get("planted"):  # first, so that a run too small to answer still shows what the analysis is for
        out += [f"> Known-answer check (planted-distance world, section below): {a['planted']['verdict']}", ""]
    out += [f"Split `{a['split']}`; {len(a['sources'])} intermediate source{'s' if len(a['sources']) != 1 else ''} × "
            f"{len(a['targets'])} target{'s' if len(a['targets']) != 1 else ''}; "
            f"self-transfer cells masked: {', '.join(f'{s}→{t}' for s, t in a['masked']) or 'none'}.", "",
            "## Effect sizes (95% CIs first)", "",
            f"| measure | {RHO_LABEL} | 95% CI | γ PAWS-X | 95% CI | permutation p | "
            "mean NDCG@3 | mean Regret@1 |", "|---|---|---|---|---|---|---|---|"]
    for m in a["measures_available"]:
        p, i = a["pooled"][m], a["pawsx_interaction"].get(m, {})
        out.append(f"| {label(a, m)} | {_n(p['interaction_spearman'])} | {_ci(p['ci'])} | "
                   f"{_n(i.get('gamma'))} | {_ci(i.get('ci_gamma'))} | {_n(i.get('p_gamma'), '{:.3f}')} | "
                   f"{_n(p['mean_ndcg3'], '{:.2f}')} | {_n(p['mean_regret1'], '{:.2f}')} |")
    why = _why_lines(a)
    if why:
        out += ["", "Not defined (–):", ""] + [f"- {w}" for w in why]
    if any(m in a["measures_available"] for m in BASELINES):
        out += ["", "The baselines B1 and B2 are compared on ranking quality only (NDCG@3 and Regret@1, on each "
                "target's raw gains): B1 does not vary across a source's targets and B2 is built from the gains "
                "themselves, so their double-centred ρ and γ would be identities, not evidence."]
    if a.get("measure_origin"):
        out += [""] + _origin_lines(a)
    out += ["", "## Gains with 95% CIs (points; paired bootstrap over evaluation examples within language)", "",
            "| source | " + " | ".join(a["targets"]) + " |", "|---" * (len(a["targets"]) + 1) + "|"]
    masked = {(s, t) for s, t in a["masked"]}
    def gain_cell(g, ci, note=""):
        return _n(g) + ("" if not ci else f" [{_n(ci[0])}, {_n(ci[1])}]") + note

    for s in a["sources"]:
        cis = a.get("gain_ci", {}).get(s, {})
        out.append(f"| {s} | " + " | ".join(gain_cell(a["gain"][s].get(t), cis.get(t),
                                                      " (self, masked)" if (s, t) in masked else "")
                                            for t in a["targets"]) + " |")
    for e, o in a.get("other_encoders", {}).items():  # reported, not analysed (no single source task)
        out.append(f"| {e} (not a source) | " + " | ".join(gain_cell(o["gain"].get(t), o["gain_ci"].get(t))
                                                        for t in a["targets"]) + " |")
    if a.get("other_encoders"):
        out += ["", f"Not a source ({', '.join(a['other_encoders'])}): an encoder trained on several tasks has no "
                "single task whose similarity to a target could be measured; its gains are shown, not analysed."]
    out += ["", "No bracket: no per-example predictions (a results table), or a metric that does not decompose "
            "per example (QA, retrieval: only the seeds' spread)."]
    missing = [m for m in MEASURE_IDS if m not in a["measures_available"]]
    if missing:
        out += ["", f"Not computed here: {', '.join(missing)} (see notes)."]
    if n_src < 3:
        out += ["", f"No CI is computed: a bootstrap over the sources needs at least 3 of them (here {n_src})."]
    else:
        out += ["", f"The effect sizes' CIs (first table) resample the {n_src} sources (percentile bootstrap; "
                "resamples with fewer than 3 distinct sources, where a correlation is ±1 and γ ±2 by construction, "
                f"are left out, and the CI is not reported when they exceed {core.MAX_DEGENERATE:.0%}); with {n_src} "
                "sources they are coarse, so the jackknife range of ρ per target is given below too."]
    out += ["", "## Verdicts", ""]
    out += [f"- {v}" for v in a["verdicts"]]
    out += ["", "## Per target (Spearman ρ, exact p, BH q, Kendall τ_b, NDCG@3, Regret@1 in points, n)", ""]
    for m in a["measures_available"]:
        out += [f"### {label(a, m, False)} — {MEASURE_NAMES[m]}", "",
                "| target | ρ | p | q (BH) | τ_b | p(τ) | NDCG@3 | Regret@1 | "
                "Regret@3 | n | jackknife ρ |", "|---|---|---|---|---|---|---|---|---|---|---|"]
        undefined = []
        for t, r in a["per_target"][m].items():
            j = r["jackknife_spearman"]
            star = " **(PAWS-X)**" if t == FOCUS else ""
            out.append(f"| {t}{star} | {_n(r['spearman'])} | {_n(r['spearman_p'], '{:.3f}')} | "
                       f"{_n(r.get('spearman_q_bh'), '{:.3f}')} | {_n(r['kendall'])} | {_n(r['kendall_p'], '{:.3f}')} | "
                       f"{_n(r['ndcg3'], '{:.2f}')} | {_n(r['regret1'], '{:.2f}')} | {_n(r['regret3'], '{:.2f}')} | "
                       f"{r['n']} | {_ci(j)} |")
            if r.get("why"):
                undefined.append(f"{t} ({r['why']})")
        if undefined:
            out += ["", "ρ, τ_b not defined: " + "; ".join(undefined) + ". Regret@1 and NDCG@3 need 2 sources, "
                    "Regret@3 4, the jackknife 4."]
        out.append("")
    out += ["## PAWS-X contrast", ""]
    if a["pawsx_interaction"]:
        out += ["z[s,t] = α_t + β·Sim + γ·Sim·1[t = PAWS-X] on the labelled targets (Sim, z standardised within "
                "target). γ < 0: similarity predicts PAWS-X gains worse than the other targets'; β + γ < 0: "
                "the wrong direction. β + γ is PAWS-X's own correlation and β a pooled one, so γ lies in [−2, 2]. "
                "p permutes Sim within each target.", "",
                "| measure | β | γ | β + γ | p(γ) | ρ on PAWS-X | rank of PAWS-X ρ among targets |", "|---|---|---|---|---|---|---|"]
        for m, i in a["pawsx_interaction"].items():
            rhos = {t: r["spearman"] for t, r in a["per_target"][m].items() if r["spearman"] is not None}
            rank = (sorted(rhos, key=lambda t: -rhos[t]).index(FOCUS) + 1) if FOCUS in rhos else None
            both = None if i["beta"] is None or i["gamma"] is None else i["beta"] + i["gamma"]
            out.append(f"| {label(a, m, False)} | {_n(i['beta'])} | {_n(i['gamma'])} | {_n(both)} | "
                       f"{_n(i['p_gamma'], '{:.3f}')} | {_n(rhos.get(FOCUS))} | "
                       + (f"{rank} of {len(rhos)}" if rank else "–") + " |")
    else:
        out.append("Not computed: PAWS-X is not among the labelled targets.")
    pw = a["power"]
    thr = {t: v for t, v in pw["exact_rho_threshold_p05"].items()}
    defined = [v for v in thr.values() if v is not None]
    out += ["", "## Power", "",
            f"Sources per target (unmasked): {', '.join(f'{t} {n}' for t, n in pw['sources_per_target'].items())}; "
            f"seeds: {pw['seeds']}. With n sources the exact two-sided p ≤ 0.05 needs |ρ| ≥ "
            + ", ".join(f"{_n(v, '{:.3f}')} ({t})" for t, v in thr.items())
            + " (–: not reachable with 4 or fewer sources, or not tabulated above 10). "
            + ("A real but moderate relation (ρ ≈ 0.5) is therefore not significant for one target; "
               "the pooled and interaction analyses carry the evidence." if defined and min(defined) > 0.5 else
               "No single target can show a relation at p ≤ 0.05." if not defined else "")
            + (" With one seed the ranking noise of each target's gains is unquantified." if pw["seeds"] < 2 else ""),
            ""]
    if a.get("planted"):
        out += known_answer.markdown(a["planted"])
    if a["notes"]:
        out += ["## Notes", ""] + [f"- {n}" for n in a["notes"]] + [""]
    out += ["Plots: " + ", ".join(f"`{p}`" for p in plot_names(a)) + ".", ""]
    return "\n".join(out)


def plot_names(a: dict) -> list[str]:
    return ["gain_heatmap.png", "similarity_vs_gain.png", "forest.png"] + (["planted.png"] if a.get("planted") else [])


def _na(ax, text: str) -> None:
    ax.text(0.5, 0.5, "n/a\n" + text, ha="center", va="center", fontsize=8, color="dimgray",
            transform=ax.transAxes, wrap=True)


def heatmap(a: dict, out: Path, plt) -> None:
    sources, targets = a["sources"], a["targets"]
    g = matrix(a["gain"], sources, targets)
    masked = {(s, t) for s, t in a["masked"]}
    # at least ~3 inches tall: a one-source strip keeps its title, ticks and colour bar readable
    fig, ax = plt.subplots(figsize=(2.5 + 0.9 * len(targets), max(3.0, 1.6 + 0.45 * len(sources))))
    lim = np.nanmax(np.abs(g)) if np.isfinite(g).any() else 1.0
    im = ax.imshow(np.ma.masked_invalid(g), cmap="RdBu", vmin=-lim, vmax=lim, aspect="auto")
    for i, s in enumerate(sources):
        for j, t in enumerate(targets):
            txt = "n/a" if not np.isfinite(g[i, j]) else f"{g[i, j]:+.1f}"
            if (s, t) in masked:
                ax.add_patch(plt.Rectangle((j - .5, i - .5), 1, 1, fill=False, hatch="///", edgecolor="black"))
                txt += "\nself"
            dark = np.isfinite(g[i, j]) and abs(g[i, j]) > 0.6 * lim   # white on the saturated colours
            ax.text(j, i, txt, ha="center", va="center", fontsize=8, color="white" if dark else "black")
    ax.set_xticks(range(len(targets)), targets, rotation=45, ha="right")
    ax.set_yticks(range(len(sources)), sources)
    ax.set_xlabel("target task")
    ax.set_ylabel("intermediate (source) task")
    ax.set_title(f"Gain over the baseline per source and target ({a['split']} split)\n"
                 "hatched: self-transfer, masked from the analysis", fontsize=9)
    fig.colorbar(im, ax=ax).set_label("gain over baseline (points)")
    fig.tight_layout()
    fig.savefig(out / "gain_heatmap.png", dpi=110)
    plt.close(fig)


def scatter(a: dict, out: Path, plt) -> None:
    """Similarity vs gain per target for the pre-registered primary measures (M4, D0; else the first
    similarity measure computed), targets wrapped into rows of at most 3 panels."""
    from matplotlib.ticker import MaxNLocator
    sources, targets = a["sources"], a["targets"]
    g = matrix(a["gain"], sources, targets)
    masked = {(s, t) for s, t in a["masked"]}
    sims = [m for m in a["measures_available"] if m not in BASELINES]
    shown = [m for m in core.PRIMARY if m in sims] or sims[:1] or a["measures_available"][:1]
    cols = min(3, max(1, len(targets)))
    per = math.ceil(len(targets) / cols)
    fig, axes = plt.subplots(per * max(1, len(shown)), cols, figsize=(3.4 * cols, 2.9 * per * max(1, len(shown)) + 0.8),
                             squeeze=False)
    for r, m in enumerate(shown):
        sim = matrix(a["measures"][m], sources, targets)
        for j, t in enumerate(targets):
            ax = axes[r * per + j // cols][j % cols]
            present = np.isfinite(sim[:, j]) & np.isfinite(g[:, j])
            ok = present & np.array([(s, t) not in masked for s in sources])
            color = "crimson" if t == FOCUS else "steelblue"
            row = a["per_target"][m][t]
            rho = "ρ n/a" if row["spearman"] is None else f"ρ = {row['spearman']:+.2f}"
            ax.set_title(f"{label(a, m, False)} on {t}{' (PAWS-X)' if t == FOCUS else ''}: {rho} (n = {row['n']})", fontsize=8, color=color, fontweight="bold" if t == FOCUS else "normal")
            ax.set_xlabel(f"{label(a, m, False)} ({MEASURE_UNITS[m]})", fontsize=7)
            ax.set_ylabel("gain (points)", fontsize=7)
            ax.tick_params(labelsize=7)
            if not ok.any():
                _na(ax, "every source with a value is masked\n(self-transfer)" if present.any() else "no cell")
                ax.set_xticks([])
                ax.set_yticks([])
                continue
            ax.scatter(sim[ok, j], g[ok, j], c=color, s=20)
            for i, names in _label_groups(sim[:, j], g[:, j], ok, sources):
                ax.annotate(names, (sim[i, j], g[i, j]), xytext=(3, 3), textcoords="offset points", fontsize=6.5)
            ax.margins(x=0.25, y=0.2)  # room for the source names
            for v, setlim in ((sim[ok, j], ax.set_xlim), (g[ok, j], ax.set_ylim)):
                if np.ptp(v) == 0:  # one point or a tie: a readable range around it, not rounding-width ticks
                    half = 1.0 if m == "D0" and setlim == ax.set_xlim else max(0.1, 0.2 * abs(v[0]))
                    setlim(v[0] - half, v[0] + half)
            ax.xaxis.set_major_locator(MaxNLocator(nbins=4, integer=m == "D0"))  # ladder steps are whole numbers
            ax.yaxis.set_major_locator(MaxNLocator(nbins=5))
            if row.get("why"):
                ax.text(0.02, 0.02, f"ρ n/a: {row['why']}", fontsize=6.5, color="dimgray", transform=ax.transAxes)
        for j in range(len(targets), per * cols):
            axes[r * per + j // cols][j % cols].axis("off")
    names = " and ".join(f"{label(a, m, False)} ({MEASURE_NAMES[m]})" for m in shown)
    why = ("the first similarity measure computed" if not all(m in core.PRIMARY for m in shown) else
           "the pre-registered primary measures (M4, D0)" if len(shown) > 1 else
           "the pre-registered primary measure computed here (of M4, D0)")
    title = (f"Similarity (x) vs gain (y) per target: {names}, {why}; PAWS-X in red; self-transfer cells left "
             "out. The other measures' per-target ρ are in report.md.")
    title = textwrap.fill(title, int(11 * 3.4 * cols))  # about 11 characters per inch at 9 pt
    fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 1 - (0.16 * (title.count("\n") + 1) + 0.05) / fig.get_figheight()))
    fig.savefig(out / "similarity_vs_gain.png", dpi=100)
    plt.close(fig)


def _label_groups(x, y, ok, names) -> list[tuple[int, str]]:
    """(index, "a, b") per group of points that would print over each other (ties are common: D0 has four
    values), so that every source name stays legible."""
    idx = sorted(np.flatnonzero(ok), key=lambda i: (x[i], y[i]))
    xr, yr = (np.ptp(x[ok]) or 1.0), (np.ptp(y[ok]) or 1.0)
    groups: list[list[int]] = []
    for i in idx:
        g = groups[-1] if groups else None
        if g and abs(x[i] - x[g[0]]) < 0.03 * xr and abs(y[i] - y[g[-1]]) < 0.06 * yr:
            g.append(i)
        else:
            groups.append([i])
    return [(g[-1], ", ".join(names[i] for i in g)) for g in groups]


def forest(a: dict, out: Path, plt) -> None:
    """Two panels on their own axes: the double-centred ρ (bounded, −1..1) and γ (a regression coefficient)."""
    ms = a["measures_available"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 0.45 * len(ms) + 1.9), sharey=True)
    panels = ((left, lambda m: a["pooled"][m], "interaction_spearman", "ci", (-1.05, 1.05),
               f"{RHO_LABEL}, 95% CI"),
              (right, lambda m: a["pawsx_interaction"].get(m, {"why": "PAWS-X not among the labelled targets"}),
               "gamma", "ci_gamma", (-2.1, 2.1), "γ: PAWS-X interaction (z per SD of similarity), 95% CI"))
    for ax, get, key, cikey, lim, xlabel in panels:
        for k, m in enumerate(ms):
            d = get(m)
            v = d.get(key)
            if v is None:
                ax.text(0, k, f"n/a: {short(d.get('why'))}", ha="center", va="center", fontsize=7, color="dimgray",
                        bbox={"facecolor": "white", "edgecolor": "none"})
                continue
            lo, hi = d.get(cikey) or (None, None)
            if lo is not None and hi is not None:
                ax.plot([lo, hi], [k, k], color="gray", lw=2)
            else:
                ax.text(v, k - 0.3, f"CI n/a: {short(d.get('ci_why'))}", ha="center", fontsize=6.5, color="dimgray")
            ax.plot([v], [k], "o", color="steelblue" if key == "interaction_spearman" else "crimson")
        ax.axvline(0, color="black", lw=0.8)
        ax.set_xlim(*lim)
        ax.set_xlabel(xlabel, fontsize=8)
    left.set_yticks(range(len(ms)), [label(a, m, False) for m in ms], fontsize=8)
    left.set_ylim(len(ms) - 0.5, -0.5)
    left.set_ylabel("measure")
    n = a["power"].get("sources_with_cells", len(a["sources"]))
    fig.suptitle(f"Effect sizes with 95% CIs (bootstrap over the {n} source{'s' if n != 1 else ''}); "
                 "n/a: not defined, with the reason", fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "forest.png", dpi=110)
    plt.close(fig)


def plots(a: dict, out: Path) -> list[str]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    heatmap(a, out, plt)
    scatter(a, out, plt)
    forest(a, out, plt)
    if a.get("planted"):
        known_answer.plot(a["planted"], out, plt)
    return plot_names(a)


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
