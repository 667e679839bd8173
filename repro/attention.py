"""Which attention kernel runs on a GPU: every forward pass of the package goes through `attention_kernels`.

On CUDA, PyTorch (2.5 and newer, Hopper and newer cards) tries cuDNN's fused attention first for half-precision
scaled-dot-product attention with a padding mask, which is how Hugging Face encoders call it. cuDNN builds an
execution plan for each new (batch, length) shape, a few hundred milliseconds forward and backward
(pytorch/pytorch#155958; modelscope/FunASR#3704 measured 0.44 s + 0.55 s per new shape). Padded batches of
text take a new shape almost every batch, more so with length-grouped batches and length-sorted embedding.
On the one H200 this package was measured on (tests/bench/gpu.py, docs/performance.md), every bf16 path with
varying shapes ran far below its fp32 anchor (training 0.13x, embedding 0.05x) while a fixed-shape bf16 step
reached 23 % MFU. So this package leaves cuDNN out of the kernel list; the flash, memory-efficient and math
kernels need no per-shape plan. On CPU nothing changes.
"""
from __future__ import annotations

import contextlib

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel


def attention_kernels(device) -> contextlib.AbstractContextManager:
    """A context in which scaled-dot-product attention on `device` uses no per-shape-planned kernel."""
    if torch.device(device).type != "cuda":
        return contextlib.nullcontext()
    return sdpa_kernel([SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH])
