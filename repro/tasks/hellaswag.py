"""HellaSwag (intermediate; Zellers et al. 2019, ACL): pick the ending of a context, 4-way multiple choice;
accuracy.

Local files: the release's hellaswag/hellaswag_{train,val}.jsonl, one JSON object per line with `ind`, `ctx_a`,
`ctx_b`, `ctx`, `endings` (4 strings) and `label` (int). Hub: Rowan/hellaswag (label as a string). As in
jiant's hellaswag task, the first segment is `ctx_a` and each choice is `ctx_b + " " + ending` (`ctx` is
`ctx_a` and `ctx_b` joined), so the second half of the context stays next to every ending it continues.

Dataset: Zellers et al. 2019, HellaSwag (ACL).
"""
from pathlib import Path

from repro.errors import DataError
from repro.readers import hub_load, read_jsonl, require
from repro.tasks.base import Task, register


def _example(r: dict, ident, where, line=None) -> dict:
    endings = r["endings"]
    if not isinstance(endings, list) or len(endings) != 4:
        raise DataError(where, "expected 'endings' to be a list of 4 strings", line)
    label = str(r["label"]).strip()
    if label not in ("0", "1", "2", "3"):
        raise DataError(where, f"unknown label {r['label']!r} (expected 0-3)", line)
    ctx_b = (r.get("ctx_b") or "").strip()
    return {"id": str(ident), "context": r["ctx_a"],
            "choices": [f"{ctx_b} {e}".strip() for e in endings], "label": int(label)}


@register
class HellaSwag(Task):
    name = folder = "hellaswag"
    role, head, metric = "intermediate", "multiple_choice", "accuracy"
    splits = ("train", "dev")
    hub_id = "Rowan/hellaswag"

    def read_local(self, source, split, lang):
        path = Path(source.root) / self.folder / f"hellaswag_{'train' if split == 'train' else 'val'}.jsonl"
        for line, r in read_jsonl(path):
            require(r, ("ctx_a", "ctx_b", "endings", "label"), path, line)
            yield _example(r, r.get("ind", f"{split}-{line}"), path, line)

    def read_hub(self, source, split, lang):
        for r in hub_load(source, self.hub_id, None, split):
            yield _example(r, r["ind"], self.hub_id)
