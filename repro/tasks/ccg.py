r"""CCG supertagging (intermediate): one CCG lexical category per token of CCGbank (Hockenmaier & Steedman
2007); tagging head; token accuracy (jiant's CCGEvaluationScheme).

CCGbank is licensed (LDC2005T13), so there is no hub copy and no downloader (jiant has none either): supply
it as local files, also when every other task comes from the hub (set [data.task.ccg] source = "local" and
dir = their root, or data.dir):

    <data.dir>/ccg/ccg.train
    <data.dir>/ccg/ccg.dev

File format (the one jiant's `ccg` task reads, jiant/tasks/lib/ccg.py): UTF-8 text, one sentence per
line: the sentence's tokens separated by single spaces, then one TAB, then the supertags separated by single
spaces, exactly one supertag per token. Blank lines are ignored. Example line (<TAB> is a tab character):

    Pierre Vinken will join the board .<TAB>N/N N (S[dcl]\NP)/(S[b]\NP) (S[b]\NP)/NP NP[nb]/N N .

Label set: not fixed in advance (jiant ships a 1,363-entry tags_to_id.json with its own preprocessing):
it is every supertag of the training split, sorted, plus one reserved label for supertags that occur
only in dev. The intermediate phase builds it from the prepared training examples with `bind`; a dev tag
outside it is featurised as the reserved label (never a training target) but scored against its real tag,
so a token with an unseen gold supertag always counts as an error.

Dataset: Hockenmaier & Steedman 2007, CCGbank (Computational Linguistics 33(3)).
"""
from __future__ import annotations

import copy
from collections import Counter
from pathlib import Path

from repro.errors import DataError, ReproError
from repro.readers import decoded_lines
from repro.tasks.base import DataSource, Task, register

UNSEEN = "<unseen>"  # reserved label: a supertag the training split does not contain


@register
class CCG(Task):
    name = folder = "ccg"
    role, head, metric = "intermediate", "tagging", "token_accuracy"
    labels = None              # from the data: see bind()
    labels_from_data = True
    splits = ("train", "dev")

    def file_metric(self, predictions, gold, lang):
        """Token accuracy over all supertags (jiant's CCGEvaluationScheme)."""
        pairs = [(p, g) for ps, gs in zip(predictions, gold) for p, g in zip(ps, gs)]
        return {"token_accuracy": 100 * sum(p == g for p, g in pairs) / max(len(pairs), 1)}
    hub_refusal = ("CCGbank (LDC2005T13) is licensed and not on the Hugging Face hub; supply ccg/ccg.train and "
                   "ccg/ccg.dev (tokens TAB supertags, one sentence per line; see repro/tasks/ccg.py)")

    def source_problem(self, source):
        # A hub run that has CCGbank under data.dir reads it from there (the one task without a hub copy).
        if source.kind == "hub" and source.root is not None and (Path(source.root) / self.folder).is_dir():
            return None
        return super().source_problem(source)

    def source_key(self, source):
        # Always local files, even in a hub run; a hub run without them is refused when the plan is built
        # (source_problem), so {"local_files": None} only keys a task object used outside a plan.
        if not source.local and (source.root is None or not (Path(source.root) / self.folder).is_dir()):
            return {"local_files": None}
        return super().source_key(DataSource("local", source.root))

    def read_hub(self, source, split, lang):
        # A hub run reads CCGbank from data.dir when it is set: the one task without a hub copy.
        if source.root is None or not (Path(source.root) / self.folder).is_dir():
            raise ReproError(self._where_message())
        return self.read_local(source, split, lang)

    def read_local(self, source, split, lang):
        path = Path(source.root) / self.folder / f"ccg.{split}"
        if not path.is_file():
            raise DataError(path, "file not found (CCGbank must be supplied locally; format in repro/tasks/ccg.py)")
        sentences = 0
        for lineno, line in decoded_lines(path):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            fields = line.split("\t")
            if len(fields) != 2:
                raise DataError(path, f"expected tokens, one TAB, supertags; got {len(fields)} tab-separated fields", lineno)
            tokens, tags = fields[0].split(), fields[1].split()
            if not tokens:
                raise DataError(path, "no tokens before the TAB", lineno)
            if len(tokens) != len(tags):
                raise DataError(path, f"{len(tokens)} tokens but {len(tags)} supertags", lineno)
            sentences += 1
            yield {"id": f"ccg-{split}-{lineno}", "tokens": tokens, "tags": tags}
        if not sentences:
            raise DataError(path, "no sentences: the file is empty")

    def _where_message(self) -> str:
        return ("CCGbank (LDC2005T13) is licensed and not on the Hugging Face hub: supply it locally as "
                "<data.dir>/ccg/ccg.train and <data.dir>/ccg/ccg.dev (tokens TAB supertags, one sentence per line; "
                "see repro/tasks/ccg.py) and set data.dir, or leave ccg out of intermediate.tasks")

    # ---- the label set comes from the training data ----

    def bind(self, train_examples: list[dict]) -> CCG:
        """A copy of this task whose label set is the training split's supertags (+ the reserved label);
        its default tag (for a word without sub-tokens) is the most frequent training supertag."""
        counts = Counter(tag for ex in train_examples for tag in ex["tags"])
        if not counts:
            raise ReproError("ccg: the training split has no supertags; cannot build the label set")
        bound = copy.copy(self)
        bound.labels = sorted(counts) + [UNSEEN]
        bound.default_tag = min(counts, key=lambda t: (-counts[t], t))
        return bound

    def encodable(self, examples: list[dict]) -> list[dict]:
        """Examples whose supertags are all in the label set (unseen ones -> the reserved label), for
        featurisation only; scores are computed against the original examples."""
        known = set(self.labels)
        return [{**ex, "tags": [t if t in known else UNSEEN for t in ex["tags"]]} if ex.get("tags") else ex
                for ex in examples]
