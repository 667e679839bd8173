"""Property and hand-computed tests of repro.analysis.measures."""
from collections import Counter

import numpy as np
import pytest
from scipy import optimize
from scipy.stats import multivariate_normal

from repro.analysis import measures


def _log_marginal(f, y, log_alpha, log_beta):
    cov = f @ f.T / np.exp(log_alpha) + np.eye(len(y)) / np.exp(log_beta)
    return multivariate_normal(mean=np.zeros(len(y)), cov=cov).logpdf(y)


@pytest.mark.parametrize("n,d", [(40, 8), (30, 60)])
def test_logme_is_the_maximised_evidence_also_when_features_outnumber_examples(n, d):
    rng = np.random.default_rng(0)
    f = rng.normal(size=(n, d))
    labels = (f[:, 0] + 0.5 * rng.normal(size=n) > 0).astype(int)
    expected = 0.0
    for c in (0, 1):
        y = (labels == c).astype(float)
        best = optimize.minimize(lambda p: -_log_marginal(f, y, *p), x0=[0.0, 0.0], method="Nelder-Mead",
                                 options={"xatol": 1e-6, "fatol": 1e-9, "maxiter": 4000})
        expected += -best.fun / n
    assert measures.logme(f, labels) == pytest.approx(expected / 2, abs=2e-3)


def test_logme_higher_for_informative_than_shuffled_labels():
    rng = np.random.default_rng(1)
    f = rng.normal(size=(200, 16))
    labels = np.argmax(f[:, :3], axis=1)
    assert measures.logme(f, labels) > measures.logme(f, rng.permutation(labels)) + 0.05


def test_linear_cka_identity_orthogonal_scale_and_gram_form():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(50, 8))
    y = x @ rng.normal(size=(8, 5)) + 0.3 * rng.normal(size=(50, 5))
    assert measures.linear_cka(x, x) == pytest.approx(1.0)
    q, _ = np.linalg.qr(rng.normal(size=(8, 8)))
    assert measures.linear_cka(x @ q * 3.0, y) == pytest.approx(measures.linear_cka(x, y))
    h = np.eye(50) - 1 / 50
    k, l = h @ x @ x.T @ h, h @ y @ y.T @ h
    gram = np.trace(k @ l) / np.sqrt(np.trace(k @ k) * np.trace(l @ l))
    assert measures.linear_cka(x, y) == pytest.approx(gram)
    assert measures.linear_cka(x, rng.normal(size=(50, 5))) < measures.linear_cka(x, y)


def test_jaccard_and_weighted_jaccard():
    assert measures.jaccard({1, 2, 3}, {1, 2, 3}) == 1.0
    assert measures.jaccard({1, 2}, {2, 3}) == pytest.approx(1 / 3) == measures.jaccard({2, 3}, {1, 2})
    a, b = Counter({1: 3, 2: 1}), Counter({1: 1, 3: 1})
    # p_a = (.75, .25, 0), p_b = (.5, 0, .5): min sum .5, max sum 1.5
    assert measures.weighted_jaccard(a, b) == pytest.approx(1 / 3)
    assert measures.weighted_jaccard(a, a) == pytest.approx(1.0)


def test_centred_cosines_undo_the_common_direction():
    rng = np.random.default_rng(3)
    common = 100 * np.ones(6)
    vecs = {k: common + rng.normal(size=6) for k in "abcd"}
    raw = np.mean([np.dot(vecs["a"], vecs[k]) / np.linalg.norm(vecs["a"]) / np.linalg.norm(vecs[k]) for k in "bcd"])
    assert raw > 0.99
    c = measures.centred_cosines(vecs)
    assert c[("a", "a")] == pytest.approx(1.0)
    assert c[("a", "b")] == pytest.approx(c[("b", "a")])
    assert max(abs(c[("a", k)]) for k in "bcd") < 0.99


def test_point_biserial_overlap_hand_case():
    ex = [{"text_a": "a b c", "text_b": "a b c", "label": "1"}, {"text_a": "a b", "text_b": "c d", "label": "0"},
          {"text_a": "a b c d", "text_b": "a b", "label": "1"}, {"text_a": "x", "text_b": "y", "label": "0"}]
    o = np.array([1.0, 0.0, 0.5, 0.0])
    y = np.array([1.0, 0.0, 1.0, 0.0])
    assert measures.point_biserial_overlap(ex, "1") == pytest.approx(np.corrcoef(o, y)[0, 1])


def test_alignment_margin_hand_case():
    en = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert measures.alignment_margin(en, en) == pytest.approx(1.0)
    assert measures.alignment_margin(en, en[::-1]) == pytest.approx(-1.0)


def test_example_texts_skip_labels_and_ids():
    ex = {"id": "q1", "text_a": "hello", "text_b": "world", "label": "entailment"}
    assert measures.example_texts(ex) == ["hello", "world"]
    assert measures.example_texts({"tokens": ["a", "b"], "tags": ["X", "Y"]}) == ["a b"]
    mc = {"context": "c", "choices": ["x", "y"], "label": 1}
    assert measures.example_texts(mc) == ["c", "x", "y"]


def test_fisher_embedding_is_seed_stable(tiny_encoder):
    model, tok = tiny_encoder
    rng = np.random.default_rng(0)
    words = ["alpha", "beta", "gamma", "delta", "red", "blue", "green", "stone"]
    texts = [" ".join(rng.choice(words, 6)) for _ in range(48)]
    labels = np.array(["alpha" in t for t in texts])
    seqs = [tok(t)["input_ids"] for t in texts]
    a = measures.fisher_embedding(model, seqs, labels, tok.pad_token_id, head_steps=100, seed=0)
    b = measures.fisher_embedding(model, seqs, labels, tok.pad_token_id, head_steps=100, seed=1)
    cos = lambda u, v: float(u @ v / np.linalg.norm(u) / np.linalg.norm(v))
    assert a.shape == (model.config.num_hidden_layers * model.config.hidden_size,)
    assert cos(a, b) > 0.9


@pytest.fixture(scope="module")
def tiny_encoder():
    from repro.modeling import TINY_MODEL, load_encoder, load_tokenizer
    return load_encoder(TINY_MODEL), load_tokenizer(TINY_MODEL)
