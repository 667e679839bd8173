"""What a task module declares, and the registry the phases look tasks up in.

A task is one small module with one `Task` subclass: where its data comes from (hub id/config, or
local files in the dataset's original format), its head, its metric, its languages and, for XTREME
targets, its group in the XTREME score. Every hook a phase may call is declared here with a default,
so phases call hooks and never ask for a task by name. Examples are plain dicts whose keys depend on
the head (see repro/heads/); hub and local readers both yield the same example dicts.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from repro.atomic import sha256_file
from repro.errors import DataError
from repro.heads import Head, get_head

REGISTRY: dict[str, "Task"] = {}


@dataclass
class DataSource:
    kind: str                  # "hub" | "local" | "synthetic" (synthetic = local files the smoke world wrote)
    root: Path | None = None   # local root: each task reads root/<task folder>/...
    cache_dir: str | None = None
    options: dict | None = None  # the task's option values from the config (its Task.config_options)
    streaming: bool = False      # hub: stream rows instead of downloading (check-data reads one row)

    @property
    def local(self) -> bool:
        return self.kind in ("local", "synthetic", "realtext")


class Task:
    # ---- identity ----
    name: str = ""
    role: str = ""             # "intermediate" | "target" | "auxiliary" (not registered: the MLM text)
    head: str = ""             # a key of repro.heads.HEADS
    # ---- labels and the dev metric ----
    labels: list[str] | None = None
    metric: str = ""           # the key of the head's dev scores that selects checkpoints and is reported
    labels_from_data = False   # the label set is the training split's (see bind)
    default_tag: str | None = None  # tagging: the tag of a word without sub-tokens (None: labels[0])
    # ---- languages and splits ----
    languages: tuple[str, ...] = ("en",)  # targets: in the order XTREME's scorer lists them
    train_language = "en"
    splits: tuple[str, ...] = ("train", "dev", "test")
    # The dev and test splits are the same questions (XQuAD, TyDiQA-GoldP, Tatoeba: jiant scores them as
    # "val"); gold for dev then also comes from the test-label folder when the files are stripped.
    dev_is_test = False
    required_splits: tuple[str, ...] = ()  # evaluated even when not in target.splits (BUCC: dev tunes test)
    parallel_dev = False       # dev sets are human translations of the same English items (XNLI, PAWS-X)
    # ---- XTREME scoring (targets) ----
    group: str | None = None   # XTREME group (classification, tagging, qa, retrieval); None: outside the score
    order: int = 100           # position in XTREME's task table: the order of tables and scorer output
    count_checked = True       # evaluate.py asserts as many prediction items as gold items
    # ---- data ----
    hub_id: str = ""
    folder: str = ""           # local folder name under the data root (default: the task name)
    # Other folders the same files are found in (an upstream release's own layout, e.g. sst2/SST-2),
    # tried in order when `folder` is absent.
    alt_folders: tuple[str, ...] = ()
    # [intermediate] config keys that shape this task's data or features, each declared here (name -> Option,
    # repro/settings/declare.py); they join [intermediate] and this task's stage keys.
    config_options: dict = {}
    # Why the hub cannot serve this task (no copy, or a copy that would give incomparable numbers);
    # non-empty = the task needs local files, checked when the plan is built.
    hub_refusal: str = ""
    # Checkpoint selection per protocol (config target.selection): the name of another task whose
    # English dev split selects this target's checkpoints; a protocol not listed = this task's own dev.
    selection_tasks: dict[str, str] = {}
    # ---- retrieval (targets with head "retrieval") ----
    retrieval_layer_key = "layer"  # which retrieval.* key names the layer this task reads
    # ---- analysis ----
    # M4, the encoder's fit to this target: "logme" (LogME of its labels on the encoder's features) or
    # "alignment" (the cross-lingual alignment margin, ΔA: retrieval has no labels, only parallel sentences).
    fit_measure = "logme"

    # ---- data hooks ----

    def source_problem(self, source: DataSource) -> str | None:
        """What stops this task's data from being read from `source` (None = nothing known)."""
        if source.kind == "hub":
            return self.hub_refusal or None
        if source.kind == "local":
            if source.root is None:
                return "no local folder is set"
            if not self.local_dir(source.root).is_dir():
                return f"{self.local_dir(source.root)}: data for task {self.name!r} not found"
        return None

    def local_dir(self, root) -> Path:
        """The task's folder under a local data root: `folder`, else the first of `alt_folders` present."""
        main = Path(root) / (self.folder or self.name)
        if main.is_dir():
            return main
        return next((Path(root) / alt for alt in self.alt_folders if (Path(root) / alt).is_dir()), main)

    def local_languages(self, folder: Path) -> list[str] | None:
        """The evaluation languages whose files lie in this task's local folder, from the file names
        (None: the task cannot tell, so its declared `languages` are used)."""
        return None

    def ordered(self, found: set[str]) -> list[str]:
        """Languages found in files: the task's known ones in its order, then any others sorted."""
        return [lang for lang in self.languages if lang in found] + sorted(found - set(self.languages))

    def cap_examples(self, examples: list[dict], n: int) -> list[dict]:
        """At most `n` evaluation items of one split and language (data.eval_cap): the first n. Retrieval
        tasks hold a whole set in one example and cap inside it."""
        return examples[:n] if n > 0 else examples

    def source_key(self, source: DataSource) -> dict:
        """What identifies this task's input data (goes into the prepare stage's key)."""
        if source.local:
            if source.root is None:  # no folder set: only a plan without the data check gets here
                return {"files": None}
            root = self.local_dir(source.root)
            if not root.exists():
                raise DataError(root, f"data for task {self.name!r} not found (see docs/data-layout.md)")
            return {"files": {str(p.relative_to(root)): sha256_file(p) for p in sorted(root.rglob("*")) if p.is_file()}}
        return {"hub_id": self.hub_id}

    def split_languages(self, split: str, languages) -> list[str]:
        """Languages that have this split (training is English only; some languages are test-only)."""
        if split == "train":
            return [self.train_language]
        return [lang for lang in languages if self.has_split(split, lang)]

    def has_split(self, split: str, lang: str) -> bool:
        return split in self.splits

    def read_selection(self, source: DataSource, lang: str) -> list[dict] | None:
        """English data for checkpoint selection during target training (XTREME/jiant: the English
        dev set of the training data); None = no selection, keep the final weights."""
        return self.read(source, "dev", lang)

    def read(self, source: DataSource, split: str, lang: str) -> list[dict]:
        reader = self.read_local if source.local else self.read_hub
        examples = list(reader(source, split, lang))
        for i, ex in enumerate(examples):
            ex.setdefault("id", f"{self.name}-{split}-{lang}-{i}")
        return examples

    def read_local(self, source: DataSource, split: str, lang: str) -> Iterator[dict]:
        raise NotImplementedError(f"task {self.name} has no local reader")

    def read_hub(self, source: DataSource, split: str, lang: str) -> Iterator[dict]:
        raise NotImplementedError(f"task {self.name} has no hub reader")

    def extra_sources(self, source: DataSource) -> list[Task]:
        """Other datasets whose training data this task's training split includes (ANLI + SNLI/MNLI)."""
        return []

    # ---- label and feature hooks ----

    def bind(self, train_examples: list[dict]) -> Task:
        """This task with what it learns from the training split (a label set, for labels_from_data)."""
        return self

    def encodable(self, examples: list[dict]) -> list[dict]:
        """Examples as the head can featurise them (e.g. unseen labels mapped to a reserved one);
        scores are still computed against the original examples."""
        return examples

    def allows_no_answer(self, settings: dict) -> bool:
        """Span QA: whether an empty answer is a valid prediction (SQuAD 2.0)."""
        return False

    def label_index(self, label, path, line) -> int:
        label = str(label).strip()
        if label not in self.labels:
            raise DataError(path, f"unknown label {label!r} for task {self.name} (expected one of {self.labels})", line)
        return self.labels.index(label)

    # ---- retrieval hook ----

    def retrieve(self, examples: list[dict], embed, settings: dict, split: str, lang: str, state: dict) -> list[str]:
        """Retrieval targets: prediction lines in XTREME's layout from sentence embeddings (`embed`:
        sentences -> array); `state` carries what one split leaves for the next (BUCC's dev threshold)."""
        raise NotImplementedError(f"task {self.name} is not a retrieval task")

    # ---- gold and scoring (one metric code for dev selection and for the XTREME scorer) ----

    @property
    def head_impl(self) -> Head:
        return get_head(self.head)

    @property
    def ext(self) -> str:
        """Extension of XTREME's prediction/label files for this task."""
        return self.head_impl.ext

    def write_gold(self, path, examples: list[dict]) -> bool:
        """Writes gold in XTREME's label layout if the examples carry it (test files often do not)."""
        if not examples or not has_gold(examples[0]):
            return False
        self.head_impl.write_labels(path, examples)
        return True

    def file_metric(self, predictions, gold, lang: str) -> dict[str, float]:
        """The metric dict of one language from what the head reads from XTREME's files."""
        return self.head_impl.file_metric(predictions, gold, lang)

    def score_files(self, prediction_file: str, label_file: str, lang: str) -> dict[str, float]:
        return self.head_impl.score_files(self, prediction_file, label_file, lang)

    def headline(self, metrics: dict) -> float:
        """The one number of a metric dict (per language, or averages with their `avg_` prefix)."""
        return self.head_impl.headline({k.removeprefix("avg_"): v for k, v in metrics.items()})


def has_gold(example: dict) -> bool:
    return bool(example.get("label") is not None or example.get("tags") or example.get("answers"))


def register(cls):
    """Class decorator of a task module: one instance of the task joins the registry."""
    task = cls()
    if not task.name or task.role not in ("intermediate", "target"):
        raise TypeError(f"{cls.__name__}: a registered task needs a name and role 'intermediate' or 'target'")
    REGISTRY[task.name] = task
    return cls
