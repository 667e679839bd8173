"""Tests for repro.retrieval (the rules in its module docstring): layer choice, embedding extraction, kNN, Tatoeba and BUCC mining.

Expected values of the hand-made cases are derived in the comments (exact fractions).
"""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from repro import retrieval as R
from repro.synthetic.lexicon import translate

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ENGLISH = [
    "anna sees the big cat in paris .",
    "boris likes the dog .",
    "clara reads a new book near the river in oslo .",
    "who opens the door ?",
    "david paints the small red house and the old garden with elena .",
    "yes .",
    "greta finds a green lamp .",
]




# ------------------------------------------------------------------------------------------------ layer choice

def test_resolve_layer_scales_relative_depth():
    assert R.resolve_layer(24, 14) == 14
    assert R.resolve_layer(4, 14) == 2    # round(14 * 4 / 24) = round(2.33)
    assert R.resolve_layer(4, 20) == 3    # BUCC's literal layer 20 of 24: round(3.33)
    assert R.resolve_layer(12, 14) == 7   # round(7.0)
    assert R.resolve_layer(4, 7, reference_num_layers=12) == 2


def test_resolve_layer_clamps():
    assert R.resolve_layer(4, 1) == 1     # round(0.17) = 0 -> 1: never the embedding output
    assert R.resolve_layer(4, 0) == 1
    assert R.resolve_layer(4, 24) == 4
    assert R.resolve_layer(4, 40) == 4    # round(6.67) = 7 -> 4
    with pytest.raises(ValueError):
        R.resolve_layer(0, 14)


# ------------------------------------------------------------------------------------------------ embeddings

def _manual_states(model, tok, sentence, layer):
    ids = [tok.cls_token_id, *tok(sentence.strip(), add_special_tokens=False)["input_ids"], tok.sep_token_id]
    with torch.no_grad():
        out = model(input_ids=torch.tensor([ids]), output_hidden_states=True)
    return ids, out.hidden_states[layer][0].numpy()


def test_mean_pooling_includes_specials_excludes_padding(tiny):
    model, tok = tiny
    layer = R.resolve_layer(model.config.num_hidden_layers, 14)
    # Sentence 0 is padded in the batch (sentence 2 is much longer); surrounding whitespace is stripped.
    sents = ["  boris likes the dog .\n", "yes .", ENGLISH[4]]
    emb = R.embed_sentences(model, tok, sents, layer=layer, sort_by_length=False)
    assert emb.dtype == np.float32 and emb.shape == (3, model.config.hidden_size)
    for i, s in enumerate(sents):
        ids, states = _manual_states(model, tok, s, layer)
        assert ids[0] == tok.cls_token_id and ids[-1] == tok.sep_token_id
        np.testing.assert_allclose(emb[i], states.mean(axis=0), atol=1e-5)          # all positions incl. specials
        assert not np.allclose(emb[i], states[1:-1].mean(axis=0), atol=1e-4)        # not without specials


def test_cls_pooling_is_position_zero(tiny):
    model, tok = tiny
    emb = R.embed_sentences(model, tok, ENGLISH[:3], layer=3, pooling="cls")
    for i, s in enumerate(ENGLISH[:3]):
        _, states = _manual_states(model, tok, s, 3)
        np.testing.assert_allclose(emb[i], states[0], atol=1e-5)


def test_truncation_keeps_specials(tiny):
    model, tok = tiny
    s = ENGLISH[4]
    emb = R.embed_sentences(model, tok, [s], layer=2, max_length=5)
    pieces = tok(s, add_special_tokens=False)["input_ids"][:3]  # max_length - 2 pieces
    ids = [tok.cls_token_id, *pieces, tok.sep_token_id]
    with torch.no_grad():
        states = model(input_ids=torch.tensor([ids]), output_hidden_states=True).hidden_states[2][0].numpy()
    np.testing.assert_allclose(emb[0], states.mean(axis=0), atol=1e-5)


def test_backend_ids_equal_the_tokenizer_call(tiny):
    _, tok = tiny
    texts = [*ENGLISH, "", "x <mask> y </s>", "naïve café — 東京 ?", "  spaced   out  "]
    assert R._piece_ids(tok, texts) == tok(texts, add_special_tokens=False)["input_ids"]
    flat, starts, lengths = R._encode(tok, texts, max_length=6)
    assert lengths.max() <= 6 and flat[starts[0]] == tok.cls_token_id
    assert flat[starts[1:] - 1].tolist() == [tok.sep_token_id] * (len(texts) - 1)


def test_sorted_equals_file_order(tiny):
    model, tok = tiny
    sents = ENGLISH * 3
    a = R.embed_sentences(model, tok, sents, layer=2, batch_size=4, sort_by_length=True)
    b = R.embed_sentences(model, tok, sents, layer=2, batch_size=4, sort_by_length=False)
    np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-5)


def test_token_budget_batches_cover_every_row_once_and_never_exceed_the_first_batch():
    rng = np.random.default_rng(0)
    lengths = rng.integers(3, 90, size=1000)
    order = np.argsort(-lengths, kind="stable")
    batches = list(R._token_budget_batches(order, lengths, 100))
    assert np.array_equal(np.concatenate(batches), order)  # longest first, each row once
    budget = 100 * lengths.max()
    assert len(batches[0]) == 100 and all(len(b) * lengths[b].max() <= budget for b in batches)
    assert all(lengths[b].min() >= 0.9 * lengths[b].max() for b in batches)  # under a tenth padding
    assert len(batches) < 40
    short = np.r_[np.full(5, 60), np.full(500, 6)]  # short sentences come in larger batches than 100
    assert [len(b) for b in R._token_budget_batches(np.arange(505), short, 100)] == [5, 500]
    single = list(R._token_budget_batches(np.array([0]), np.array([512]), 1))
    assert [list(b) for b in single] == [[0]]


def test_end_to_end_tatoeba_on_pseudo_language(tiny):
    model, tok = tiny
    layer = R.resolve_layer(model.config.num_hidden_layers, 14)
    src = [" ".join(translate(s.split(), "xa")) for s in ENGLISH]
    en = sorted(ENGLISH)  # XTREME's English file is sorted; gold = original position
    gold = [ENGLISH.index(s) for s in en]
    src_emb = R.embed_sentences(model, tok, src, layer=layer, batch_size=3)
    en_emb = R.embed_sentences(model, tok, en, layer=layer, batch_size=3)
    pred = R.tatoeba_predict(src_emb, en_emb)
    assert len(pred) == len(en) == len(gold)
    assert all(isinstance(p, int) and 0 <= p < len(src) for p in pred)


# ------------------------------------------------------------------------------------------------ kNN

def test_normalize_rows():
    x = R.normalize([[3.0, 4.0], [0.0, 0.0], [0.0, -2.0]])
    np.testing.assert_allclose(x, [[0.6, 0.8], [0.0, 0.0], [0.0, -1.0]], atol=1e-7)


@pytest.mark.parametrize("block", [8192, 7])
def test_knn_equals_reference(block):
    rng = np.random.default_rng(0)
    x = R.normalize(rng.standard_normal((50, 16)))
    y = R.normalize(rng.standard_normal((37, 16)))
    sims, idx = R.knn(x, y, 4, block=block, cosine=False)
    ref_sims, ref_idx = R.knn_reference(x, y, 4)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(sims, ref_sims, atol=1e-6)


def test_knn_caps_k():
    x = np.eye(3, dtype=np.float32)
    y = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=np.float32)
    sims, idx = R.knn(x, y, 4, block=1, cosine=False)
    assert sims.shape == idx.shape == (3, 2)
    np.testing.assert_array_equal(idx[:2], [[0, 1], [1, 0]])
    np.testing.assert_allclose(sims[:2], [[1, 0], [1, 0]])


# ------------------------------------------------------------------------------------------------ Tatoeba

def test_tatoeba_index_per_english_row_by_cosine():
    src = np.array([[1.0, 0.0], [0.0, 1.0], [10.0, 10.0]])   # src 2: largest inner products, 45 degrees
    en = np.array([[0.1, 0.0],                            # cos 1 with src 0 (ip 0.1 < 1.0 with src 2)
                   [1.0, 1.1],                            # closest in angle to src 2
                   [0.0, 3.0]])                           # src 1
    assert R.tatoeba_predict(src, en) == [0, 2, 1]


# ------------------------------------------------------------------------------------------------ BUCC

def test_ratio_margin_3x3_by_hand():
    # Targets are the standard basis, so cos(x_i, y_j) = x_i[j]:
    #   C = [[1, 0, 0], [0, .6, .8], [.6, .8, 0]].  k = 4 is capped at 3, so the kNN means are row/column means:
    #   fwd_mean = [1, 1.4, 1.4] / 3, bwd_mean = [1.6, 1.4, .8] / 3
    #   score(i, j) = C_ij / ((fwd_i + bwd_j) / 2) = 6 C_ij / (3 fwd_i + 3 bwd_j)
    #   x0-y0: 6 / 2.6 = 30/13;  x1-y1: 3.6 / 2.8 = 9/7;  x1-y2: 4.8 / 2.2 = 24/11
    #   x2-y0: 3.6 / 3.0 = 6/5;  x2-y1: 4.8 / 2.8 = 12/7; zero-cosine pairs score 0.
    # Best target per source: y0, y2, y1; best source per target: x0, x2, x1 -> consistent, all accepted.
    src = np.array([[1, 0, 0], [0, .6, .8], [.6, .8, 0]], dtype=np.float32)
    trg = np.eye(3, dtype=np.float32)
    got = R.bucc_mine(["s0", "s1", "s2"], ["a", "b", "c"], src, ["t0", "t1", "t2"], ["A", "B", "C"], trg, k=4)
    assert [(s, t) for _, s, t in got] == [("s0", "t0"), ("s1", "t2"), ("s2", "t1")]
    assert [score for score, _, _ in got] == pytest.approx([30 / 13, 24 / 11, 12 / 7], rel=1e-5)
    assert R.bucc_extract(got, 2.0) == [("s0", "t0"), ("s1", "t2")]


def test_greedy_one_to_one():
    # One target, two sources. fwd k capped at 1: fwd_mean = [1, .8]; bwd k = 2: bwd_mean(y0) = (1 + .8) / 2 = .9
    #   x0-y0: 1 / ((1 + .9) / 2) = 20/19;  x1-y0: .8 / ((.8 + .9) / 2) = 16/17 > 0
    # Pool (20/19 x0-y0, 16/17 x1-y0, 20/19 y0->x0): x0-y0 accepted once; x1-y0 refused since y0 is taken.
    src = np.array([[1.0, 0.0], [0.8, 0.6]])
    trg = np.array([[1.0, 0.0]])
    got = R.bucc_mine(["s0", "s1"], ["a", "b"], src, ["t0"], ["A"], trg)
    assert len(got) == 1
    assert got[0][1:] == ("s0", "t0")
    assert got[0][0] == pytest.approx(20 / 19, rel=1e-6)


def test_duplicates_take_last_occurrence_and_are_never_predicted():
    # "a" occurs twice: its unique embedding is the LAST row, (1, 0). Unique sources a=(1,0), b=(.6,.8) against
    # targets t0=(1,0), t1=(0,1) (k = 2): fwd_mean = [.5, .7], bwd_mean = [.8, .4]
    #   a-t0: 1 / ((.5 + .8) / 2) = 20/13;  b-t1: .8 / ((.7 + .4) / 2) = 16/11;  b-t0: .6 / .75 = 4/5
    # (with the FIRST occurrence, a=(0,1), "a" would pair with t1 instead).
    src_texts = ["a", "b", "a"]
    src = np.array([[0.0, 1.0], [0.6, 0.8], [1.0, 0.0]])
    trg = np.eye(2)
    text_level = R.mine_text_candidates(src_texts, src, ["A", "B"], trg)
    assert [(s, t) for _, s, t in text_level] == [("a", "A"), ("b", "B")]
    assert [c[0] for c in text_level] == pytest.approx([20 / 13, 16 / 11], rel=1e-6)
    # Step 7: "a" occurs twice in its file, so it maps to no ID and is never predicted.
    got = R.bucc_mine(["s0", "s1", "s2"], src_texts, src, ["t0", "t1"], ["A", "B"], trg)
    assert [(s, t) for _, s, t in got] == [("s1", "t1")]
    assert got[0][0] == pytest.approx(16 / 11, rel=1e-6)


def test_unique_texts_order_and_last_row():
    texts, emb = R.unique_texts(["x\n", "y", "x", "z", "y"], np.arange(5)[:, None])
    assert texts == ["x", "y", "z"]
    assert emb[:, 0].tolist() == [2, 4, 3]


def test_threshold_midpoint_rule():
    cands = [(0.6, "s4", "t4"), (0.9, "s1", "t1"), (0.7, "s3", "t3"), (0.8, "s2", "t2")]  # unsorted on purpose
    gold = {("s1", "t1"), ("s3", "t3"), ("s9", "t9")}
    # prefix n=1: c=1 P=1 R=1/3 F1=.5 -> thr (.9+.8)/2 = .85; n=2: F1=.4; n=3: c=2 P=R=2/3 F1=2/3 -> thr .65;
    # n=4: P=.5 R=2/3 F1=4/7 < 2/3.
    thr, f1, p, r = R.bucc_optimize_threshold(cands, gold)
    assert thr == pytest.approx(0.65)
    assert (f1, p, r) == pytest.approx((200 / 3, 200 / 3, 200 / 3))
    assert R.bucc_extract(cands, thr) == [("s1", "t1"), ("s3", "t3"), ("s2", "t2")]


def test_threshold_maximum_on_last_item_and_no_hit():
    assert R.bucc_optimize_threshold([(0.9, "a", "b")], {("a", "b")}) == (0.9, 100.0, 100.0, 100.0)
    assert R.bucc_optimize_threshold([(0.9, "a", "b")], {("a", "c")}) == (0.0, 0.0, 0.0, 0.0)


def test_extract_uses_greater_or_equal():
    cands = [(0.7, "s1", "t1"), (0.5, "s2", "t2"), (0.3, "s3", "t3")]
    assert R.bucc_extract(cands, 0.5) == [("s1", "t1"), ("s2", "t2")]
    assert R.bucc_extract(cands, 0.5000001) == [("s1", "t1")]


# ------------------------------------------------------------------------------------------------ mining core

def _brute_mine(x, y, k, margin):
    """Full similarity matrix, stable argsort both ways, margins in float64: the definition of mine()."""
    x, y = R.normalize(x), R.normalize(y)
    sims = x.astype(np.float64) @ y.T.astype(np.float64)
    kx, ky = min(k, len(y)), min(k, len(x))
    fi = np.argsort(-sims, axis=1, kind="stable")[:, :kx]
    bi = np.argsort(-sims.T, axis=1, kind="stable")[:, :ky]
    fs, bs = np.take_along_axis(sims, fi, 1), np.take_along_axis(sims.T, bi, 1)
    fm, bm = fs.mean(1), bs.mean(1)
    f = {"ratio": np.divide, "distance": np.subtract, "absolute": lambda a, b: a}[margin]
    fsc = f(fs, (fm[:, None] + bm[fi]) / 2)
    arg = fsc.argmax(1)
    return fi[np.arange(len(x)), arg], fsc[np.arange(len(x)), arg], bi


@pytest.mark.parametrize("block", [1, 7, 64, 4096])
@pytest.mark.parametrize("margin", ["ratio", "distance", "absolute"])
def test_mine_matches_brute_force_for_every_block_size(block, margin):
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((53, 16)), rng.standard_normal((41, 16))
    found = R.mine(x, y, k=4, margin=margin, block=block)
    tgt, score, bwd_idx = _brute_mine(x, y, 4, margin)
    assert found.src.tolist() == list(range(53))
    assert found.tgt.tolist() == tgt.tolist()
    np.testing.assert_allclose(found.score, score, rtol=1e-5, atol=1e-6)
    assert found.bwd_knn[1].tolist() == bwd_idx.tolist()   # backward top-k from the same tiles
    assert found.bwd_tgt.tolist() == list(range(41))


_GEMMS = [g for g, available in (("mkl", torch.backends.mkl.is_available()),
                                   ("onednn", R._ONEDNN_LINEAR is not None)) if available]


@pytest.mark.skipif(not _GEMMS, reason="this torch build has neither MKL nor oneDNN")
@pytest.mark.parametrize("gemm", _GEMMS)
@pytest.mark.parametrize("block", [5, 64])
def test_every_tile_gemm_gives_the_same_neighbours_as_f_linear(gemm, block, monkeypatch):
    rng = np.random.default_rng(12)
    x, y = rng.standard_normal((150, 96)), rng.standard_normal((130, 96))
    x[:40] = y[:40] + 0.3 * rng.standard_normal((40, 96))  # some clear pairs among the noise
    monkeypatch.setattr(R, "_TILE_GEMM", gemm)
    fast = R.mine(x, y, k=4, block=block)
    monkeypatch.setattr(R, "_TILE_GEMM", "linear")
    plain = R.mine(x, y, k=4, block=block)
    for a, b in ((fast.fwd_knn, plain.fwd_knn), (fast.bwd_knn, plain.bwd_knn)):
        assert a[1].tolist() == b[1].tolist()
        np.testing.assert_allclose(a[0], b[0], rtol=0, atol=1e-6)
    assert fast.tgt.tolist() == plain.tgt.tolist()


def test_tile_gemm_choice_follows_the_cpu_vendor(monkeypatch):
    monkeypatch.setattr(R, "_cpuinfo", {"vendor_id": "GenuineIntel"}.get)
    assert R._default_tile_gemm() == ("mkl" if torch.backends.mkl.is_available() else
                                      "onednn" if R._ONEDNN_LINEAR is not None else "linear")
    monkeypatch.setattr(R, "_cpuinfo", {"vendor_id": "AuthenticAMD"}.get)
    assert R._default_tile_gemm() == ("onednn" if R._ONEDNN_LINEAR is not None else "linear")


def _count_paths(monkeypatch):
    """Counts the tiles the chunk filter took and those it left to the exhaustive test."""
    calls = {"tiles": 0, "exhaustive": 0}
    tile, exhaustive = R._tile_candidates, R._exhaustive_candidates

    def counted_tile(*a):
        calls["tiles"] += 1
        return tile(*a)

    def counted_exhaustive(*a):
        calls["exhaustive"] += 1
        return exhaustive(*a)
    monkeypatch.setattr(R, "_tile_candidates", counted_tile)
    monkeypatch.setattr(R, "_exhaustive_candidates", counted_exhaustive)
    return calls


@pytest.mark.parametrize("chunk", [3, 8, 64])
@pytest.mark.parametrize("block", [50, 128])
def test_chunk_filter_gives_the_brute_force_neighbours_both_ways(chunk, block, monkeypatch):
    monkeypatch.setattr(R, "_CHUNK", chunk)
    calls = _count_paths(monkeypatch)
    rng = np.random.default_rng(chunk + block)
    x, y = rng.standard_normal((310, 24)), rng.standard_normal((257, 24))  # partial last tiles and chunks
    x[:60] = y[:60] + 0.5 * rng.standard_normal((60, 24))
    found = R.mine(x, y, k=4, block=block)
    tgt, score, bwd_idx = _brute_mine(x, y, 4, "ratio")
    assert found.tgt.tolist() == tgt.tolist()
    assert found.bwd_knn[1].tolist() == bwd_idx.tolist()
    np.testing.assert_allclose(found.score, score, rtol=1e-5, atol=1e-6)
    if block >= 32 * chunk:  # 32 chunks per tile row or more, as at full size: the filter takes most tiles
        assert calls["exhaustive"] < calls["tiles"] / 4


@pytest.mark.parametrize("chunk", [2, 5])
def test_chunk_filter_breaks_ties_to_the_lower_index(chunk, monkeypatch):
    """Small integer vectors: many exactly equal products, within a chunk, across chunks and across tiles."""
    monkeypatch.setattr(R, "_CHUNK", chunk)
    calls = _count_paths(monkeypatch)
    rng = np.random.default_rng(chunk)
    x = rng.integers(-2, 3, (90, 5)).astype(np.float32)
    y = rng.integers(-2, 3, (70, 5)).astype(np.float32)
    for block in (16, 33):
        sims, idx = R.knn(x, y, 4, block=block, cosine=False)
        ref_sims, ref_idx = R.knn_reference(x, y, 4)
        assert idx.tolist() == ref_idx.tolist() and sims.tolist() == ref_sims.tolist()
        bwd = R.mine(x, y, k=3, block=block, cosine=False).bwd_knn[1]
        assert bwd.tolist() == R.knn_reference(y, x, 3)[1].tolist()
    assert calls["exhaustive"] < calls["tiles"]


def test_mine_accepts_torch_and_float16_and_caps_k():
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((9, 8)).astype(np.float16), rng.standard_normal((3, 8)).astype(np.float16)
    a = R.mine(x, y, k=4, block=2)
    b = R.mine(torch.from_numpy(x), torch.from_numpy(y), k=4)
    assert a.fwd_knn[1].shape == (9, 3) and a.bwd_knn[1].shape == (3, 4)  # k capped at the other side
    assert a.tgt.tolist() == b.tgt.tolist()
    np.testing.assert_allclose(a.score, b.score, rtol=1e-6)
    with pytest.raises(ValueError, match="margin"):
        R.mine(x, y, margin="cosine")


def test_knn_breaks_ties_to_the_lower_index_across_blocks():
    y = np.array([[1.0, 0.0]] * 5 + [[0.0, 1.0]], dtype=np.float32)  # five identical keys
    sims, idx = R.knn(np.array([[1.0, 0.0]], dtype=np.float32), y, 3, block=2, cosine=False)
    assert idx.tolist() == [[0, 1, 2]] and sims.tolist() == [[1.0, 1.0, 1.0]]


def test_embeddings_round_trip_as_float16(tmp_path):
    emb = np.random.default_rng(5).standard_normal((6, 4)).astype(np.float32)
    R.save_embeddings(tmp_path / "e.npy", emb)
    back = R.load_embeddings(tmp_path / "e.npy")
    assert back.dtype == np.float16 and back.nbytes == emb.nbytes // 2
    np.testing.assert_allclose(back, emb, rtol=1e-3, atol=1e-3)
    _, a = R.knn(emb, emb, 1)
    _, b = R.knn(back, back, 1)
    assert a.tolist() == b.tolist()


# ------------------------------------------------------------------------------------ no state from the caller
def test_embeddings_do_not_depend_on_an_earlier_padded_tokenizer_call(tiny):
    """`tokenizer(..., padding=True, truncation=True)` leaves padding and truncation set on the Rust backend;
    embed_sentences must still read each sentence alone, and give the backend back as it found it."""
    model, tok = tiny
    before = R.embed_sentences(model, tok, ENGLISH, layer=2)
    hello = tok("Hello world", add_special_tokens=False)["input_ids"]
    tok(["a b", "a much longer sentence than the first one here"], padding=True, truncation=True, max_length=6)
    state = (tok.backend_tokenizer.padding, tok.backend_tokenizer.truncation)
    assert state[0] is not None and state[1] is not None  # the state the bug came from
    assert R._piece_ids(tok, ["Hello world"]) == [hello]
    after = R.embed_sentences(model, tok, ENGLISH, layer=2)
    np.testing.assert_array_equal(after, before)
    assert (tok.backend_tokenizer.padding, tok.backend_tokenizer.truncation) == state


def test_embedding_gives_the_model_back_in_the_mode_it_came_in(tiny):
    model, tok = tiny
    model.train()
    try:
        R.embed_sentences(model, tok, ENGLISH[:2], layer=2)
        assert model.training
    finally:
        model.eval()


def test_knn_and_mine_rank_by_cosine_by_default():
    """One long key would win every raw inner product; by default both rank by cosine, as the name of
    the option says (cosine=False: raw inner products)."""
    import inspect
    x = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    y = np.array([[0.1, 0.0], [0.0, 0.1], [50.0, 40.0]], dtype=np.float32)
    assert R.knn(x, y, 1)[1][:, 0].tolist() == [0, 1]
    assert R.mine(x, y, k=1).tgt.tolist() == [0, 1]
    assert R.knn(x, y, 1, cosine=False)[1][:, 0].tolist() == [2, 2]
    defaults = [inspect.signature(f).parameters["cosine"].default for f in (R.knn, R.mine)]
    assert defaults == [True, True]
