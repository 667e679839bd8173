"""Checking a loaded profile: every value against its declared rule, then the rules that relate
several keys (lengths the model can encode, layers it has, ...). The first violation is raised as one
line naming the key, the value and what is allowed."""
from __future__ import annotations

import json
from pathlib import Path

from repro.errors import ConfigError
from repro.modeling import TINY_MODEL
from repro.settings.profile import Profile, all_keys
from repro.settings.rules import PAIR_SPECIAL_TOKENS, Rule, refuse, show
from repro.tasks import get_task

# XLM-R's position table holds max_position_embeddings = 514 entries, 2 of them taken by the padding
# offset (transformers' XLMRobertaEmbeddings), so sequences are at most 512 tokens long.
POSITION_OFFSET = 2
DEFAULT_MAX_POSITIONS = 514

RULES: dict[str, Rule] = {k.path: k.rule for k in all_keys()}


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
    """Every value against its rule ([phase.task.NAME] keys: the rule of phase.task.*.KEY)."""
    free = frozenset(free_tables)
    for key, value in leaves({k: v for k, v in config.items() if k != "profile"}, free=free):
        rule = RULES.get(key)
        if rule is None:
            raise ConfigError(f"{key}: no rule declared (declare the key in repro/settings)")
        if not rule.ok(value):
            raise refuse(key, value, rule.explain(value))
    for phase, table in sorted(free):
        for task, overrides in config[phase][table].items():
            for key, value in overrides.items():
                rule = RULES[f"{phase}.{table}.*.{key}"]
                if not rule.ok(value):
                    raise refuse(f"{phase}.{table}.{task}.{key}", value, rule.explain(value))


def check_cross(profile: Profile) -> None:
    for check in CROSS_RULES:
        check(profile)


def max_positions(model_name: str) -> int:
    """Longest sequence the model can encode: its config's position table minus XLM-R's padding offset.
    A hub model is not fetched to find out; XLM-R's 514 positions are assumed."""
    folder = TINY_MODEL if model_name == "tiny" else Path(model_name).expanduser()
    n = DEFAULT_MAX_POSITIONS
    if (folder / "config.json").is_file():
        try:
            n = int(json.loads((folder / "config.json").read_text()).get("max_position_embeddings", n))
        except (ValueError, TypeError, OSError):
            pass  # the model directory check names a broken config.json when the stage runs
    return n - POSITION_OFFSET


def _per_task(p: Profile, phase: str):
    """(key of each setting, merged settings, task) for every task the phase runs."""
    section = getattr(p, phase)
    tasks = list(section.tasks)
    # The multi-task stage exists when repro.plan.intermediate_names makes one (not importable here:
    # the plan imports the phases, which import the configuration).
    multitask = phase == "intermediate" and section.multitask and len(tasks) > 1
    for name in tasks + (["multitask"] if multitask else []):
        own = section.task.get(name, {})
        task = get_task(name) if name != "multitask" else None
        yield (lambda k, _own=own, _n=name: f"{phase}.task.{_n}.{k}" if k in _own else f"{phase}.defaults.{k}"), \
            section.settings(name), task


def _lengths(p: Profile) -> None:
    limit = max_positions(p.model.name)
    for phase in ("intermediate", "target"):
        for where, s, task in _per_task(p, phase):
            if task is not None and not task.head_impl.trainable:
                continue  # retrieval reads retrieval.max_seq_length (checked below)
            if s["max_seq_length"] > limit:
                raise refuse(where("max_seq_length"), s["max_seq_length"],
                             f"at most {limit}, the longest sequence model {p.model.name} encodes")
            if task is not None and "doc_stride" in task.head_impl.settings_read:  # windows over a context
                room = s["max_seq_length"] - s["max_query_length"] - PAIR_SPECIAL_TOKENS
                if s["doc_stride"] > room:
                    raise refuse(where("doc_stride"), s["doc_stride"],
                                 f"at most max_seq_length - max_query_length - {PAIR_SPECIAL_TOKENS} = {room} "
                                 f"(the context left in a window of {task.name})")
    if p.retrieval.max_seq_length > limit:
        raise refuse("retrieval.max_seq_length", p.retrieval.max_seq_length,
                     f"at most {limit}, the longest sequence model {p.model.name} encodes")


def _layers(p: Profile) -> None:
    depth = p.model.reference_num_layers
    for key in ("layer", "bucc_layer"):
        if getattr(p.retrieval, key) > depth:
            raise refuse(f"retrieval.{key}", getattr(p.retrieval, key),
                         f"a hidden-state index 0..{depth} (model.reference_num_layers = {depth})")


def _splits(p: Profile) -> None:
    if p.aggregate.split not in p.target.splits:
        raise refuse("aggregate.split", p.aggregate.split,
                     f"a split the target phase predicts (target.splits = {show(p.target.splits)})")


def _data(p: Profile) -> None:
    d = p.data
    if d.source == "local" and not (d.dir and Path(d.dir).expanduser().is_dir()):
        raise refuse("data.dir", d.dir, 'an existing directory when data.source = "local" (see docs/data-layout.md)')
    if d.source == "synthetic" and "en" not in p.synthetic.languages:
        raise refuse("synthetic.languages", p.synthetic.languages, 'a list that includes "en" (training is English)')


def _executor(p: Profile) -> None:
    local = p.executor.local
    if local.devices and local.jobs:
        raise refuse("executor.local.jobs", local.jobs,
                     f"0 when executor.local.devices is given ({show(local.devices)}): GPU workers or CPU workers, not both")


CROSS_RULES = [_lengths, _layers, _splits, _data, _executor]
