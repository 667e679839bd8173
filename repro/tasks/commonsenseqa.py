"""CommonsenseQA (intermediate; Talmor et al. 2019, NAACL): 5-way multiple choice; accuracy.

Local files: the release's commonsenseqa/{train,dev}_rand_split.jsonl, one JSON object per line:
`{"id", "question": {"stem", "choices": [{"label": "A".."E", "text"}]}, "answerKey"}`. Hub: tau/commonsense_qa
(question is the stem; choices {label[], text[]}). The context is the question stem and the choices are
ordered by their letter, as jiant's commonsenseqa task builds them.

Dataset: Talmor et al. 2019, CommonsenseQA (NAACL).
"""
from pathlib import Path

from repro.errors import DataError
from repro.readers import hub_load, read_jsonl, require
from repro.tasks.base import Task, register

LETTERS = ["A", "B", "C", "D", "E"]


def _example(qid, stem, letters, texts, answer, path=None, line=None) -> dict:
    where = path if path is not None else "tau/commonsense_qa"
    if sorted(letters) != LETTERS:
        raise DataError(where, f"expected choices labelled {LETTERS}, got {list(letters)}", line)
    if answer not in LETTERS:
        raise DataError(where, f"unknown answerKey {answer!r} (expected one of {LETTERS})", line)
    by_letter = dict(zip(letters, texts))
    return {"id": str(qid), "context": stem, "choices": [by_letter[k] for k in LETTERS], "label": LETTERS.index(answer)}


@register
class CommonsenseQA(Task):
    name = folder = "commonsenseqa"
    role, head, metric = "intermediate", "multiple_choice", "accuracy"
    splits = ("train", "dev")
    hub_id = "tau/commonsense_qa"

    def read_local(self, source, split, lang):
        path = Path(source.root) / self.folder / f"{split}_rand_split.jsonl"
        for line, r in read_jsonl(path):
            require(r, ("id", "question", "answerKey"), path, line)
            q = r["question"]
            if not isinstance(q, dict) or "stem" not in q or not isinstance(q.get("choices"), list):
                raise DataError(path, "'question' must be an object with 'stem' and a 'choices' list", line)
            for c in q["choices"]:
                if not isinstance(c, dict) or "label" not in c or "text" not in c:
                    raise DataError(path, "each choice needs 'label' and 'text'", line)
            yield _example(r["id"], q["stem"], [c["label"] for c in q["choices"]], [c["text"] for c in q["choices"]],
                           r["answerKey"], path, line)

    def read_hub(self, source, split, lang):
        for r in hub_load(source, self.hub_id, None, split):
            yield _example(r["id"], r["question"], r["choices"]["label"], r["choices"]["text"], r["answerKey"])
