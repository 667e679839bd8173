"""[intermediate], [target] and [aggregate]: which tasks are trained and how. Each training phase has
[<phase>.defaults] (its hyperparameters) and [<phase>.task.NAME] (one task's overrides of them)."""
from __future__ import annotations

from dataclasses import dataclass, make_dataclass

from repro.settings.declare import key, per_task, section
from repro.settings.rules import (FLAG, PAIR_SPECIAL_TOKENS, LANGUAGE, Num, Rule, choice, count, fraction, items,
                                  path_to, positive, text)
from repro.tasks import REGISTRY

@dataclass(frozen=True)
class TaskName(Rule):
    role: str = ""

    def ok(self, value) -> bool:
        return value in REGISTRY and REGISTRY[value].role == self.role


def task_name(role: str) -> TaskName:
    known = sorted(t for t, task in REGISTRY.items() if task.role == role)
    return TaskName(f"a known {role} task ({', '.join(known)})", "no-such-task", role)


ANSWER_TEXT = "span QA: jiant (whole words via get_final_text; pieces' text for zh) | exact (docs/qa-decoding.md)"


@dataclass(frozen=True)
class IntermediateHyper:
    """Hyperparameters of intermediate training (no eval_every / early_stop_patience: intermediate
    training keeps its final weights, so such keys would change nothing)."""
    lr: float = key(1e-5, positive("a learning rate"), "peak learning rate (linear warmup and decay)")
    batch_size: int = key(4, count(1), "examples per forward pass")
    grad_accum: int = key(8, count(1), "forward passes per optimizer step")
    epochs: float = key(3.0, positive("a number of epochs"), "passes over the training data")
    max_steps: int = key(0, count(0), ">0 caps training (overrides epochs)")
    max_seq_length: int = key(256, count(PAIR_SPECIAL_TOKENS + 2), "tokens per sequence")
    warmup_proportion: float = key(0.1, fraction(), "share of the steps spent warming up")
    weight_decay: float = key(0.01, Num("a number ≥ 0", -1, 0), "AdamW weight decay (0 for bias and LayerNorm)")
    max_grad_norm: float = key(1.0, positive(), "gradient clipping norm")
    max_train_examples: int = key(0, count(0), "at most this many training examples; 0 = all")
    max_eval_examples: int = key(0, count(0), "at most this many English dev examples; 0 = all")
    doc_stride: int = key(128, count(1), "span QA: step between windows over a long context")
    max_query_length: int = key(64, count(1), "span QA: tokens of the question kept")
    n_best: int = key(20, count(1), "span QA: start/end candidates considered")
    max_answer_length: int = key(30, count(1), "span QA: longest answer, in tokens")
    answer_text: str = key("jiant", choice("jiant", "exact"), ANSWER_TEXT)
    eval_batch_size: int = key(32, count(1), "examples per forward pass when predicting")


@dataclass(frozen=True)
class TargetHyper(IntermediateHyper):
    """Hyperparameters of target training; its English dev score selects the checkpoint."""
    epochs: float = key(2.0, positive("a number of epochs"), "passes over the training data")
    eval_every: int = key(1000, count(0), "optimizer steps between English dev evaluations (checkpoint selection)")
    early_stop_patience: int = key(30, count(0), "evaluations without improvement before training stops; 0 = never")


class PerTaskSettings:
    """A training phase's hyperparameters for one task: [<phase>.defaults] with [<phase>.task.NAME] over them."""

    def settings(self, name: str) -> dict:
        # vars(), not dataclasses.asdict: a shallow copy of flat values, and called for every stage of a grid
        return {**vars(self.defaults), **self.task.get(name, {})}


INTERMEDIATE_TASKS = ["anli", "ccg", "commonsenseqa", "cosmosqa", "hellaswag", "mnli", "qqp", "squad", "sst2"]
TARGET_TASKS = ["xnli", "pawsx", "udpos", "panx", "xquad", "mlqa", "tydiqa", "bucc2018", "tatoeba"]


@dataclass(frozen=True)
class _Intermediate(PerTaskSettings):
    """English intermediate training: one stage per task, then one multi-task stage over all of them."""
    tasks: list = key(INTERMEDIATE_TASKS, items(task_name("intermediate"), "intermediate task names"),
                      "the intermediate tasks; [] = baseline only")
    multitask: bool = key(True, FLAG, "also train one encoder on all the tasks at once")
    sampling: str = key("proportional", choice("proportional", "temperature"), "proportional | temperature (multi-task)")
    sampling_temperature: float = key(1.0, positive(), "the temperature of temperature sampling")
    mlm_text: str = key("", path_to("file"),
                        "path: continue multilingual MLM during intermediate training (paper's alternative)")
    translated_dir: str = key("", path_to("dir"),
                              "path: machine-translated intermediate data in the same schemas (paper's alternative)")
    defaults: IntermediateHyper = section(IntermediateHyper)
    task: dict = per_task(IntermediateHyper, "[intermediate.task.squad] max_seq_length = 384: one task's overrides")


def _task_options() -> list[tuple]:
    """The [intermediate] keys the task modules declare (Task.config_options: squad_version in
    repro/tasks/squad.py, ...), as dataclass fields; one declaration per key, however many tasks read it."""
    declared, readers = {}, {}
    for task in REGISTRY.values():
        for name, option in task.config_options.items():
            if declared.setdefault(name, option) is not option:
                raise TypeError(f"intermediate.{name}: declared differently by two tasks (one declaration, shared)")
            readers.setdefault(name, []).append(task.name)
    return [(name, type(o.default), key(o.default, o.rule, o.meaning,
                                         "; ".join(filter(None, [o.note, f"a task option of {', '.join(readers[name])}"]))))
            for name, o in declared.items()]


# [intermediate]: its own keys, then the options its tasks declare.
Intermediate = make_dataclass("Intermediate", _task_options(), bases=(_Intermediate,), frozen=True,
                              namespace={"__doc__": _Intermediate.__doc__})
Intermediate.__module__ = __name__  # where pickle finds the class (make_dataclass cannot tell on Python 3.11)


@dataclass(frozen=True)
class Target(PerTaskSettings):
    """Zero-shot transfer: train on a target's English data, predict every language."""
    tasks: list = key(TARGET_TASKS, items(task_name("target"), "target task names", 1), "the XTREME targets")
    baseline: bool = key(True, FLAG, "also run every target from the pretrained model (no intermediate task)")
    encoders: list = key([], items(text(), "intermediate stage names (a task or multitask)", bad=["x", "x"]),
                         "which intermediate stages feed the target phase; [] = all of them")
    keep_models: bool = key(False, FLAG, "keep target models after prediction (deleted by default, as jiant)")
    splits: list = key(["dev", "test"], items(choice("dev", "test"), "splits from dev, test", 1), "the splits predicted")
    languages: list = key([], items(LANGUAGE, "2-3 letter language codes"),
                          "[] = each task's XTREME languages; else exactly these for every target")
    selection: str = key("xtreme", choice("xtreme", "jiant"),
                         "checkpoint selection: xtreme = the target's English dev (XNLI-en dev for XNLI)",
                         "jiant = the dev split of the English training task (MNLI matched dev for XNLI)")
    defaults: TargetHyper = section(TargetHyper)
    task: dict = per_task(TargetHyper, "[target.task.xquad] max_seq_length = 384: one task's overrides")


@dataclass(frozen=True)
class Aggregate:
    """The result tables."""
    split: str = key("dev", choice("dev", "test"), "the split the gain tables and figures are computed on")
