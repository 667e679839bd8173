"""The stage graph of a profile: which stages exist and what each depends on. The plan is the one
place that reads the whole profile: it resolves it once (typed sections, every task's data source)
and hands each stage exactly the settings it reads."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from repro.engine import Stage
from repro.errors import ConfigError
from repro.phases.aggregate import About, aggregate_stage
from repro.phases.analyze import AnalyzeSettings, analyze_stages, embeddings_stage, lexical_stage
from repro.phases.evaluate import evaluate_stage, normalization_languages
from repro.phases.intermediate import intermediate_stage
from repro.phases.prepare import prepare_stage, synthetic_stage
from repro.phases.pretrained import pretrained_stage
from repro.phases.target import target_stage
from repro.realtext import realtext_stage
from repro.settings.phases import Intermediate, Target
from repro.settings.profile import Profile, resolve
from repro.sources import TaskSource, check_sources, resolve_sources

PHASES = ["prepare", "pretrained", "intermediate", "target", "evaluate", "aggregate", "analyze"]


@dataclass
class Plan:
    stages: list[Stage]
    aggregate: Stage
    analysis: Stage | None = None   # the research-question report (phase analyze)

    def phase(self, name: str) -> list[Stage]:
        return [s for s in self.stages if s.phase == name]


def intermediate_names(inter: Intermediate) -> list[str]:
    """The intermediate stages a profile trains: one per task, then "multitask" over all of them."""
    return list(inter.tasks) + (["multitask"] if inter.multitask and len(inter.tasks) > 1 else [])


def target_encoders(inter: Intermediate, tgt: Target) -> list[str]:
    """The encoders every target is trained from: the baseline (the pretrained model), then the
    intermediate stages named by target.encoders (default: all of them)."""
    return (["baseline"] if tgt.baseline else []) + list(tgt.encoders or intermediate_names(inter))


def about(p: Profile, sources: dict[str, TaskSource] | None = None) -> About:
    """What the results tables say about the run besides its scores. data_source is where the tasks' data
    were read: the one kind every task resolved to ([data.task.NAME] source may differ from data.source),
    else data.source."""
    kinds = {s.source.kind for s in (sources or {}).values()}
    kind = kinds.pop() if len(kinds) == 1 else p.data.source
    return About(p.name, p.model.name, kind, p.aggregate.split, p.retrieval, p.model.reference_num_layers)


def _data_stages(p: Profile, sources: dict[str, TaskSource], tasks: list[str]) -> tuple[list[Stage], dict, Stage]:
    """The stages that make every task's data readable (generated world, prepare) and the pretrained
    encoder: ([stages], {task: prepare stage}, pretrained stage)."""
    source = p.data.source
    # Generated data (the smoke world, or real text from Debian packages) is one stage every task reads.
    synthetic = (synthetic_stage(p.synthetic, list(sources)) if source == "synthetic"
                 else realtext_stage(p.realtext) if source == "realtext" else None)
    test_labels = Path(p.data.test_labels) if p.data.test_labels else None

    def selector(t: str) -> TaskSource | None:
        name = sources[t].task.selection_tasks.get(p.target.selection)
        return sources[name] if name else None

    prepared = {t: prepare_stage(sources[t], p.target.splits, test_labels, selector(t), synthetic) for t in tasks}
    pretrained = pretrained_stage(p.model)
    return ([synthetic] if synthetic else []) + list(prepared.values()) + [pretrained], prepared, pretrained


def _analyze_settings(p: Profile) -> AnalyzeSettings:
    return AnalyzeSettings(p.analysis, p.run, p.target, p.aggregate.split)


def data_measures_plan(config: dict, tasks: list[str]) -> tuple[list[Stage], Stage, Stage]:
    """For `analyze --results FILE --profile P`: the measures that need the tasks' data and the
    pretrained encoder but no trained checkpoint (M1, C2, B1 counts; M2, M3 (b)), read the way profile P
    reads them. Returns (stages, lexical stage, embeddings stage)."""
    p = resolve(config)
    sources = resolve_sources(p, tasks)
    check_sources(sources)
    stages, prepared, pretrained = _data_stages(p, sources, tasks)
    lex = lexical_stage(p.analysis, pretrained, prepared, tasks)
    emb = embeddings_stage(_analyze_settings(p), pretrained, prepared, tasks)
    return stages + [lex, emb], lex, emb


def build_plan(config: dict, need_data: bool = True) -> Plan:
    """The stage graph of a loaded profile (repro.config.load_config); need_data checks first that every
    task's data can be had (docs/data-layout.md)."""
    p = resolve(config)
    inter, tgt, run = p.intermediate, p.target, p.run
    tasks = list(dict.fromkeys(inter.tasks + tgt.tasks))
    sources = resolve_sources(p, tasks)   # the one walk over the data
    if need_data:
        check_sources(sources)
    stages, prepared, pretrained = _data_stages(p, sources, tasks)
    intermediates = {}
    for seed in run.seeds:
        for name in intermediate_names(inter):
            group = list(inter.tasks) if name == "multitask" else [name]
            st = intermediate_stage(inter, run, p.model, name, group, seed, pretrained, prepared)
            intermediates[(name, seed)] = st
            stages.append(st)
    wanted = tgt.encoders or sorted(intermediate_names(inter))
    unknown = [e for e in wanted if e not in {n for n, _ in intermediates}]
    if unknown:
        raise ConfigError(f"target.encoders names stages that are not trained: {unknown}")
    evaluations = {}
    normalization = normalization_languages(p.data.source, p.synthetic.languages)
    for seed in run.seeds:
        feeds = ([("baseline", pretrained)] if tgt.baseline else []) + [(e, intermediates[(e, seed)]) for e in wanted]
        for enc_name, enc_stage in feeds:
            for t in tgt.tasks:
                cell = target_stage(tgt, run, p.model, p.retrieval, p.analysis, enc_name, enc_stage, t, seed, prepared[t])
                ev = evaluate_stage(tgt.splits, normalization, cell, prepared[t], t)
                evaluations[(enc_name, t, seed)] = ev
                stages += [cell, ev]
    agg = aggregate_stage(about(p, sources), evaluations, intermediates, {t: prepared[t] for t in tgt.tasks})
    stages.append(agg)
    analysis = None
    # The analysis compares intermediate encoders with the baseline: without both there is nothing to analyse.
    if p.analysis.enabled and tgt.baseline and wanted:
        first = run.seeds[0]
        encoders = {"baseline": pretrained} if tgt.baseline else {}
        encoders.update({e: intermediates[(e, first)] for e in wanted})
        analysis_stages = analyze_stages(_analyze_settings(p), agg, pretrained, prepared, encoders, evaluations)
        stages += analysis_stages
        analysis = analysis_stages[-1]
    return Plan(stages, agg, analysis)
