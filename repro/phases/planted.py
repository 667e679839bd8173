"""Stage analyze/planted (with analysis.planted = true; the smoke profile sets it): the known-answer
check. It builds the planted-distance world (repro/synthetic/planted.py) on the pretrained encoder's
vocabulary, trains one intermediate model per planted distance, fine-tunes the target from the
baseline and from each intermediate encoder, and computes the measures the way the analyze phase does
(M1 on the tokenizer, M2 and M3 on the pretrained encoder, M4 as ΔLogME on each intermediate encoder).
It writes planted.json: distances, gains and measures, which repro.analysis.known_answer turns into the
report's known-answer section."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from repro.analysis import measures as ms
from repro.atomic import write_json
from repro.engine import Stage
from repro.heads import get_head
from repro.modeling import MultiHeadModel, load_encoder, load_tokenizer, save_encoder
from repro.phases.common import set_seed
from repro.settings.analysis import Analysis
from repro.settings.run import Run
from repro.synthetic import planted
from repro.training import TaskData, train

DISTANCES = [0.0, 0.25, 0.5, 0.75, 1.0]
# 32 target examples (16 positives over 8 cues) are too few to learn the rule from scratch (the baseline
# stays near chance) and enough to train a head on an encoder that already tells the cues; each
# intermediate task is learned in full, so what it carries over is its rule.
SIZES = {"intermediate_examples": 600, "target_train": 32, "target_test": 400, "measure_examples": 160}
# over the profile's target defaults (the schedule's remaining keys)
TARGET = {"lr": 1e-3, "batch_size": 8, "epochs": 6.0, "max_seq_length": 32, "eval_every": 0}
INTERMEDIATE = dict(TARGET, epochs=4.0, batch_size=16)


def settings(defaults: dict) -> tuple[dict, dict]:
    """(target, intermediate) training settings: the planted schedule over a profile's target defaults."""
    return dict(defaults, **TARGET), dict(defaults, **INTERMEDIATE)


def experiment(encoder_dir: Path, work: Path, defaults: dict, *, seed: int = 0, distances=DISTANCES, sizes=SIZES,
               fisher_head_steps: int = 50, device="cpu") -> dict:
    """Gains (accuracy points over the baseline) and measures of the planted sources, plain lists.
    defaults: a profile's target.defaults (the training keys the planted schedule does not set)."""
    target_s, inter_s = settings(defaults)
    task, head, tok = planted.PlantedTask(), get_head("classification"), load_tokenizer(encoder_dir)
    # words the tokenizer keeps whole: a cue is one token, as a real word is for a real model
    world = planted.build_world(list(distances), seed=seed, vocabulary=planted.whole_words(tok))
    tgt_train = planted.target_examples(world, sizes["target_train"], seed, "train")
    tgt_test = planted.target_examples(world, sizes["target_test"], seed, "test")

    def fit(enc, examples, tag, s):
        set_seed(seed)
        model = MultiHeadModel.build(enc, [task], seed)
        train(model, [TaskData(task.name, head, head.featurize(task, examples, tok, s, train=True))], s,
              work / tag, seed=seed, pad_id=tok.pad_token_id, device=device, checkpoint_every=10_000,
              log=lambda *a: None)
        return model

    def accuracy(enc, tag) -> float:
        model = fit(enc, tgt_train, tag, target_s)
        feats = head.featurize(task, tgt_test, tok, target_s, train=False)
        preds = head.predict(task, model.heads[task.name], tgt_test, feats, target_s, tok.pad_token_id, device)
        return float(head.score(task, tgt_test, preds)["accuracy"])

    n = sizes["measure_examples"]
    probe = planted.target_examples(world, n, seed, "probe")
    probe_seqs = ms.encode_inputs(probe, tok, target_s["max_seq_length"])
    probe_labels = np.array([ex["label"] for ex in probe])

    def logme_of(enc_dir) -> float:
        model = load_encoder(enc_dir).to(device)
        layer = model.config.num_hidden_layers
        x = ms.pooled_features(model, probe_seqs, tok.pad_token_id, [layer], device=device)[layer]
        return ms.logme(x, probe_labels)

    base = accuracy(encoder_dir, "baseline")
    base_logme = logme_of(encoder_dir)
    gains, m4 = [], []
    inter_sets = [planted.intermediate_examples(world, k, sizes["intermediate_examples"], seed)
                  for k in range(len(distances))]
    for k, examples in enumerate(inter_sets):
        model = fit(encoder_dir, examples, f"inter{k}", inter_s)
        save_encoder(model, tok, work / f"enc{k}")
        del model
        gains.append(accuracy(work / f"enc{k}", f"target{k}") - base)
        m4.append(logme_of(work / f"enc{k}") - base_logme)

    # M1, M2, M3 from the pretrained encoder, on n examples per task (as the analyze phase's stages)
    samples = {"target": planted.target_examples(world, n, seed, "train")}
    samples.update({k: ex[:n] for k, ex in enumerate(inter_sets)})
    texts = lambda exs: [t for ex in exs for t in ms.example_texts(ex)]
    counts = {key: ms.token_counts(texts(exs), tok) for key, exs in samples.items()}
    encoder = load_encoder(encoder_dir).to(device)
    layer = encoder.config.num_hidden_layers
    means, fisher = {}, {}
    for key, exs in samples.items():
        seqs = ms.encode_inputs(exs, tok, target_s["max_seq_length"])
        means[key] = ms.pooled_features(encoder, seqs, tok.pad_token_id, [layer], device=device)[layer].mean(0)
        fisher[key] = ms.fisher_embedding(encoder, seqs, np.array([ex["label"] for ex in exs]), tok.pad_token_id,
                                          fisher_head_steps, seed=seed, device=device)
    cos = ms.centred_cosines(means)
    unit = lambda v: v / np.linalg.norm(v)
    keys = range(len(distances))
    return {"distances": list(distances), "baseline": base, "gains": gains,
            "measures": {"M1": [ms.jaccard(set(counts["target"]), set(counts[k])) for k in keys],
                         "M2": [cos[("target", k)] for k in keys],
                         "M3": [float(unit(fisher["target"]) @ unit(fisher[k])) for k in keys],
                         "M4": m4},
            "details": dict(sizes), "seed": seed}


def planted_stage(a: Analysis, run_s: Run, target_defaults: dict, pretrained: Stage) -> Stage:
    """a: [analysis]; run_s: seeding of [run]; target_defaults: [target.defaults] as a table (the
    training keys the planted schedule does not set)."""

    def run(ctx):
        set_seed(a.seed, run_s.deterministic, run_s.num_threads)
        result = experiment(ctx.dep(pretrained.id) / "encoder", ctx.work, target_defaults, seed=a.seed,
                            fisher_head_steps=a.fisher_head_steps)
        write_json(ctx.out / "planted.json", result)

    target_s, inter_s = settings(target_defaults)
    key = {"distances": DISTANCES, "sizes": SIZES, "target": target_s, "intermediate": inter_s,
           "seed": a.seed, "fisher_head_steps": a.fisher_head_steps}
    return Stage("analyze", "planted", key, run, [pretrained],
                 describe=f"known-answer check: {len(DISTANCES)} planted intermediate tasks at known distances")
