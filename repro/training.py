"""The training loop shared by the intermediate and target phases.

Single-task training is multi-task training with one task. Each optimizer step draws one task
(proportional to dataset size, or size^(1/T) with a temperature: jiant's samplers) and `grad_accum`
batches of it. Everything that decides what happens next lives in the rolling checkpoint (weights,
optimizer, scheduler, RNG states, each task's position in its shuffled order, best-so-far), so a run
killed at any point and resumed ends bit-identical to an uninterrupted one on CPU.
"""
from __future__ import annotations

import contextlib
import math
import os
import shutil
import signal
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.distributed as dist
from safetensors.torch import load_file, load_model, save_file, save_model
from torch.distributed.elastic.multiprocessing import DefaultLogsSpecs
from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
from torch.distributed.launcher.api import LaunchConfig, elastic_launch
from torch.nn.parallel import DistributedDataParallel
from transformers import get_linear_schedule_with_warmup

from repro import faults, progress
from repro.atomic import canonical_json
from repro.attention import attention_kernels
from repro.errors import ReproError
from repro.report import Reporter
from repro.settings.run import Model, Run

PRECISIONS = ("fp32", "bf16", "fp16")
# HF Trainer's LengthGroupedSampler (transformers trainer_pt_utils.py) sorts mega-batches of 50 batches.
MEGA_BATCH = 50


@dataclass
class TaskData:
    name: str
    head: object               # repro.heads.Head
    features: list[dict]


def _order(seed: int, task_index: int, epoch: int, n: int) -> list[int]:
    g = torch.Generator().manual_seed(seed * 1_000_003 + task_index * 10_007 + epoch)
    return torch.randperm(n, generator=g).tolist()


def feature_length(f: dict) -> int:
    """Tokens a feature puts through the encoder (all choices of a multiple-choice feature)."""
    if "input_ids" in f:
        return len(f["input_ids"])
    return sum(len(c) for c in f.get("choices", ()))


def grouped_order(order: list[int], lengths: list[int], batch_size: int) -> list[int]:
    """jiant/HF-style length grouping: the seeded random order cut into mega-batches of MEGA_BATCH
    batches, each sorted longest first, so a batch holds similar lengths (little padding) while the
    mega-batches keep the epoch's random order. A pure function of the order: nothing new to checkpoint."""
    mega = batch_size * MEGA_BATCH
    out = []
    for start in range(0, len(order), mega):
        out.extend(sorted(order[start:start + mega], key=lambda i: -lengths[i]))  # stable on ties
    return out


class Sampler:
    """Which task and which examples come next; its whole state is a few integers and one generator."""

    def __init__(self, tasks: list[TaskData], batch_size: int, seed: int, sampling: str, temperature: float,
                 group_by_length: bool = False):
        self.tasks, self.batch_size, self.seed = tasks, batch_size, seed
        self.lengths = [[feature_length(f) for f in t.features] for t in tasks] if group_by_length else None
        self._cache: dict[tuple[int, int], list[int]] = {}
        sizes = torch.tensor([len(t.features) for t in tasks], dtype=torch.float64)
        power = 1.0 / temperature if sampling == "temperature" else 1.0
        self.probs = (sizes ** power) / (sizes ** power).sum()
        self.choice = torch.Generator().manual_seed(seed)
        self.epoch = [0] * len(tasks)
        self.pos = [0] * len(tasks)

    def next_task(self) -> int:
        if len(self.tasks) == 1:
            return 0
        return int(torch.multinomial(self.probs, 1, generator=self.choice))

    def order(self, t: int, epoch: int) -> list[int]:
        if (t, epoch) not in self._cache:
            self._cache = {k: v for k, v in self._cache.items() if k[0] != t}  # one epoch per task in memory
            order = _order(self.seed, t, epoch, len(self.tasks[t].features))
            if self.lengths is not None:
                order = grouped_order(order, self.lengths[t], self.batch_size)
            self._cache[(t, epoch)] = order
        return self._cache[(t, epoch)]

    def next_batch(self, t: int) -> list[dict]:
        task = self.tasks[t]
        order = self.order(t, self.epoch[t])
        if self.pos[t] >= len(order):
            self.epoch[t] += 1
            self.pos[t] = 0
            order = self.order(t, self.epoch[t])
        idx = order[self.pos[t]:self.pos[t] + self.batch_size]
        self.pos[t] += len(idx)
        return [task.features[i] for i in idx]

    def state(self) -> dict:
        return {"choice": self.choice.get_state(), "epoch": list(self.epoch), "pos": list(self.pos)}

    def load(self, state: dict) -> None:
        self.choice.set_state(state["choice"])
        self.epoch, self.pos = list(state["epoch"]), list(state["pos"])


# The settings train() reads; a stage's schedule is exactly these (see schedule_settings in repro/phases/common.py).
SCHEDULE_KEYS = ("lr", "batch_size", "grad_accum", "epochs", "max_steps", "warmup_proportion", "weight_decay",
                 "max_grad_norm", "eval_every", "early_stop_patience")


def total_steps(tasks: list[TaskData], s: dict) -> int:
    if s["max_steps"] > 0:
        return s["max_steps"]
    batches = sum(math.ceil(len(t.features) / s["batch_size"]) for t in tasks)
    return max(1, math.ceil(s["epochs"] * batches / s["grad_accum"]))


def _optimizer(model, s):
    no_decay = ("bias", "LayerNorm.weight", "layer_norm.weight")
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    groups = [
        {"params": [p for n, p in params if not any(k in n for k in no_decay)], "weight_decay": s["weight_decay"]},
        {"params": [p for n, p in params if any(k in n for k in no_decay)], "weight_decay": 0.0},
    ]
    # Fused AdamW (one kernel for all parameters) on CUDA; the CPU path keeps the reference loop so its
    # results stay bit-identical to earlier runs.
    fused = {"fused": True} if next(model.parameters()).device.type == "cuda" else {}
    return torch.optim.AdamW(groups, lr=s["lr"], eps=1e-8, **fused)


class Checkpoint:
    """work/checkpoint/ replaced atomically: written as checkpoint.tmp, swapped in by two renames."""

    def __init__(self, work: Path):
        self.dir, self.tmp, self.old = work / "checkpoint", work / "checkpoint.tmp", work / "checkpoint.old"

    def exists(self) -> bool:
        if not self.dir.exists() and self.old.exists():  # killed between the two renames
            os.replace(self.old, self.dir)
        return (self.dir / "state.pt").is_file()

    def save(self, model, optimizer, scheduler, state: dict, best: dict | None) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(parents=True)
        save_model(model, str(self.tmp / "model.safetensors"))
        if best is not None:
            save_file(best, str(self.tmp / "best.safetensors"))
        torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), **state},
                   self.tmp / "state.pt")
        if self.dir.exists():
            os.replace(self.dir, self.old)
        os.replace(self.tmp, self.dir)
        shutil.rmtree(self.old, ignore_errors=True)

    def load(self, model, device):
        path = self.dir / "model.safetensors"
        try:  # weights_only: a checkpoint holding anything but tensors and plain values is refused
            load_model(model, str(path), device=str(device))
            path = self.dir / "state.pt"
            state = torch.load(path, weights_only=True, map_location="cpu")
            path = self.dir / "best.safetensors"
            best = load_file(str(path)) if path.is_file() else None
        except Exception as e:
            raise ReproError(f"{path}: refusing to load this checkpoint ({type(e).__name__}: "
                             f"{(str(e).splitlines() or [''])[0]}); delete {self.dir.parent} to start the stage over") from None
        return state, best


def run_options(run: Run, model: Model) -> dict:
    """The [run] and [model] keys that shape training (train()'s keyword arguments)."""
    return {"precision": run.precision, "group_by_length": run.group_by_length, "devices": run.devices,
            "freeze_embeddings": model.freeze_embeddings}


def key_options(run: Run, model: Model) -> dict:
    """run_options that differ from the defaults, for a stage key: default stages keep their keys."""
    defaults = {"precision": "fp32", "group_by_length": False, "devices": 1, "freeze_embeddings": False}
    return {k: v for k, v in run_options(run, model).items() if v != defaults[k]}


def autocast_dtype(precision: str) -> torch.dtype | None:
    if precision not in PRECISIONS:
        raise ReproError(f"run.precision: {precision!r} is not one of {', '.join(PRECISIONS)}")
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def configure_device(device: torch.device) -> None:
    """TF32 matmuls and convolutions on Ampere and newer (fp32 master weights keep their precision)."""
    if device.type == "cuda" and torch.cuda.get_device_capability(device)[0] >= 8:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


def train(model, tasks: list[TaskData], settings: dict, work: Path, *, seed: int, pad_id: int, device,
          checkpoint_every: int, evaluate: Callable[[object], float] | None = None, sampling="proportional",
          temperature=1.0, log=print, log_every: int = 0, tag: str = "train", precision: str = "fp32",
          group_by_length: bool = False, devices: int = 1, record_losses: bool = False,
          report_dir: Path | None = None, freeze_embeddings: bool = False) -> dict:
    """Trains `model` (a MultiHeadModel) in place; returns a summary. With `evaluate`, the weights that
    scored best (higher is better) are restored at the end, as checkpoint selection on English dev.

    `precision`: fp32, or bf16/fp16 autocast over fp32 master weights (fp16 with a gradient scaler).
    `devices` > 1: that many data-parallel processes (one per GPU, or CPU processes with gloo) share each
    global batch; the schedule, checkpoints and results are those of one process with the same batch.
    `report_dir`: TensorBoard event files there (repro/report.py)."""
    autocast_dtype(precision)
    if devices > 1 and not dist.is_initialized():
        return _train_parallel(model, tasks, settings, work, devices, dict(
            seed=seed, pad_id=pad_id, device=device, checkpoint_every=checkpoint_every, evaluate=evaluate,
            sampling=sampling, temperature=temperature, log=log, log_every=log_every, tag=tag,
            precision=precision, group_by_length=group_by_length, record_losses=record_losses,
            report_dir=report_dir, freeze_embeddings=freeze_embeddings))
    rank, world = (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)
    s = settings
    device = torch.device(device)
    configure_device(device)
    steps = total_steps(tasks, s)
    config = {"settings": s, "seed": seed, "tasks": [t.name for t in tasks],
              "sizes": [len(t.features) for t in tasks], "steps": steps}
    if precision != "fp32" or group_by_length:  # default runs keep resuming their old checkpoints
        config.update(precision=precision, group_by_length=group_by_length)
    if freeze_embeddings:
        config["freeze_embeddings"] = True
        # The word-embedding matrix keeps its pretrained values (XLM-R's 250k rows are most of a small
        # model's parameters): no gradient, no optimizer state, and words seen only in other languages
        # keep the place pretraining gave them.
        model.encoder.get_input_embeddings().weight.requires_grad_(False)
    run_config = canonical_json(config)
    torch.manual_seed(seed)
    model.to(device)
    optimizer = _optimizer(model, s)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(s["warmup_proportion"] * steps), steps)
    amp_dtype = autocast_dtype(precision)
    scaler = torch.amp.GradScaler(device.type) if precision == "fp16" else None
    def autocast():  # half precision where asked, and an attention kernel that suits varying shapes
        stack = contextlib.ExitStack()
        stack.enter_context(attention_kernels(device))
        if amp_dtype:
            stack.enter_context(torch.autocast(device.type, dtype=amp_dtype))
        return stack
    sampler = Sampler(tasks, s["batch_size"], seed, sampling, temperature, group_by_length)
    ckpt = Checkpoint(Path(work))
    step, best_score, best_step, since_best, history, best, losses = 0, None, None, 0, [], None, []
    if ckpt.exists():
        state, best = ckpt.load(model, device)
        if state["run_config"] != run_config:  # resuming another horizon corrupts the LR schedule
            raise ReproError(f"{ckpt.dir}: checkpoint was written under different settings; "
                             "delete it (or the stage's .work directory) to start over")
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if scaler is not None and "scaler" in state:
            scaler.load_state_dict(state["scaler"])
        sampler.load(state["sampler"])
        torch.set_rng_state(state["rng_cpu"])
        if torch.cuda.is_available() and "rng_cuda" in state:
            torch.cuda.set_rng_state_all(state["rng_cuda"])
        step, best_score, best_step, since_best = state["step"], state["best_score"], state["best_step"], state["since_best"]
        history = state["history"]
        losses = list(state.get("losses", []))
        if rank == 0:
            log(f"       resumed at step {step}/{steps}")
    # Every rank runs the same sampler and takes its slice of each global batch; DDP averages gradients.
    net = (DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None,
                                   find_unused_parameters=True)  # other tasks' heads, the pooler
           if world > 1 else model)

    def checkpoint_state():
        st = {"run_config": run_config, "sampler": sampler.state(), "rng_cpu": torch.get_rng_state(),
              "step": step, "best_score": best_score, "best_step": best_step, "since_best": since_best,
              "history": history}
        if record_losses:
            st["losses"] = losses
        if scaler is not None:
            st["scaler"] = scaler.state_dict()
        if torch.cuda.is_available():
            st["rng_cuda"] = torch.cuda.get_rng_state_all()
        return st

    eval_every = s.get("eval_every", 0)
    stopped_early = False
    bar = progress.bar(steps, tag, initial=step, quiet=rank != 0)
    report = Reporter(report_dir if rank == 0 else None, log)
    started, tokens = time.perf_counter(), 0
    while step < steps:
        model.train()
        t = sampler.next_task()
        name = tasks[t].name
        step_loss = torch.zeros((), device=device)
        for micro in range(s["grad_accum"]):
            features, weight = _shard(sampler.next_batch(t), rank, world)
            batch = tasks[t].head.collate(features, pad_id)
            if weight and "attention_mask" in batch:
                tokens += int(batch["attention_mask"].sum()) * world
            batch = {k: v.to(device) for k, v in batch.items()}
            sync = world == 1 or micro == s["grad_accum"] - 1
            with (contextlib.nullcontext() if sync else net.no_sync()), autocast():
                loss = net(name, **batch).loss
            # One process: exactly the reference arithmetic (bit-identical results on CPU).
            loss = loss / s["grad_accum"] if world == 1 else loss * (weight / s["grad_accum"])
            (scaler.scale(loss) if scaler else loss).backward()
            step_loss += loss.detach().float()
        if world > 1:  # the global batch's loss, for logs and the loss curve
            dist.all_reduce(step_loss)
            step_loss /= world
        if scaler is not None:
            scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), s["max_grad_norm"])
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        value = float(step_loss)
        if record_losses:
            losses.append(value)
        bar.update(1)
        bar.set_postfix(loss=f"{value:.4f}", tok_s=f"{tokens / max(time.perf_counter() - started, 1e-9):.0f}",
                        refresh=False)
        report.scalar("train/loss", value, step)
        report.scalar("train/learning_rate", scheduler.get_last_lr()[0], step)
        report.scalar("train/tokens_per_s", tokens / max(time.perf_counter() - started, 1e-9), step)
        if log_every and step % log_every == 0 and rank == 0:
            log(f"       step {step}/{steps} {name} loss {value:.4f}")
        if evaluate and ((eval_every and step % eval_every == 0) or step == steps):
            score = evaluate(model)
            history.append([step, score])
            report.scalar("dev/score", score, step)
            if best_score is None or score > best_score:
                best_score, best_step, since_best = score, step, 0
                best = {k: v.detach().to("cpu", copy=True).contiguous() for k, v in _dedup(model.state_dict()).items()}
            else:
                since_best += 1
                if s.get("early_stop_patience", 0) and since_best >= s["early_stop_patience"]:
                    stopped_early = True
        if step % checkpoint_every == 0 and step < steps and not stopped_early:
            if rank == 0:  # one writer; the others wait so nobody runs ahead of a checkpoint
                ckpt.save(model, optimizer, scheduler, checkpoint_state(), best)
            if world > 1:
                dist.barrier()
        faults.point(f"{tag}:step{step}")
        if stopped_early:
            break
    bar.close()
    report.close()
    if best is not None:
        model.load_state_dict(best, strict=False)
    summary = {"steps": step, "planned_steps": steps, "best_step": best_step, "best_score": best_score,
               "eval_history": history, "stopped_early": stopped_early}
    if record_losses:
        summary["losses"] = losses
    return summary


def _shard(features: list[dict], rank: int, world: int) -> tuple[list[dict], float]:
    """This rank's contiguous slice of a global batch, and the weight that makes the DDP-averaged gradient
    the global batch's mean (unequal slices at the end of an epoch weigh by their size). A rank left
    without examples runs one with weight 0, so every rank joins each gradient all-reduce."""
    if world == 1:
        return features, 1.0
    per = math.ceil(len(features) / world)
    mine = features[rank * per:(rank + 1) * per]
    if not mine:
        return features[:1], 0.0
    return mine, len(mine) * world / len(features)


def _train_parallel(model, tasks, settings, work, devices: int, kwargs: dict) -> dict:
    """Trains in `devices` DDP workers started by torchrun's launcher (``torch.distributed.launcher``, what
    ``torchrun --standalone`` runs), forked so they inherit the built model, data and evaluate callback, then
    loads rank 0's final weights back. Rolling checkpoints hold global state only (weights, optimizer,
    sampler positions), so a stage resumes on any number of processes."""
    device = torch.device(kwargs["device"])
    if device.type == "cuda" and torch.cuda.device_count() < devices:
        raise ReproError(f"run.devices = {devices} but {torch.cuda.device_count()} GPU(s) are visible")
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    final = work / "final.safetensors"
    final.unlink(missing_ok=True)
    # The launcher installs its own handlers (a signal stops the workers); the stages after this one keep ours.
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)}
    with tempfile.TemporaryDirectory(prefix="repro-ddp-") as logs:
        launch = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=devices, run_id=uuid.uuid4().hex,
                              rdzv_backend="c10d", rdzv_endpoint="127.0.0.1:0", max_restarts=0,
                              start_method="fork",  # CUDA is not initialised yet: the model is still on the CPU
                              monitor_interval=0.05, logs_specs=DefaultLogsSpecs(log_dir=logs))
        try:
            summaries = elastic_launch(launch, _worker)(model, tasks, settings, work, kwargs)
        except ChildFailedError as e:
            raise ReproError(f"training worker {_failures(e, devices)}; run the same command again to resume from "
                             "the last rolling checkpoint") from None
        finally:
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
    model.load_state_dict(load_file(str(final)), strict=False)
    final.unlink()
    return summaries[0]


def _failures(error: ChildFailedError, world: int) -> str:
    """'1 of 2 stopped (killed by signal 9, SIGKILL)' for each failed rank."""
    out = []
    for rank, f in sorted(error.failures.items()):
        if f.exitcode < 0:
            how = f"killed by signal {-f.exitcode}, {f.signal_name()}"
        else:
            msg = f.message.get("message", "") if isinstance(f.message, dict) else str(f.message or "")
            how = f"exit status {f.exitcode}" + (f": {msg.splitlines()[0]}" if msg else "")
        out.append(f"{rank} of {world} stopped ({how})")
    return "; ".join(out)


def _worker(model, tasks, settings, work, kwargs) -> dict:
    """One DDP rank; the launcher sets RANK, WORLD_SIZE, LOCAL_RANK and the rendezvous address."""
    rank, world, local = (int(os.environ[k]) for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))
    device = torch.device(kwargs["device"])
    if device.type == "cuda":
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cpu":  # share the cores instead of oversubscribing them
        torch.set_num_threads(max(1, torch.get_num_threads() // world))
    dist.init_process_group(backend)
    try:
        summary = train(model, tasks, settings, work, **{**kwargs, "device": device})
        if rank == 0:
            state = {k: v.detach().cpu().contiguous() for k, v in _dedup(model.state_dict()).items()}
            save_file(state, str(Path(work) / "final.safetensors"))
        dist.barrier()
    finally:
        dist.destroy_process_group()
    return summary


def _dedup(state: dict) -> dict:
    """safetensors refuses tensors that share memory; shared encoder weights appear under several
    names, so keep one name per storage (load_state_dict(strict=False) fills the aliases)."""
    seen, out = set(), {}
    for k, v in state.items():
        ptr = (v.data_ptr(), v.shape, v.stride()) if v.numel() else (k,)
        if ptr in seen:
            continue
        seen.add(ptr)
        out[k] = v
    return out
