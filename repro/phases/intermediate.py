"""Phase `intermediate`: fine-tune the pretrained encoder on one English intermediate task, or on all
of them at once (one shared encoder, one head per task, batches sampled by dataset size or with a
temperature). The encoder alone goes on to the target phase; each task's own dev score is recorded in
the stage manifest (`dev_metrics`) as a sanity check.

The paper's two alternatives, which it reports as not better than plain English intermediate training:
- `intermediate.mlm_text` (a multilingual plain-text file): masked language modelling continues during
  intermediate training, as one more task ("mlm", repro/heads/mlm.py) of the multi-task sampler whose
  MLM head shares the encoder. Its held-out perplexity goes to the manifest's `mlm_metrics`.
- `intermediate.translated_dir` (machine-translated intermediate data, laid out and formatted as the
  local English files): every intermediate task trains on the translated training split, read by a
  prepare stage of its own (`prepare/<task>-translated`, keyed by those files' content); dev stays the
  English dev set.
"""
from __future__ import annotations

import functools
from pathlib import Path

from repro.atomic import sha256_file, write_json
from repro.engine import Stage
from repro.errors import ConfigError, DataError
from repro.heads import get_head
from repro.heads.mlm import attach_to_encoder
from repro.modeling import MultiHeadModel, load_tokenizer, pick_device, resolve_model, save_encoder
from repro.phases.common import (examples_path, first_n, head_settings, read_examples, schedule_settings, set_seed,
                                 write_examples)
from repro.settings.phases import Intermediate
from repro.settings.run import Model, Run
from repro.sources import task_options
from repro.tasks import REGISTRY, DataSource, get_task
from repro.tasks.mlm_text import MLMText, read_text, split_heldout
from repro.report import Reporter, report_dir
from repro.training import TaskData, key_options, run_options, train

TRANSLATED_LANG = "mt"  # language tag of the translated training examples in their prepare stage


def stage_settings(inter: Intermediate, name: str) -> dict:
    """The task's hyperparameters plus the options it declares (e.g. squad_version, which also decides
    whether the span head may predict "no answer")."""
    s = inter.settings(name)
    if name in REGISTRY:
        s.update(task_options(inter, REGISTRY[name]))
    return s


def translated_stage(inter: Intermediate, name: str) -> Stage:
    """Reads one task's machine-translated training split from intermediate.translated_dir."""
    task = get_task(name)
    root = Path(inter.translated_dir)
    source = DataSource("local", root, None, task_options(inter, task))
    try:
        data = task.source_key(source)
    except DataError as e:
        raise ConfigError(f"intermediate.translated_dir: no translated data for task {name!r} ({e})") from None
    inputs = {"task": name, "translated": data, "options": source.options}

    def run(ctx):
        examples = task.read(source, "train", TRANSLATED_LANG)
        write_examples(examples_path(ctx.out, "train", TRANSLATED_LANG), examples)
        write_json(ctx.out / "info.json", {"task": name, "translated_from": str(root),
                                           "counts": {f"train-{TRANSLATED_LANG}": len(examples)}})
        return {"counts": {f"train-{TRANSLATED_LANG}": len(examples)}}

    return Stage("prepare", f"{name}-translated", inputs, run, [], versions=("datasets",),
                 describe=f"{name}: read the machine-translated training split under {root}/{task.folder or name}")


def mlm_settings(inter: Intermediate, seed: int) -> dict | None:
    """Featurisation settings of the MLM task ([intermediate.task.mlm] over the defaults), or None."""
    path = inter.mlm_text
    if not path:
        return None
    if not Path(path).is_file():
        raise ConfigError(f"intermediate.mlm_text: {path}: file not found")
    s = inter.settings("mlm")
    s["mlm_seed"] = seed           # the masks are a function of the stage's seed
    stat = Path(path).stat()
    s["text_sha256"] = _content_hash(str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size)
    return s


@functools.lru_cache(maxsize=8)
def _content_hash(path: str, mtime_ns: int, size: int) -> str:
    """The text's hash, once per plan however many stages read it (a changed file has a new mtime/size)."""
    return sha256_file(Path(path))


def mlm_data(path: str, s: dict, tokenizer) -> tuple[TaskData, tuple[list[dict], list[dict]]]:
    """The MLM task's training data and its held-out (examples, features), masked at featurisation."""
    head = get_head("mlm")
    train_lines, dev_lines = split_heldout(read_text(path))
    train_ex = [{"id": f"mlm-{i}", "text": t} for i, t in enumerate(first_n(train_lines, s["max_train_examples"]))]
    dev_ex = [{"id": f"mlm-heldout-{i}", "text": t} for i, t in enumerate(first_n(dev_lines, s["max_eval_examples"]))]
    train_data = TaskData(MLMText.name, head, head.featurize(MLMText(), train_ex, tokenizer, s, train=True))
    return train_data, (dev_ex, head.featurize(MLMText(), dev_ex, tokenizer, s, train=False))


def intermediate_stage(inter: Intermediate, run_s: Run, model_s: Model, name: str, tasks: list[str], seed: int,
                       pretrained: Stage, prepared: dict[str, Stage]) -> Stage:
    """inter: [intermediate]; run_s, model_s: the [run] and [model] keys training reads."""
    # Each task's own settings decide its featurisation (lengths, strides); the optimiser schedule of a
    # multi-task stage comes from [intermediate.task.multitask] (or the defaults). Only what each part
    # reads enters the key: a task's learning rate does not retrain the multi-task stage.
    settings = {t: head_settings(stage_settings(inter, t), get_task(t)) for t in tasks}
    shared = schedule_settings(stage_settings(inter, name))
    mlm = mlm_settings(inter, seed)
    translated = {t: translated_stage(inter, t) for t in tasks} if inter.translated_dir else {}
    inputs = {"tasks": tasks, "settings": settings, "schedule": shared, "seed": seed, "sampling": inter.sampling,
           "temperature": inter.sampling_temperature, "checkpoint_every": run_s.checkpoint_every,
           "deterministic": run_s.deterministic, **key_options(run_s, model_s)}
    if mlm:  # the alternatives enter the key only when used: default stages keep their keys
        inputs["mlm"] = mlm
    if translated:  # the translated files' content is in the key of the translated prepare stages (deps)
        inputs["translated"] = True

    def run(ctx):
        set_seed(seed, run_s.deterministic, run_s.num_threads)
        device = pick_device(run_s.device)
        encoder_dir = ctx.dep(pretrained.id) / "encoder"
        tokenizer = load_tokenizer(encoder_dir)
        task_objs, data, dev = [], [], {}
        for task_name in tasks:
            task, s = get_task(task_name), settings[task_name]
            head = get_head(task.head)
            prepared_dir = ctx.dep(f"prepare/{task_name}")
            if translated:
                train_path = examples_path(ctx.dep(f"prepare/{task_name}-translated"), "train", TRANSLATED_LANG)
            else:
                train_path = examples_path(prepared_dir, "train", "en")
            full_train = read_examples(train_path)
            # CCG: the label set is the (whole) training split's; dev tags outside it are featurised
            # as a reserved label but scored against their real tag.
            task = task.bind(full_train)
            if task.labels_from_data:
                write_json(ctx.out / "labels" / f"{task_name}.json", {"labels": task.labels, "default_tag": task.default_tag})
            train_ex = first_n(full_train, s["max_train_examples"])
            data.append(TaskData(task_name, head, head.featurize(task, train_ex, tokenizer, s, train=True)))
            dev_ex = first_n(read_examples(examples_path(prepared_dir, "dev", "en")), s["max_eval_examples"])
            dev[task_name] = (dev_ex, head.featurize(task, task.encodable(dev_ex), tokenizer, s, train=False))
            task_objs.append(task)
        if mlm:
            mlm_train, mlm_dev = mlm_data(inter.mlm_text, mlm, tokenizer)
            data.append(mlm_train)
            task_objs.append(MLMText())
        # Heads are built after the data is read: a label set may come from the data (CCG). The MLM
        # task is last, so adding it changes neither another head's initialisation nor its data order.
        model = MultiHeadModel.build(encoder_dir, task_objs, seed)
        lm_head = None
        if mlm:
            lm_head = attach_to_encoder(model.heads["mlm"], resolve_model(model_s.name), model_s.revision)
        summary = train(model, data, shared, ctx.work, seed=seed, pad_id=tokenizer.pad_token_id, device=device,
                        checkpoint_every=run_s.checkpoint_every, sampling=inter.sampling,
                        temperature=inter.sampling_temperature, log_every=run_s.log_every, tag=ctx.stage.id,
                        report_dir=report_dir(run_s.report_to, ctx), **run_options(run_s, model_s))
        metrics = {}
        for task in task_objs:
            if task.name not in dev:
                continue
            head, (dev_ex, dev_feats) = get_head(task.head), dev[task.name]
            preds = head.predict(task, model.heads[task.name], dev_ex, dev_feats, settings[task.name],
                                 tokenizer.pad_token_id, device)
            metrics[task.name] = head.score(task, dev_ex, preds)
            metrics[task.name]["headline"] = task.metric
        report = Reporter(report_dir(run_s.report_to, ctx))
        for name, scores in metrics.items():  # the final weights' dev scores, at the last step
            report.scalar(f"dev/{name}", scores[scores["headline"]], summary["steps"])
        report.close()
        extra = {}
        if mlm:
            mlm_head, (dev_ex, dev_feats) = get_head("mlm"), mlm_dev
            preds = mlm_head.predict(MLMText(), model.heads["mlm"], dev_ex, dev_feats, mlm, tokenizer.pad_token_id, device)
            extra["mlm_metrics"] = {**(mlm_head.score(MLMText(), dev_ex, preds) if dev_feats else {}), "lm_head": lm_head,
                                    "train_examples": len(mlm_train.features), "heldout_examples": len(dev_ex)}
        save_encoder(model, tokenizer, ctx.out / "encoder")
        write_json(ctx.out / "metrics.json", {"dev": metrics, "training": summary, **extra})
        return {"seed": seed, "dev_metrics": metrics, **extra,
                "training": {k: v for k, v in summary.items() if k != "eval_history"}}

    deps = [pretrained, *(prepared[t] for t in tasks), *translated.values()]
    described = stage_settings(inter, name)
    extras = (" + MLM on " + inter.mlm_text if mlm else "") + (" (translated training data)" if translated else "")
    return Stage("intermediate", f"{name}-s{seed}", inputs, run, deps,
                 describe=f"train {'+'.join(tasks)}{extras} from {pretrained.id}: lr {described['lr']}, batch {described['batch_size']}x"
                          f"{described['grad_accum']}, epochs {described['epochs']}, max_len {described['max_seq_length']}, seed {seed}")
