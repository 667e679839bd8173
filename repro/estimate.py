"""Cost estimate of a profile's plan (`python -m repro plan --profile paper --estimate [--devices N]`): seconds
per stage, device-hours for the grid, and its makespan on N devices (the local executor's schedule,
repro/schedule.py, replayed on these costs).

Cost model. A training stage costs max(FLOP time, micro-batches x step latency + evaluation batches x
forward latency) + its phase's fixed cost (start-up, model load, featurisation, writing); other stages
cost their phase's fixed cost. FLOPs (dense transformer, Kaplan et al. 2020 "Scaling Laws for Neural
Language Models" §2.1): training ≈ 6·P + 12·L·d·S per token, a forward pass ≈ 2·P + 4·L·d·S (P =
non-embedding parameters, L layers, width d, S sequence length); FLOP time = FLOPs / (MFU × peak).
Small-batch training (the paper's batch 4) is bound by the per-step latency, not by FLOPs: a step of a
560M-parameter model pays kernel launches and the optimizer's pass over every weight whatever the batch.

Token counts: a task's prepared examples in the run directory when they exist (counted; lengths from the
model's tokenizer when it is available locally), else the table below (published training-set sizes;
lengths are estimates, marked). Calibration: `tests/bench/gpu.py` writes `calibration.json` (measured
MFU, peak, step latency at the paper's batch, throughput of a card shared by K stages); `fit_calibration`
fits latencies and fixed costs to a finished run's stage durations; without a file the defaults below
are used and the output says so.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from repro.engine import is_done, stage_dir
from repro.errors import ReproError
from repro.modeling import load_tokenizer, resolve_model
from repro.schedule import simulate
from repro.settings.profile import Profile, resolve

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
# The GPU default: the one card measured (tests/bench/gpu.py on an H200, 2026-12-04, file beside the tiny
# model): MFU at the global batch, the step latency at the paper's batch 4 x 256, and the throughput of a card
# shared by K stages. The per-stage fixed costs (start-up, XLM-R Large's load, featurisation) are still assumed.
MEASURED_GPU = Path(__file__).parent / "resources" / "calibration-h200.json"
DEFAULT_GPU = {"stage_overhead_s": {"prepare": 120, "pretrained": 120, "intermediate": 60, "target": 60,
                                    "evaluate": 10, "aggregate": 10, "analyze": 600},
               "startup_s": 20,
               **json.loads(MEASURED_GPU.read_text()),
               "measured": False}  # partly: latencies and MFU measured, fixed costs assumed
DEFAULT_GPU["source"] = (f"{DEFAULT_GPU['source']}; per-stage fixed costs assumed "
                         "(repro/resources/calibration-h200.json)")
DEFAULT_CPU = {"device": "2-core CPU (AVX-512), fp32", "peak_flops": 150e9, "mfu": 1.0, "measured": True,
               # The tiny model's steps are bound by per-step latency, not FLOPs. Fitted (fit_calibration) to the
               # stage durations of a mini run on the development machine under a load average of ~10, then
               # scaled by one factor (0.107) so that the smoke profile's total is its idle measurement (README:
               # "done in" 79.5 s and 122.5 s); smoke-grid and the other profiles are predictions (bench P8).
               "step_latency_s": 0.022, "forward_latency_s": 0.028,
               "stage_overhead_s": {"prepare": 0.02, "pretrained": 0.09, "intermediate": 1.2, "target": 0.0,
                                    "evaluate": 0.005, "aggregate": 0.013, "analyze": 0.24},
               "startup_s": 6,
               "source": "measured on the project's development CPU: XLM-R-base-shaped forward, 881 tokens/s "
                         "= 150 GFLOP/s effective (MFU folded into the peak); tiny-model step latency 22 ms "
                         "and per-stage fixed costs fitted to measured runs (repro/estimate.py)"}


def model_shape(model_name: str) -> tuple[int, int, int]:

    name = resolve_model(model_name)
    path = Path(name) / "config.json"
    if path.is_file():
        c = json.loads(path.read_text())
        return c["num_hidden_layers"], c["hidden_size"], c["intermediate_size"]
    for key, shape in SHAPES.items():
        if name.lower().endswith(key):
            return shape
    raise ReproError(f"model.name {name!r}: no local config.json and no known shape; estimate needs its size")


def calibration(p_: Profile, path: str | None) -> dict:
    if path:
        p = Path(path)
        if not p.is_file():
            raise ReproError(f"{p}: calibration file not found (tests/bench/gpu.py writes one)")
        try:
            cal = json.loads(p.read_text())
            float(cal["peak_flops"]), float(cal["mfu"])
        except (ValueError, KeyError, TypeError) as e:
            raise ReproError(f"{p}: not a calibration file ({type(e).__name__}: {e}); needs peak_flops and mfu") from None
        # What the file does not measure (e.g. fixed costs per stage) keeps the default of its kind.
        return {**default_calibration(p_), **cal, "source": cal.get("source", f"measured, {p}")}
    return default_calibration(p_)


def default_calibration(p: Profile) -> dict:
    cpu = p.run.device == "cpu" or p.model.name == "tiny"
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


def data_counts(model_name: str, run_dir: Path | None, plan) -> dict:
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
            tokenizer = _local_tokenizer(model_name)
        sample = [_text_of(e) for e in lines[:500]]
        if tokenizer and sample:
            mean = sum(len(ids) for ids in tokenizer(sample)["input_ids"]) / len(sample)
            source = "counted (prepared data, model tokenizer)"
        else:
            mean = sum(len(s.split()) for s in sample) / max(len(sample), 1) * 1.3
            source = "counted (prepared data; words x 1.3)"
        out[task] = (len(lines), mean, source)
    return out


def _local_tokenizer(model_name: str):
    name = resolve_model(model_name)
    return load_tokenizer(name) if Path(name).is_dir() else None


def stage_kind(stage_id: str) -> str:
    """What a fixed cost is kept for: the stage id without its per-source or per-task suffix
    ("analyze/logme-mnli" -> "analyze/logme"), so that one analysis stage that trains models (the planted
    world) is not charged like one that reads a table."""
    phase, _, name = stage_id.partition("/")
    return f"{phase}/{name.split('-')[0]}"


def _fixed_cost(overhead: dict, stage) -> float:
    """A stage's fixed cost: its kind's (fitted) where the calibration has one, else its phase's."""
    if stage.phase not in ("intermediate", "target") and stage_kind(stage.id) in overhead:
        return float(overhead[stage_kind(stage.id)])
    return float(overhead.get(stage.phase, 0.0))


def _latency(cal: dict, key: str, default: float) -> float:
    return float(cal.get(key, default))


def estimate(config: dict, plan, run_dir: Path | None = None, calibration_path: str | None = None) -> dict:
    """Seconds per stage: training max(FLOPs / rate, optimizer micro-batches x step latency), evaluation and
    prediction the same with forward passes, plus the phase's fixed cost per stage (start-up, model load,
    data, writing); the grid's device-hours are their sum. config: the loaded profile (load_config)."""
    p = resolve(config)
    layers, d, ffn = model_shape(p.model.name)
    params = layers * (4 * d * d + 2 * d * ffn)
    cal = calibration(p, calibration_path)
    rate = float(cal["peak_flops"]) * float(cal["mfu"])
    step_s = _latency(cal, "step_latency_s", 0.0)          # one forward + backward at the training batch
    forward_s = _latency(cal, "forward_latency_s", step_s / 3)  # one evaluation batch
    overhead = cal.get("stage_overhead_s", {})
    counted = data_counts(p.model.name, run_dir, plan)

    synthetic = p.data.source == "synthetic"

    def size(task):
        if task in counted:
            return counted[task]
        n, mean, _ = TASKS.get(task, (0, 64, 0))
        if synthetic:  # the smoke world's sizes come from the config
            return (p.synthetic.train_size if n else 0), mean, "synthetic sizes (config); length estimated"
        return n, mean, "table (published size; length estimated)"

    def evaluated(task):
        if synthetic:
            return p.synthetic.eval_size * len(p.synthetic.languages) * 2
        return TASKS.get(task, (0, 0, 1000))[2]

    rows = []
    for st in plan.stages:
        row = {"stage": st.id, "train_tokens": 0.0, "eval_tokens": 0.0, "flops": 0.0, "steps": 0,
               "flop_s": 0.0, "latency_s": 0.0, "overhead_s": _fixed_cost(overhead, st), "tokens_from": []}
        if st.phase in ("intermediate", "target"):
            row.update(_training_cost(st.config, st.phase, size, evaluated, params, layers, d, p.retrieval.batch_size))
            row["flop_s"] = row["flops"] / rate
            row["latency_s"] = row["micro_batches"] * step_s + row["eval_batches"] * forward_s
        row["seconds"] = max(row["flop_s"], row["latency_s"]) + row["overhead_s"]
        row["hours"] = row["seconds"] / 3600
        rows.append(row)
    phases = {}
    for r in rows:
        phases[r["stage"].split("/")[0]] = phases.get(r["stage"].split("/")[0], 0.0) + r["hours"]
    return {"model": {"layers": layers, "hidden": d, "ffn": ffn, "non_embedding_params": params},
            "calibration": cal, "stages": rows, "phases": phases, "total_hours": sum(phases.values()),
            "startup_s": float(cal.get("startup_s", 0.0))}


def _training_cost(c: dict, phase: str, size, evaluated, params: int, layers: int, d: int,
                   retrieval_batch_size: int) -> dict:
    """Tokens, FLOPs, optimizer steps and micro-batches, and evaluation batches of one training (or retrieval) stage."""
    if phase == "intermediate":
        tasks, settings, schedule = c["tasks"], c["settings"], c["schedule"]
    else:
        tasks, settings, schedule = [c["task"]], {c["task"]: c["settings"]}, c["settings"]
    train_tok = eval_tok = 0.0
    steps = micro = eval_batches = 0
    sources = set()
    for t in tasks:
        n, mean, src = size(t)
        sources.add(src)
        s = settings[t]
        mean = min(mean, s.get("max_seq_length", 512))
        if s.get("max_train_examples"):
            n = min(n, s["max_train_examples"])
        eval_bs = s.get("eval_batch_size") or retrieval_batch_size
        if "epochs" in schedule and n:  # a training stage (retrieval stages have no schedule)
            per_step = schedule["batch_size"] * schedule["grad_accum"]
            n_seen = schedule["max_steps"] * per_step if schedule.get("max_steps") else schedule["epochs"] * n
            t_steps = math.ceil(n_seen / per_step)
            train_tok += n_seen * mean
            steps += t_steps
            micro += t_steps * schedule["grad_accum"]
            every = schedule.get("eval_every") or t_steps
            dev = min(s.get("max_eval_examples") or evaluated(t), evaluated(t))
            evals = math.ceil(t_steps / every) if phase == "target" else 1
            eval_tok += evals * dev * mean
            eval_batches += evals * math.ceil(dev / eval_bs)
        if phase == "target":  # prediction (or retrieval's embedding passes) over every split and language
            eval_tok += evaluated(t) * mean
            eval_batches += math.ceil(evaluated(t) / eval_bs)
    seq = max(min(size(t)[1], settings[t].get("max_seq_length", 512)) for t in tasks)
    flops = train_tok * (6 * params + 12 * layers * d * seq) + eval_tok * (2 * params + 4 * layers * d * seq)
    return {"train_tokens": train_tok, "eval_tokens": eval_tok, "flops": flops, "steps": steps,
            "micro_batches": micro, "eval_batches": eval_batches, "tokens_from": sorted(sources)}


def stage_seconds(config: dict, plan) -> dict[str, float]:
    """Stage id -> estimated seconds on one slot (the local executor's order; no data is read)."""
    return {r["stage"]: r["seconds"] for r in estimate(config, plan)["stages"]}


def makespan(config: dict, plan, result: dict, devices: int, per_device: int = 1) -> dict:
    """The grid's wall time on `devices` x `per_device` slots, scheduled as the local executor does
    (repro/schedule.py). K stages sharing a card each run K / share[K] times slower, share[K] being the
    card's throughput with K workers relative to one (calibration share_throughput; without it 1:
    sharing gains nothing, the cautious assumption)."""
    shares = result["calibration"].get("share_throughput", {})
    share = float(shares.get(str(per_device), 1.0)) if per_device > 1 else 1.0
    slow = per_device / share
    seconds = {r["stage"]: r["seconds"] for r in result["stages"]}
    gpu = {r["stage"] for r in result["stages"] if r["flops"]}  # training and retrieval share the card
    cost = lambda s: seconds.get(s.id, 0.0) * (slow if s.id in gpu else 1.0)  # noqa: E731
    sim = simulate(plan.stages, cost, devices * per_device)
    return {"devices": devices, "stages_per_device": per_device, "share_throughput": share,
            "makespan_s": sim["makespan"] + result["startup_s"], "busy_s": sim["busy"],
            "serial_s": sum(seconds.values()) + result["startup_s"]}


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def print_estimate(result: dict, profile: str, span: dict | None = None) -> None:
    cal, m = result["calibration"], result["model"]
    params = m["non_embedding_params"]
    size = f"{params / 1e6:.0f}M" if params >= 1e6 else f"{params / 1e3:.0f}k"
    print(f"profile {profile}: model {m['layers']} layers x {m['hidden']} ({size} non-embedding parameters); "
          f"device {cal['device']}, MFU {float(cal['mfu']):.0%}, step latency {_latency(cal, 'step_latency_s', 0) * 1e3:.0f} ms")
    print(f"calibration: {cal['source']}")
    print(f"{'stage':<52} {'train tokens':>13} {'steps':>8} {'PFLOP':>9} {'FLOP s':>9} {'latency s':>10} "
          f"{'seconds':>9}  bound; tokens from")
    for r in result["stages"]:
        bound = "fixed" if not r["flops"] else "FLOPs" if r["flop_s"] >= r["latency_s"] else "latency"
        print(f"{r['stage']:<52} {r['train_tokens']:>13.3g} {r['steps']:>8} {r['flops'] / 1e15:>9.3g} "
              f"{r['flop_s']:>9.3g} {r['latency_s']:>10.3g} {r['seconds']:>9.3g}  {bound}"
              + (f"; {'; '.join(r['tokens_from'])}" if r["tokens_from"] else ""))
    for phase, h in result["phases"].items():
        print(f"phase {phase}: {h:.3g} device-hours")
    print(f"whole grid: {result['total_hours']:.3g} device-hours (each stage: max(FLOP time, micro-batches x step "
          "latency) + its phase's fixed cost; retrieval counts its embedding passes, not the mining)")
    if span:
        print(f"makespan on {span['devices']} device(s) x {span['stages_per_device']} stage(s) each: "
              f"{_duration(span['makespan_s'])} (one device, one stage at a time: {_duration(span['serial_s'])}); "
              f"scheduled longest remaining path first, as reproduce --devices runs it; card throughput with "
              f"{span['stages_per_device']} per device x{span['share_throughput']:g} of one"
              + (" (not calibrated: assumed no gain)" if span["stages_per_device"] > 1
                 and "share_throughput" not in cal else ""))


def fit_calibration(config: dict, plan, run_dir: Path, base: dict | None = None) -> dict:
    """A calibration fitted to a finished run's stage durations (its manifests): step and forward latency by
    least squares over the training stages (duration = fixed cost of the phase + micro-batches x step +
    evaluation batches x forward), and each other phase's mean duration as its fixed cost. For machines
    where training is bound by per-step latency (a CPU, the tiny model), which is what the smoke and mini
    profiles exercise."""
    result = estimate(config, plan, None, None)
    rows, durations, phases = [], [], ["intermediate", "target"]
    fixed: dict[str, list[float]] = {}
    for r in result["stages"]:
        st = next(s for s in plan.stages if s.id == r["stage"])
        if not is_done(run_dir, st):
            continue
        seconds = json.loads((stage_dir(run_dir, st) / "manifest.json").read_text())["duration_s"]
        if st.phase in phases:
            rows.append([r["micro_batches"], r["eval_batches"]] + [float(st.phase == p) for p in phases])
            durations.append(seconds)
        else:
            fixed.setdefault(st.phase, []).append(seconds)
            fixed.setdefault(stage_kind(st.id), []).append(seconds)
    if len(rows) < 4:
        raise ReproError(f"{run_dir}: too few finished training stages ({len(rows)}) to fit a calibration")
    coef = np.linalg.lstsq(np.array(rows), np.array(durations), rcond=None)[0].clip(min=0)
    overhead = {p: round(float(np.mean(v)), 3) for p, v in fixed.items()}
    overhead.update({p: round(float(c), 3) for p, c in zip(phases, coef[2:])})
    cal = dict(base or default_calibration(resolve(config)))
    cal.update(step_latency_s=round(float(coef[0]), 5), forward_latency_s=round(float(coef[1]), 5),
               stage_overhead_s=overhead, measured=True,
               source=f"fitted to the stage durations of {run_dir} (profile {resolve(config).name})")
    return cal
