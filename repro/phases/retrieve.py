"""The retrieval cells of phase `target` (BUCC, Tatoeba): no training; sentences are embedded by the
encoder (mean pooling over all real tokens, from a configurable layer) and retrieved by cosine.
Layer and pooling are recorded in the manifest: the expected tables cite them as provenance."""
from __future__ import annotations

from functools import partial

import numpy as np

from repro.atomic import sha256_text, write_text
from repro.engine import Stage
from repro.errors import ReproError
from repro.modeling import load_encoder, load_tokenizer, pick_device
from repro.phases.common import examples_path, prepared_languages, read_examples, set_seed
from repro.retrieval import embed_sentences, resolve_layer, save_embeddings
from repro.settings.analysis import Retrieval
from repro.settings.run import Run
from repro.training import autocast_dtype


def retrieval_settings(r: Retrieval, reference_num_layers: int, task) -> dict:
    return {"layer": getattr(r, task.retrieval_layer_key), "reference_num_layers": reference_num_layers,
            "pooling": r.pooling, "batch_size": r.batch_size, "max_seq_length": r.max_seq_length,
            "sort_by_length": r.sort_by_length, "k": r.bucc_k}


def check_finite(embeddings, encoder_dir):
    """NaN/inf vectors would make every similarity NaN and retrieval silently arbitrary."""

    bad = ~np.isfinite(embeddings).all(axis=1)
    if bad.any():
        raise ReproError(f"{encoder_dir}: {int(bad.sum())} of {len(embeddings)} sentence embeddings contain NaN or "
                         f"inf (first at sentence {int(bad.argmax()) + 1}); the encoder weights are damaged")
    return embeddings


def retrieval_stage(r: Retrieval, reference_num_layers: int, run_s: Run, splits: list[str], encoder_name: str,
                    encoder: Stage, task, seed: int, prepared: Stage) -> Stage:
    """r: [retrieval]; reference_num_layers: the depth its layers are given for; splits: target.splits."""
    s = retrieval_settings(r, reference_num_layers, task)
    inputs = {"task": task.name, "settings": s, "splits": splits}
    precision = run_s.precision
    if precision != "fp32":  # bf16/fp16 autocast for the encoder pass; default stages keep their keys
        inputs["precision"] = precision
    prefix = r.text_prefix
    if prefix:  # keyed only when set, like the precision: stages without one keep their keys
        inputs["text_prefix"] = prefix

    def run(ctx):

        set_seed(seed, run_s.deterministic, run_s.num_threads)
        device = pick_device(run_s.device)
        encoder_dir = ctx.dep(encoder.id) / "encoder"
        model = load_encoder(encoder_dir).to(device)
        tokenizer = load_tokenizer(encoder_dir)
        layer = resolve_layer(model.config.num_hidden_layers, s["layer"], s["reference_num_layers"])
        # Layers above the one read cannot change it: drop them (10 of 24 for XLM-R Large at layer 14).
        model.encoder.layer = model.encoder.layer[:layer]
        embed_uncached = partial(embed_sentences, model, tokenizer, layer=layer, pooling=s["pooling"],
                                 batch_size=s["batch_size"], max_length=s["max_seq_length"],
                                 sort_by_length=s["sort_by_length"], device=device, dtype=autocast_dtype(precision))
        cache = {}

        def embed(sentences):  # Tatoeba's dev and test are the same sentences: embed them once
            digest = sha256_text("\n".join(sentences))
            if digest not in cache:
                cache[digest] = check_finite(embed_uncached([prefix + t for t in sentences]), encoder_dir)
                # Kept as float16 (half the bytes) for reuse and analysis; retrieval uses the float32 rows.
                save_embeddings(ctx.out / "embeddings" / f"{digest[:16]}.npy", cache[digest])
            return cache[digest]

        prep = ctx.dep(prepared.id)
        extra = {}
        for split in ("dev", "test"):
            if split not in splits and split not in task.required_splits:
                continue
            for lang in prepared_languages(prep, split):
                examples = read_examples(examples_path(prep, split, lang))
                out = task.retrieve(examples, embed, s, split=split, lang=lang, state=extra)
                path = ctx.out / "predictions" / split / task.name / f"test-{lang}.tsv"
                write_text(path, "".join(line + "\n" for line in out))
        return {"seed": seed, "retrieval": {"layer_index": layer, "layer_setting": s["layer"],
                                            "reference_num_layers": s["reference_num_layers"],
                                            "pooling": s["pooling"], "text_prefix": prefix, **extra}}

    return Stage("target", f"{encoder_name}__{task.name}-s{seed}", inputs, run, [encoder, prepared],
                 describe=f"{task.name} from {encoder.id}: embed (layer {s['layer']}/{s['reference_num_layers']}, "
                          f"{s['pooling']} pooling), retrieve; no training")
