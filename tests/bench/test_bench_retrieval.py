"""Benchmarks for repro.retrieval, each optimised path beside its naive anchor (engineering.md §6).

Run: ``HF_HUB_OFFLINE=1 python -m pytest tests/bench --benchmark-only``. Pairs share a benchmark group so the
report shows them side by side; the optimised test also times both sides once with ``time.perf_counter`` and
stores ``speedup_vs_reference`` in ``extra_info``.

(a) sentence-embedding extraction on the tiny XLM-R: length-sorted batches vs file order (XTREME reference);
(b) exact kNN k = 4 on 4000 × 4000 random unit vectors, d = 256: blocked torch matmul + topk vs full NumPy
    similarity matrix + argsort.
"""
from __future__ import annotations

import os
import time

import numpy as np
import pytest

from repro import retrieval as R
from repro.synthetic.lexicon import ENGLISH, translate

os.environ.setdefault("HF_HUB_OFFLINE", "1")

N_SENTENCES = 512
EMBED_BATCH = 100          # XTREME's --batch_size
KNN_N, KNN_D, KNN_K = 4000, 256, 4


# ------------------------------------------------------------------------------------------------ fixtures



@pytest.fixture(scope="module")
def sentences():
    """512 seeded sentences with log-normal word counts (median 20, heavy tail, capped at 100 words)."""
    rng = np.random.default_rng(2024)
    words = np.array(ENGLISH)
    lengths = np.clip(np.rint(rng.lognormal(mean=np.log(20), sigma=0.6, size=N_SENTENCES)), 2, 100).astype(int)
    out = []
    for i, n in enumerate(lengths):
        toks = list(rng.choice(words, size=n))
        out.append(" ".join(translate(toks, "xa") if i % 2 else toks))
    return out


@pytest.fixture(scope="module")
def unit_vectors():
    rng = np.random.default_rng(7)
    x = R.normalize(rng.standard_normal((KNN_N, KNN_D)).astype(np.float32))
    y = R.normalize(rng.standard_normal((KNN_N, KNN_D)).astype(np.float32))
    return x, y


def _once(fn):
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


# ------------------------------------------------------------------------------------------------ (a) extraction

def _embed(model, tok, sents, sort):
    layer = R.resolve_layer(model.config.num_hidden_layers, 14)
    return R.embed_sentences(model, tok, sents, layer=layer, batch_size=EMBED_BATCH, sort_by_length=sort)


def _padded_tokens(tok, sents, sort):
    lens = np.array([len(ids) + 2 for ids in tok([s.strip() for s in sents], add_special_tokens=False)["input_ids"]])
    order = np.argsort(-lens, kind="stable") if sort else np.arange(len(lens))
    return int(sum(lens[order[i:i + EMBED_BATCH]].max() * len(order[i:i + EMBED_BATCH])
                   for i in range(0, len(lens), EMBED_BATCH)))


@pytest.mark.benchmark(group="retrieval-embed-512-tiny-xlmr")
def test_bench_embed_sorted(benchmark, tiny, sentences):
    model, tok = tiny
    _embed(model, tok, sentences[:EMBED_BATCH], True)  # warm-up
    t_ref, ref = _once(lambda: _embed(model, tok, sentences, False))
    t_opt, opt = _once(lambda: _embed(model, tok, sentences, True))
    np.testing.assert_allclose(opt, ref, atol=1e-5, rtol=1e-5)
    benchmark.extra_info.update(
        speedup_vs_reference=round(t_ref / t_opt, 3),
        reference_s=round(t_ref, 4), optimized_s=round(t_opt, 4),
        padded_tokens=_padded_tokens(tok, sentences, True),
        padded_tokens_reference=_padded_tokens(tok, sentences, False),
    )
    benchmark.pedantic(_embed, args=(model, tok, sentences, True), rounds=3, iterations=1, warmup_rounds=0)


@pytest.mark.benchmark(group="retrieval-embed-512-tiny-xlmr")
def test_bench_embed_file_order_reference(benchmark, tiny, sentences):
    model, tok = tiny
    benchmark.extra_info["padded_tokens"] = _padded_tokens(tok, sentences, False)
    benchmark.pedantic(_embed, args=(model, tok, sentences, False), rounds=3, iterations=1, warmup_rounds=0)


# ------------------------------------------------------------------------------------------------ (b) kNN

def _same_neighbours(a, b):
    """Indices equal, except where the two sides disagree only on (near-)tied similarities."""
    (sa, ia), (sb, ib) = a, b
    np.testing.assert_allclose(sa, sb, atol=1e-5)
    diff = ia != ib
    assert diff.mean() < 1e-3, f"{diff.sum()} neighbour indices differ"


@pytest.mark.benchmark(group="retrieval-knn-4000x4000-d256-k4")
def test_bench_knn_torch(benchmark, unit_vectors):
    x, y = unit_vectors
    R.knn(x[:256], y, KNN_K)  # warm-up
    t_ref, ref = _once(lambda: R.knn_reference(x, y, KNN_K))
    t_opt, opt = _once(lambda: R.knn(x, y, KNN_K))
    _same_neighbours(opt, ref)
    benchmark.extra_info.update(speedup_vs_reference=round(t_ref / t_opt, 3),
                                reference_s=round(t_ref, 4), optimized_s=round(t_opt, 4))
    benchmark.pedantic(R.knn, args=(x, y, KNN_K), rounds=3, iterations=1, warmup_rounds=0)


@pytest.mark.benchmark(group="retrieval-knn-4000x4000-d256-k4")
def test_bench_knn_numpy_reference(benchmark, unit_vectors):
    x, y = unit_vectors
    benchmark.pedantic(R.knn_reference, args=(x, y, KNN_K), rounds=3, iterations=1, warmup_rounds=0)
