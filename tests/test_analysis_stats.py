"""Property and hand-computed tests of repro.analysis.stats."""
import itertools
import math

import numpy as np
import pytest
from scipy import stats as sps

from repro.analysis import stats


def test_permutations_are_all_distinct():
    p = stats.all_permutations(5)
    assert p.shape == (120, 5)
    assert len({tuple(r) for r in p}) == 120


def test_exact_spearman_p_n9_matches_full_enumeration():
    x = np.arange(9.0)
    y = np.array([2, 0, 1, 4, 3, 5, 8, 6, 7], dtype=float)
    rho, p = stats.spearman(x, y)
    assert rho == pytest.approx(sps.spearmanr(x, y).statistic)
    # brute force with itertools over all 9! orderings of y's ranks
    ry = sps.rankdata(y)
    d = np.array(list(itertools.permutations(ry)))
    rhos = 1 - 6 * ((d - sps.rankdata(x)) ** 2).sum(axis=1) / (9 * 80)
    assert p == pytest.approx(np.mean(np.abs(rhos) >= abs(rho) - 1e-12))


def test_exact_thresholds_of_the_spec_for_n9():
    # the exact permutation threshold: P(|rho| >= 0.70) = 0.043 for n = 9 (scipy's t-approximation would say 0.036)
    x = np.arange(9.0)
    for perm in itertools.permutations(range(9)):
        y = np.array(perm, dtype=float)
        if abs(sps.spearmanr(x, y).statistic - 0.7) < 1e-9:
            break
    rho, p = stats.spearman(x, y)
    assert rho == pytest.approx(0.7)
    assert p == pytest.approx(0.043, abs=0.0005)


def test_kendall_tau_b_with_ties_and_exact_p():
    x = np.array([1, 2, 2, 3, 4, 5, 6], dtype=float)
    y = np.array([1, 3, 2, 2, 5, 4, 7], dtype=float)
    tau, p = stats.kendall(x, y)
    assert tau == pytest.approx(sps.kendalltau(x, y).statistic)
    null = [sps.kendalltau(x, y[list(q)]).statistic for q in itertools.permutations(range(7))]
    assert p == pytest.approx(np.mean(np.abs(null) >= abs(tau) - 1e-12))


def test_correlation_undefined_cases_and_nan_cells():
    assert all(math.isnan(v) for v in stats.spearman([1, 2], [2, 1]))
    assert all(math.isnan(v) for v in stats.kendall([1, 1, 1, 1], [1, 2, 3, 4]))
    rho, _ = stats.spearman([1, 2, np.nan, 3, 4], [1, 2, 9, 3, 4])
    assert rho == pytest.approx(1.0)


def test_ndcg_is_one_for_the_ideal_order_and_hand_case():
    gains = np.array([3.0, 1.0, 0.0, 2.0])
    assert stats.ndcg_at_k(gains, gains, 3) == pytest.approx(1.0)
    # reversed order: rel = [1, 1/3, 0, 2/3]; predicted top 3 = idx 2, 1, 3
    rel = 2 ** np.array([0, 1 / 3, 2 / 3]) - 1
    disc = 1 / np.log2([2, 3, 4])
    ideal = (2 ** np.array([1, 2 / 3, 1 / 3]) - 1) @ disc
    assert stats.ndcg_at_k(gains, -gains, 3) == pytest.approx(rel @ disc / ideal)


def test_ndcg_ties_take_the_expected_order():
    gains = np.array([2.0, 0.0, 1.0])
    scores = np.array([1.0, 1.0, 0.0])  # the first two tie: positions 1, 2 carry their mean relevance
    rel = 2 ** np.array([1.0, 0.0, 0.5]) - 1
    disc = 1 / np.log2([2, 3])
    expected = (rel[:2].mean() * disc.sum()) / (np.sort(rel)[::-1][:2] @ disc)
    assert stats.ndcg_at_k(gains, scores, 2) == pytest.approx(expected)


def test_regret_zero_when_best_in_top_k_and_hand_case():
    gains = np.array([5.0, 1.0, 3.0, -2.0])
    assert stats.regret_at_k(gains, np.array([0.1, 0.9, 0.5, 0.0]), 3) == 0.0
    assert stats.regret_at_k(gains, np.array([0.1, 0.9, 0.5, 0.0]), 1) == pytest.approx(4.0)
    assert stats.regret_at_k(gains, np.array([0.1, 0.9, 0.5, 0.0]), 2) == pytest.approx(2.0)
    # a tie of all four at k = 1: expected best of one random source = mean gain
    assert stats.regret_at_k(gains, np.zeros(4), 1) == pytest.approx(5.0 - gains.mean())


def test_double_centre_removes_additive_effects():
    rows, cols = np.array([[1.0], [5.0], [-2.0]]), np.array([[10.0, 0.0, 3.0, 7.0]])
    inter = np.zeros((3, 4))
    inter[0, 0], inter[0, 1], inter[1, 0], inter[1, 1] = 1, -1, -1, 1
    out = stats.double_centre(rows + cols + inter)
    assert np.allclose(out, inter)


def test_benjamini_hochberg_hand_case():
    q = stats.benjamini_hochberg([0.01, 0.04, 0.03, np.nan, 0.5])
    # sorted 0.01, 0.03, 0.04, 0.5 (m = 4): raw 0.04, 0.06, 0.0533, 0.5, then the running minimum from the top
    assert np.allclose(q[[0, 1, 2, 4]], [0.04, 0.16 / 3, 0.16 / 3, 0.5])
    assert math.isnan(q[3])


def test_paired_bootstrap_is_paired_and_centred():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 2, 400)
    units = {"en": np.stack([a, a])[:, :, None].astype(float), "de": np.stack([a, 1 - a])[:, :, None].astype(float)}
    out = stats.paired_bootstrap(units, lambda s, n: 100 * s[:, 0] / n, b=200, seed=1)
    assert out.shape == (200, 2)
    # paired: model 1 is model 0 on en and its complement on de, so (m0 + m1) / 2 = (m_en + 50) / 2 varies
    # only with the en draw; the difference m0 - m1 = m_de - 50 varies, and it is centred on the full-data value
    diff = out[:, 0] - out[:, 1]
    assert abs(diff.mean() - (100 * a.mean() - 50)) < 2 and diff.std() > 0
    same = stats.paired_bootstrap({"en": np.stack([a, a])[:, :, None].astype(float)}, lambda s, n: s[:, 0] / n, b=50)
    assert np.array_equal(same[:, 0], same[:, 1])
    assert abs(out[:, 0].mean() - 100 * a.mean()) < 2


def test_jackknife_leaves_each_out_once():
    vals = stats.jackknife(lambda keep: float(np.flatnonzero(keep).sum()), 4)
    assert list(vals) == [6 - i for i in range(4)]


def test_interaction_detects_a_planted_reversal():
    rng = np.random.default_rng(3)
    sim = rng.normal(size=(9, 5))
    z = sim + 0.2 * rng.normal(size=(9, 5))
    z[:, 1] = -sim[:, 1] + 0.2 * rng.normal(size=9)  # target 1 reverses the relation
    res = stats.interaction_test(z, sim, focus=1, permutations=500, seed=0)
    assert res["beta"] > 0.7 and res["gamma"] < -1.2 and res["p_gamma"] < 0.01
    null = stats.interaction_test(sim + 0.2 * rng.normal(size=(9, 5)), sim, focus=1, permutations=500)
    assert abs(null["gamma"]) < 0.5 and null["p_gamma"] > 0.05
