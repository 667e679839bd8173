"""The report says only what the data say: undefined statistics are never numbers (report, JSON,
plots), baselines are compared only where the comparison is no identity, every sentence fits the
numbers it describes (edge cases: 1, 2, 3 sources, all-masked targets, constant measures), verdicts
carry their n and power, measures from other data are marked, and γ's interval is honest."""
import json
import math

import matplotlib
import numpy as np
import pytest

from conftest import repro
from repro.analysis import core, known_answer, ladder, report, stats
from repro.analysis.tables import analyse_results

matplotlib.use("Agg")

EIGHT = ["anli", "ccg", "commonsenseqa", "cosmosqa", "hellaswag", "mnli", "qqp", "squad"]
FIVE = ["xnli", "pawsx", "udpos", "panx", "xquad"]


def _random(sources, targets, seed=0):
    rng = np.random.default_rng(seed)
    return {s: {t: float(rng.normal()) for t in targets} for s in sources}


def _run(sources, targets, gain=None, measures=None, **kw):
    gain = gain or _random(sources, targets)
    g = core.matrix(gain, sources, targets)
    gm = np.where(core.self_mask(sources, targets), np.nan, g)
    ms = {"D0": core.d0_table(sources, targets), "B1": core.b1_table(sources, targets),
          "B2": core.b2_table(gm, sources, targets), "M2": _random(sources, targets, 1),
          "M4": _random(sources, targets, 2)}
    ms.update(measures or {})
    return core.analyse(gain, ms, sources, targets, "dev", permutations=100, bootstrap=100, **kw)


def _numbers_where_undefined(a):
    """Paths of statistics that are numbers although their reason for being undefined is set."""
    bad = []
    for m, p in a["pooled"].items():
        if p.get("why") and p["interaction_spearman"] is not None:
            bad.append(f"pooled.{m}")
    for m, i in a["pawsx_interaction"].items():
        if i.get("why") and i["gamma"] is not None:
            bad.append(f"pawsx.{m}")
    return bad


def _figure_texts(a, tmp_path, monkeypatch):
    """Every text of every plot (titles, axis labels, tick labels, annotations, colour-bar labels)."""
    import matplotlib.pyplot as plt
    figs = []
    monkeypatch.setattr(plt, "close", lambda fig=None: figs.append(fig))
    report.plots(a, tmp_path)
    out = {}
    for fig in figs:
        texts = [t.get_text() for t in fig.findobj(matplotlib.text.Text)]
        out[fig] = texts
    return out


# ---------------------------------------------------------------- issue 24, item 1

def test_one_source_gives_no_correlation_from_rounding_residue(tmp_path, monkeypatch):
    targets = ["xnli", "pawsx", "udpos", "panx"]
    a = _run(["mnli"], targets)
    for m in ("M2", "M4", "D0"):
        assert a["pooled"][m]["interaction_spearman"] is None, m   # main: −1.00 from 8.9e-16 residue
        assert "double-centring needs at least 3 sources" in a["pooled"][m]["why"]
        assert a["pooled"][m]["ci"] == [None, None]
    assert not _numbers_where_undefined(a)
    report.write(a, tmp_path)
    js = json.loads((tmp_path / "analysis.json").read_text())
    assert js["pooled"]["M2"]["interaction_spearman"] is None and js["pooled"]["M2"]["why"]
    md = (tmp_path / "report.md").read_text()
    row = next(line for line in md.splitlines() if line.startswith("| M2 "))
    assert "-1.00" not in row and "| – |" in row
    assert "M2, M4, D0 double-centred ρ (task-specific): 1 source(s)" in md
    # forest plot: "n/a" with the reason on both panels, never a point for an undefined statistic
    texts = [t for ts in _figure_texts(a, tmp_path, monkeypatch).values() for t in ts]
    assert any(t.startswith("n/a: 1 source(s) × 3 target(s) with cells") for t in texts)


def test_double_centring_residue_is_snapped_to_zero():
    g = np.array([[0.1, 0.7, 0.3]])
    rho, why = core.pooled_interaction(np.vstack([g, g + 1, g + 2]), np.arange(9.0).reshape(3, 3))
    assert math.isnan(rho) and "no task-specific part" in why   # additive gains: nothing task-specific


# ---------------------------------------------------------------- issue 24, item 2

def test_b2_double_centred_is_minus_the_gain_over_t_minus_1():
    """Why B2 is no evidence on the double-centred scale: an identity, whatever the gains."""
    rng = np.random.default_rng(3)
    g = rng.normal(size=(6, 5))
    b2 = core.matrix(core.b2_table(g, [f"s{i}" for i in range(6)], [f"t{j}" for j in range(5)]),
                     [f"s{i}" for i in range(6)], [f"t{j}" for j in range(5)])
    assert np.allclose(stats.double_centre(b2), -stats.double_centre(g) / 4)


@pytest.fixture(scope="module")
def on_random_gains():
    """Each measure built the way the package builds it (D0, B1, B2 from the ladder and the gains; the
    data-borne ones from tables independent of the gains), on two tables of random gains."""
    return [_run(EIGHT, FIVE, gain=_random(EIGHT, FIVE, 10 + seed),
                 measures={k: _random(EIGHT, FIVE, 20 + seed) for k in ("M1", "M3", "M5")}) for seed in range(2)]


@pytest.mark.parametrize("m", core.MEASURE_IDS)
def test_no_measure_is_correlated_with_random_gains_by_construction(m, on_random_gains):
    """On random gains a measure's double-centred ρ is either not computed (with the reason) or not ±1."""
    for a in on_random_gains:
        p = a["pooled"][m]
        if p["interaction_spearman"] is None:
            assert p["why"], m
        else:
            assert abs(p["interaction_spearman"]) < 0.9, (m, p["interaction_spearman"])
    a = on_random_gains[0]
    if m == "B2":
        assert p["interaction_spearman"] is None and "−g/(T−1)" in p["why"]   # main: −0.9 and more
    if m == "B1":
        assert p["interaction_spearman"] is None    # main: the rounding residue of a constant row
    if m in core.BASELINES:
        assert p["mean_ndcg3"] is not None           # baselines: compared on ranking quality


# ---------------------------------------------------------------- issue 24, item 3

@pytest.mark.parametrize("n", [1, 2, 3])
def test_sentences_fit_the_numbers_with_few_sources(n, tmp_path):
    sources = ["ccg", "qqp", "sst2"][:n]
    targets = ["xnli", "pawsx", "udpos"]
    a = _run(sources, targets)
    md = report.markdown(a)
    assert "nine sources" not in md and "at most 0" not in md
    plural = "s" if n != 1 else ""
    assert (f"with {n} sources they are coarse" if n >= 3 else f"needs at least 3 of them (here {n})") in md
    joined = " ".join(a["verdicts"])
    assert f"n = {n} source{plural} × 3 targets" in joined
    if n < 3:
        assert a["verdicts"][0].startswith("The data cannot resolve either question")
        assert f"unmasked sources per target xnli {n}, pawsx {n}, udpos {n}" in a["verdicts"][0]
    if n == 1:   # one source: nothing to choose, Regret@1 is not "0.00"
        assert all(r["regret1"] is None for r in a["per_target"]["D0"].values())
        assert a["pooled"]["D0"]["mean_regret1"] is None
        row = next(line for line in md.splitlines() if line.startswith("| D0 "))
        assert "0.00" not in row
        assert "no target has 2 or more unmasked sources" in md


def test_all_masked_target_and_constant_measure_are_explained():
    sources, targets = ["mnli", "qqp", "squad"], ["xnli", "pawsx", "udpos"]
    gain = _random(sources, targets)
    for s in sources:       # xnli: every gain missing
        gain[s]["xnli"] = None
    const = {s: {t: 0.5 for t in targets} for s in sources}
    a = _run(sources, targets, gain=gain, measures={"M1": const})
    assert a["per_target"]["M1"]["xnli"]["why"] == "n = 0 < 3 sources"
    assert a["per_target"]["M1"]["pawsx"]["why"] == "the measure is equal for every source"
    assert "no task-specific part" in a["pooled"]["M1"]["why"]
    md = report.markdown(a)
    assert "xnli (n = 0 < 3 sources)" in md and "the measure is equal for every source" in md


def test_plots_label_axes_and_mark_what_was_not_computed(tmp_path, monkeypatch):
    a = _run(["mnli"], ["xnli", "pawsx"])     # xnli: the only source is masked
    figs = _figure_texts(a, tmp_path, monkeypatch)
    assert len(figs) == 3
    for fig in figs:
        for ax in fig.axes:
            if ax.get_visible() and ax.axison and ax.get_label() != "<colorbar>":
                assert ax.get_xlabel() and ax.get_ylabel() or ax.get_xlabel(), ax.get_title()
    everything = [t for ts in figs.values() for t in ts]
    assert "gain over baseline (points)" in everything                      # colour bar
    assert any(report.RHO_LABEL in t for t in everything)                   # forest axis = table's column name
    assert any("every source with a value is masked" in t for t in everything)
    assert not any("ρ(interaction)" in t for t in everything)


# ---------------------------------------------------------------- issue 28, items 2 and 3

FOUR_SOURCES = ["ccg", "mnli", "qqp", "squad"]
FOUR_TARGETS = ["xnli", "pawsx", "udpos", "panx"]


def test_verdicts_state_their_n_and_power():
    a = _run(FOUR_SOURCES, FOUR_TARGETS)
    for v in a["verdicts"]:
        assert "n = 4 sources × 4 targets" in v and "power" in v, v
    assert "no single target can reach p ≤ 0.05" in a["verdicts"][0]


def test_gamma_interval_is_not_pinned_to_its_bounds():
    """4 sources: a third of the source resamples hold at most 2 distinct sources, where γ is ±2 by
    construction; main reported [−2.00, +2.00]. Now: no CI, and why."""
    for seed in range(4):
        a = _run(FOUR_SOURCES, FOUR_TARGETS, gain=_random(FOUR_SOURCES, FOUR_TARGETS, 100 + seed))
        for m, i in a["pawsx_interaction"].items():
            lo, hi = i["ci_gamma"]
            assert lo is None or (abs(lo) < 2 - 1e-9 and abs(hi) < 2 - 1e-9), (m, lo, hi)
            if i["gamma"] is not None and lo is None:
                assert "fewer than 3 distinct sources" in i["ci_why"]
    # enough sources: the CI is reported, and degenerate resamples are left out rather than kept
    a = _run(EIGHT, FIVE)
    assert a["pawsx_interaction"]["D0"]["ci_gamma"][0] is not None
    used, of = a["pawsx_interaction"]["D0"]["ci_draws"]
    assert used <= of and used >= 0.95 * of


def test_bootstrap_ci_says_why_it_is_not_reported():
    draws = np.r_[np.full(10, np.nan), np.linspace(-1, 1, 90)]
    out = core.bootstrap_ci(draws, 4)
    assert out["ci"] == [None, None] and "10 of 100" in out["why"]
    out = core.bootstrap_ci(np.r_[np.nan, np.linspace(-1, 1, 99)], 9)
    assert out["ci"][0] == pytest.approx(-0.95, abs=0.01) and out["why"] is None


def _typed(sources, targets, gain):
    return {"schema_version": 1, "profile": "typed-in", "model": "xlm-roberta-large", "data_source": "hub",
            "seeds": [1], "encoders": ["baseline", *sources], "targets": targets, "headline_split": "dev",
            "splits": {"dev": {"cells": {}, "xtreme": {}, "gain": {
                s: {t: {"mean": gain[s][t], "sd": 0.0, "n": 1} for t in targets} for s in sources}}},
            "intermediate_dev": {}, "provenance": {"note": "typed", "versions": {}, "retrieval": {
                "layer": 14, "bucc_layer": 14, "pooling": "mean", "reference_num_layers": 24}}}


def test_measures_from_other_data_are_marked_wherever_they_appear(tmp_path):
    sources, targets = FOUR_SOURCES, FOUR_TARGETS
    tasks = sources + targets
    rnd = lambda seed: _random(tasks, tasks, seed)
    data = {"lexical": {"M1": rnd(1), "M1_weighted": rnd(2), "C2": {"pawsx": 0.1}, "sample_size": 32},
            "embeddings": {"M2": rnd(3), "M2_mid": rnd(4), "M3": rnd(5)}}
    analyse_results(_typed(sources, targets, _random(sources, targets)), tmp_path, data=data, profile="smoke",
                    permutations=50, bootstrap=50)
    a = json.loads((tmp_path / "analysis.json").read_text())
    assert set(a["measure_origin"]) == {"M1", "M2", "M3"} and "smoke" in a["measure_origin"]["M3"]
    md = (tmp_path / "report.md").read_text()
    for line in md.splitlines():
        for m in ("M1", "M2", "M3"):
            if line.startswith((f"| {m}", f"### {m}")):
                assert f"{m}‡" in line, line
    assert "‡ M3 is computed on" in md
    named = [v for v in a["verdicts"] if "M2" in v or "M1" in v or "M3" in v]
    assert all("not on the data behind the gains" in v for v in named)
    assert "D0‡" not in md   # D0 comes from the ladder of these very tasks: not marked


# ---------------------------------------------------------------- a planted table: the planted sign

def test_planted_pawsx_reversal_comes_out_of_analyze_results(tmp_path):
    rng = np.random.default_rng(1)
    quality = rng.normal(0, 0.5, len(EIGHT))
    gain = {s: {t: round(float(quality[i] + (0.6 if t == "pawsx" else -0.6) * ladder.distance(s, t)
                               + rng.normal(0, 0.3)), 2) for t in FIVE} for i, s in enumerate(EIGHT)}
    path = tmp_path / "typed8.json"
    path.write_text(json.dumps(_typed(EIGHT, FIVE, gain)))
    repro("analyze", "--results", path, "--out", tmp_path / "o", "--permutations", "300", "--bootstrap", "300")
    a = json.loads((tmp_path / "o" / "analysis.json").read_text())
    d0 = a["pawsx_interaction"]["D0"]
    assert d0["gamma"] < 0 and d0["p_gamma"] < 0.05 and d0["ci_gamma"][1] < 0
    assert a["pooled"]["D0"]["interaction_spearman"] > 0


# ---------------------------------------------------------------- the known-answer section

def test_known_answer_verdicts_follow_the_numbers(tmp_path):
    d = [0.0, 0.25, 0.5, 0.75, 1.0]
    good = known_answer.analyse(d, [9.0, 7.0, 4.0, 2.0, 0.5], {"M1": [0.9, 0.7, 0.5, 0.3, 0.1],
                                                               "M4": [0.5, 0.4, 0.2, 0.1, 0.0],
                                                               "M2": [0.1, 0.3, 0.2, 0.0, 0.4]})
    assert good["verdict"].startswith("Known answer recovered (n = 5 planted sources")
    assert "only a perfect order (|ρ| = 1) reaches exact p ≤ 0.05" in good["verdict"]
    assert "M1 ρ = +1.00" in good["verdict"] and "M2" not in good["verdict"]
    bad = known_answer.analyse(d, [9.0, 7.0, 4.0, 2.0, 0.5], {"M1": [0.1, 0.3, 0.5, 0.7, 0.9],
                                                              "M4": [0.5, 0.4, 0.2, 0.1, 0.0]})
    assert bad["verdict"].startswith("Known answer NOT recovered") and "M1 ρ = -1.00" in bad["verdict"]
    a = _run(["mnli"], ["xnli", "pawsx"])
    a["planted"] = good
    report.write(a, tmp_path)
    md = (tmp_path / "report.md").read_text()
    assert "## Known-answer check" in md and good["verdict"] in md
    assert (tmp_path / "planted.png").read_bytes()[:4] == b"\x89PNG"
