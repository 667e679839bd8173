"""The stage graph of a profile: which stages exist and what each depends on."""
from __future__ import annotations

from dataclasses import dataclass

from repro.engine import Stage
from repro.phases.aggregate import aggregate_stage
from repro.phases.evaluate import evaluate_stage
from repro.phases.intermediate import intermediate_stage
from repro.phases.prepare import prepare_stage, synthetic_stage
from repro.phases.pretrained import pretrained_stage
from repro.phases.target import target_stage
from repro.realtext import realtext_stage

PHASES = ["prepare", "pretrained", "intermediate", "target", "evaluate", "aggregate"]


@dataclass
class Plan:
    stages: list[Stage]
    aggregate: Stage

    def phase(self, name: str) -> list[Stage]:
        return [s for s in self.stages if s.phase == name]


def build_plan(config: dict) -> Plan:
    inter, tgt = config["intermediate"], config["target"]
    tasks = list(dict.fromkeys(inter["tasks"] + tgt["tasks"]))
    source = config["data"]["source"]
    # Generated data (the smoke world, or real text from Debian packages) is one stage every task reads.
    synthetic = (synthetic_stage(config, tasks) if source == "synthetic"
                 else realtext_stage(config) if source == "realtext" else None)
    prepared = {t: prepare_stage(config, t, synthetic) for t in tasks}
    pretrained = pretrained_stage(config)
    stages: list[Stage] = ([synthetic] if synthetic else []) + list(prepared.values()) + [pretrained]
    intermediates, _encoders = {}, {}
    for seed in config["run"]["seeds"]:
        names = [(t, [t]) for t in inter["tasks"]]
        if inter["multitask"] and len(inter["tasks"]) > 1:
            names.append(("multitask", list(inter["tasks"])))
        for name, group in names:
            st = intermediate_stage(config, name, group, seed, pretrained, prepared)
            intermediates[(name, seed)] = st
            stages.append(st)
    wanted = tgt["encoders"] or sorted({n for n, _ in intermediates})
    unknown = [e for e in wanted if e not in {n for n, _ in intermediates}]
    if unknown:
        from repro.errors import ConfigError
        raise ConfigError(f"target.encoders names stages that are not trained: {unknown}")
    evaluations = {}
    for seed in config["run"]["seeds"]:
        feeds = ([("baseline", pretrained)] if tgt["baseline"] else []) + [(e, intermediates[(e, seed)]) for e in wanted]
        for enc_name, enc_stage in feeds:
            for t in tgt["tasks"]:
                cell = target_stage(config, enc_name, enc_stage, t, seed, prepared[t])
                ev = evaluate_stage(config, cell, prepared[t], t)
                evaluations[(enc_name, t, seed)] = ev
                stages += [cell, ev]
    agg = aggregate_stage(config, evaluations, intermediates)
    stages.append(agg)
    return Plan(stages, agg)
