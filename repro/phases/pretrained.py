"""Phase `pretrained`: the starting multilingual MLM (XLM-R Large for the paper), saved as an encoder
directory (safetensors + tokenizer) that every later phase reads the same way."""
from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoTokenizer

from repro.atomic import sha256_file
from repro.engine import Stage
from repro.modeling import (CONVERTED_MODELS, check_local_model, converted_model, converted_source, load_encoder,
                            load_tokenizer, resolve_model)
from repro.settings.run import Model


def pretrained_stage(m: Model) -> Stage:
    converted = m.name in CONVERTED_MODELS
    # A converted model is keyed by its source package file and converter, and built on first run only.
    path = None if converted else resolve_model(m.name)
    inputs = {"model": m.name, "revision": m.revision}
    if converted:
        inputs["source"] = converted_source(m.name)
    elif Path(path).is_dir():  # a local model is keyed by its files' content
        inputs["files"] = {p.name: sha256_file(p) for p in sorted(Path(path).iterdir()) if p.is_file()}

    def run(ctx):
        nonlocal path
        if converted:
            path = str(converted_model(m.name, m.cache_dir))
        kwargs = {}
        if Path(path).is_dir():
            check_local_model(Path(path))
        else:
            kwargs["revision"] = m.revision
        tokenizer = load_tokenizer(path) if not kwargs else _hub_tokenizer(path, m.revision)
        # Weights absent from a checkpoint (e.g. a pooler) are initialised randomly: seeded, so that the
        # starting encoder, and everything downstream, is the same on every run.
        torch.manual_seed(0)
        encoder = load_encoder(path, **kwargs)
        encoder.save_pretrained(ctx.out / "encoder", safe_serialization=True)
        tokenizer.save_pretrained(ctx.out / "encoder")
        for f in (ctx.out / "encoder").iterdir():
            f.chmod(0o644)
        return {"model": {"name": m.name, "num_hidden_layers": encoder.config.num_hidden_layers,
                          "hidden_size": encoder.config.hidden_size,
                          "parameters": sum(p.numel() for p in encoder.parameters())}}

    slug = "tiny" if m.name == "tiny" else Path(m.name).name
    return Stage("pretrained", slug, inputs, run, describe=f"starting encoder {m.name} ({m.revision})")


def _hub_tokenizer(name, revision):
    return AutoTokenizer.from_pretrained(name, revision=revision)
