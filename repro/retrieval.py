"""Retrieval core for XTREME's two retrieval tasks (BUCC 2018 and Tatoeba), scored straight from an encoder.

Follows google-research/xtreme ``third_party/utils_retrieve.py`` and facebookresearch/LASER
``source/mine_bitexts.py`` (re-implemented from their rules, not copied; the rules are stated here, in four
parts named below):

* Embeddings: strip, tokenize, truncate to ``max_length - 2`` pieces, ``<s> … </s>``, right padding
  to the longest sentence of the batch, attention mask 1 on real tokens (specials included), one hidden-states
  entry, mean pooling over the mask (or CLS = position 0), float32.
* Tatoeba: cosine, for each English row the nearest source row, top-1, no margin, no one-to-one constraint.
* BUCC: de-duplicate (last occurrence wins), L2-normalise, kNN both directions (k = 4, capped), ratio margin,
  ``max`` retrieval with greedy one-to-one selection, score > 0, text → ID mapping that drops texts occurring more
  than once, dev-gold threshold (midpoint rule), extraction with ``score >= threshold``.
* Search: exact flat inner-product search; torch matmul + top-k gives the same neighbours as faiss, ties aside.

Only the embedding extraction needs a model; everything else works on NumPy arrays.
"""
from __future__ import annotations

import contextlib
import io
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from repro.atomic import write_bytes
from repro.attention import attention_kernels

__all__ = [
    "bucc_extract",
    "bucc_mine",
    "bucc_optimize_threshold",
    "embed_sentences",
    "knn",
    "knn_reference",
    "load_embeddings",
    "mine",
    "mine_text_candidates",
    "normalize",
    "resolve_layer",
    "save_embeddings",
    "tatoeba_predict",
    "unique_texts",
]

# Model families whose learned position embeddings start at ``pad_token_id + 1`` (so a model with
# ``max_position_embeddings = 514`` takes at most 512 tokens).
_OFFSET_POSITION_MODELS = {"roberta", "xlm-roberta", "xlm-roberta-xl", "camembert"}


# ----------------------------------------------------------------------------------------------------------------
# Layer and embedding extraction (Embeddings, above)
# ----------------------------------------------------------------------------------------------------------------

def resolve_layer(num_hidden_layers: int, layer: int, reference_num_layers: int = 24) -> int:
    """Index into HF ``hidden_states`` (0 = embedding output, i = output of transformer layer i).

    ``layer`` is stated for a model of ``reference_num_layers`` layers (XTREME/jiant: 14 of 24 for XLM-R Large).
    For another depth the relative depth is kept: ``round(layer * num_hidden_layers / reference_num_layers)``
    (Python ``round``, i.e. half to even), clamped to ``[1, num_hidden_layers]`` so it always names a
    transformer layer. Example: 14 of 24 on a 4-layer model → 2; on a 24-layer model → 14.
    """
    if num_hidden_layers < 1 or reference_num_layers < 1:
        raise ValueError("num_hidden_layers and reference_num_layers must be >= 1")
    scaled = round(layer * num_hidden_layers / reference_num_layers)
    return int(min(max(scaled, 1), num_hidden_layers))


def _effective_max_length(model, max_length: int) -> int:
    """``max_length`` capped at what the model's position embeddings can hold (512 for XLM-R: no change)."""
    config = getattr(model, "config", None)
    max_pos = getattr(config, "max_position_embeddings", None)
    if max_pos is None:
        return max_length
    offset = 0
    if getattr(config, "model_type", None) in _OFFSET_POSITION_MODELS:
        offset = int(getattr(config, "pad_token_id", 1) or 0) + 1
    return max(3, min(max_length, int(max_pos) - offset))


def _piece_ids(tokenizer, texts: list[str]) -> list[list[int]]:
    """Token ids without special tokens. A fast tokenizer's Rust backend is asked directly (``encode_batch_fast``
    skips the character offsets, and the per-sentence Python dicts of ``tokenizer(...)`` are never built): the
    same ids (tests/test_retrieval.py), 23 ms instead of 31 for 2,000 short sentences (tests/bench/perf.py P1).

    The backend keeps the padding and truncation that the last ``tokenizer(..., padding=True)`` call set on it
    (transformers sets them anew on every call of its own), so they are switched off for this call and put back
    as they were afterwards: the ids depend on the texts alone, never on what the caller did before."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    fast = getattr(backend, "encode_batch_fast", None)
    if fast is None or getattr(tokenizer, "split_special_tokens", False):
        return tokenizer(texts, add_special_tokens=False, padding=False, truncation=False, verbose=False)["input_ids"]
    padding, truncation = backend.padding, backend.truncation
    if padding is None and truncation is None:  # the usual case: nothing to switch off
        return [e.ids for e in fast(texts, add_special_tokens=False)]
    backend.no_padding()
    backend.no_truncation()
    try:
        return [e.ids for e in fast(texts, add_special_tokens=False)]
    finally:
        if padding is not None:
            backend.enable_padding(**padding)
        if truncation is not None:
            backend.enable_truncation(**truncation)


def _encode(tokenizer, sentences: Sequence[str], max_length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every sentence's token ids, stripped, pieces truncated to ``max_length - 2``, wrapped in ``<s> … </s>``,
    as ``(flat ids, start of each sentence in them, lengths)``."""
    cls_id = tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id
    sep_id = tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id
    stripped = [s.strip() for s in sentences]
    pieces = _piece_ids(tokenizer, stripped) if stripped else []
    keep = max_length - 2
    lengths = np.fromiter((min(len(ids), keep) + 2 for ids in pieces), dtype=np.int64, count=len(pieces))
    flat = np.fromiter((t for ids in pieces for t in (cls_id, *ids[:keep], sep_id)), dtype=np.int64,
                       count=int(lengths.sum()))
    starts = np.cumsum(lengths) - lengths
    return flat, starts, lengths


def _batches(order: np.ndarray, batch_size: int) -> Iterable[np.ndarray]:
    for start in range(0, len(order), batch_size):
        yield order[start:start + batch_size]


def _token_budget_batches(order: np.ndarray, lengths: np.ndarray, batch_size: int,
                          min_fill: float = 0.9) -> Iterable[np.ndarray]:
    """Longest first, each batch holding at most ``batch_size`` x (the longest sentence) padded tokens: no
    batch needs more memory than the first, and short sentences come in fewer, larger batches (per-batch
    overhead dominates small models and leaves GPUs idle). A batch also ends before the first row shorter than
    ``min_fill`` x its longest, so padding stays under a tenth of every row: the long tail of a length mix
    would otherwise pad most of the first batches, and the extra batches cost less than the padding they
    save, even on the tiny model (tests/bench/perf.py P1: 0.9 beat 0.5 and 0.75, as fast as 0.95 and 1.0)."""
    budget = batch_size * int(lengths[order[0]])
    sorted_lengths = lengths[order]
    start = 0
    while start < len(order):
        longest = int(sorted_lengths[start])
        end = min(start + max(1, budget // longest), len(order))
        # Lengths descend: the rows of [start, end) at least min_fill x the longest form a prefix.
        end = start + max(1, int(np.searchsorted(-sorted_lengths[start:end], -min_fill * longest, side="right")))
        yield order[start:end]
        start = end


def _padded(flat: np.ndarray, starts: np.ndarray, lengths: np.ndarray, idx: np.ndarray, pad_id: int):
    """input_ids and attention mask of one batch, right-padded to its longest row (no per-row tensors)."""
    lens = lengths[idx]
    cols = np.arange(int(lens.max()))
    mask = cols[None, :] < lens[:, None]
    ids = np.full(mask.shape, pad_id, dtype=np.int64)
    ids[mask] = flat[(starts[idx][:, None] + cols[None, :])[mask]]
    return torch.from_numpy(ids), torch.from_numpy(mask.astype(np.int64))


def embed_sentences(
    model,
    tokenizer,
    sentences: list[str],
    *,
    layer: int,
    pooling: str = "mean",
    batch_size: int = 100,
    max_length: int = 512,
    sort_by_length: bool = True,
    device: str | torch.device = "cpu",
    dtype: torch.dtype | None = None,
) -> np.ndarray:
    """Sentence embeddings ``float32 [N, d]`` from ``hidden_states[layer]`` as in XTREME (Embeddings, in the module docstring).

    * ``layer``: index into ``hidden_states`` (use :func:`resolve_layer`); 0 = embedding output.
    * ``pooling``: ``"mean"`` = average over attention-mask positions including ``<s>``/``</s>``, excluding
      padding; ``"cls"`` = position 0.
    * ``sort_by_length=True`` forms batches from length-sorted sentences, longest first, under a token budget of
      ``batch_size`` x the longest sentence, none padding a row by more than a tenth (fewer padded tokens,
      fewer batches, no batch larger in memory than the first) and un-permutes the rows afterwards; ``False``
      is the reference behaviour (``batch_size`` sentences per batch in file order). Both give the same rows
      up to float rounding.
    * ``max_length`` is also capped at the model's position capacity (no-op for XLM-R's 512).
    * ``dtype``: optional autocast dtype (e.g. ``torch.bfloat16``); ``None`` = float32 throughout.
    """
    if pooling not in ("mean", "cls"):
        raise ValueError(f"pooling must be 'mean' or 'cls', not {pooling!r}")
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    num_layers = getattr(getattr(model, "config", None), "num_hidden_layers", None)
    if layer < 0 or (num_layers is not None and layer > num_layers):
        raise ValueError(f"layer {layer} outside hidden_states range [0, {num_layers}]")

    max_length = _effective_max_length(model, max_length)
    flat, starts, lengths = _encode(tokenizer, sentences, max_length)
    n = len(lengths)
    hidden = getattr(getattr(model, "config", None), "hidden_size", 0)
    if n == 0:
        return np.zeros((0, hidden), dtype=np.float32)

    if sort_by_length:
        order = np.argsort(-lengths, kind="stable")  # longest first: an out-of-memory batch fails at once
        batches = _token_budget_batches(order, lengths, batch_size)
    else:
        batches = _batches(np.arange(n), batch_size)

    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    device = torch.device(device)
    was_training = model.training  # given back as it came: a caller mid-training keeps its dropout
    model.eval()
    autocast = (torch.autocast(device_type=device.type, dtype=dtype) if dtype is not None
                else contextlib.nullcontext())

    try:
        out = _pooled_rows(model, flat, starts, lengths, batches, pad_id, device, layer, pooling, autocast, n)
    finally:
        model.train(was_training)
    return out


def _pooled_rows(model, flat, starts, lengths, batches, pad_id, device, layer, pooling, autocast, n) -> np.ndarray:
    out: np.ndarray | None = None
    with torch.inference_mode(), attention_kernels(device), autocast:
        for idx in batches:
            input_ids, mask = _padded(flat, starts, lengths, idx, pad_id)
            input_ids = input_ids.to(device)
            mask = mask.to(device)
            outputs = model(input_ids=input_ids, attention_mask=mask, output_hidden_states=True)
            states = outputs.hidden_states[layer].float()
            if pooling == "mean":
                m = mask.unsqueeze(-1).to(states.dtype)
                pooled = (states * m).sum(dim=1) / m.sum(dim=1)
            else:
                pooled = states[:, 0]
            pooled = pooled.cpu().numpy().astype(np.float32, copy=False)
            if out is None:
                out = np.empty((n, pooled.shape[1]), dtype=np.float32)
            out[idx] = pooled  # scatter back to file order (un-permute)
    assert out is not None
    return out


# ----------------------------------------------------------------------------------------------------------------
# Vector search (Search, above): one blocked GEMM pass feeding running top-k in both directions
# ----------------------------------------------------------------------------------------------------------------

def save_embeddings(path, emb) -> None:
    """Embeddings on disk as float16 ``.npy`` (half the bytes; search upcasts block by block to float32)."""
    buf = io.BytesIO()
    np.save(buf, np.asarray(_as_tensor(emb).cpu(), dtype=np.float16), allow_pickle=False)
    write_bytes(Path(path), buf.getvalue())


def load_embeddings(path) -> np.ndarray:
    return np.load(path, allow_pickle=False)


def _as_tensor(x) -> torch.Tensor:
    """NumPy array or torch tensor, without a copy where possible (float16 stays float16 until a block needs it)."""
    if isinstance(x, torch.Tensor):
        return x.detach()
    x = np.asarray(x)
    if x.dtype not in (np.float16, np.float32, np.float64):
        x = x.astype(np.float32)
    return torch.from_numpy(np.ascontiguousarray(x))


def _unit(block: torch.Tensor) -> torch.Tensor:
    """Rows scaled to unit L2 norm in float32; all-zero rows stay zero."""
    block = block.float()
    norms = torch.linalg.vector_norm(block, dim=1, keepdim=True)
    return block / torch.where(norms > 0, norms, torch.ones_like(norms))


def normalize(x) -> np.ndarray:
    """Rows scaled to unit L2 norm (float32 NumPy); the same arithmetic as the search blocks use."""
    return _unit(_as_tensor(x)).cpu().numpy()


# Entries per chunk of a tile row in the candidate filter (_tile_candidates): a tile row of 2048 has 32 chunks,
# of which a k = 4 search reads about four again.
_CHUNK = 64


def _tile_candidates(sims: torch.Tensor, thr: torch.Tensor, k: int, width: int):
    """The entries of one tile ``sims`` [r, m] (a transposed view too) that can enter the rows' running top-k,
    as ``(row, column, value)`` tensors, by row and, within a row, by column.

    An entry can enter row t only if it beats the row's current k-th best ``thr[t]`` (an equal one loses: the
    holder came from an earlier block, so it has the lower index) and is among the tile's own k best for t.
    The tile's k-th best is at least the k-th largest of the row's chunk maxima (they are k distinct entries),
    so chunks whose maximum fails those tests are never read again: after one max per chunk of ``width``
    entries, a search reads about k chunks per row, with neither a top-k over the whole tile nor a transposed
    copy of it. Where over a quarter of the chunks stay live (tiles of few chunks, many ties), the whole tile
    is tested against its exact k-th best instead. Both keep every entry tied at that bound: a top-k alone
    would choose among ties arbitrarily, not by index."""
    r, m = sims.shape
    c = m // width
    main = sims[:, :c * width].unflatten(1, (c, width))
    # On a transposed view the maxima are taken in the tile's own layout: torch reduces a view along its
    # strided axis some 25x slower (2048 x 2048 tile on CPU: 9.8 ms against 0.35).
    rowwise = sims.stride(1) == 1 or sims.stride(0) != 1
    chunk_max = main.amax(dim=2) if rowwise else sims.t()[:c * width].unflatten(0, (c, width)).amax(dim=1).t()
    if c * width < m:  # the narrower last chunk
        rest = sims[:, c * width:].amax(dim=1) if rowwise else sims.t()[c * width:].amax(dim=0)
        chunk_max = torch.cat([chunk_max, rest[:, None]], dim=1)
    n_chunks = chunk_max.shape[1]
    # One bound per row: "> thr" is ">= the next float above thr".
    bound = torch.nextafter(thr, thr.new_tensor(torch.inf))
    if n_chunks < k:
        return _exhaustive_candidates(sims, bound, k)
    # The chunk floor is taken only while a row holds fewer than k entries (its first tile); later thr, the
    # k-th best of whole tiles, nearly always exceeds it. Either way every entry that can enter passes.
    if bool(torch.isneginf(thr).any()):
        bound = torch.maximum(bound, torch.topk(chunk_max, k, dim=1, sorted=False).values.amin(dim=1))
    live = chunk_max >= bound[:, None]
    pairs = live.nonzero()
    if 4 * len(pairs) > live.numel():
        return _exhaustive_candidates(sims, bound, k)
    rows, chunks = pairs.unbind(1)
    if len(rows) == 0:  # no chunk can contribute (a live chunk's own maximum always passes)
        return rows, rows, sims.new_zeros(0)
    in_main = chunks < c
    found = []
    for sel, last in ((in_main, False), (~in_main, True)):
        rs, cs = rows[sel], chunks[sel]
        if len(rs) == 0:
            continue
        seg = sims[rs, c * width:] if last else main[rs, cs]  # [live chunks, width]: copies of the few read again
        at, off = (seg >= bound[rs, None]).nonzero().unbind(1)
        found.append((rs[at], c * width + off if last else cs[at] * width + off, seg[at, off]))
    # Whole chunks first, then the narrower last one: put each row's entries back in column order.
    rows, cols, vals = (torch.cat(parts) for parts in zip(*found))
    if len(found) > 1:
        order = torch.argsort(rows, stable=True)
        rows, cols, vals = rows[order], cols[order], vals[order]
    return rows, cols, vals


def _descending_key(v: torch.Tensor) -> torch.Tensor:
    """int64 keys in [0, 2**32) whose ascending order is the descending order of the float32 values ``v``
    (IEEE-754 bits of -v made monotonic; -0.0 and 0.0 get one key, as they compare equal; no NaN)."""
    bits = (0.0 - v).view(torch.int32).to(torch.int64)  # 0.0 - v: +0.0 for both zeros
    return torch.where(bits >= 0, bits + 2**31, -1 - bits)


def _exhaustive_candidates(sims: torch.Tensor, bound: torch.Tensor, k: int):
    """_tile_candidates over the whole tile: the entries at least ``bound`` and the row's exact k-th best."""
    floor = torch.topk(sims, min(k, sims.shape[1]), dim=1, sorted=False).values.amin(dim=1)
    rows, cols = (sims >= torch.maximum(bound, floor)[:, None]).nonzero().unbind(1)
    return rows, cols, sims[rows, cols]


class _RunningTopK:
    """The k best (value, index) per row seen so far; merged block by block, ties broken by lower index."""

    def __init__(self, n: int, k: int, device):
        self.k = k
        self.values = torch.full((n, k), -torch.inf, device=device)
        self.index = torch.full((n, k), -1, dtype=torch.long, device=device)

    def update(self, rows: slice, sims: torch.Tensor, offset: int) -> None:
        """``sims`` [len(rows), m]: similarities of these rows to candidates ``offset … offset + m - 1``; a
        transposed view for the backward direction of a tile. Merges the entries that can enter (see
        _tile_candidates) into the held top-k of their rows: by value descending, then by index ascending
        (a stable sort's order; faiss IndexFlatIP promises none among exact ties)."""
        values, index = self.values[rows], self.index[rows]  # views: updated in place
        cand_rows, cols, vals = _tile_candidates(sims, values[:, -1], self.k, _CHUNK)
        if len(cand_rows) == 0:
            return
        held, inverse, counts = torch.unique_consecutive(cand_rows, return_inverse=True, return_counts=True)
        k = self.k
        owner = torch.cat([torch.arange(len(held), device=sims.device).repeat_interleave(k), inverse])
        v = torch.cat([values.index_select(0, held).reshape(-1), vals])
        i = torch.cat([index.index_select(0, held).reshape(-1), cols + offset])
        # One stable sort by (row, value descending) keeps this order on ties: a row's held entries first (in
        # their own order), then its candidates by column. So equal values stay in index order: earlier
        # blocks hold lower indices.
        order = torch.argsort((owner << 32) | _descending_key(v), stable=True)
        sizes = counts + k
        take = order[(torch.cumsum(sizes, 0) - sizes)[:, None] + torch.arange(k, device=sims.device)]
        values.index_copy_(0, held, v[take])
        index.index_copy_(0, held, i[take])


# oneDNN's fp32 linear on dense tensors (the op torch.compile's CPU backend emits for nn.Linear): full fp32
# products like BLAS's, only the accumulation order differs, and its output is an ordinary dense tensor. None
# where this torch build lacks oneDNN or the op.
_ONEDNN_LINEAR = (getattr(torch.ops.mkldnn, "_linear_pointwise", None)
                  if torch.backends.mkldnn.is_available() else None)


def _cpuinfo(field: str) -> str:
    """The first value of ``field`` in /proc/cpuinfo (``vendor_id``, ``model name``, ``flags``); "" without it."""
    try:
        with open("/proc/cpuinfo") as f:
            return next((ln.split(":", 1)[1].strip() for ln in f if ln.split(":", 1)[0].strip() == field), "")
    except OSError:
        return ""


def _default_tile_gemm() -> str:
    """Which CPU GEMM computes the similarity tiles: ``"mkl"`` (``mm`` into a kept buffer) on Intel CPUs,
    where MKL is at its best, ``"onednn"`` elsewhere (MKL takes slower paths on other vendors' CPUs), plain
    ``F.linear`` (``"linear"``) where torch has neither."""
    if torch.backends.mkl.is_available() and _cpuinfo("vendor_id") == "GenuineIntel":
        return "mkl"
    return "onednn" if _ONEDNN_LINEAR is not None else "linear"


_TILE_GEMM = _default_tile_gemm()


def _tile_product(device: torch.device, rows: int, cols: int):
    """``product(a, b)`` = ``a @ b.T``, one similarity tile of at most ``rows x cols``, with the same neighbours
    whichever GEMM computes it (tests/test_retrieval.py compares them). Measured inside the mining loop
    (tests/bench/perf.py P2, 8k x 8k, d = 1024):

    * ``"mkl"``: on a 2-core Intel Xeon (family 6, model 207) with AVX-512, ``mm`` into one tile buffer kept for
      the whole search took 0.51-0.52 s against 0.54-0.59 s through oneDNN (a 4k x 4k, d = 256 kNN: 46-48 ms
      against 48-69), with no fresh tile allocation per GEMM and one tile in memory instead of two;
    * ``"onednn"``: 1.5x MKL's GEMM on an AVX-512 AMD EPYC (measured through ``mkldnn_linear``, whose
      products this op matches bit for bit), 1.1x on an AVX2 one.

    Off the CPU, plain ``F.linear``."""
    if device.type != "cpu" or _TILE_GEMM == "linear":
        return torch.nn.functional.linear
    if _TILE_GEMM == "onednn":
        return lambda a, b: _ONEDNN_LINEAR(a.contiguous(), b.contiguous(), None, "none", [], "")
    flat = torch.empty(rows * cols)  # each tile is dropped before the next is made (see _search)

    def product(a, b):
        return torch.mm(a, b.t(), out=flat[:a.shape[0] * b.shape[0]].view(a.shape[0], b.shape[0]))
    return product


def _search(x, y, k: int, both: bool, block: int, device, cosine: bool):
    """Exact inner-product top-k of the rows of ``x`` among ``y`` (and, with ``both``, of ``y`` among ``x``),
    computing each ``block × block`` similarity tile once. Memory: the inputs, two tiles (the GEMM's output and
    the last one; one kept buffer with MKL), a boolean one where a tile takes the exhaustive test (see
    _tile_candidates), two running top-k tables ((N + M) · k · 12 bytes) and at most four block copies (upcast
    and normalised, the last block's still held)."""
    xt, yt = _as_tensor(x), _as_tensor(y)
    n, m = xt.shape[0], yt.shape[0]
    device = torch.device(device)
    fwd = _RunningTopK(n, min(k, m), device)
    bwd = _RunningTopK(m, min(k, n), device) if both else None
    if n == 0 or m == 0 or k <= 0:
        return fwd, bwd
    prep = (lambda b: _unit(b.to(device))) if cosine else (lambda b: b.to(device).float())
    product = _tile_product(device, min(block, n), min(block, m))
    with torch.inference_mode():
        for i0 in range(0, n, block):
            xb = prep(xt[i0:i0 + block])
            for j0 in range(0, m, block):
                yb = prep(yt[j0:j0 + block])
                s = product(xb, yb)
                fwd.update(slice(i0, i0 + xb.shape[0]), s, j0)
                if bwd is not None:
                    bwd.update(slice(j0, j0 + yb.shape[0]), s.t(), i0)
    return fwd, bwd


def knn(x, y, k: int, block: int = 2048, device: str | torch.device = "cpu",
        cosine: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k of each row of ``x`` among the rows of ``y`` (ties to the lower index). NumPy or torch
    input, any float dtype (float16 is upcast block by block). ``cosine=True`` (the default, as in :func:`mine`)
    ranks by cosine similarity, L2-normalising each block first; ``cosine=False`` ranks by the raw inner
    product (faiss ``IndexFlatIP``), the same only for rows already of unit length, and saves the
    normalisation. ``k`` is capped at ``len(y)``. Returns ``(sims [N, k] float32, idx [N, k] int64)``, best
    first."""
    if block < 1:
        raise ValueError("block must be >= 1")
    fwd, _ = _search(x, y, int(k), False, block, device, cosine)
    return fwd.values.cpu().numpy(), fwd.index.cpu().numpy()


_MARGINS = {
    "ratio": lambda a, b: a / b,
    "distance": lambda a, b: a - b,
    "absolute": lambda a, b: a,
}


@dataclass
class Mined:
    """Margin-scored candidates of :func:`mine`: ``src[i] → tgt[i]`` with ``score[i]`` for every source row
    (forward), and the backward ones (every target row's best source) in ``bwd_src``, ``bwd_tgt``, ``bwd_score``.
    ``fwd_knn`` / ``bwd_knn`` hold the raw ``(sims, idx)`` k-NN lists the margins came from."""
    src: np.ndarray
    tgt: np.ndarray
    score: np.ndarray
    bwd_src: np.ndarray
    bwd_tgt: np.ndarray
    bwd_score: np.ndarray
    fwd_knn: tuple[np.ndarray, np.ndarray]
    bwd_knn: tuple[np.ndarray, np.ndarray]


def mine(src, tgt, k: int = 4, margin: str = "ratio", *, block: int = 2048, device: str | torch.device = "cpu",
         cosine: bool = True) -> Mined:
    """Margin-based bitext mining (LASER / XTREME recipe; BUCC, in the module docstring) in one GEMM pass over the similarity matrix.

    Cosine k-NN in both directions (``k`` capped at the other side's size), margin of each pair against the
    mean similarity of both sides' k neighbours (``ratio``: cos / ((fwd_mean + bwd_mean) / 2), ``distance``:
    cos − that mean, ``absolute``: cos), and for every source row its best target by margin (forward
    candidates; the backward ones are returned too). ``cosine=False`` takes raw inner products instead
    (the same for rows already of unit length; saves the L2 normalisation), as in :func:`knn`.
    """
    if margin not in _MARGINS:
        raise ValueError(f"margin must be one of {sorted(_MARGINS)}, not {margin!r}")
    if block < 1:
        raise ValueError("block must be >= 1")
    fwd, bwd = _search(src, tgt, int(k), True, block, device, cosine)
    x2y_sim, x2y_ind = fwd.values.cpu().numpy(), fwd.index.cpu().numpy()
    y2x_sim, y2x_ind = bwd.values.cpu().numpy(), bwd.index.cpu().numpy()
    n, m = len(x2y_sim), len(y2x_sim)
    if n == 0 or m == 0:
        empty_i, empty_f = np.zeros(0, np.int64), np.zeros(0, np.float64)
        return Mined(empty_i, empty_i, empty_f, empty_i, empty_i, empty_f, (x2y_sim, x2y_ind), (y2x_sim, y2x_ind))
    fwd_mean = x2y_sim.astype(np.float64).mean(axis=1)
    bwd_mean = y2x_sim.astype(np.float64).mean(axis=1)
    score = _MARGINS[margin]
    # Margin of every pair in both kNN lists; the kNN similarity is cos(x, y) itself.
    fwd_scores = score(x2y_sim.astype(np.float64), (fwd_mean[:, None] + bwd_mean[x2y_ind]) / 2)
    bwd_scores = score(y2x_sim.astype(np.float64), (bwd_mean[:, None] + fwd_mean[y2x_ind]) / 2)
    rows_x, rows_y = np.arange(n), np.arange(m)
    fwd_arg, bwd_arg = fwd_scores.argmax(axis=1), bwd_scores.argmax(axis=1)
    return Mined(rows_x, x2y_ind[rows_x, fwd_arg], fwd_scores[rows_x, fwd_arg],
                 y2x_ind[rows_y, bwd_arg], rows_y, bwd_scores[rows_y, bwd_arg],
                 (x2y_sim, x2y_ind), (y2x_sim, y2x_ind))


def knn_reference(x, y, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Naive anchor for :func:`knn`: full NumPy similarity matrix, then a stable descending argsort."""
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y, dtype=np.float32)
    k = min(int(k), y.shape[0])
    sims = x @ y.T
    idx = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(sims, idx, axis=1), idx.astype(np.int64)


# ----------------------------------------------------------------------------------------------------------------
# Tatoeba (above)
# ----------------------------------------------------------------------------------------------------------------

def tatoeba_predict(src_emb, en_emb) -> list[int]:
    """For each English row (in file order), the 0-based index of the nearest source row by cosine.

    Equivalent to faiss ``IndexFlatL2`` over the normalised source rows queried with the normalised English rows,
    k = 1; no margin, no one-to-one constraint.
    """
    if len(en_emb) == 0:
        return []
    _, idx = knn(normalize(en_emb), normalize(src_emb), 1, cosine=False)  # normalised once, above
    return [int(i) for i in idx[:, 0]]


# ----------------------------------------------------------------------------------------------------------------
# BUCC mining (above)
# ----------------------------------------------------------------------------------------------------------------

def _line_key(text: str) -> str:
    """Identity of a line for de-duplication (step 2): the text without its trailing newline."""
    return text.removesuffix("\n")


def unique_texts(texts: Sequence[str], emb) -> tuple[list[str], np.ndarray]:
    """Step 2: collapse identical lines, keeping first-occurrence order; each takes its LAST occurrence's row."""
    emb = np.asarray(emb)
    if len(texts) != len(emb):
        raise ValueError(f"{len(texts)} texts but {len(emb)} embeddings")
    last: dict[str, int] = {}
    for i, text in enumerate(texts):
        last[_line_key(text)] = i  # dict keeps first-insertion order, value = last index
    keys = list(last)
    return keys, emb[[last[key] for key in keys]] if keys else emb[:0]


def mine_text_candidates(src_texts: Sequence[str], src_emb, trg_texts: Sequence[str], trg_emb,
                         k: int = 4) -> list[tuple[float, str, str]]:
    """Steps 2–6: text-level candidates ``(score, src_text, trg_text)``, score descending, each score > 0.

    Ratio margin ``cos(x, y) / ((fwd_mean(x) + bwd_mean(y)) / 2)`` with k-NN means in both directions (k capped
    at the other side's size), ``max`` retrieval (best target per source and best source per target, pooled),
    then greedy one-to-one acceptance in descending score order (a stable sort: ties keep pool order, sources'
    proposals before targets').
    """
    xs, x = unique_texts(src_texts, src_emb)
    ys, y = unique_texts(trg_texts, trg_emb)
    if len(xs) == 0 or len(ys) == 0:
        return []
    found = mine(x, y, k=k, margin="ratio")
    # ``max`` retrieval: forward and backward candidates pooled, sources' proposals first.
    src_idx = np.concatenate([found.src, found.bwd_src])
    trg_idx = np.concatenate([found.tgt, found.bwd_tgt])
    scores = np.concatenate([found.score, found.bwd_score])

    seen_src: set[int] = set()
    seen_trg: set[int] = set()
    out: list[tuple[float, str, str]] = []
    for i in np.argsort(-scores, kind="stable"):
        s, t = int(src_idx[i]), int(trg_idx[i])
        if s in seen_src or t in seen_trg:
            continue
        seen_src.add(s)
        seen_trg.add(t)
        if scores[i] > 0:
            out.append((float(scores[i]), xs[s], ys[t]))
    return out


def _text_to_id(ids: Sequence[str], texts: Sequence[str]) -> dict[str, str]:
    """Step 7: stripped text → ID, without texts that occur more than once in the file."""
    if len(ids) != len(texts):
        raise ValueError(f"{len(ids)} ids but {len(texts)} texts")
    stripped = [t.strip() for t in texts]
    counts = Counter(stripped)
    return {t: i for i, t in zip(ids, stripped) if counts[t] == 1}


def bucc_mine(src_ids: Sequence[str], src_texts: Sequence[str], src_emb,
              trg_ids: Sequence[str], trg_texts: Sequence[str], trg_emb,
              k: int = 4) -> list[tuple[float, str, str]]:
    """Steps 2–7: ID-level candidates ``(score, srcID, trgID)``, score descending.

    Mines text candidates (:func:`mine_text_candidates`), then maps texts to IDs dropping any text that occurs
    more than once in its file (it can never be predicted); repeated ID pairs keep their maximum score.
    """
    src2id = _text_to_id(src_ids, src_texts)
    trg2id = _text_to_id(trg_ids, trg_texts)
    best: dict[tuple[str, str], float] = {}
    for score, s_text, t_text in mine_text_candidates(src_texts, src_emb, trg_texts, trg_emb, k=k):
        s_id = src2id.get(s_text.strip())
        t_id = trg2id.get(t_text.strip())
        if s_id is None or t_id is None:
            continue
        key = (s_id, t_id)
        best[key] = max(best.get(key, score), score)
    ranked = sorted(best.items(), key=lambda kv: -kv[1])  # stable: ties keep mining order
    return [(score, s, t) for (s, t), score in ranked]


def bucc_optimize_threshold(candidates: Sequence[tuple[float, str, str]],
                            gold_pairs: set[tuple[str, str]]) -> tuple[float, float, float, float]:
    """Step 8: dev-gold threshold. Returns ``(threshold, f1, precision, recall)``, metrics on the 0–100 scale.

    Candidates are sorted by score descending; at each prefix of length n with c correct, P = c/n,
    R = c/|gold|; at each new F1 maximum the threshold becomes the midpoint between this score and the next.
    If the maximum falls on the last candidate (the reference indexes past the end) the threshold is that last
    score, which selects the same prefix under ``>=``. With no correct candidate: ``(0.0, 0, 0, 0)`` as in the
    reference (threshold initialised to 0).
    """
    items = sorted(candidates, key=lambda c: -c[0])
    n_gold = len(gold_pairs)
    threshold, best = 0.0, (0.0, 0.0, 0.0)
    correct = 0
    for n, (score, s, t) in enumerate(items, start=1):
        if (s, t) in gold_pairs:
            correct += 1
        if correct == 0:
            continue
        p = correct / n
        r = correct / n_gold
        f1 = 2 * p * r / (p + r)
        if f1 > best[0]:
            best = (f1, p, r)
            threshold = (score + items[n][0]) / 2 if n < len(items) else score
    f1, p, r = best
    return float(threshold), 100 * f1, 100 * p, 100 * r


def bucc_extract(candidates: Iterable[tuple[float, str, str]], threshold: float) -> list[tuple[str, str]]:
    """Step 9: every candidate pair with ``score >= threshold``, as ``(srcID, trgID)``, in candidate order."""
    return [(s, t) for score, s, t in candidates if score >= threshold]
