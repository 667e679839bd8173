"""Cost estimate of a profile's plan (`python -m repro plan --profile paper --estimate`): device-hours per
stage and for the whole grid, from token counts and a throughput calibration.

Cost model (dense transformer, Kaplan et al. 2020 "Scaling Laws for Neural Language Models" §2.1):
training ≈ 6·P + 12·L·d·S FLOPs per token, a forward pass ≈ 2·P + 4·L·d·S (P = non-embedding parameters,
L layers, width d, S sequence length); device time = FLOPs / (MFU × peak FLOP/s).

Token counts: a task's prepared examples in the run directory when they exist (counted; lengths from the
model's tokenizer when it is available locally), else the table below (published training-set sizes;
lengths are estimates, marked). Calibration: `tests/bench/gpu.py` writes `calibration.json` (measured
MFU and peak of the card); without it the defaults below are used and the output says so.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from repro.engine import is_done, stage_dir
from repro.errors import ReproError
from repro.modeling import load_tokenizer, resolve_model

# task: (training examples, mean tokens per training example (all choices for multiple choice),
#        evaluation examples over every split and language predicted). Sizes: the datasets' papers /
# XTREME (Hu et al. 2020, Table 1); token means: estimates for XLM-R's tokenizer, not measured.
TASKS = {
    "mnli": (392_702, 40, 9_815), "anli": (162_865, 60, 3_200), "qqp": (363_846, 30, 40_430),
    "sst2": (67_349, 13, 872), "squad": (130_319, 230, 11_873), "commonsenseqa": (9_741, 100, 1_221),
    "cosmosqa": (25_262, 480, 2_985), "hellaswag": (39_905, 240, 10_042), "ccg": (39_604, 30, 1_913),
    "xnli": (392_702, 40, 112_500), "pawsx": (49_401, 50, 28_000), "udpos": (21_253, 30, 160_000),
    "panx": (20_000, 25, 800_000), "xquad": (87_599, 230, 13_090), "mlqa": (87_599, 230, 92_000),
    "tydiqa": (3_696, 230, 5_077), "bucc2018": (0, 35, 3_500_000), "tatoeba": (0, 15, 72_000),
}
SHAPES = {  # layers, width, FFN width; for hub ids whose config is not on this machine
    "xlm-roberta-large": (24, 1024, 4096), "xlm-roberta-base": (12, 768, 3072),
}
DEFAULT_GPU = {"device": "H100/H200 SXM, dense bf16 989 TFLOP/s (NVIDIA datasheet)", "peak_flops": 989e12,
               "mfu": 0.40, "measured": False,
               "source": "DEFAULT, not measured: MFU assumed at the 40% goal of tests/bench/gpu.py"}
DEFAULT_CPU = {"device": "2-core CPU (AVX-512), fp32", "peak_flops": 150e9, "mfu": 1.0, "measured": True,
               "source": "measured on the project's development CPU: XLM-R-base-shaped forward, 881 tokens/s "
                         "= 150 GFLOP/s effective (MFU folded into the peak)"}


def model_shape(config: dict) -> tuple[int, int, int]:

    name = resolve_model(config["model"]["name"])
    path = Path(name) / "config.json"
    if path.is_file():
        c = json.loads(path.read_text())
        return c["num_hidden_layers"], c["hidden_size"], c["intermediate_size"]
    for key, shape in SHAPES.items():
        if name.lower().endswith(key):
            return shape
    raise ReproError(f"model.name {name!r}: no local config.json and no known shape; estimate needs its size")


def calibration(config: dict, path: str | None) -> dict:
    if path:
        p = Path(path)
        if not p.is_file():
            raise ReproError(f"{p}: calibration file not found (tests/bench/gpu.py writes one)")
        try:
            cal = json.loads(p.read_text())
            float(cal["peak_flops"]), float(cal["mfu"])
        except (ValueError, KeyError, TypeError) as e:
            raise ReproError(f"{p}: not a calibration file ({type(e).__name__}: {e}); needs peak_flops and mfu") from None
        return {**cal, "source": cal.get("source", f"measured, {p}")}
    cpu = config["run"]["device"] == "cpu" or config["model"]["name"] == "tiny"
    return DEFAULT_CPU if cpu else DEFAULT_GPU


def _text_of(example: dict) -> str:
    parts = []
    for k, v in example.items():
        if k in ("id", "label", "labels", "answers", "gold"):
            continue
        if isinstance(v, str):
            parts.append(v)
        elif isinstance(v, list) and all(isinstance(x, str) for x in v):
            parts.extend(v)
    return " ".join(parts)


def data_counts(config: dict, run_dir: Path | None, plan) -> dict:
    """task -> (train examples, mean tokens, source) from prepared examples where the run has them."""
    out = {}
    if run_dir is None:
        return out
    tokenizer = None
    for st in plan.phase("prepare"):
        task = st.name
        if task not in TASKS or not is_done(run_dir, st):
            continue
        train = stage_dir(run_dir, st) / "examples" / "train-en.jsonl"
        if not train.is_file():
            continue
        lines = [json.loads(x) for x in train.read_text(encoding="utf-8").splitlines() if x.strip()]
        if tokenizer is None:
            tokenizer = _local_tokenizer(config)
        sample = [_text_of(e) for e in lines[:500]]
        if tokenizer and sample:
            mean = sum(len(ids) for ids in tokenizer(sample)["input_ids"]) / len(sample)
            source = "counted (prepared data, model tokenizer)"
        else:
            mean = sum(len(s.split()) for s in sample) / max(len(sample), 1) * 1.3
            source = "counted (prepared data; words x 1.3)"
        out[task] = (len(lines), mean, source)
    return out


def _local_tokenizer(config):
    name = resolve_model(config["model"]["name"])
    return load_tokenizer(name) if Path(name).is_dir() else None


def estimate(config: dict, plan, run_dir: Path | None = None, calibration_path: str | None = None) -> dict:
    layers, d, ffn = model_shape(config)
    params = layers * (4 * d * d + 2 * d * ffn)
    cal = calibration(config, calibration_path)
    rate = float(cal["peak_flops"]) * float(cal["mfu"])
    counted = data_counts(config, run_dir, plan)

    synthetic = config["data"]["source"] == "synthetic"
    syn = config.get("synthetic", {})

    def size(task):
        if task in counted:
            return counted[task]
        n, mean, _ = TASKS.get(task, (0, 64, 0))
        if synthetic:  # the smoke world's sizes come from the config
            return (syn["train_size"] if n else 0), mean, "synthetic sizes (config); length estimated"
        return n, mean, "table (published size; length estimated)"

    def evaluated(task):
        if synthetic:
            return syn["eval_size"] * len(syn["languages"]) * 2
        return TASKS.get(task, (0, 0, 1000))[2]

    rows = []
    for st in plan.stages:
        if st.phase not in ("intermediate", "target"):
            continue
        c = st.config
        if st.phase == "intermediate":
            tasks, settings = c["tasks"], c["settings"]
            schedule = c["schedule"]
        else:
            tasks, settings, schedule = [c["task"]], {c["task"]: c["settings"]}, c["settings"]
        train_tok = eval_tok = 0.0
        sources = set()
        for t in tasks:
            n, mean, src = size(t)
            sources.add(src)
            s = settings[t]
            cap = s.get("max_seq_length", 512)
            mean = min(mean, cap)
            if s.get("max_train_examples"):
                n = min(n, s["max_train_examples"])
            if "epochs" in schedule and n:  # a training stage (retrieval stages have no schedule)
                if schedule.get("max_steps"):
                    n_seen = schedule["max_steps"] * schedule["batch_size"] * schedule["grad_accum"]
                else:
                    n_seen = schedule["epochs"] * n
                train_tok += n_seen * mean
                steps = math.ceil(n_seen / (schedule["batch_size"] * schedule["grad_accum"]))
                every = schedule.get("eval_every") or steps
                dev = min(s.get("max_eval_examples") or evaluated(t), evaluated(t))
                eval_tok += math.ceil(steps / every) * dev * mean
            eval_tok += evaluated(t) * mean if st.phase == "target" else 0
        seq = max(min(size(t)[1], settings[t].get("max_seq_length", 512)) for t in tasks)
        flops = train_tok * (6 * params + 12 * layers * d * seq) + eval_tok * (2 * params + 4 * layers * d * seq)
        rows.append({"stage": st.id, "train_tokens": train_tok, "eval_tokens": eval_tok, "flops": flops,
                     "hours": flops / rate / 3600, "tokens_from": sorted(sources)})
    phases = {}
    for r in rows:
        phases[r["stage"].split("/")[0]] = phases.get(r["stage"].split("/")[0], 0.0) + r["hours"]
    return {"model": {"layers": layers, "hidden": d, "ffn": ffn, "non_embedding_params": params},
            "calibration": cal, "stages": rows, "phases": phases, "total_hours": sum(phases.values())}


def print_estimate(result: dict, profile: str) -> None:
    cal, m = result["calibration"], result["model"]
    print(f"profile {profile}: model {m['layers']} layers x {m['hidden']} ({m['non_embedding_params'] / 1e6:.0f}M "
          f"non-embedding parameters); device {cal['device']}, MFU {float(cal['mfu']):.0%}")
    print(f"calibration: {cal['source']}")
    print(f"{'stage':<52} {'train tokens':>13} {'eval tokens':>12} {'PFLOP':>9} {'device-h':>9}  tokens from")
    for r in result["stages"]:
        print(f"{r['stage']:<52} {r['train_tokens']:>13.3g} {r['eval_tokens']:>12.3g} {r['flops'] / 1e15:>9.2f} "
              f"{r['hours']:>9.3g}  {'; '.join(r['tokens_from'])}")
    for phase, h in result["phases"].items():
        print(f"phase {phase}: {h:.3g} device-hours")
    print(f"whole grid: {result['total_hours']:.3g} device-hours (training + dev evaluation + prediction; "
          "retrieval counts its embedding passes, not the mining; data preparation is not counted)")
