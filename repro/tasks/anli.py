"""ANLI (intermediate): Adversarial NLI (Nie et al. 2020, ACL), rounds 1-3 pooled; 3-way sentence-pair
classification; accuracy on the pooled R1+R2+R3 dev sets.

Local files: the ANLI v1.0 release as unzipped, anli/anli_v1.0/R{1,2,3}/{train,dev}.jsonl; one JSON object per
line with `uid`, `context` (the premise; re-exports that call it `premise` are accepted too), `hypothesis` and
`label` in {"e", "n", "c"}. Hub: facebook/anli, splits train_r1..3 / dev_r1..3 (label ints 0 entailment,
1 neutral, 2 contradiction).

Option `intermediate.anli_with_snli_mnli` (jiant's "full ANLI" recipe, guides/tasks/task_specific.md: train
SNLI + MNLI + A1 + A2 + A3 through one NLI head with proportional sampling): the SNLI and MNLI training sets
join the ANLI training set. One pooled training set drawn uniformly is the same mixture as jiant's
proportional multi-task sampler over tasks sharing a head. The dev set stays ANLI's. SNLI: local
snli/snli_1.0_{train,dev}.jsonl (the SNLI 1.0 release's JSON lines, the same schema as MultiNLI's), hub
stanfordnlp/snli. MNLI: as repro/tasks/mnli.py reads it.

Dataset: Nie et al. 2020, Adversarial NLI: A New Benchmark for Natural Language Understanding (ACL).
"""
from pathlib import Path

from repro.errors import DataError
from repro.readers import hub_load, read_jsonl, require
from repro.settings.declare import Option
from repro.settings.rules import FLAG
from repro.tasks.base import Task, register
from repro.tasks.mnli import LABELS, MNLI, read_nli_jsonl

ROUNDS = ("R1", "R2", "R3")
LETTERS = {"e": "entailment", "n": "neutral", "c": "contradiction"}  # the release's label letters


class SNLI(Task):
    """Only a training source of the full-ANLI option, so not registered as a task of its own."""
    name = folder = "snli"
    labels = LABELS
    hub_id = "stanfordnlp/snli"

    def read_local(self, source, split, lang):
        return read_nli_jsonl(self, Path(source.root) / self.folder / f"snli_1.0_{split}.jsonl")

    def read_hub(self, source, split, lang):
        for i, r in enumerate(hub_load(source, self.hub_id, None, split)):
            if r["label"] >= 0:  # -1: no gold label
                yield {"id": str(i), "text_a": r["premise"], "text_b": r["hypothesis"], "label": LABELS[r["label"]]}


@register
class ANLI(Task):
    name = folder = "anli"
    role, head, metric = "intermediate", "classification", "accuracy"
    labels = LABELS
    splits = ("train", "dev")
    config_options = {"anli_with_snli_mnli": Option(False, FLAG, 'jiant\'s "full ANLI" recipe: SNLI+MNLI+A1-A3 through one head')}
    hub_id = "facebook/anli"

    def with_snli_mnli(self, source) -> bool:
        return bool((source.options or {}).get("anli_with_snli_mnli", False))

    def extra_sources(self, source) -> list[Task]:
        return [SNLI(), MNLI()] if self.with_snli_mnli(source) else []

    def source_key(self, source):
        key = {"anli": super().source_key(source)}
        for extra in self.extra_sources(source):  # their files are inputs of the training set too
            key[extra.name] = extra.source_key(source)
        return key

    def read(self, source, split, lang):
        examples = super().read(source, split, lang)
        if split == "train":
            for extra in self.extra_sources(source):
                for ex in extra.read(source, "train", lang):
                    examples.append({**ex, "id": f"{extra.name}-{ex['id']}"})
        return examples

    def read_local(self, source, split, lang):
        root = Path(source.root) / self.folder / "anli_v1.0"
        for rnd in ROUNDS:
            path = root / rnd / f"{split}.jsonl"
            for line, r in read_jsonl(path):
                require(r, ("uid", "hypothesis", "label"), path, line)
                premise = r.get("context", r.get("premise"))
                if premise is None:
                    raise DataError(path, "missing field 'context'", line)
                if r["label"] not in LETTERS:
                    raise DataError(path, f"unknown label {r['label']!r} (expected one of {sorted(LETTERS)})", line)
                yield {"id": f"{rnd.lower()}-{r['uid']}", "text_a": premise, "text_b": r["hypothesis"],
                       "label": LETTERS[r["label"]]}

    def read_hub(self, source, split, lang):
        for n, rnd in enumerate(ROUNDS, start=1):
            for r in hub_load(source, self.hub_id, None, f"{split}_r{n}"):
                if r["label"] >= 0:
                    yield {"id": f"{rnd.lower()}-{r['uid']}", "text_a": r["premise"], "text_b": r["hypothesis"],
                           "label": LABELS[r["label"]]}
