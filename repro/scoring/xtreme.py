"""Folder scorer with the behaviour of XTREME's official ``evaluate.py`` (spec sections 1.3, 1.4, 3).

Layout (spec 1.3): ``<folder>/<task>/test-<lang>.<ext>`` on the prediction side and on the label side,
``ext`` = ``json`` for the QA tasks and ``tsv`` otherwise.

Output (the structure ``evaluate.py`` writes to ``--output_file``; keys checked against it)::

    {
      "<task>": {
        "<metric>": {"<lang>": score, ...},   # e.g. "accuracy", "f1", "precision", "recall", "exact_match"
        "avg_<metric>": mean over the task's languages,
        "avg_metric": the task's headline score (spec 1.4)
      },
      "classification" | "tagging" | "qa" | "retrieval": mean of the group's task avg_metric,
      "all_task": mean of the nine task avg_metric values
    }

Task and group entries share the top level, as in ``evaluate.py``. Note the per-task nesting is
metric -> language -> score (``result["xnli"]["accuracy"]["en"]``), again as ``evaluate.py`` writes it;
:func:`by_language` gives the language -> metric view. All scores are on a 0-100 scale.

Command line::

    python -m repro.scoring.xtreme --prediction-folder P --label-folder L --output-file O [--tasks ...]
"""
from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

from .metrics import (
    ScoringError,
    accuracy,
    bucc_f1,
    mlqa_em_f1,
    squad_em_f1,
    tagging_f1,
    unanswered_ids,
)

__all__ = [
    "TASK2LANGS",
    "GROUP2TASKS",
    "QA_TASKS",
    "TAGGING_TASKS",
    "TASK2EXT",
    "read_tag_file",
    "read_line_file",
    "read_squad_json",
    "read_prediction_json",
    "task_file",
    "score_language",
    "score_task",
    "score_folders",
    "by_language",
    "write_json_atomic",
    "summary_lines",
    "add_arguments",
    "run",
    "main",
]

log = logging.getLogger(__name__)

# Spec 1.1 (= evaluate.py's XTREME_TASK2LANGS, the `xtreme` version): tasks in the spec's table order,
# languages in the scorer's order. English is scored wherever it is listed; BUCC and Tatoeba pair each
# language with English and do not score English itself.
TASK2LANGS: dict[str, list[str]] = {
    "xnli": "ar bg de el en es fr hi ru sw th tr ur vi zh".split(),
    "pawsx": "de en es fr ja ko zh".split(),
    "udpos": ("af ar bg de el en es et eu fa fi fr he hi hu id it ja kk ko mr nl pt ru ta te th tl tr ur vi "
              "yo zh").split(),
    "panx": ("ar he vi id jv ms tl eu ml ta te af nl en de el bn hi mr ur fa fr it pt es bg ru ja ka ko th "
             "sw yo my zh kk tr et fi hu").split(),
    "xquad": "en es de el ru tr ar vi th zh hi".split(),
    "mlqa": "en es de ar hi vi zh".split(),
    "tydiqa": "en ar bn fi id ko ru sw te".split(),
    "bucc2018": "de fr ru zh".split(),
    "tatoeba": ("ar he vi id jv tl eu ml ta te af nl de el bn hi mr ur fa fr it pt es bg ru ja ka ko th sw "
                "zh kk tr et fi hu").split(),
}

# Spec 1.1 / 1.4 (evaluate.py's XTREME_GROUP2TASK; its group names are the output keys).
GROUP2TASKS: dict[str, list[str]] = {
    "classification": ["xnli", "pawsx"],
    "tagging": ["udpos", "panx"],
    "qa": ["xquad", "mlqa", "tydiqa"],
    "retrieval": ["bucc2018", "tatoeba"],
}
QA_TASKS: tuple[str, ...] = tuple(GROUP2TASKS["qa"])
TAGGING_TASKS: tuple[str, ...] = tuple(GROUP2TASKS["tagging"])
TASK2EXT: dict[str, str] = {task: "json" if task in QA_TASKS else "tsv" for task in TASK2LANGS}

# Spec 1.3: evaluate.py asserts equal item counts for every task except bucc2018 and the QA tasks.
_COUNT_CHECKED_TASKS = frozenset(TASK2LANGS) - {"bucc2018", *QA_TASKS}


# --------------------------------------------------------------------------------------------------
# Readers. Text is read as UTF-8 with Python's universal newlines (what evaluate.py's open() does on a
# UTF-8 system), line by line; every failure becomes a ScoringError naming the file.
# --------------------------------------------------------------------------------------------------

@contextlib.contextmanager
def _reading(path: str) -> Iterator[None]:
    """Turn the ways reading ``path`` can fail into ScoringErrors that name it."""
    try:
        yield
    except FileNotFoundError as exc:
        raise ScoringError("file not found", path) from exc
    except UnicodeDecodeError as exc:
        raise ScoringError(f"not valid UTF-8 ({exc.reason} at byte {exc.start})", path) from exc
    except OSError as exc:
        raise ScoringError(f"cannot read file ({exc.strerror or exc})", path) from exc


def _stripped_lines(path: str) -> list[str]:
    with _reading(path), open(path, encoding="utf-8") as handle:
        return [line.strip() for line in handle]


def read_line_file(path: str) -> list[str]:
    """One item per line, stripped (spec 3.1). Blank lines are kept as empty items, as in evaluate.py,
    so they count towards the item total."""
    return _stripped_lines(path)


def read_tag_file(path: str) -> list[list[str]]:
    """Tag sentences (spec 3.2 reading rules): non-blank stripped lines are tags; a blank line closes the
    current sentence, even an empty one; a final sentence without a trailing blank line is kept."""
    sentences: list[list[str]] = []
    current: list[str] = []
    for line in _stripped_lines(path):
        if line:
            current.append(line)
        else:
            sentences.append(current)
            current = []
    if current:
        sentences.append(current)
    return sentences


def _read_json(path: str) -> object:
    with _reading(path), open(path, encoding="utf-8") as handle:
        text = handle.read()
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScoringError(f"invalid JSON: {exc.msg} (column {exc.colno})", path, exc.lineno) from exc


def read_squad_json(path: str) -> list:
    """The article list of a SQuAD-style label file: accepts ``{"data": [...], ...}`` or a bare list
    (spec 2.5, evaluate.py's ``read_squad``)."""
    data = _read_json(path)
    if isinstance(data, dict):
        if "data" not in data:
            raise ScoringError("SQuAD-style JSON object has no 'data' key", path)
        data = data["data"]
    if not isinstance(data, list):
        raise ScoringError(f"expected a list of articles, got {type(data).__name__}", path)
    return data


def read_prediction_json(path: str) -> dict[str, str]:
    """A QA prediction file: a JSON object question id -> answer string (spec 2.5)."""
    data = _read_json(path)
    if not isinstance(data, dict):
        raise ScoringError(f"expected a JSON object id -> answer, got {type(data).__name__}", path)
    for qid, answer in data.items():
        if not isinstance(answer, str):
            raise ScoringError(f"prediction for {qid!r} is not a string", path)
    return data


# --------------------------------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------------------------------

def task_file(folder: str, task: str, lang: str) -> str:
    """``<folder>/<task>/test-<lang>.<ext>`` (spec 1.3)."""
    return os.path.join(folder, task, f"test-{lang}.{TASK2EXT[task]}")


def _require_file(path: str) -> None:
    # evaluate.py raises FileNotFoundError for a listed language without a file (spec 1.3).
    if not os.path.isfile(path):
        raise ScoringError("missing file for a scored language", path)


def _check_counts(task: str, prediction_file: str, label_file: str, n_pred: int, n_gold: int) -> None:
    """evaluate.py's count assertion (spec 1.3): lines, or sentences for the tagging tasks."""
    if task in _COUNT_CHECKED_TASKS and n_pred != n_gold:
        unit = "sentences" if task in TAGGING_TASKS else "lines"
        raise ScoringError(
            f"{task}: {n_pred} {unit} in the predictions but {n_gold} in the labels ({label_file})",
            prediction_file)


def _score_qa(task: str, prediction_file: str, label_file: str, lang: str) -> dict[str, float]:
    predictions = read_prediction_json(prediction_file)
    dataset = read_squad_json(label_file)
    try:
        missing = unanswered_ids(predictions, dataset)
        if missing:
            log.warning("%s: %d of the gold questions have no prediction and score 0", prediction_file,
                        len(missing))
        # Only MLQA normalises per language; XQuAD and TyDiQA use SQuAD's English rules (spec 3.3, 3.4).
        if task == "mlqa":
            return mlqa_em_f1(predictions, dataset, lang)
        return squad_em_f1(predictions, dataset)
    except ScoringError as exc:
        raise exc.in_file(label_file) from exc


_TEXT_READERS: dict[str, Callable[[str], list]] = {
    "udpos": read_tag_file, "panx": read_tag_file,
    "xnli": read_line_file, "pawsx": read_line_file, "tatoeba": read_line_file, "bucc2018": read_line_file,
}
_TEXT_METRICS: dict[str, Callable[[list, list], dict[str, float]]] = {
    "udpos": tagging_f1, "panx": tagging_f1,
    "xnli": accuracy, "pawsx": accuracy, "tatoeba": accuracy, "bucc2018": bucc_f1,
}


def score_language(task: str, prediction_file: str, label_file: str, lang: str) -> dict[str, float]:
    """The metric dict of one task and language (spec 3), from the two files."""
    for path in (prediction_file, label_file):
        _require_file(path)
    if task in QA_TASKS:
        return _score_qa(task, prediction_file, label_file, lang)
    read = _TEXT_READERS[task]
    predictions = read(prediction_file)   # predictions first, as evaluate.py reads them
    labels = read(label_file)
    _check_counts(task, prediction_file, label_file, len(predictions), len(labels))
    try:
        return _TEXT_METRICS[task](predictions, labels)
    except ScoringError as exc:
        raise exc.in_file(prediction_file) from exc


def _headline(task: str, averages: Mapping[str, float]) -> float:
    """A task's ``avg_metric`` (spec 1.4 step 3): (EM+F1)/2 for QA, else avg F1, else avg accuracy."""
    if task in QA_TASKS:
        return (averages["avg_exact_match"] + averages["avg_f1"]) / 2
    if "avg_f1" in averages:
        return averages["avg_f1"]
    return averages["avg_accuracy"]


def _check_task(task: str) -> None:
    if task not in TASK2LANGS:
        raise ScoringError(f"unknown task {task!r}; expected one of {', '.join(TASK2LANGS)}")


def score_task(task: str, prediction_folder: str, label_folder: str,
               languages: Sequence[str] | None = None,
               normalization_language: Mapping[str, str] | None = None) -> dict:
    """Scores of one task in evaluate.py's per-task layout.

    ``prediction_folder``/``label_folder`` are the top-level folders (holding ``<task>/``). ``languages``
    overrides the task's language list (default: :data:`TASK2LANGS`). Returns
    ``{metric: {lang: score}, "avg_<metric>": mean over languages, "avg_metric": headline}``
    (spec 1.4 steps 1-3); see :func:`by_language` for the language -> metrics view.
    ``normalization_language`` maps a file's language code to the one whose MLQA answer
    normalisation applies (the smoke world's pseudo-languages have none of their own).
    """
    _check_task(task)
    langs = list(TASK2LANGS[task] if languages is None else languages)
    if not langs:
        raise ScoringError(f"{task}: empty language list")
    per_metric: dict[str, dict[str, float]] = {}
    for lang in langs:
        scores = score_language(task, task_file(prediction_folder, task, lang),
                                task_file(label_folder, task, lang),
                                (normalization_language or {}).get(lang, lang))
        for metric, value in scores.items():
            per_metric.setdefault(metric, {})[lang] = value
    # Unweighted mean over the languages, summed in language order (spec 1.4 step 2).
    averages = {f"avg_{metric}": sum(values.values()) / len(values) for metric, values in per_metric.items()}
    return {**per_metric, **averages, "avg_metric": _headline(task, averages)}


def by_language(task_scores: Mapping[str, object]) -> dict[str, dict[str, float]]:
    """Turn a task entry (``{metric: {lang: score}, avg_*...}``) into ``{lang: {metric: score}}``."""
    result: dict[str, dict[str, float]] = {}
    for metric, values in task_scores.items():
        if isinstance(values, Mapping):
            for lang, value in values.items():
                result.setdefault(lang, {})[metric] = value
    return result


def _present_tasks(prediction_folder: str, label_folder: str, tasks: Iterable[str]) -> list[str]:
    """Tasks whose folder exists on both sides (spec 1.3); the others are skipped, as in evaluate.py."""
    return [task for task in tasks
            if all(os.path.isdir(os.path.join(folder, task)) for folder in (prediction_folder, label_folder))]


def score_folders(prediction_folder: str, label_folder: str, tasks: Sequence[str] | None = None,
                  languages: Mapping[str, Sequence[str]] | None = None) -> dict:
    """Score every task present on both sides; evaluate.py's output structure (see the module docstring).

    ``tasks`` restricts the candidate tasks (default: all nine); a listed task whose folder is missing on
    either side is skipped, exactly like an unlisted one. ``languages`` overrides the language list of
    some tasks (e.g. the smoke profile's pseudo-languages); the others keep :data:`TASK2LANGS`.
    Group scores appear when all tasks of the group were scored, ``all_task`` only when all nine were
    (spec 1.4 steps 4-5).
    """
    for side, folder in (("prediction", prediction_folder), ("label", label_folder)):
        if not os.path.isdir(folder):
            raise ScoringError(f"{side} folder does not exist or is not a directory", folder)
    candidates = list(TASK2LANGS) if tasks is None else list(tasks)
    overrides = dict(languages or {})
    for task in [*candidates, *overrides]:
        _check_task(task)

    detailed = {task: score_task(task, prediction_folder, label_folder, overrides.get(task))
                for task in _present_tasks(prediction_folder, label_folder, candidates)}

    result: dict = dict(detailed)
    for group, group_tasks in GROUP2TASKS.items():
        if all(t in detailed for t in group_tasks):
            result[group] = sum(detailed[t]["avg_metric"] for t in group_tasks) / len(group_tasks)
    # The mean of the nine tasks, not of the four groups, so QA weighs 3/9 (spec 1.4 step 4).
    if all(t in detailed for t in TASK2LANGS):
        result["all_task"] = sum(detailed[t]["avg_metric"] for t in TASK2LANGS) / len(TASK2LANGS)
    return result


# --------------------------------------------------------------------------------------------------
# Output and command line
# --------------------------------------------------------------------------------------------------

def write_json_atomic(data: object, path: str) -> None:
    """Write ``data`` as JSON (sorted keys, indent 2) to ``path`` without ever leaving a partial file:
    write a temporary file in the same directory, then ``os.replace`` it over the target."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    # A fresh name opened with "x" (not mkstemp) so the report gets the usual umask permissions.
    tmp_path = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp_path, "x", encoding="utf-8") as handle:
            json.dump(data, handle, sort_keys=True, indent=2)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        if os.path.exists(tmp_path):
            os.unlink(tmp_path)
        raise


def summary_lines(result: Mapping[str, object]) -> list[str]:
    """A short human-readable summary: each task's headline, then the group and overall scores."""
    lines = [f"{task:<10} avg_metric {result[task]['avg_metric']:7.2f}"
             for task in TASK2LANGS if task in result]
    lines += [f"{key:<14} {result[key]:7.2f}" for key in [*GROUP2TASKS, "all_task"] if key in result]
    return lines or ["no task folder present on both sides; nothing scored"]


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the scorer's options to ``parser`` (so ``python -m repro score`` can reuse them)."""
    # The underscore spellings are evaluate.py's option names, accepted as aliases.
    parser.add_argument("--prediction-folder", "--prediction_folder", dest="prediction_folder", required=True,
                        help="folder with one sub-folder per task of test-<lang>.<ext> prediction files")
    parser.add_argument("--label-folder", "--label_folder", dest="label_folder", required=True,
                        help="folder with the gold files in the same layout")
    parser.add_argument("--output-file", "--output_file", dest="output_file", required=True,
                        help="where to write the JSON report")
    parser.add_argument("--tasks", nargs="+", choices=list(TASK2LANGS), default=None,
                        help="score only these tasks (default: every task present on both sides)")
    return parser


def run(args: argparse.Namespace, languages: Mapping[str, Sequence[str]] | None = None) -> int:
    """Score, write the report and print a summary. Returns the exit code: 0, or 2 on ScoringError
    (with a one-line message on stderr)."""
    try:
        result = score_folders(args.prediction_folder, args.label_folder, tasks=args.tasks,
                               languages=languages)
    except ScoringError as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    write_json_atomic(result, args.output_file)
    for line in summary_lines(result):
        print(line)
    print(f"wrote {args.output_file}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m repro.scoring.xtreme",
        description="Score XTREME predictions like the official evaluate.py.")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
