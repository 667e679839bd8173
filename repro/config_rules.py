"""The rule of every configuration key: what values it allows, declared in one table (`RULES`).

`load_config` checks every value against its rule (and the cross-field rules at the end) before any
stage is planned, so a mistyped value fails `--dry-run` too. A key added to `base.toml` needs one line
here; tests/test_config_rules.py fails naming any key without a rule. Per-task tables
(`[intermediate.task.X]`, `[target.task.X]`) are checked with the rules of `<phase>.defaults.<key>`.

Each rule knows a value it refuses (`bad`), so the test can try one violation per key.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import torch

from repro.errors import ConfigError
from repro.modeling import TINY_MODEL
from repro.tasks import REGISTRY, get_task

LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}$")
# XLM-R's position table holds max_position_embeddings = 514 entries, 2 of them taken by the padding
# offset (transformers' XLMRobertaEmbeddings), so sequences are at most 512 tokens long.
POSITION_OFFSET = 2
DEFAULT_MAX_POSITIONS = 514
# <s> A </s></s> B </s>: the special tokens XLM-R puts around a sentence pair.
PAIR_SPECIAL_TOKENS = 4


@dataclass(frozen=True)
class Rule:
    allowed: str            # what the error message says is allowed
    bad: object             # a value this rule refuses (the test tries it)

    def ok(self, value) -> bool:
        raise NotImplementedError

    def explain(self, value) -> str:
        """What is allowed, said about this value."""
        return self.allowed


@dataclass(frozen=True)
class Num(Rule):
    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False      # low itself is not allowed

    def ok(self, value) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return False
        return (value > self.low if self.low_open else value >= self.low) and value <= self.high


def count(low: int = 0) -> Num:
    """An integer count: ≥ low."""
    return Num(f"an integer ≥ {low}", low - 1, low)


def positive(what: str = "a number") -> Num:
    return Num(f"{what} > 0", -1, 0, low_open=True)


def fraction() -> Num:
    return Num("a number in [0, 1]", 2.0, 0, 1)


@dataclass(frozen=True)
class Choice(Rule):
    choices: tuple = ()

    def ok(self, value) -> bool:
        return value in self.choices


def choice(*choices) -> Choice:
    return Choice("one of " + ", ".join(map(str, choices)), "no-such-value", choices)


@dataclass(frozen=True)
class Text(Rule):
    nonempty: bool = True

    def ok(self, value) -> bool:
        return isinstance(value, str) and (bool(value.strip()) or not self.nonempty)


def text(nonempty: bool = True) -> Text:
    # A free string can only be violated by its type (or by being empty where a name is needed).
    return Text("a non-empty string" if nonempty else "a string", "" if nonempty else 7, nonempty)


@dataclass(frozen=True)
class PathTo(Rule):
    kind: str = "file"      # file | dir

    def ok(self, value) -> bool:
        if not isinstance(value, str):
            return False
        p = Path(value).expanduser()
        return value == "" or (p.is_file() if self.kind == "file" else p.is_dir())


def path_to(kind: str) -> PathTo:
    return PathTo(f'"" or an existing {kind}', "/nonexistent/repro-config-check", kind)


@dataclass(frozen=True)
class Items(Rule):
    item: Rule | None = None
    min_items: int = 0
    unique: bool = True

    def ok(self, value) -> bool:
        if not isinstance(value, list) or len(value) < self.min_items:
            return False
        if self.unique and len({repr(v) for v in value}) != len(value):
            return False
        return all(self.item.ok(v) for v in value)

    def explain(self, value) -> str:
        wrong = [v for v in value if not self.item.ok(v)] if isinstance(value, list) else []
        return f"{show(wrong[0])} is not {self.item.allowed}" if wrong else self.allowed


def items(item: Rule, what: str, min_items: int = 0, bad=None) -> Items:
    need = f"at least {min_items} " if min_items else ""
    return Items(f"a list of {need}{what}, no repeats", [item.bad] if bad is None else bad, item, min_items)


@dataclass(frozen=True)
class Device(Rule):
    def ok(self, value) -> bool:
        if value == "auto":
            return True
        try:
            torch.device(value)
        except (RuntimeError, TypeError, ValueError):
            return False
        return True


@dataclass(frozen=True)
class Flag(Rule):
    def ok(self, value) -> bool:
        return isinstance(value, bool)


@dataclass(frozen=True)
class Language(Rule):
    def ok(self, value) -> bool:
        return isinstance(value, str) and bool(LANGUAGE_CODE.match(value))


FLAG = Flag("true or false", "yes")
LANGUAGE = Language("a 2-3 letter language code", "../x")  # they become file names


@dataclass(frozen=True)
class TaskName(Rule):
    role: str = ""

    def ok(self, value) -> bool:
        return value in REGISTRY and REGISTRY[value].role == self.role


def task_name(role: str) -> TaskName:
    known = sorted(t for t, task in REGISTRY.items() if task.role == role)
    return TaskName(f"a known {role} task ({', '.join(known)})", "no-such-task", role)


def _phase_defaults(phase: str, eval_keys: bool) -> dict[str, Rule]:
    """Hyperparameters shared by [intermediate.defaults] and [target.defaults]."""
    rules = {
        "lr": positive("a learning rate"),
        "batch_size": count(1),
        "grad_accum": count(1),
        "epochs": positive("a number of epochs"),
        "max_steps": count(0),
        "max_seq_length": count(PAIR_SPECIAL_TOKENS + 2),
        "warmup_proportion": fraction(),
        "weight_decay": Num("a number ≥ 0", -1, 0),
        "max_grad_norm": positive(),
        "max_train_examples": count(0),
        "max_eval_examples": count(0),
        "doc_stride": count(1),
        "max_query_length": count(1),
        "n_best": count(1),
        "max_answer_length": count(1),
        "answer_text": choice("jiant", "exact"),  # span QA's answer text (repro/heads/qa_text.py)
        "eval_batch_size": count(1),
    }
    if eval_keys:  # only target training evaluates during training (checkpoint selection)
        rules["eval_every"] = count(0)
        rules["early_stop_patience"] = count(0)
    return {f"{phase}.defaults.{k}": v for k, v in rules.items()}


def _build() -> dict[str, Rule]:
    return {
        "run.seeds": items(count(0), "integer seeds ≥ 0", 1, bad=[1, 1]),
        "run.device": Device("auto, or a device torch names (cpu, cuda, cuda:1, mps, ...)", "tpu"),
        "run.deterministic": FLAG,
        "run.checkpoint_every": count(1),
        "run.num_threads": count(0),
        "run.log_every": count(0),
        "run.precision": choice("fp32", "bf16", "fp16"),
        "run.devices": count(1),
        "run.group_by_length": FLAG,
        "run.report_to": items(choice("tensorboard"), "reporting integrations (tensorboard)"),
        "model.name": text(),
        "model.revision": text(),
        "model.reference_num_layers": count(1),
        "model.cache_dir": text(nonempty=False),
        "model.freeze_embeddings": FLAG,
        "data.source": choice("hub", "local", "synthetic", "realtext"),
        "data.dir": text(nonempty=False),
        "data.test_labels": path_to("dir"),
        "data.cache_dir": text(nonempty=False),
        "data.task.*.source": choice("hub", "local"),   # [data.task.NAME]: one task's own source
        "data.task.*.dir": text(nonempty=False),
        "data.eval_cap": count(0),
        "data.task.*.eval_cap": count(0),
        "data.task.*.languages": items(LANGUAGE, "2-3 letter language codes"),
        "realtext.locale_dir": text(),
        "realtext.sword_dir": text(),
        "realtext.dpkg_info": text(),
        "realtext.catalogs": items(text(), '"debian-package:gettext-domain" entries', bad=[""]),
        "realtext.distractor_catalogs": items(text(), '"debian-package:gettext-domain" entries', bad=[""]),
        "realtext.bible": items(text(), '"package:SwordModule" entries', bad=[""]),
        "realtext.bible_language": text(nonempty=False),
        "realtext.tatoeba_languages": items(LANGUAGE, "2-3 letter language codes"),
        "realtext.bucc_languages": items(LANGUAGE, "2-3 letter language codes"),
        "realtext.tatoeba_size": count(1),
        "realtext.bucc_gold": count(1),
        "realtext.bucc_distractors": count(0),
        "realtext.min_words": count(1),
        "realtext.max_words": count(1),
        "realtext.seed": count(0),
        "synthetic.seed": count(0),
        "synthetic.train_size": count(1),
        "synthetic.eval_size": count(1),
        "synthetic.languages": items(LANGUAGE, "2-3 letter language codes", 1),
        "intermediate.tasks": items(task_name("intermediate"), "intermediate task names"),  # [] = baseline only
        "intermediate.multitask": FLAG,
        "intermediate.sampling": choice("proportional", "temperature"),
        "intermediate.sampling_temperature": positive(),
        "intermediate.squad_version": choice("2.0", "1.1"),
        "intermediate.squad_train_files": items(text(), "file names under squad/"),
        "intermediate.squad_dev_file": text(nonempty=False),
        "intermediate.anli_with_snli_mnli": FLAG,
        "intermediate.mlm_text": path_to("file"),
        "intermediate.translated_dir": path_to("dir"),
        **_phase_defaults("intermediate", eval_keys=False),
        "target.tasks": items(task_name("target"), "target task names", 1),
        "target.baseline": FLAG,
        "target.encoders": items(text(), "intermediate stage names (a task or multitask)", bad=["x", "x"]),
        "target.keep_models": FLAG,
        "target.splits": items(choice("dev", "test"), "splits from dev, test", 1),
        "target.languages": items(LANGUAGE, "2-3 letter language codes"),
        "target.selection": choice("xtreme", "jiant"),
        **_phase_defaults("target", eval_keys=True),
        "retrieval.layer": count(0),
        "retrieval.pooling": choice("mean", "cls"),
        "retrieval.batch_size": count(1),
        "retrieval.max_seq_length": count(3),
        "retrieval.sort_by_length": FLAG,
        "retrieval.bucc_k": count(1),
        "retrieval.bucc_layer": count(0),
        "retrieval.text_prefix": text(nonempty=False),
        "aggregate.split": choice("dev", "test"),
        "analysis.enabled": FLAG,
        "analysis.sample_size": count(1),
        "analysis.token_cap": count(1),
        "analysis.mid_layer": count(0),
        "analysis.reference_num_layers": count(1),
        "analysis.max_seq_length": count(PAIR_SPECIAL_TOKENS + 2),
        "analysis.batch_size": count(1),
        "analysis.fisher_head_steps": count(1),
        "analysis.permutations": count(1),
        "analysis.bootstrap": count(1),
        "analysis.seed": count(0),
        "analysis.cka_probes": count(0),
        "analysis.planted": FLAG,
        "verify.expected": text(),
        "executor.name": choice("local", "slurm"),
        "executor.local.devices": items(text(), "GPU ids as CUDA_VISIBLE_DEVICES names them", bad=["0", "0"]),
        "executor.local.stages_per_device": count(1),
        "executor.local.jobs": count(0),
        "executor.slurm.partition": text(nonempty=False),
        "executor.slurm.time_min": count(1),
        "executor.slurm.signal_delay_s": count(0),
        "executor.slurm.max_num_timeout": count(0),
        "executor.slurm.gpus_per_node": count(0),
        "executor.slurm.gpu_phases": items(text(), "phase names", bad=["x", "x"]),
        "executor.slurm.cpus_per_task": count(1),
        "executor.slurm.mem_gb": count(0),
        "executor.slurm.array_parallelism": count(1),
        "executor.slurm.poll_s": positive("seconds"),
    }


RULES: dict[str, Rule] = _build()
# Free per-task tables whose keys follow other rules than [<phase>.defaults]'s.
FREE_TABLE_RULES = {("data", "task"): "data.task.*"}


# ---------------------------------------------------------------- checking

def show(value) -> str:
    """A value as the user would write it in TOML (strings quoted, booleans lower case)."""
    return json.dumps(value, ensure_ascii=False)


def refuse(key: str, value, allowed: str) -> ConfigError:
    return ConfigError(f"{key} = {show(value)} is not allowed: {allowed}")


def leaves(table: dict, prefix: tuple = (), free: frozenset = frozenset()):
    """(dotted key, value) of every leaf, skipping the free per-task tables."""
    for key, value in table.items():
        path = (*prefix, key)
        if path in free:
            continue
        if isinstance(value, dict):
            yield from leaves(value, path, free)
        else:
            yield ".".join(path), value


def check_rules(config: dict, free_tables) -> None:
    """Every value against its rule, then the rules that relate several keys; the first violation is raised."""
    free = frozenset(free_tables)
    for key, value in leaves({k: v for k, v in config.items() if k != "profile"}, free=free):
        rule = RULES.get(key)
        if rule is None:
            raise ConfigError(f"{key}: no validation rule declared (add one to RULES in repro/config_rules.py)")
        if not rule.ok(value):
            raise refuse(key, value, rule.explain(value))
    for phase, table in free:
        for task, overrides in config[phase][table].items():
            for key, value in overrides.items():
                rule = RULES[f"{FREE_TABLE_RULES.get((phase, table), phase + '.defaults')}.{key}"]
                if not rule.ok(value):
                    raise refuse(f"{phase}.{table}.{task}.{key}", value, rule.explain(value))
    for check in CROSS_RULES:
        check(config)


def max_positions(config: dict) -> int:
    """Longest sequence the model can encode: its config's position table minus XLM-R's padding offset.
    A hub model is not fetched to find out; XLM-R's 514 positions are assumed."""

    name = config["model"]["name"]
    folder = TINY_MODEL if name == "tiny" else Path(name).expanduser()
    n = DEFAULT_MAX_POSITIONS
    if (folder / "config.json").is_file():
        try:
            n = int(json.loads((folder / "config.json").read_text()).get("max_position_embeddings", n))
        except (ValueError, TypeError, OSError):
            pass  # the model directory check names a broken config.json when the stage runs
    return n - POSITION_OFFSET


def _per_task(config: dict, phase: str):
    """(key prefix of each setting, merged settings, task) for every task the phase runs."""

    tasks = list(config[phase]["tasks"])
    # The multi-task stage exists when repro.plan.intermediate_names makes one (not importable here:
    # the plan imports the phases, which import the configuration).
    multitask = phase == "intermediate" and config["intermediate"]["multitask"] and len(tasks) > 1
    names = tasks + (["multitask"] if multitask else [])
    for name in names:
        s = dict(config[phase]["defaults"])
        own = config[phase]["task"].get(name, {})
        s.update(own)
        task = get_task(name) if name != "multitask" else None
        yield (lambda k, _own=own, _n=name: f"{phase}.task.{_n}.{k}" if k in _own else f"{phase}.defaults.{k}"), s, task


def _lengths(config: dict) -> None:
    limit = max_positions(config)
    for phase in ("intermediate", "target"):
        for where, s, task in _per_task(config, phase):
            if task is not None and not task.head_impl.trainable:
                continue  # retrieval reads retrieval.max_seq_length (checked below)
            if s["max_seq_length"] > limit:
                raise refuse(where("max_seq_length"), s["max_seq_length"],
                             f"at most {limit}, the longest sequence model {config['model']['name']} encodes")
            if task is not None and "doc_stride" in task.head_impl.settings_read:  # windows over a context
                room = s["max_seq_length"] - s["max_query_length"] - PAIR_SPECIAL_TOKENS
                if s["doc_stride"] > room:
                    raise refuse(where("doc_stride"), s["doc_stride"],
                                 f"at most max_seq_length - max_query_length - {PAIR_SPECIAL_TOKENS} = {room} "
                                 f"(the context left in a window of {task.name})")
    if config["retrieval"]["max_seq_length"] > limit:
        raise refuse("retrieval.max_seq_length", config["retrieval"]["max_seq_length"],
                     f"at most {limit}, the longest sequence model {config['model']['name']} encodes")


def _layers(config: dict) -> None:
    depth = config["model"]["reference_num_layers"]
    for key in ("layer", "bucc_layer"):
        if config["retrieval"][key] > depth:
            raise refuse(f"retrieval.{key}", config["retrieval"][key],
                         f"a hidden-state index 0..{depth} (model.reference_num_layers = {depth})")


def _splits(config: dict) -> None:
    split, splits = config["aggregate"]["split"], config["target"]["splits"]
    if split not in splits:
        raise refuse("aggregate.split", split, f"a split the target phase predicts (target.splits = {show(splits)})")


def _data(config: dict) -> None:
    d = config["data"]
    if d["source"] == "local" and not (d["dir"] and Path(d["dir"]).expanduser().is_dir()):
        raise refuse("data.dir", d["dir"], 'an existing directory when data.source = "local" (see docs/data-layout.md)')
    if d["source"] == "synthetic" and "en" not in config["synthetic"]["languages"]:
        raise refuse("synthetic.languages", config["synthetic"]["languages"], 'a list that includes "en" (training is English)')


def _executor(config: dict) -> None:
    local = config["executor"]["local"]
    if local["devices"] and local["jobs"]:
        raise refuse("executor.local.jobs", local["jobs"],
                     f"0 when executor.local.devices is given ({show(local['devices'])}): GPU workers or CPU workers, not both")


CROSS_RULES = [_lengths, _layers, _splits, _data, _executor]
