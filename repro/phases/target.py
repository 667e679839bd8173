"""Phase `target`: for one (encoder, XTREME target) cell, either train on the target's English data
and predict every language zero-shot (checkpoint chosen on English dev), or, for the retrieval tasks,
embed and retrieve straight from the encoder. Predictions are written in XTREME's layout
(predictions/<split>/<task>/test-<lang>.<ext>), so the official-format scorer reads them."""
from __future__ import annotations

import shutil

from repro.atomic import write_json
from repro.engine import Stage
from repro.heads import get_head
from repro.modeling import MultiHeadModel, load_tokenizer, pick_device
from repro.phases.analyze import keep_cka_features
from repro.phases.common import (examples_path, first_n, head_settings, prepared_languages, read_examples,
                                 schedule_settings, set_seed)
from repro.phases.retrieve import retrieval_stage
from repro.report import report_dir
from repro.settings.analysis import Analysis, Retrieval
from repro.settings.phases import Target
from repro.settings.run import Model, Run
from repro.tasks import get_task
from repro.training import TaskData, key_options, run_options, train


def target_stage(tgt: Target, run_s: Run, model_s: Model, retrieval: Retrieval, analysis: Analysis,
                 encoder_name: str, encoder: Stage, target: str, seed: int, prepared: Stage) -> Stage:
    """tgt: [target]; run_s, model_s: what training reads of [run] and [model]; retrieval: for the
    retrieval targets; analysis: M5's probe settings (a baseline cell keeps its probe features)."""
    task = get_task(target)
    if not task.head_impl.trainable:  # retrieval: scored straight from the encoder
        return retrieval_stage(retrieval, model_s.reference_num_layers, run_s, tgt.splits, encoder_name, encoder,
                               task, seed, prepared)
    full = tgt.settings(target)
    s = {**schedule_settings(full), **head_settings(full, task)}  # exactly what the cell reads
    inputs = {"task": target, "settings": s, "seed": seed, "splits": tgt.splits,
           "checkpoint_every": run_s.checkpoint_every, "keep_model": tgt.keep_models,
           "deterministic": run_s.deterministic, **key_options(run_s, model_s)}
    keep_cka = encoder_name == "baseline" and analysis.cka_probes > 0  # M5 of the analyze phase
    if keep_cka:  # keyed only when on, so turning M5 off leaves every cell's key as it was
        inputs["cka"] = {k: getattr(analysis, k) for k in ("cka_probes", "seed", "max_seq_length", "batch_size")}

    def run(ctx):
        set_seed(seed, run_s.deterministic, run_s.num_threads)
        device = pick_device(run_s.device)
        encoder_dir = ctx.dep(encoder.id) / "encoder"
        tokenizer = load_tokenizer(encoder_dir)
        head = get_head(task.head)
        model = MultiHeadModel.build(encoder_dir, [task], seed)  # only the encoder is carried over
        prep = ctx.dep(prepared.id)
        train_ex = first_n(read_examples(examples_path(prep, "train", task.train_language)), s["max_train_examples"])
        features = head.featurize(task, train_ex, tokenizer, s, train=True)
        select_path = examples_path(prep, "select", task.train_language)
        english_dev = None
        if select_path.is_file():  # XTREME/jiant: checkpoints are selected on English dev only
            dev_ex = first_n(read_examples(select_path), s["max_eval_examples"])
            dev_feats = head.featurize(task, dev_ex, tokenizer, s, train=False)

            def english_dev(m) -> float:
                preds = head.predict(task, m.heads[task.name], dev_ex, dev_feats, s, tokenizer.pad_token_id, device)
                return head.score(task, dev_ex, preds)[task.metric]

        summary = train(model, [TaskData(task.name, head, features)], s, ctx.work, seed=seed,
                        pad_id=tokenizer.pad_token_id, device=device,
                        checkpoint_every=run_s.checkpoint_every, evaluate=english_dev,
                        log_every=run_s.log_every, tag=ctx.stage.id, report_dir=report_dir(run_s.report_to, ctx),
                        **run_options(run_s, model_s))
        counts = {}
        for split in tgt.splits:
            for lang in prepared_languages(prep, split):
                examples = read_examples(examples_path(prep, split, lang))
                feats = head.featurize(task, examples, tokenizer, s, train=False)
                preds = head.predict(task, model.heads[task.name], examples, feats, s, tokenizer.pad_token_id, device, lang)
                head.write_predictions(ctx.out / "predictions" / split / target / f"test-{lang}.{head.ext}", examples, preds)
                counts[f"{split}-{lang}"] = len(examples)
        if keep_cka:
            keep_cka_features(ctx.out, model.encoder, tokenizer, prep, analysis, device)
        if tgt.keep_models:  # the whole target model (encoder + head), safetensors
            model.heads[task.name].save_pretrained(ctx.out / "model", safe_serialization=True)
            tokenizer.save_pretrained(ctx.out / "model")
        write_json(ctx.out / "training.json", summary)
        shutil.rmtree(ctx.work / "checkpoint", ignore_errors=True)
        return {"seed": seed, "training": {k: v for k, v in summary.items() if k != "eval_history"},
                "predicted": counts}

    return Stage("target", f"{encoder_name}__{target}-s{seed}", inputs, run, [encoder, prepared],
                 describe=f"{target} from {encoder.id}: lr {s['lr']}, batch {s['batch_size']}x{s['grad_accum']}, "
                          f"epochs {s['epochs']}, max_len {s['max_seq_length']}, seed {seed}; select on en dev")
