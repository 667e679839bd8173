"""The training loop shared by the intermediate and target phases.

Single-task training is multi-task training with one task. Each optimizer step draws one task
(proportional to dataset size, or size^(1/T) with a temperature: jiant's samplers) and `grad_accum`
batches of it. Everything that decides what happens next lives in the rolling checkpoint (weights,
optimizer, scheduler, RNG states, each task's position in its shuffled order, best-so-far), so a run
killed at any point and resumed ends bit-identical to an uninterrupted one on CPU.
"""
from __future__ import annotations

import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from safetensors.torch import load_file, load_model, save_file, save_model
from transformers import get_linear_schedule_with_warmup

from repro import faults
from repro.atomic import canonical_json
from repro.errors import ReproError


@dataclass
class TaskData:
    name: str
    head: object               # repro.heads.Head
    features: list[dict]


def _order(seed: int, task_index: int, epoch: int, n: int) -> list[int]:
    g = torch.Generator().manual_seed(seed * 1_000_003 + task_index * 10_007 + epoch)
    return torch.randperm(n, generator=g).tolist()


class Sampler:
    """Which task and which examples come next; its whole state is a few integers and one generator."""

    def __init__(self, tasks: list[TaskData], batch_size: int, seed: int, sampling: str, temperature: float):
        self.tasks, self.batch_size, self.seed = tasks, batch_size, seed
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

    def next_batch(self, t: int) -> list[dict]:
        task = self.tasks[t]
        order = _order(self.seed, t, self.epoch[t], len(task.features))
        if self.pos[t] >= len(order):
            self.epoch[t] += 1
            self.pos[t] = 0
            order = _order(self.seed, t, self.epoch[t], len(task.features))
        idx = order[self.pos[t]:self.pos[t] + self.batch_size]
        self.pos[t] += len(idx)
        return [task.features[i] for i in idx]

    def state(self) -> dict:
        return {"choice": self.choice.get_state(), "epoch": list(self.epoch), "pos": list(self.pos)}

    def load(self, state: dict) -> None:
        self.choice.set_state(state["choice"])
        self.epoch, self.pos = list(state["epoch"]), list(state["pos"])


# The settings train() reads; a stage's schedule is exactly these (see stage_settings in repro/config.py).
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
    return torch.optim.AdamW(groups, lr=s["lr"], eps=1e-8)


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


def train(model, tasks: list[TaskData], settings: dict, work: Path, *, seed: int, pad_id: int, device,
          checkpoint_every: int, evaluate: Callable[[object], float] | None = None, sampling="proportional",
          temperature=1.0, log=print, log_every: int = 0, tag: str = "train") -> dict:
    """Trains `model` (a MultiHeadModel) in place; returns a summary. With `evaluate`, the weights that
    scored best (higher is better) are restored at the end, as checkpoint selection on English dev."""
    s = settings
    steps = total_steps(tasks, s)
    run_config = canonical_json({"settings": s, "seed": seed, "tasks": [t.name for t in tasks],
                                 "sizes": [len(t.features) for t in tasks], "steps": steps})
    torch.manual_seed(seed)
    model.to(device)
    optimizer = _optimizer(model, s)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(s["warmup_proportion"] * steps), steps)
    sampler = Sampler(tasks, s["batch_size"], seed, sampling, temperature)
    ckpt = Checkpoint(Path(work))
    step, best_score, best_step, since_best, history, best = 0, None, None, 0, [], None
    if ckpt.exists():
        state, best = ckpt.load(model, device)
        if state["run_config"] != run_config:  # resuming another horizon corrupts the LR schedule
            raise ReproError(f"{ckpt.dir}: checkpoint was written under different settings; "
                             "delete it (or the stage's .work directory) to start over")
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        sampler.load(state["sampler"])
        torch.set_rng_state(state["rng_cpu"])
        if torch.cuda.is_available() and "rng_cuda" in state:
            torch.cuda.set_rng_state_all(state["rng_cuda"])
        step, best_score, best_step, since_best = state["step"], state["best_score"], state["best_step"], state["since_best"]
        history = state["history"]
        log(f"       resumed at step {step}/{steps}")

    def checkpoint_state():
        st = {"run_config": run_config, "sampler": sampler.state(), "rng_cpu": torch.get_rng_state(),
              "step": step, "best_score": best_score, "best_step": best_step, "since_best": since_best,
              "history": history}
        if torch.cuda.is_available():
            st["rng_cuda"] = torch.cuda.get_rng_state_all()
        return st

    eval_every = s.get("eval_every", 0)
    stopped_early = False
    while step < steps:
        model.train()
        t = sampler.next_task()
        name = tasks[t].name
        for _ in range(s["grad_accum"]):
            batch = {k: v.to(device) for k, v in tasks[t].head.collate(sampler.next_batch(t), pad_id).items()}
            loss = model(name, **batch).loss / s["grad_accum"]
            loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), s["max_grad_norm"])
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        if log_every and step % log_every == 0:
            log(f"       step {step}/{steps} {name} loss {loss.item() * s['grad_accum']:.4f}")
        if evaluate and ((eval_every and step % eval_every == 0) or step == steps):
            score = evaluate(model)
            history.append([step, score])
            if best_score is None or score > best_score:
                best_score, best_step, since_best = score, step, 0
                best = {k: v.detach().to("cpu", copy=True).contiguous() for k, v in _dedup(model.state_dict()).items()}
            else:
                since_best += 1
                if s.get("early_stop_patience", 0) and since_best >= s["early_stop_patience"]:
                    stopped_early = True
        if step % checkpoint_every == 0 and step < steps and not stopped_early:
            ckpt.save(model, optimizer, scheduler, checkpoint_state(), best)
        faults.point(f"{tag}:step{step}")
        if stopped_early:
            break
    if best is not None:
        model.load_state_dict(best, strict=False)
    return {"steps": step, "planned_steps": steps, "best_step": best_step, "best_score": best_score,
            "eval_history": history, "stopped_early": stopped_early}


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
