"""Phase `prepare`: raw files (hub or local, or the smoke world's generated files) -> a normalised
example cache per task, split and language, plus the gold labels in XTREME's label layout."""
from __future__ import annotations

import shutil
from pathlib import Path

from repro.atomic import sha256_file, write_json
from repro.engine import Stage
from repro.phases.common import examples_path, write_examples
from repro.settings.data import Synthetic
from repro.settings.declare import as_table
from repro.sources import TaskSource
from repro.synthetic.generate import generate, has_writer
from repro.tasks import DataSource


# data.source values whose files one upstream stage writes (its id), read as local files.
GENERATED = {"synthetic": "prepare/synthetic-data", "realtext": "prepare/realtext-data"}


def synthetic_stage(syn: Synthetic, tasks: list[str]) -> Stage:
    names = sorted(t for t in tasks if has_writer(t))

    def run(ctx):
        written = generate(ctx.out / "data", names, syn.seed, syn.train_size, syn.eval_size, syn.languages)
        return {"seed": syn.seed, "tasks": written}

    return Stage("prepare", "synthetic-data", {"synthetic": as_table(syn), "tasks": names}, run, versions=(),
                 describe=f"generate the smoke world's files for {len(names)} tasks (seed {syn.seed})")


def prepare_stage(ts: TaskSource, target_splits: list[str], test_labels: Path | None, selector: TaskSource | None,
                  synthetic: Stage | None) -> Stage:
    """ts: the task's resolved source; target_splits: the splits the target phase predicts; selector: the
    task whose English dev selects this target's checkpoints (target.selection), if another."""
    task, source, languages, name = ts.task, ts.source, ts.languages, ts.name
    inputs = {"task": name, "source": source.kind, "languages": languages, "options": source.options}
    cap = ts.eval_cap
    if cap:  # keyed only when set, so uncapped profiles keep their keys
        inputs["eval_cap"] = cap
    splits = list(task.splits)
    if task.role == "target":  # only the splits the target phase predicts (and those it needs)
        wanted = {"train", *target_splits, *task.required_splits}
        splits = [sp for sp in task.splits if sp in wanted]
        if splits != list(task.splits):  # keyed only when narrowed: other profiles keep their keys
            inputs["splits"] = splits
    not_evaluated = ts.not_evaluated if task.role == "target" else []
    generated = GENERATED.get(source.kind)
    if not generated:  # generated data is keyed by its generating stage instead
        inputs["data"] = task.source_key(source)
    if test_labels and task.role == "target":
        inputs["test_labels"] = _label_hashes(test_labels / name)
    selection_task = selector.name if selector and task.role == "target" else None
    if selection_task:  # e.g. jiant: XNLI checkpoints selected on MNLI dev
        select_source = selector.source
        inputs["selection"] = {"task": selection_task, "source": select_source.kind,
                               "data": None if GENERATED.get(select_source.kind)
                               else selector.task.source_key(select_source)}

    def readable(ctx, src: DataSource) -> DataSource:
        """A generated source as the local files its generating stage wrote; others as they are."""
        if not GENERATED.get(src.kind):
            return src
        return DataSource(src.kind, ctx.dep(GENERATED[src.kind]) / "data", None, src.options)

    def run(ctx):
        src = readable(ctx, source)
        labels_root = src.root / "labels" if generated else test_labels
        counts, langs, missing = {}, {}, list(not_evaluated)
        for split in splits:
            for lang in task.split_languages(split, languages):
                examples = task.read(src, split, lang)
                if not examples and split != "train" and src.kind == "local":
                    missing.append(f"{lang} ({split}: no file)")  # e.g. a test-only treebank's dev
                    continue
                if split != "train":
                    examples = task.cap_examples(examples, cap)
                write_examples(examples_path(ctx.out, split, lang), examples)
                counts[f"{split}-{lang}"] = len(examples)
                langs.setdefault(split, []).append(lang)
        if task.role == "target" and task.head_impl.trainable:  # selection data for target training
            if selection_task:
                selection = selector.task.read(readable(ctx, select_source), "dev", task.train_language)
            else:
                selection = task.read_selection(src, task.train_language)
            if selection is not None:
                for i, ex in enumerate(selection):
                    ex.setdefault("id", f"{name}-select-{i}")
                write_examples(examples_path(ctx.out, "select", task.train_language), selection)
                counts[f"select-{task.train_language}"] = len(selection)
        if labels_root and (labels_root / name).is_dir() and task.role == "target":
            shutil.copytree(labels_root / name, ctx.out / "test-labels")
        write_json(ctx.out / "info.json", {"task": name, "languages": langs, "counts": counts,
                                           "not_evaluated": missing})
        return {"counts": counts, **({"not_evaluated": missing} if missing else {})}

    # The generating stage (smoke world or real text) writes this task's files, or its selection task's.
    deps = [synthetic] if synthetic is not None and (generated or selection_task) else []
    where = {"synthetic": "the smoke world", "realtext": "real text from Debian packages",
             "local": f"local files under {source.root}/{task.folder or name}",
             "hub": f"the hub ({task.hub_id or 'see task module'})"}[source.kind]
    return Stage("prepare", name, inputs, run, deps, versions=("datasets",),
                 describe=f"{name}: read {where}; languages {','.join(languages)}")


def _label_hashes(folder: Path) -> dict:
    return {p.name: sha256_file(p) for p in sorted(folder.glob("*"))} if folder.is_dir() else {}
