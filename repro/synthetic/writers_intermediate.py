"""Smoke-world writers for the intermediate tasks, in their datasets' original formats."""
from __future__ import annotations

import json

from repro.atomic import write_text
from repro.synthetic import world as W
from repro.synthetic.generate import Spec, writer


@writer("mnli")
def _mnli(spec: Spec):
    """MultiNLI 1.0 JSON lines (multinli_1.0_{train,dev_matched}.jsonl)."""
    d = spec.root / "mnli"
    for split, n in (("train", spec.train_size), ("dev_matched", spec.eval_size)):
        rng = spec.rng("mnli", split)
        lines = []
        for k in range(n):
            p, h, y = W.nli_pair(rng)
            lines.append(json.dumps({"pairID": f"{k}e", "promptID": k, "genre": "fiction", "gold_label": y,
                                     "annotator_labels": [y], "sentence1": W.text(p), "sentence2": W.text(h)}))
        write_text(d / f"multinli_1.0_{split}.jsonl", "\n".join(lines) + "\n")
