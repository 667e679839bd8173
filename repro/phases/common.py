"""Helpers the phases share: example caches, seeds, devices."""
from __future__ import annotations

import json
import os
import random
from pathlib import Path

import numpy as np
import torch

from repro.atomic import write_text
from repro.training import SCHEDULE_KEYS


def set_seed(seed: int, deterministic: bool = True, threads: int = 0) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if threads:
        torch.set_num_threads(threads)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)


def write_examples(path: Path, examples: list[dict]) -> None:
    write_text(path, "".join(json.dumps(ex, ensure_ascii=False) + "\n" for ex in examples))


def read_examples(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def examples_path(prepared: Path, split: str, lang: str) -> Path:
    return Path(prepared) / "examples" / f"{split}-{lang}.jsonl"


def prepared_languages(prepared: Path, split: str) -> list[str]:
    """Languages the prepare stage wrote for this split, in the order it wrote them."""
    info = json.loads((Path(prepared) / "info.json").read_text())
    return [lang for lang in info["languages"].get(split, [])]


def first_n(examples: list[dict], n: int) -> list[dict]:
    return examples[:n] if n and n > 0 else examples


# Settings the phases themselves read (how many examples to use), besides the head's and train()'s.
DATA_CAPS = ("max_train_examples", "max_eval_examples")


def head_settings(settings: dict, task) -> dict:
    """What featurisation, prediction and the data caps read, plus the options the task declares (e.g.
    squad_version: SQuAD 2.0 allows no answer): one task's part of a stage key."""
    keys = (*task.head_impl.settings_read, *DATA_CAPS, *task.config_options)
    return {k: settings[k] for k in keys if k in settings}


def schedule_settings(settings: dict) -> dict:
    """What the training loop reads: the optimiser schedule."""
    return {k: settings[k] for k in SCHEDULE_KEYS if k in settings}
