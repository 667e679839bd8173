"""The stage graph of a profile: which stages exist and what each depends on."""
from __future__ import annotations

from dataclasses import dataclass

from repro.engine import Stage
from repro.errors import ConfigError
from repro.phases.aggregate import aggregate_stage
from repro.phases.analyze import analyze_stages, embeddings_stage, lexical_stage
from repro.phases.evaluate import evaluate_stage
from repro.phases.intermediate import intermediate_stage
from repro.phases.prepare import prepare_stage, synthetic_stage
from repro.sources import check_sources, with_selection_tasks
from repro.phases.pretrained import pretrained_stage
from repro.phases.target import target_stage
from repro.realtext import realtext_stage

PHASES = ["prepare", "pretrained", "intermediate", "target", "evaluate", "aggregate", "analyze"]


@dataclass
class Plan:
    stages: list[Stage]
    aggregate: Stage
    analysis: Stage | None = None   # the research-question report (phase analyze)

    def phase(self, name: str) -> list[Stage]:
        return [s for s in self.stages if s.phase == name]


def intermediate_names(config: dict) -> list[str]:
    """The intermediate stages a profile trains: one per task, then "multitask" over all of them."""
    inter = config["intermediate"]
    return list(inter["tasks"]) + (["multitask"] if inter["multitask"] and len(inter["tasks"]) > 1 else [])


def target_encoders(config: dict) -> list[str]:
    """The encoders every target is trained from: the baseline (the pretrained model), then the
    intermediate stages named by target.encoders (default: all of them)."""
    tgt = config["target"]
    return (["baseline"] if tgt["baseline"] else []) + list(tgt["encoders"] or intermediate_names(config))


def _data_stages(config: dict, tasks: list[str]) -> tuple[list[Stage], dict, Stage]:
    """The stages that make every task's data readable (generated world, prepare) and the pretrained
    encoder: ([stages], {task: prepare stage}, pretrained stage)."""
    source = config["data"]["source"]
    # Generated data (the smoke world, or real text from Debian packages) is one stage every task reads.
    synthetic = (synthetic_stage(config, with_selection_tasks(config, tasks)) if source == "synthetic"
                 else realtext_stage(config) if source == "realtext" else None)
    prepared = {t: prepare_stage(config, t, synthetic) for t in tasks}
    pretrained = pretrained_stage(config)
    return ([synthetic] if synthetic else []) + list(prepared.values()) + [pretrained], prepared, pretrained


def data_measures_plan(config: dict, tasks: list[str]) -> tuple[list[Stage], Stage, Stage]:
    """For `analyze --results FILE --profile P`: the measures that need the tasks' data and the
    pretrained encoder but no trained checkpoint (M1, C2, B1 counts; M2, M3 (b)), read the way profile P
    reads them. Returns (stages, lexical stage, embeddings stage)."""
    check_sources(config, tasks)
    stages, prepared, pretrained = _data_stages(config, tasks)
    lex = lexical_stage(config, pretrained, prepared, tasks)
    emb = embeddings_stage(config, pretrained, prepared, tasks)
    return stages + [lex, emb], lex, emb


def build_plan(config: dict, need_data: bool = True) -> Plan:
    """The stage graph; need_data checks first that every task's data can be had (docs/data-layout.md)."""
    inter, tgt = config["intermediate"], config["target"]
    tasks = list(dict.fromkeys(inter["tasks"] + tgt["tasks"]))
    if need_data:
        check_sources(config, tasks)
    stages, prepared, pretrained = _data_stages(config, tasks)
    intermediates = {}
    for seed in config["run"]["seeds"]:
        for name in intermediate_names(config):
            group = list(inter["tasks"]) if name == "multitask" else [name]
            st = intermediate_stage(config, name, group, seed, pretrained, prepared)
            intermediates[(name, seed)] = st
            stages.append(st)
    wanted = tgt["encoders"] or sorted(intermediate_names(config))
    unknown = [e for e in wanted if e not in {n for n, _ in intermediates}]
    if unknown:
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
    analysis = None
    # The analysis compares intermediate encoders with the baseline: without both there is nothing to analyse.
    if config["analysis"]["enabled"] and tgt["baseline"] and wanted:
        first = config["run"]["seeds"][0]
        encoders = {"baseline": pretrained} if tgt["baseline"] else {}
        encoders.update({e: intermediates[(e, first)] for e in wanted})
        analysis_stages = analyze_stages(config, agg, pretrained, prepared, encoders, evaluations)
        stages += analysis_stages
        analysis = analysis_stages[-1]
    return Plan(stages, agg, analysis)
