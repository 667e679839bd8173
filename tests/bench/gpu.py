"""GPU benchmark (issue 12: P1, P3, P5) and the throughput calibration `plan --estimate` reads.

    python tests/bench/gpu.py --out bench-gpu.json --calibration calibration.json

One short script (a few minutes on one card; random weights, no downloads):
P1  sentence-embedding extraction, XLM-R-base-shaped, Tatoeba-like lengths: anchor fp32 in file order,
    batch 100; ours length-sorted in fp32 and with bf16 autocast; top-1 agreement and minimum cosine.
P3  target fine-tuning tokens/s through repro.training.train (XLM-R-base-shaped, XNLI-like lengths):
    anchor fp32 random order; ours bf16 + length-grouped batches (goal ≥ 2.5x).
P5  XLM-R-Large-shaped training step in bf16 at the paper's per-step batch (4 x 256 tokens, and 32 x 256 =
    the global batch of 4 x grad_accum 8 in one step): tokens/s, MFU = model FLOPs / (time x the card's dense
    bf16 peak), peak memory. The best MFU seen goes into the calibration file.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import perf  # noqa: E402  (the CPU benchmark's data generators and P1/P3 procedures)

# Dense bf16 tensor-core peaks (NVIDIA datasheets; without sparsity).
PEAKS = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "L4": 121e12, "A10": 125e12,
         "RTX 4090": 165e12, "B200": 2250e12}


def peak_flops(name: str) -> float | None:
    for key, value in PEAKS.items():
        if key in name:
            return value
    return None


def large_shaped():
    from transformers import XLMRobertaConfig, XLMRobertaForSequenceClassification

    cfg = XLMRobertaConfig(vocab_size=250_002, hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
                           intermediate_size=4096, max_position_embeddings=514, num_labels=3,
                           attn_implementation="sdpa")
    return XLMRobertaForSequenceClassification(cfg)


def p5(device, peak: float | None, steps: int = 10) -> dict:
    model = large_shaped().to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=True)
    layers, d, ffn = 24, 1024, 4096
    non_embedding = layers * (4 * d * d + 2 * d * ffn)
    out = {}
    for batch, seq in ((4, 256), (32, 256)):
        ids = torch.randint(5, 250_000, (batch, seq), device=device)
        labels = torch.randint(0, 3, (batch,), device=device)
        torch.cuda.reset_peak_memory_stats(device)

        def step():
            with torch.autocast("cuda", dtype=torch.bfloat16):
                loss = model(input_ids=ids, labels=labels).loss
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
        for _ in range(3):
            step()
        torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        torch.cuda.synchronize(device)
        dt = (time.perf_counter() - t0) / steps
        tokens = batch * seq
        flops = tokens * (6 * non_embedding + 12 * layers * d * seq)
        out[f"{batch}x{seq}"] = {"tokens_per_s": round(tokens / dt), "step_s": round(dt, 4),
                                 "mfu": round(flops / dt / peak, 4) if peak else None,
                                 "peak_memory_GiB": round(torch.cuda.max_memory_allocated(device) / 2**30, 2)}
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="GPU benchmark P1, P3, P5 and the calibration file")
    p.add_argument("--out", default="bench-gpu.json")
    p.add_argument("--calibration", default="calibration.json")
    p.add_argument("--peak-flops", type=float, default=None, help="the card's dense bf16 peak, if not known")
    a = p.parse_args(argv)
    if not torch.cuda.is_available():
        print("no CUDA device visible; this benchmark needs a GPU", file=sys.stderr)
        return 2
    device = torch.device("cuda")
    torch.backends.cuda.matmul.allow_tf32 = True
    name = torch.cuda.get_device_name(device)
    peak = a.peak_flops or peak_flops(name)
    results = {"machine": {"gpu": name, "peak_bf16_flops": peak, "torch": torch.__version__,
                           "cuda": torch.version.cuda}}
    results["P5"] = p5(device, peak)
    print("P5", json.dumps(results["P5"]), flush=True)
    results["P1"] = perf.p1_gpu(device)
    print("P1", json.dumps(results["P1"]), flush=True)
    results["P3"] = perf.p3(2048, batch=32, device=device, hidden=768, layers=12, precision="bf16")
    print("P3", json.dumps(results["P3"]), flush=True)
    Path(a.out).write_text(json.dumps(results, indent=2) + "\n")
    best = max((v for v in results["P5"].values() if v["mfu"]), key=lambda v: v["mfu"], default=None)
    if best and peak:
        cal = {"device": name, "peak_flops": peak, "mfu": best["mfu"], "measured": True,
               "train_tokens_per_s_xlmr_large": best["tokens_per_s"],
               "source": f"measured by tests/bench/gpu.py on {name} (XLM-R-Large-shaped bf16 step)"}
        Path(a.calibration).write_text(json.dumps(cal, indent=2) + "\n")
        print(f"wrote {a.calibration}")
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
