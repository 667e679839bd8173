"""Phase `intermediate`: fine-tune the pretrained encoder on one English intermediate task, or on all
of them at once (one shared encoder, one head per task, batches sampled by dataset size). The encoder
alone goes on to the target phase; each task's own dev score is recorded as a sanity check."""
from __future__ import annotations

from repro.atomic import write_json
from repro.config import task_settings
from repro.engine import Stage
from repro.heads import get_head
from repro.modeling import MultiHeadModel, load_tokenizer, pick_device, save_encoder
from repro.phases.common import cap, examples_path, read_examples, set_seed
from repro.tasks import get_task
from repro.training import TaskData, train


def stage_settings(config: dict, task: str) -> dict:
    s = task_settings(config, "intermediate", task)
    if task == "squad":
        s["squad_version"] = config["intermediate"]["squad_version"]
    return s


def intermediate_stage(config: dict, name: str, tasks: list[str], seed: int, pretrained: Stage,
                       prepared: dict[str, Stage]) -> Stage:
    settings = {t: stage_settings(config, t) for t in tasks}
    # The optimiser schedule of a multi-task stage comes from [intermediate.task.multitask] (or the
    # defaults); each task's own settings still decide its featurisation (lengths, strides).
    shared = stage_settings(config, name)
    inter = config["intermediate"]
    key = {"tasks": tasks, "settings": settings, "schedule": shared, "seed": seed, "sampling": inter["sampling"],
           "temperature": inter["sampling_temperature"], "checkpoint_every": config["run"]["checkpoint_every"],
           "deterministic": config["run"]["deterministic"]}

    def run(ctx):
        set_seed(seed, config["run"]["deterministic"], config["run"]["num_threads"])
        device = pick_device(config["run"]["device"])
        encoder_dir = ctx.dep(pretrained.id) / "encoder"
        tokenizer = load_tokenizer(encoder_dir)
        task_objs = [get_task(t) for t in tasks]
        model = MultiHeadModel.build(encoder_dir, task_objs, seed)
        data, dev = [], {}
        for task in task_objs:
            s, head = settings[task.name], get_head(task.head)
            prepared_dir = ctx.dep(f"prepare/{task.name}")
            train_ex = cap(read_examples(examples_path(prepared_dir, "train", "en")), s["max_train_examples"])
            data.append(TaskData(task.name, head, head.featurize(task, train_ex, tokenizer, s, train=True)))
            dev_ex = cap(read_examples(examples_path(prepared_dir, "dev", "en")), s["max_eval_examples"])
            dev[task.name] = (dev_ex, head.featurize(task, dev_ex, tokenizer, s, train=False))
        summary = train(model, data, shared, ctx.work, seed=seed, pad_id=tokenizer.pad_token_id, device=device,
                        checkpoint_every=config["run"]["checkpoint_every"], sampling=inter["sampling"],
                        temperature=inter["sampling_temperature"], log_every=config["run"]["log_every"], tag=ctx.stage.id)
        metrics = {}
        for task in task_objs:
            head, (dev_ex, dev_feats) = get_head(task.head), dev[task.name]
            preds = head.predict(task, model.heads[task.name], dev_ex, dev_feats, settings[task.name],
                                 tokenizer.pad_token_id, device)
            metrics[task.name] = head.score(task, dev_ex, preds)
            metrics[task.name]["headline"] = task.metric
        save_encoder(model, tokenizer, ctx.out / "encoder")
        write_json(ctx.out / "metrics.json", {"dev": metrics, "training": summary})
        return {"seed": seed, "dev_metrics": metrics, "training": {k: v for k, v in summary.items() if k != "eval_history"}}

    deps = [pretrained, *(prepared[t] for t in tasks)]
    s0 = shared
    return Stage("intermediate", f"{name}-s{seed}", key, run, deps,
                 describe=f"train {'+'.join(tasks)} from {pretrained.id}: lr {s0['lr']}, batch {s0['batch_size']}x"
                          f"{s0['grad_accum']}, epochs {s0['epochs']}, max_len {s0['max_seq_length']}, seed {seed}")
