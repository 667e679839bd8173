"""Folder scorer with the behaviour of google-research/xtreme's ``evaluate.py`` (third_party/evaluate.py
@838c13b), driven by the task registry: each task declares its languages, file extension, readers,
metric, headline and XTREME group (repro/tasks/), so a new target task is scored with no edit here.

Layout: ``<folder>/<task>/test-<lang>.<ext>`` on the prediction side and on the label side, ``ext`` =
``json`` for the QA tasks and ``tsv`` otherwise.

Output (the structure ``evaluate.py`` writes to ``--output_file``)::

    {
      "<task>": {
        "<metric>": {"<lang>": score, ...},   # e.g. "accuracy", "f1", "precision", "recall", "exact_match"
        "avg_<metric>": mean over the task's languages,
        "avg_metric": the task's headline score
      },
      "classification" | "tagging" | "qa" | "retrieval": mean of the group's task avg_metric,
      "all_task": mean of every XTREME task's avg_metric
    }

Task and group entries share the top level, as in ``evaluate.py``; the per-task nesting is metric ->
language -> score, again as ``evaluate.py`` writes it (:func:`by_language` gives language -> metric).
All scores are on a 0-100 scale. The command line is ``python -m repro score``.
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from repro.scoring.metrics import ScoringError


def task_file(folder: str, task, lang: str) -> str:
    return os.path.join(folder, task.name, f"test-{lang}.{task.ext}")


def groups(tasks: Sequence) -> dict[str, list[str]]:
    """XTREME group -> its tasks, in task order (tasks without a group are outside the XTREME score)."""
    out: dict[str, list[str]] = {}
    for task in tasks:
        if task.group:
            out.setdefault(task.group, []).append(task.name)
    return out


def score_language(task, prediction_file: str, label_file: str, lang: str) -> dict[str, float]:
    """The metric dict of one task and language, from the two files."""
    for path in (prediction_file, label_file):
        if not os.path.isfile(path):  # evaluate.py raises FileNotFoundError for a listed language
            raise ScoringError("missing file for a scored language", path)
    return task.score_files(prediction_file, label_file, lang)


def score_task(task, prediction_folder: str, label_folder: str, languages: Sequence[str] | None = None,
               normalization_language: Mapping[str, str] | None = None) -> dict:
    """Scores of one task in evaluate.py's per-task layout.

    ``prediction_folder``/``label_folder`` are the top-level folders (holding ``<task>/``); ``languages``
    overrides the task's language list. ``normalization_language`` maps a file's language code to the
    one whose answer normalisation applies (the smoke world's pseudo-languages have none of their own).
    """
    langs = list(task.languages if languages is None else languages)
    if not langs:
        raise ScoringError(f"{task.name}: empty language list")
    per_metric: dict[str, dict[str, float]] = {}
    for lang in langs:
        scores = score_language(task, task_file(prediction_folder, task, lang), task_file(label_folder, task, lang),
                                (normalization_language or {}).get(lang, lang))
        for metric, value in scores.items():
            per_metric.setdefault(metric, {})[lang] = value
    # Unweighted mean over the languages, summed in language order, as evaluate.py does.
    averages = {f"avg_{metric}": sum(values.values()) / len(values) for metric, values in per_metric.items()}
    return {**per_metric, **averages, "avg_metric": task.headline(averages)}


def by_language(task_scores: Mapping[str, object]) -> dict[str, dict[str, float]]:
    """Turn a task entry (``{metric: {lang: score}, avg_*...}``) into ``{lang: {metric: score}}``."""
    result: dict[str, dict[str, float]] = {}
    for metric, values in task_scores.items():
        if isinstance(values, Mapping):
            for lang, value in values.items():
                result.setdefault(lang, {})[metric] = value
    return result


def score_folders(prediction_folder: str, label_folder: str, tasks: Sequence,
                  languages: Mapping[str, Sequence[str]] | None = None, only: Sequence[str] | None = None) -> dict:
    """Score every task of ``tasks`` (the registered targets; ``only``: just these names) whose folder
    exists on both sides (the others are skipped, as in evaluate.py); evaluate.py's output structure.
    ``languages`` overrides some tasks' language lists. A group score appears when all tasks of the
    group were scored, ``all_task`` only when every task with a group was."""
    for side, folder in (("prediction", prediction_folder), ("label", label_folder)):
        if not os.path.isdir(folder):
            raise ScoringError(f"{side} folder does not exist or is not a directory", folder)
    overrides = dict(languages or {})
    unknown = sorted(set(overrides) - {t.name for t in tasks})
    if unknown:
        raise ScoringError(f"unknown task {unknown[0]!r}; expected one of {', '.join(t.name for t in tasks)}")
    candidates = [t for t in tasks if only is None or t.name in only]
    present = [t for t in candidates
               if all(os.path.isdir(os.path.join(folder, t.name)) for folder in (prediction_folder, label_folder))]
    detailed = {t.name: score_task(t, prediction_folder, label_folder, overrides.get(t.name)) for t in present}
    result: dict = dict(detailed)
    table = groups(tasks)
    for group, members in table.items():
        if all(name in detailed for name in members):
            result[group] = sum(detailed[name]["avg_metric"] for name in members) / len(members)
    # The mean of the tasks, not of the groups, so QA weighs 3/9 (evaluate.py).
    xtreme = [name for members in table.values() for name in members]
    if xtreme and all(name in detailed for name in xtreme):
        result["all_task"] = sum(detailed[name]["avg_metric"] for name in xtreme) / len(xtreme)
    return result


def summary_lines(result: Mapping[str, object], tasks: Sequence) -> list[str]:
    """A short human-readable summary: each task's headline, then the group and overall scores."""
    lines = [f"{t.name:<10} avg_metric {result[t.name]['avg_metric']:7.2f}" for t in tasks if t.name in result]
    lines += [f"{key:<14} {result[key]:7.2f}" for key in [*groups(tasks), "all_task"] if key in result]
    return lines or ["no task folder present on both sides; nothing scored"]
