"""GPU benchmark (issue 12: P1, P3, P5) and the throughput calibration `plan --estimate` reads.

    python tests/bench/gpu.py --out bench-gpu.json --calibration calibration.json

(`--quick`: small shapes on whatever device there is, the CPU included; tests/test_estimate.py runs it so the
script is known to work before a GPU is at hand. Its figures are not measurements.)

One short script (a few minutes on one card; random weights, no downloads):
P1  sentence-embedding extraction, XLM-R-base-shaped, Tatoeba-like lengths: anchor fp32 in file order,
    batch 100; ours length-sorted in fp32 and with bf16 autocast; top-1 agreement and minimum cosine.
P3  target fine-tuning tokens/s through repro.training.train (XLM-R-base-shaped, XNLI-like lengths):
    anchor fp32 random order; ours bf16 + length-grouped batches (goal ≥ 2.5x).
P5  XLM-R-Large-shaped training step in bf16 at the paper's per-step batch (4 x 256 tokens, and 32 x 256 =
    the global batch of 4 x grad_accum 8 in one step): tokens/s, MFU = model FLOPs / (time x the card's dense
    bf16 peak), peak memory. The best MFU seen goes into the calibration file, the 4 x 256 step time as the
    step latency `plan --estimate` charges per micro-batch.
P9  K = 1, 2, 4 processes training that XLM-R-Large-shaped step (4 x 256, bf16) on one card at once (what
    `reproduce --devices 0 --stages-per-device K` does): the card's tokens/s, each worker's step time and
    peak memory. The card's throughput relative to K = 1 goes into the calibration file (share_throughput),
    which `plan --estimate --stages-per-device K` reads.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
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


def large_shaped(quick: bool = False):
    """XLM-R Large's shape (24 x 1024, 250k vocabulary); ``quick``: a 2 x 128 stand-in for a check on CPU."""
    from transformers import XLMRobertaConfig, XLMRobertaForSequenceClassification

    shape = dict(vocab_size=1000, hidden_size=128, num_hidden_layers=2, num_attention_heads=2, intermediate_size=512) \
        if quick else dict(vocab_size=250_002, hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
                           intermediate_size=4096)
    cfg = XLMRobertaConfig(**shape, max_position_embeddings=514, num_labels=3, attn_implementation="sdpa")
    return XLMRobertaForSequenceClassification(cfg)


def _sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def training_step(model, opt, batch: int, seq: int, device):
    """A bf16-autocast classification training step on random tokens, warmed up (3 steps, synchronised)."""
    ids = torch.randint(5, model.config.vocab_size - 2, (batch, seq), device=device)
    labels = torch.randint(0, 3, (batch,), device=device)

    def step():
        with torch.autocast(device.type, dtype=torch.bfloat16):
            loss = model(input_ids=ids, labels=labels).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    for _ in range(3):
        step()
    _sync(device)
    return step


def p5(device, peak: float | None, steps: int = 10, quick: bool = False) -> dict:
    model = large_shaped(quick).to(device)
    cfg = model.config
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=device.type == "cuda")
    layers, d, ffn = cfg.num_hidden_layers, cfg.hidden_size, cfg.intermediate_size
    non_embedding = layers * (4 * d * d + 2 * d * ffn)
    out = {}
    for batch, seq in ((2, 32), (4, 32)) if quick else ((4, 256), (32, 256)):
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        step = training_step(model, opt, batch, seq, device)
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        _sync(device)
        dt = (time.perf_counter() - t0) / steps
        tokens = batch * seq
        flops = tokens * (6 * non_embedding + 12 * layers * d * seq)
        memory = round(torch.cuda.max_memory_allocated(device) / 2**30, 2) if device.type == "cuda" else None
        out[f"{batch}x{seq}"] = {"tokens_per_s": round(tokens / dt), "step_s": round(dt, 4),
                                 "mfu": round(flops / dt / peak, 4) if peak else None, "peak_memory_GiB": memory}
    return out


def share_worker(rank: int, k: int, folder: Path, steps: int, quick: bool) -> None:
    """One of K processes on one card: warm up, wait until all K are warm (a file each in `folder`), then
    time `steps` training steps; the result goes to folder/result-<rank>.json."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = large_shaped(quick).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=device.type == "cuda")
    batch, seq = (2, 32) if quick else (4, 256)
    step = training_step(model, opt, batch, seq, device)
    (folder / f"ready-{rank}").touch()
    while len(list(folder.glob("ready-*"))) < k:
        time.sleep(0.01)
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    dt = time.perf_counter() - t0
    memory = round(torch.cuda.max_memory_reserved(device) / 2**30, 2) if device.type == "cuda" else None
    (folder / f"result-{rank}.json").write_text(json.dumps(
        {"tokens_per_s": batch * seq * steps / dt, "step_s": dt / steps, "peak_memory_GiB": memory}))


def p9(ks=(1, 2, 4), steps: int = 20, quick: bool = False) -> dict:
    """The card's training throughput with K workers sharing it (separate processes, as the executor runs them)."""
    out = {}
    for k in ks:
        with tempfile.TemporaryDirectory(prefix="repro-p9-") as tmp:
            procs = [subprocess.Popen([sys.executable, __file__, "--share-worker", str(r), str(k), tmp, str(steps)]
                                      + (["--quick"] if quick else []), env={**os.environ}) for r in range(k)]
            codes = [p.wait() for p in procs]
            if any(codes):
                out[str(k)] = {"error": f"worker exit codes {codes} (out of memory?)"}
                continue
            results = [json.loads((Path(tmp) / f"result-{r}.json").read_text()) for r in range(k)]
        out[str(k)] = {"card_tokens_per_s": round(sum(r["tokens_per_s"] for r in results)),
                       "worker_step_s": [round(r["step_s"], 4) for r in results],
                       "worker_peak_memory_GiB": [r["peak_memory_GiB"] for r in results]}
    one = out.get("1", {}).get("card_tokens_per_s")
    for k, v in out.items():
        if one and "card_tokens_per_s" in v:
            v["share_throughput"] = round(v["card_tokens_per_s"] / one, 3)
    return out


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--share-worker"]:  # one process of P9 (started by p9 above)
        rank, k, folder, steps = int(argv[1]), int(argv[2]), Path(argv[3]), int(argv[4])
        share_worker(rank, k, folder, steps, quick="--quick" in argv)
        return 0
    p = argparse.ArgumentParser(description="GPU benchmark P1, P3, P5 and the calibration file")
    p.add_argument("--out", default="bench-gpu.json")
    p.add_argument("--calibration", default="calibration.json")
    p.add_argument("--peak-flops", type=float, default=None, help="the card's dense bf16 peak, if not known")
    p.add_argument("--quick", action="store_true",
                   help="small shapes on any device, CPU included: a check that the script runs, not a measurement")
    a = p.parse_args(argv)
    if not torch.cuda.is_available() and not a.quick:
        print("no CUDA device visible; this benchmark needs a GPU (--quick checks the script on CPU)", file=sys.stderr)
        return 2
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
    peak = a.peak_flops or peak_flops(name)
    results = {"machine": {"device": name, "peak_bf16_flops": peak, "torch": torch.__version__,
                           "cuda": torch.version.cuda, "quick": a.quick}}
    results["P5"] = p5(device, peak, steps=2 if a.quick else 10, quick=a.quick)
    print("P5", json.dumps(results["P5"]), flush=True)
    results["P1"] = perf.p1_gpu(device, n=30 if a.quick else 1000)
    print("P1", json.dumps(results["P1"]), flush=True)
    results["P3"] = (perf.p3(64, batch=16, device=device, hidden=64, layers=2, precision="bf16") if a.quick else
                     perf.p3(2048, batch=32, device=device, hidden=768, layers=12, precision="bf16"))
    print("P3", json.dumps(results["P3"]), flush=True)
    results["P9"] = p9((1, 2) if a.quick else (1, 2, 4), steps=2 if a.quick else 20, quick=a.quick)
    print("P9", json.dumps(results["P9"]), flush=True)
    Path(a.out).write_text(json.dumps(results, indent=2) + "\n")
    best = max((v for v in results["P5"].values() if v["mfu"]), key=lambda v: v["mfu"], default=None)
    if best and peak:
        what = "a --quick check, not a measurement" if a.quick else "XLM-R-Large-shaped bf16 step"
        cal = {"device": name, "peak_flops": peak, "mfu": best["mfu"], "measured": not a.quick,
               "train_tokens_per_s_xlmr_large": None if a.quick else best["tokens_per_s"],
               # per micro-batch at the paper's batch (4 x 256: longer than most sentences, so an upper bound)
               "step_latency_s": results["P5"]["2x32" if a.quick else "4x256"]["step_s"],
               "forward_latency_s": round(results["P5"]["2x32" if a.quick else "4x256"]["step_s"] / 3, 4),
               "share_throughput": {k: v["share_throughput"] for k, v in results["P9"].items() if "share_throughput" in v},
               "source": f"measured by tests/bench/gpu.py on {name} ({what})"}
        Path(a.calibration).write_text(json.dumps(cal, indent=2) + "\n")
        print(f"wrote {a.calibration}")
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
