"""[run] (how stages run: seeds, device, precision) and [model] (the pretrained encoder)."""
from __future__ import annotations

from dataclasses import dataclass

from repro.settings.declare import key
from repro.settings.rules import FLAG, Device, choice, count, items, text


@dataclass(frozen=True)
class Run:
    """How every stage runs."""
    seeds: list = key([1], items(count(0), "integer seeds ≥ 0", 1, bad=[1, 1]),
                      "several seeds: figures become mean ± sd over seeds")
    device: str = key("auto", Device("auto, or a device torch names (cpu, cuda, cuda:1, mps, ...)", "tpu"),
                      "auto | cpu | cuda")
    deterministic: bool = key(True, FLAG, "torch.use_deterministic_algorithms; needed for the resume-equality guarantee")
    checkpoint_every: int = key(500, count(1), "optimizer steps between rolling checkpoints")
    num_threads: int = key(0, count(0), "torch CPU threads; 0 = torch's default")
    log_every: int = key(50, count(0), "optimizer steps between log lines; 0 = none")
    precision: str = key("fp32", choice("fp32", "bf16", "fp16"),
                         "fp32 | bf16 | fp16: autocast over fp32 master weights (fp16 with a grad scaler)")
    devices: int = key(1, count(1), "data-parallel processes per training stage (GPUs; CPU processes with gloo)")
    group_by_length: bool = key(False, FLAG, "length-grouped batches in seeded mega-batches (HF/jiant style): less padding")
    report_to: list = key([], items(choice("tensorboard"), "reporting integrations (tensorboard)"),
                          '["tensorboard"]: per-stage event files under RUN_DIR/tensorboard (needs the tensorboard package)')


@dataclass(frozen=True)
class Model:
    """The pretrained encoder every stage starts from."""
    name: str = key("FacebookAI/xlm-roberta-large", text(), "hub id or a local directory in Hugging Face layout")
    revision: str = key("main", text(), "hub revision")
    reference_num_layers: int = key(24, count(1), "retrieval.layer is given for this depth and scaled to the model's")
    cache_dir: str = key("", text(nonempty=False),
                         'where "e5-small" is converted on first use; "" = $REPRO_CACHE or ~/.cache/repro/models')
    freeze_embeddings: bool = key(False, FLAG, "keep the word-embedding matrix fixed in intermediate and target training")
