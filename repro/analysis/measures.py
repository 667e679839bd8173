"""Similarity / transferability measures between an intermediate task s and a target task t
(design: task-similarity notes, Part B.2-B.3; each measure is higher = more similar / transferable).

Pure formulas (importable and checked on their own): `logme`, `linear_cka`, `jaccard`,
`weighted_jaccard`, `centred_cosines`, `point_biserial_overlap`, `alignment_margin`.
Model-facing helpers (`hidden_states`, `pooled_features`, `logme_inputs`, `fisher_embedding`) work on
any Hugging Face encoder; the analyze phase calls them on the tiny model and on XLM-R Large alike.
"""
from __future__ import annotations

import math
import random
import re
from collections import Counter

import numpy as np
import torch

from repro.attention import attention_kernels

# ---------------------------------------------------------------- formulas


def _evidence(sigma: np.ndarray, proj: np.ndarray, y: np.ndarray, n: int, d: int, u: np.ndarray, s: np.ndarray,
              vt: np.ndarray, iterations: int = 200, tol: float = 1e-6) -> float:
    """Log evidence of y under y = F w + e, w ~ N(0, 1/alpha), e ~ N(0, 1/beta), at the fixed point of
    (alpha, beta). `sigma` are the squared singular values padded with zeros to length d: the padding is
    what thuml/LogME's fixed-point method leaves out when N < D (its issue #23), which inflates the
    evidence whenever features outnumber examples. LogME caps the updates at 11; with N < D that is not
    converged (about 0.01 nats per example below the maximum in tests/test_analysis_measures.py), so
    iterate to a relative change of alpha/beta below `tol` instead."""
    alpha, beta = 1.0, 1.0
    nz = sigma[: len(s)]
    for _ in range(iterations):
        t = alpha / beta
        gamma = float((nz / (nz + t)).sum())
        m = vt.T @ (s / (nz + t) * proj)
        m2 = float(m @ m)
        res2 = float(((y - u @ (s * (vt @ m))) ** 2).sum())
        new_alpha, new_beta = gamma / max(m2, 1e-12), (n - gamma) / max(res2, 1e-12)
        done = abs(new_alpha / new_beta - alpha / beta) / (alpha / beta) < tol
        alpha, beta = new_alpha, new_beta
        if done:
            break
    t = alpha / beta
    m = vt.T @ (s / (nz + t) * proj)
    m2 = float(m @ m)
    res2 = float(((y - u @ (s * (vt @ m))) ** 2).sum())
    return (d / 2 * math.log(alpha) + n / 2 * math.log(beta) - 0.5 * float(np.log(alpha + beta * sigma).sum())
            - beta / 2 * res2 - alpha / 2 * m2 - n / 2 * math.log(2 * math.pi))


def logme(features, labels) -> float:
    """LogME (You et al., ICML 2021) for classification: the mean over one-vs-rest classes of the log
    evidence per example of a Bayesian linear model on the features. Independent implementation of the
    published equations (one SVD, fixed-point updates of alpha and beta per class until converged); the full
    evidence term sums over all D eigenvalues, zeros included, so it is correct when D > N."""
    f = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels)
    n, d = f.shape
    u, s, vt = np.linalg.svd(f, full_matrices=False)
    sigma = np.zeros(d)
    sigma[: len(s)] = s ** 2
    classes = np.unique(labels)
    if len(classes) < 2:
        raise ValueError("logme needs at least two classes")
    total = 0.0
    for c in classes:
        y = (labels == c).astype(np.float64)
        total += _evidence(sigma, u.T @ y, y, n, d, u, s, vt) / n
    return total / len(classes)


def linear_cka(x, y) -> float:
    """Linear CKA (Kornblith et al., ICML 2019) of two representations of the same n inputs:
    ||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F) with column-centred Xc, Yc."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    x, y = x - x.mean(axis=0), y - y.mean(axis=0)
    num = np.linalg.norm(y.T @ x) ** 2
    den = np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)
    return float(num / den) if den > 0 else math.nan


def jaccard(a: set, b: set) -> float:
    union = len(a | b)
    return len(a & b) / union if union else math.nan


def weighted_jaccard(a: Counter, b: Counter) -> float:
    """sum_v min(p_a, p_b) / sum_v max(p_a, p_b) over unigram frequencies (less sample-size sensitive)."""
    ta, tb = sum(a.values()), sum(b.values())
    if not ta or not tb:
        return math.nan
    keys = set(a) | set(b)
    lo = sum(min(a[k] / ta, b[k] / tb) for k in keys)
    hi = sum(max(a[k] / ta, b[k] / tb) for k in keys)
    return lo / hi


def centred_cosines(vectors: dict[str, np.ndarray]) -> dict[tuple[str, str], float]:
    """Cosine of every pair of dataset-mean embeddings after subtracting their mean over the distinct
    datasets (each once). Contextual embeddings are anisotropic, so uncentred cosines of dataset means
    are all close to 1 (Ethayarajh, EMNLP 2019)."""
    names = list(vectors)
    mat = np.stack([np.asarray(vectors[k], dtype=np.float64) for k in names])
    mat = mat - mat.mean(axis=0)
    norms = np.linalg.norm(mat, axis=1)
    out = {}
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            out[(a, b)] = float(mat[i] @ mat[j] / (norms[i] * norms[j])) if norms[i] * norms[j] > 0 else math.nan
    return out


_WORD = re.compile(r"\w+", re.UNICODE)


def bow_overlap(a: str, b: str) -> float:
    wa, wb = set(_WORD.findall(a.lower())), set(_WORD.findall(b.lower()))
    return jaccard(wa, wb) if wa | wb else 0.0


def point_biserial_overlap(examples: list[dict], positive: str) -> float:
    """C2: correlation of per-pair bag-of-words Jaccard overlap with the positive label (paraphrase /
    entailment). PAWS was built so that overlap does not give the label away (Zhang et al., NAACL 2019),
    so r is expected near 0 there and clearly positive for QQP."""
    o = np.array([bow_overlap(ex["text_a"], ex.get("text_b") or "") for ex in examples])
    y = np.array([str(ex["label"]) == positive for ex in examples], dtype=float)
    if np.ptp(o) == 0 or np.ptp(y) == 0:
        return math.nan
    return float(np.corrcoef(o, y)[0, 1])


def alignment_margin(en: np.ndarray, other: np.ndarray) -> float:
    """A: mean over parallel pairs i of cos(en_i, x_i) - mean_{j != i} cos(en_i, x_j)."""
    a = en / np.linalg.norm(en, axis=1, keepdims=True)
    b = other / np.linalg.norm(other, axis=1, keepdims=True)
    sims = a @ b.T
    n = len(sims)
    diag = np.diag(sims)
    off = (sims.sum(axis=1) - diag) / (n - 1)
    return float((diag - off).mean())


# ---------------------------------------------------------------- data helpers

TEXT_KEYS_SKIPPED = {"id", "label", "labels", "tags", "answers", "gold", "source_ids", "english_ids", "title"}


def example_texts(ex: dict) -> list[str]:
    """Every piece of input text of an example, whatever its head (labels, ids and gold excluded: a
    label word such as 'entailment' must not count as vocabulary)."""
    out = []

    def walk(v):
        if isinstance(v, str):
            out.append(v)
        elif isinstance(v, (list, tuple)):
            for x in v:
                walk(x)
        elif isinstance(v, dict):
            for k, x in v.items():
                if k not in TEXT_KEYS_SKIPPED:
                    walk(x)

    for k, v in ex.items():
        if k not in TEXT_KEYS_SKIPPED:
            if k == "tokens":
                out.append(" ".join(v))
            else:
                walk(v)
    return out


def sample(items: list, n: int, seed: int) -> list:
    """A fixed, seeded sample of n items (all when there are fewer); order kept."""
    if n <= 0 or len(items) <= n:
        return list(items)
    keep = sorted(random.Random(seed).sample(range(len(items)), n))
    return [items[i] for i in keep]


def token_counts(texts: list[str], tokenizer) -> Counter:
    special = set(tokenizer.all_special_ids)
    counts = Counter()
    for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]:
        counts.update(i for i in ids if i not in special)
    return counts


# ---------------------------------------------------------------- model features


def _pad(seqs: list[list[int]], pad_id: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s)
        mask[i, : len(s)] = 1
    return ids.to(device), mask.to(device)


@torch.no_grad()
def hidden_states(model, seqs: list[list[int]], pad_id: int, layers: list[int], batch_size: int = 32,
                  device="cpu"):
    """Yields (batch indices, {layer: (B, T, H) float32 states}, mask) over length-sorted batches."""
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    model.eval()
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        ids, mask = _pad([seqs[i] for i in idx], pad_id, device)
        with attention_kernels(device):
            out = model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        yield idx, {layer: out.hidden_states[layer].float() for layer in layers}, mask


def pooled_features(model, seqs, pad_id, layers, batch_size=32, device="cpu") -> dict[int, np.ndarray]:
    """Mean over real tokens of each sequence, per layer: {layer: (N, H)}."""
    out = {layer: None for layer in layers}
    for idx, states, mask in hidden_states(model, seqs, pad_id, layers, batch_size, device):
        m = mask.unsqueeze(-1).float()
        for layer, h in states.items():
            pooled = ((h * m).sum(1) / m.sum(1)).cpu().numpy()
            if out[layer] is None:
                out[layer] = np.zeros((len(seqs), pooled.shape[1]), dtype=np.float32)
            out[layer][idx] = pooled
    return out


def encode_inputs(examples: list[dict], tokenizer, max_length: int) -> list[list[int]]:
    """One sequence per example: the XLM-R pair format for pairs, else the example's texts joined."""
    seqs = []
    for ex in examples:
        if "text_a" in ex:
            enc = tokenizer(ex["text_a"], ex.get("text_b"), truncation=True, max_length=max_length)
        else:
            enc = tokenizer(" ".join(example_texts(ex)), truncation=True, max_length=max_length)
        seqs.append(enc["input_ids"])
    return seqs


def token_labels(head_name: str, feature: dict) -> list[tuple[int, int]] | int | None:
    """The target's labels at the granularity LogME reads (after adapter-hub/efficient-task-transfer's
    task_selection features): classification -> one label per sequence; tagging -> (position, tag) of
    each word's first sub-word; span QA -> every position labelled 0, start 1, end 2."""
    if head_name == "classification":
        return feature.get("labels")
    if head_name == "tagging":
        return [(p, t) for p, t in enumerate(feature.get("labels", [])) if t != -100]
    if head_name == "span_qa":
        n = len(feature["input_ids"])
        lab = [0] * n
        s, e = feature.get("start_positions", 0), feature.get("end_positions", 0)
        if s or e:
            lab[s], lab[e] = 1, 2
        return list(enumerate(lab))
    return None


def logme_inputs(model, features: list[dict], head_name: str, pad_id: int, layers: list[int],
                 token_cap: int, seed: int, batch_size=32, device="cpu") -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """(features, labels) per layer for LogME, at the format's granularity; token-level formats keep at
    most `token_cap` seeded tokens (all classes stay: the cap samples positions, not classes)."""
    seqs = [f["input_ids"] for f in features]
    labs = [token_labels(head_name, f) for f in features]
    if head_name == "classification":
        pooled = pooled_features(model, seqs, pad_id, layers, batch_size, device)
        return {layer: (pooled[layer], np.asarray(labs)) for layer in layers}
    xs = {layer: [] for layer in layers}
    ys = []
    rng = random.Random(seed)
    total = sum(len(x) for x in labs)
    keep_p = min(1.0, token_cap / max(total, 1))
    for idx, states, _ in hidden_states(model, seqs, pad_id, layers, batch_size, device):
        for b, i in enumerate(idx):
            picked = [(p, t) for p, t in labs[i] if t in (1, 2) or rng.random() < keep_p]
            if not picked:
                continue
            pos = torch.tensor([p for p, _ in picked])
            for layer in layers:
                xs[layer].append(states[layer][b, pos].cpu().numpy())
            ys += [t for _, t in picked]
    return {layer: (np.concatenate(xs[layer]), np.asarray(ys)) for layer in layers}


def fisher_embedding(model, seqs: list[list[int]], labels: np.ndarray, pad_id: int, head_steps: int = 200,
                     lr: float = 1e-2, batch_size: int = 32, seed: int = 0, device="cpu") -> np.ndarray:
    """M3, TaskEmb variant (b): the encoder stays frozen (one parameter space for every task, as
    Task2Vec's probe network), a linear head on mean-pooled last-layer states is trained briefly on the
    task's labels, then the diagonal empirical Fisher of each layer's output is accumulated with the
    square taken per example (Vu et al. 2020's code squares after summing over the batch). Each layer
    block is averaged over tokens and L2-normalised; blocks are concatenated."""
    torch.manual_seed(seed)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    classes = {c: k for k, c in enumerate(sorted(set(labels.tolist())))}
    y = torch.tensor([classes[c] for c in labels.tolist()], device=device)
    pooled = torch.tensor(pooled_features(model, seqs, pad_id, [model.config.num_hidden_layers], batch_size,
                                          device)[model.config.num_hidden_layers], device=device)
    head = torch.nn.Linear(pooled.shape[1], len(classes)).to(device)
    opt = torch.optim.Adam(head.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(head_steps):
        idx = torch.randint(0, len(seqs), (min(batch_size, len(seqs)),), generator=gen)
        loss = torch.nn.functional.cross_entropy(head(pooled[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    n_layers = model.config.num_hidden_layers
    fisher = torch.zeros(n_layers, pooled.shape[1], device=device)
    tokens = 0.0
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        ids, mask = _pad([seqs[i] for i in idx], pad_id, device)
        # Gradients reach the activations through the input embeddings (the weights are frozen).
        embeds = model.get_input_embeddings()(ids).detach().requires_grad_(True)
        states = model(inputs_embeds=embeds, attention_mask=mask, output_hidden_states=True).hidden_states[1:]
        m = mask.unsqueeze(-1).float()
        logits = head((states[-1] * m).sum(1) / m.sum(1))
        # Example i's activations reach only L_i, so d(sum_i L_i)/d o_i = dL_i/d o_i: one backward per
        # batch gives every per-example gradient, and squaring it is the per-example square.
        loss = torch.nn.functional.cross_entropy(logits, y[idx], reduction="sum")
        grads = torch.autograd.grad(loss, states)
        for k, g in enumerate(grads):
            fisher[k] += (g ** 2 * m).sum((0, 1))
        tokens += float(m.sum())
    fisher = fisher / tokens
    fisher = fisher / fisher.norm(dim=1, keepdim=True).clamp_min(1e-30)
    return fisher.flatten().detach().cpu().numpy()
