"""Encoders and heads. One shared encoder (XLMRobertaModel-like, from `AutoModel`) carries one
transformers head model per task; the encoder alone is what moves from phase to phase."""
from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, AutoTokenizer

from repro.errors import ReproError

TINY_MODEL = Path(__file__).parent / "resources" / "tiny-xlmr"


def resolve_model(name: str) -> str:
    """'tiny' -> the committed tiny XLM-R; a path (absolute, ./, ../, ~) -> a local directory, which
    must exist; anything else -> a hub id."""
    if name == "tiny":
        return str(TINY_MODEL)
    if name.startswith(("/", "./", "../", "~")) or Path(name).is_dir():
        path = Path(name).expanduser()
        check_local_model(path)
        return str(path)
    return name


def check_local_model(path: Path) -> None:
    path = Path(path)
    if not path.is_dir():
        raise ReproError(f"{path}: model directory not found")
    if not (path / "config.json").is_file():
        raise ReproError(f"{path}: not a model directory (no config.json)")
    if not any(path.glob("*.safetensors")):
        raise ReproError(f"{path}: no *.safetensors weights (pickled weights are refused)")


def load_tokenizer(path):
    return AutoTokenizer.from_pretrained(str(path))


def load_encoder(path, **kwargs) -> nn.Module:
    # add_pooling_layer: the multiple-choice head of transformers reads the pooled output, so the shared
    # encoder keeps its pooler; the other heads ignore it.
    # SDPA attention (PyTorch's fused scaled_dot_product_attention; transformers' default, stated so a
    # changed default cannot silently slow the runs down).
    kwargs.setdefault("attn_implementation", "sdpa")
    return AutoModel.from_pretrained(str(path), use_safetensors=True, add_pooling_layer=True, **kwargs)


def pick_device(setting: str) -> torch.device:
    if setting == "cuda" or (setting == "auto" and torch.cuda.is_available()):
        return torch.device("cuda")
    return torch.device("cpu")


class MultiHeadModel(nn.Module):
    """Shared encoder + one head model per task. Each head model's `base_model` *is* the encoder."""

    def __init__(self, encoder: nn.Module, heads: dict[str, nn.Module]):
        super().__init__()
        self.encoder = encoder
        self.heads = nn.ModuleDict(heads)

    @classmethod
    def build(cls, encoder_path, tasks: list, seed: int) -> "MultiHeadModel":
        from repro.heads import get_head

        encoder = load_encoder(encoder_path)
        config = AutoConfig.from_pretrained(str(encoder_path))
        heads = {}
        for i, task in enumerate(tasks):
            head = get_head(task.head)
            torch.manual_seed(seed * 1000 + i)  # head init depends on the seed and task order only
            cfg = config.__class__.from_dict(config.to_dict())
            n = head.num_labels(task)
            if n:
                cfg.num_labels = n
            model = head.model_class.from_config(cfg)
            setattr(model, model.base_model_prefix, encoder)  # share: drop the head model's own copy
            heads[task.name] = model
        return cls(encoder, heads)

    def forward(self, task: str, **batch):
        return self.heads[task](**batch)


def save_encoder(model: MultiHeadModel, tokenizer, out: Path) -> None:
    out = Path(out)
    model.encoder.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    for f in out.iterdir():  # safetensors writes 0600 (engineering.md pitfall 5)
        os.chmod(f, 0o644)
