"""Invalidation as fine as the inputs: changing one task's option re-runs that task's stages and what
depends on them, nothing else. A stage re-runs exactly when its key changes (repro/engine.py), so
comparing the keys of two plans counts the stages a run would redo, without training anything."""
import pytest

from repro.config import load_config
from repro.plan import build_plan


def keys(overrides=()):
    plan = build_plan(load_config("smoke", list(overrides)))
    return {s.id: s.key for s in plan.stages}, plan


def downstream(plan, roots: set[str]) -> set[str]:
    """The roots and every stage that (transitively) reads one of them."""
    out = set(roots)
    changed = True
    while changed:
        changed = False
        for s in plan.stages:
            if s.id not in out and any(d.id in out for d in s.deps):
                out.add(s.id)
                changed = True
    return out


BEFORE, PLAN = keys()

# override -> the stages it is an input of; everything downstream of them re-runs, nothing else.
CASES = {
    "intermediate.anli_with_snli_mnli=true": {"prepare/anli"},
    'intermediate.squad_version="1.1"': {"prepare/squad", "intermediate/squad-s1"},
    "intermediate.task.qqp.lr=2e-5": {"intermediate/qqp-s1"},
    "intermediate.task.mnli.doc_stride=20": set(),  # a span-QA setting: MNLI does not read it
    "target.task.xnli.doc_stride=50": set(),
    'intermediate.task.mnli.answer_text="exact"': set(),  # span QA's answer text: only QA stages read it
    # the analysis keys every target's head settings (decoding ones included), so LogME is re-keyed too
    'target.task.xquad.answer_text="exact"': {s.id for s in PLAN.stages if s.phase == "target"
                                              and s.name.endswith("__xquad-s1") or s.name.startswith("logme-")},
    "intermediate.task.squad.max_query_length=12": {"intermediate/squad-s1", "intermediate/multitask-s1"},
    "intermediate.task.multitask.epochs=2.0": {"intermediate/multitask-s1"},
    "target.task.xnli.lr=2e-5": {s.id for s in PLAN.stages if s.phase == "target" and s.name.endswith("__xnli-s1")},
    # LogME features of XQuAD are cut into windows by doc_stride: the analysis re-reads them too
    "target.task.xquad.doc_stride=20": {s.id for s in PLAN.stages if s.phase == "target" and s.name.endswith("__xquad-s1")
                                        or s.name.startswith("logme-")},
    # a text prefix (e5's "query: ") changes what the retrieval cells embed, and nothing trained
    'retrieval.text_prefix="query: "': {s.id for s in PLAN.stages if s.phase == "target"
                                        and s.name.split("__")[1].split("-s")[0] in ("bucc2018", "tatoeba")},
}


@pytest.mark.parametrize("override", sorted(CASES))
def test_one_task_option_reruns_only_that_task_and_its_dependents(override):
    after, plan = keys([override])
    assert set(after) == set(BEFORE)
    rerun = {sid for sid in after if after[sid] != BEFORE[sid]}
    expected = downstream(plan, CASES[override])
    assert rerun == expected, (f"{override}: re-runs {sorted(rerun - expected)} needlessly"
                               f" / misses {sorted(expected - rerun)}")
    assert len(rerun) < len(after) // 2  # far from "every task's prepare and training"
    untouched_prepare = {sid for sid in after if sid.startswith("prepare/")} - rerun
    assert len(untouched_prepare) >= len([s for s in after if s.startswith("prepare/")]) - 1


def test_an_option_for_a_task_outside_the_run_changes_nothing():
    after, _ = keys(["intermediate.task.ccg.lr=3e-5", 'intermediate.tasks=["mnli","squad"]'])
    base, _ = keys(['intermediate.tasks=["mnli","squad"]'])
    assert after == base
