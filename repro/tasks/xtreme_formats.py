"""Readers for XTREME's processed layout (download/<task>/...), shared by the target task modules."""
from __future__ import annotations

from pathlib import Path

from repro.atomic import sha256_file
from repro.errors import DataError
from repro.readers import hub_load
from repro.settings.declare import Option
from repro.settings.rules import items, text
from repro.tasks.base import Task
from repro.readers import read_conll, read_json, read_tsv
from repro.tasks.base import DataSource


def task_dir(source: DataSource, folder: str) -> Path:
    return Path(source.root) / folder


def read_pair_tsv(task, path: Path, split: str):
    """`sentence1 TAB sentence2 TAB label`; XTREME test files have no label column."""
    for line, row in read_tsv(path, (2, 3)):
        if split != "test" and len(row) != 3:
            raise DataError(path, "expected sentence1, sentence2 and label columns", line)
        label = row[2].strip() if len(row) == 3 else None
        if label is not None:
            task.label_index(label, path, line)
        yield {"text_a": row[0], "text_b": row[1], "label": label}


def read_tagged(task, path: Path, split: str):
    """`token TAB tag` lines, blank line between sentences; test files have tokens only."""
    for line, rows in read_conll(path, (1, 2)):
        tokens = [r[0] for r in rows]
        tags = [r[1] for r in rows] if all(len(r) == 2 for r in rows) else None
        if split != "test" and tags is None:
            raise DataError(path, "expected a tag column on every line of this sentence", line)
        if tags is not None:
            for tag in tags:
                task.label_index(tag, path, line)
        yield {"tokens": tokens, "tags": tags}


def read_squad(path: Path, keep_answers: bool = True):
    """SQuAD-format JSON (v1.1/v2.0; `{"data": [...]}` or a bare list of articles)."""
    doc = read_json(path)
    articles = doc["data"] if isinstance(doc, dict) and "data" in doc else doc
    if not isinstance(articles, list):
        raise DataError(path, "expected SQuAD JSON: {\"data\": [articles]}")
    for a_i, article in enumerate(articles):
        for p_i, para in enumerate(article.get("paragraphs", [])):
            if "context" not in para or "qas" not in para:
                raise DataError(path, f"data[{a_i}].paragraphs[{p_i}] lacks 'context' or 'qas'")
            for qa in para["qas"]:
                if "id" not in qa or "question" not in qa:
                    raise DataError(path, f"data[{a_i}].paragraphs[{p_i}]: a question lacks 'id' or 'question'")
                answers = [_located(a, para["context"], path, qa["id"]) for a in qa.get("answers", [])
                           if a.get("text")] if keep_answers else []
                yield {"id": qa["id"], "title": article.get("title", ""), "context": para["context"],
                       "question": qa["question"], "answers": answers}


def _located(answer: dict, context: str, path, qid) -> dict:
    """The answer, checked to stand at its answer_start. A few released answers are one character off
    (SQuAD v1.1 dev " 23–16" after "round,", an offset of the leading space's neighbour; SQuAD-Shifts NYT
    "313" at 801): they are kept as the stripped text at the offset where it stands, within one character
    (plus any leading space) of answer_start; the SQuAD scripts compare whitespace-normalised text, so
    gold is unchanged. Anything farther is an error."""
    start, text = answer.get("answer_start", -1), answer["text"]
    if context[start:start + len(text)] == text:
        return answer
    core = text.strip()
    slack = len(text) - len(text.lstrip()) + 1
    found = context.find(core, max(start - slack, 0), start + slack + len(core)) if core else -1
    if found >= 0:
        return {**answer, "text": core, "answer_start": found}
    raise DataError(path, f"question {qid}: answer {text!r} not at answer_start {start}")


def hub_squad_rows(rows):
    """Hub SQuAD-style rows (id, context, question, answers{text[], answer_start[]}) as examples."""
    for r in rows:
        answers = [{"text": t, "answer_start": s} for t, s in zip(r["answers"]["text"], r["answers"]["answer_start"])]
        yield {"id": r["id"], "title": r.get("title", ""), "context": r["context"], "question": r["question"],
               "answers": answers}


def squad_files(source: DataSource, split: str, version: str = "1.1") -> list[Path]:
    """The local SQuAD-format files of `split` ("train" or "dev") under squad/: the official
    {split}-v{version}.json, or the files named by intermediate.squad_train_files / squad_dev_file
    (e.g. SQuAD-Shifts when SQuAD's own train file cannot be had)."""
    options, folder = source.options or {}, task_dir(source, "squad")
    named = (options.get("squad_train_files") or []) if split == "train" else [options.get("squad_dev_file") or ""]
    return [folder / f for f in named if f] or [folder / f"{split}-v{version}.json"]


def read_squad_files(paths: list[Path]):
    """Questions of several SQuAD files, taken in turn from each (so a cap on the first N mixes them)."""
    readers, done = [read_squad(p) for p in paths], object()
    while readers:
        row = [next(r, done) for r in readers]
        readers = [r for r, x in zip(readers, row) if x is not done]
        yield from (x for x in row if x is not done)


# [intermediate] keys naming the SQuAD files: read by SQuAD, and by XQuAD and MLQA, which train on it.
SQUAD_OPTIONS = {
    "squad_train_files": Option([], items(text(), "file names under squad/"),
                                "local: SQuAD-format files under squad/ to train on instead of train-v<version>.json",
                                "also XQuAD's and MLQA's training data; [] = the official file"),
    "squad_dev_file": Option("", text(nonempty=False),
                             'local: the file under squad/ instead of dev-v<version>.json; "" = the official one')}
SQUAD_SPLITS = ("train", "squad-dev")  # SQuAD v1.1 train, and its dev set for checkpoint selection


class TrainedOnSquadV11(Task):
    """XQuAD and MLQA: trained on SQuAD v1.1 train, checkpoints selected on SQuAD v1.1 dev (XTREME trains
    both with one SQuAD run, google-research/xtreme scripts/train_qa.sh; jiant validates the same way).
    Subclasses read their own evaluation splits with read_evaluation_local / read_evaluation_hub."""
    config_options = SQUAD_OPTIONS

    def source_key(self, source):
        key = super().source_key(source)
        if source.local and source.root:  # squad/*-v1.1.json lie outside the task's own folder: their hashes count too
            key["squad"] = {p.name: sha256_file(p) for split in ("train", "dev")
                            for p in squad_files(source, split) if p.is_file()}
        return key

    def read_selection(self, source, lang):
        return self.read(source, "squad-dev", lang)

    def read_local(self, source, split, lang):
        if split in SQUAD_SPLITS:
            return read_squad_files(squad_files(source, split.removeprefix("squad-")))
        return self.read_evaluation_local(source, split, lang)

    def read_hub(self, source, split, lang):
        if split in SQUAD_SPLITS:
            return hub_squad_rows(hub_load(source, "rajpurkar/squad", "plain_text", split.removeprefix("squad-")))
        return self.read_evaluation_hub(source, split, lang)

    def read_evaluation_local(self, source, split, lang):
        raise NotImplementedError

    def read_evaluation_hub(self, source, split, lang):
        raise NotImplementedError
