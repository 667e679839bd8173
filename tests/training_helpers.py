"""Small in-memory training setups for the training-loop tests: the tiny XLM-R with a 3-way
classification head on random token sequences of mixed lengths (no data files)."""
from __future__ import annotations

import random

import torch

from repro.heads import get_head
from repro.modeling import TINY_MODEL, MultiHeadModel
from repro.tasks.base import Task
from repro.training import TaskData

SETTINGS = {"lr": 1e-3, "batch_size": 8, "grad_accum": 2, "epochs": 2.0, "max_steps": 0, "warmup_proportion": 0.1,
            "weight_decay": 0.01, "max_grad_norm": 1.0, "eval_every": 0, "early_stop_patience": 0}


def task_data(n: int = 48, seed: int = 0) -> TaskData:
    rng = random.Random(seed)
    feats = []
    for i in range(n):
        length = rng.choice([4, 5, 6, 20, 30, 40])
        feats.append({"input_ids": [0] + [rng.randrange(5, 40) for _ in range(length)] + [2],
                      "labels": i % 3, "example": i})
    return TaskData("toy", get_head("classification"), feats)


class ToyTask(Task):
    """Not registered: a 3-way classification task that exists only as features."""
    name, head, labels = "toy", "classification", ["a", "b", "c"]


def model(seed: int = 1, dropout: float = 0.1) -> MultiHeadModel:
    task = ToyTask()
    torch.manual_seed(seed)  # the tiny model has no pooler weights: they are drawn at load time
    m = MultiHeadModel.build(TINY_MODEL, [task], seed)
    if dropout != 0.1:  # the data-parallel test compares losses: masks differ with the batch split
        for module in m.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = dropout
    return m


def state(m) -> dict:
    return {k: v.detach().clone() for k, v in m.state_dict().items()}
