"""Intermediate training on the tiny model: every classification, multiple-choice and tagging task learns
its smoke-world data under the smoke profile's settings; the MLM and translated-data alternatives and
temperature sampling run through the real stage; the encoder the target phase starts from is exactly the
one the intermediate stage saved."""
from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from repro.config import load_config
from repro.engine import run_stages, stage_dir
from repro.errors import ConfigError
from repro.heads import get_head
from repro.heads.mlm import attach_to_encoder
from repro.tasks.mlm_text import MLMText, split_heldout
from repro.modeling import TINY_MODEL, MultiHeadModel, load_tokenizer, save_encoder
from repro.phases.common import examples_path, read_examples, set_seed
from repro.plan import build_plan
from repro.settings.profile import resolve
from repro.synthetic import world as W
from repro.synthetic.generate import generate
from repro.tasks import DataSource, get_task
from repro.training import Sampler, TaskData, train

CPU = torch.device("cpu")
SMOKE = load_config("smoke")


@pytest.fixture(scope="module")
def smoke_world(tmp_path_factory):
    """The smoke profile's intermediate data size (256 training examples), a 48-example dev set."""
    root = tmp_path_factory.mktemp("world")
    syn = SMOKE["synthetic"]
    generate(root, ["anli", "ccg", "commonsenseqa", "cosmosqa", "hellaswag", "qqp", "sst2"], syn["seed"],
             syn["train_size"], 48, ["en"])
    return root


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer(TINY_MODEL)


def multilingual_text(path: Path, n: int, seed: int = 0) -> Path:
    rng = random.Random(seed)
    path.write_text("".join(W.text(W.fact(rng).tokens(), rng.choice(["en", "xa", "xb"])) + "\n" for _ in range(n)))
    return path


# ------------------------------------------------------------------------------------------------ (i) learnability

# (task, metric, chance level in points)
LEARNABLE = [("anli", "accuracy", 100 / 3), ("qqp", "accuracy", 50.0), ("sst2", "accuracy", 50.0),
             ("commonsenseqa", "accuracy", 20.0), ("cosmosqa", "accuracy", 25.0), ("hellaswag", "accuracy", 25.0),
             ("ccg", "token_accuracy", None)]


@pytest.mark.parametrize("name,metric,chance", LEARNABLE, ids=[t[0] for t in LEARNABLE])
def test_task_is_learnable_under_smoke_settings(smoke_world, tokenizer, tmp_path, name, metric, chance):
    s = resolve(SMOKE).intermediate.settings(name)
    seed = SMOKE["run"]["seeds"][0]
    set_seed(seed, True, SMOKE["run"]["num_threads"])
    task, head = get_task(name), get_head(get_task(name).head)
    src = DataSource("synthetic", smoke_world)
    train_ex, dev_ex = task.read(src, "train", "en"), task.read(src, "dev", "en")
    if getattr(task, "labels_from_data", False):
        task = task.bind(train_ex)
        chance = 100 / (len(task.labels) - 1)
    model = MultiHeadModel.build(TINY_MODEL, [task], seed)
    features = head.featurize(task, train_ex, tokenizer, s, train=True)
    train(model, [TaskData(name, head, features)], s, tmp_path, seed=seed, pad_id=tokenizer.pad_token_id,
          device=CPU, checkpoint_every=10**9, log=lambda *a: None)
    dev_feats = head.featurize(task, dev_ex, tokenizer, s, train=False)
    score = head.score(task, dev_ex, head.predict(task, model.heads[name], dev_ex, dev_feats, s,
                                                  tokenizer.pad_token_id, CPU))[metric]
    assert score > chance + 15, f"{name}: dev {metric} {score:.1f} is not clearly above chance ({chance:.1f})"


# ------------------------------------------------------------------------------------------------ MLM pieces

def test_mlm_masks_are_seeded_bert_style_and_skip_special_tokens(tokenizer, tmp_path):
    head = get_head("mlm")
    lines = multilingual_text(tmp_path / "t.txt", 400).read_text().splitlines()
    ex = [{"id": str(i), "text": t} for i, t in enumerate(lines)]
    s = {"max_seq_length": 64, "mlm_seed": 3}
    a = head.featurize(MLMText(), ex, tokenizer, s, train=True)
    assert a == head.featurize(MLMText(), ex, tokenizer, s, train=True)  # same seed: same masks
    assert a != head.featurize(MLMText(), ex, tokenizer, {**s, "mlm_seed": 4}, train=True)
    special = set(tokenizer.all_special_ids) - {tokenizer.mask_token_id}
    chosen = kept = masked = 0
    for f, e in zip(a, ex):
        original = tokenizer(e["text"], truncation=True, max_length=64)["input_ids"]
        ordinary = [k for k, t in enumerate(original) if t not in special]
        picked = [k for k, y in enumerate(f["labels"]) if y != -100]
        assert len(picked) == max(1, round(0.15 * len(ordinary)))  # BERT's count rule
        assert all(original[k] not in special for k in picked)     # <s>, </s> never chosen
        assert all(f["input_ids"][k] == original[k] for k in range(len(original)) if k not in picked)
        assert all(f["labels"][k] == original[k] for k in picked)
        chosen += len(picked)
        masked += sum(f["input_ids"][k] == tokenizer.mask_token_id for k in picked)
        kept += sum(f["input_ids"][k] == original[k] for k in picked)
    # 80% <mask>, 10% random, 10% unchanged (a random draw may hit the original token: ~1/400 of them)
    assert abs(masked / chosen - 0.8) < 0.05 and abs(kept / chosen - 0.1) < 0.04, (masked / chosen, kept / chosen)


def test_mlm_heldout_split():
    assert split_heldout([str(i) for i in range(19)]) == ([str(i) for i in range(19)], [])
    train_, dev = split_heldout([str(i) for i in range(100)])
    assert len(train_) == 95 and dev == [str(i) for i in range(95, 100)]


def test_temperature_sampling_flattens_task_probabilities():
    tasks = [TaskData("big", None, [{}] * 100), TaskData("small", None, [{}] * 1)]
    assert Sampler(tasks, 4, 0, "proportional", 1.0).probs.tolist() == pytest.approx([100 / 101, 1 / 101])
    assert Sampler(tasks, 4, 0, "temperature", 2.0).probs.tolist() == pytest.approx([10 / 11, 1 / 11])


# ------------------------------------------------------------------------------------------------ (ii) through the stage

def small_config(tmp_path, *extra):
    return load_config("smoke", ["synthetic.train_size=32", "synthetic.eval_size=16", "target.tasks=[\"xnli\"]",
                                 "target.encoders=[\"multitask\"]", *extra])


def stage(plan, stage_id):
    (st,) = [s for s in plan.stages if s.id == stage_id]
    return st


@pytest.fixture(scope="module")
def mixed_heads_run(tmp_path_factory):
    """Multi-task over four heads (classification, tagging, multiple choice, span QA) + MLM, temperature
    sampling, through the real intermediate stage."""
    tmp = tmp_path_factory.mktemp("mixed")
    text = multilingual_text(tmp / "mlm.txt", 60)
    config = small_config(tmp, 'intermediate.tasks=["sst2","ccg","hellaswag","squad"]', f"intermediate.mlm_text={text}",
                          "intermediate.sampling=temperature", "intermediate.sampling_temperature=3.0")
    plan = build_plan(config)
    st = stage(plan, "intermediate/multitask-s1")
    run_stages(tmp / "run", [st], log=lambda *a: None)
    manifest = json.loads((stage_dir(tmp / "run", st) / "manifest.json").read_text())
    return config, plan, st, tmp / "run", manifest


def test_multitask_with_mlm_and_temperature_records_every_dev_metric(mixed_heads_run):
    _, _, st, run_dir, manifest = mixed_heads_run
    metrics = manifest["dev_metrics"]
    assert sorted(metrics) == ["ccg", "hellaswag", "squad", "sst2"]  # MLM is not an intermediate task
    for name, m in metrics.items():
        assert m["headline"] == get_task(name).metric and m[m["headline"]] >= 0
    mlm = manifest["mlm_metrics"]
    assert math.isfinite(mlm["perplexity"]) and mlm["lm_head"] == "new"  # the tiny model has no LM head
    assert mlm["heldout_examples"] == 3 and mlm["train_examples"] == 57
    assert manifest["training"]["steps"] == manifest["training"]["planned_steps"] > 0
    labels = json.loads((stage_dir(run_dir, st) / "labels" / "ccg.json").read_text())
    assert labels["labels"][-1] == "<unseen>"
    # The alternatives are part of the stage's identity.
    plain = stage(build_plan(small_config(run_dir.parent, 'intermediate.tasks=["sst2","ccg","hellaswag","squad"]',
                                          "intermediate.sampling=temperature", "intermediate.sampling_temperature=3.0")),
                  "intermediate/multitask-s1")
    assert plain.key != st.key and st.config["mlm"]["mlm_seed"] == 1


def test_target_encoder_equals_saved_intermediate_encoder(mixed_heads_run):
    """What the target phase builds (MultiHeadModel.build on the stage's encoder directory, a fresh head)
    carries every encoder tensor of the saved intermediate encoder unchanged."""
    _, plan, st, run_dir, _ = mixed_heads_run
    saved_dir = stage_dir(run_dir, st) / "encoder"
    saved = load_file(str(saved_dir / "model.safetensors"))
    target = MultiHeadModel.build(saved_dir, [get_task("xnli")], 1)
    state = target.encoder.state_dict()
    assert set(state) == set(saved)
    for k, v in saved.items():
        assert torch.equal(state[k], v), k
    pretrained = load_file(str(stage_dir(run_dir, stage(plan, "pretrained/tiny")) / "encoder" / "model.safetensors"))
    assert not torch.equal(pretrained["embeddings.word_embeddings.weight"], saved["embeddings.word_embeddings.weight"])


def test_saved_encoder_is_the_trained_one(tokenizer, smoke_world, tmp_path):
    """In process: train an encoder shared by a multiple-choice head (uses the pooler) and an MLM head (tied
    to the input embeddings), save it, build a target model from it: every encoder tensor is equal."""
    seed = 1
    task, head = get_task("hellaswag"), get_head("multiple_choice")
    s = {**resolve(SMOKE).intermediate.settings("hellaswag"), "max_steps": 6}
    model = MultiHeadModel.build(TINY_MODEL, [task, MLMText()], seed)
    assert attach_to_encoder(model.heads["mlm"]) == "new"
    emb = model.encoder.embeddings.word_embeddings.weight
    assert model.heads["mlm"].lm_head.decoder.weight is emb  # tied to the shared encoder, not a stale copy
    examples = task.read(DataSource("synthetic", smoke_world), "train", "en")[:32]
    lines = [{"id": str(i), "text": t} for i, t in enumerate(multilingual_text(tmp_path / "t.txt", 32).read_text().splitlines())]
    data = [TaskData("hellaswag", head, head.featurize(task, examples, tokenizer, s, train=True)),
            TaskData("mlm", get_head("mlm"), get_head("mlm").featurize(MLMText(), lines, tokenizer, {**s, "mlm_seed": seed}, True))]
    before = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    train(model, data, s, tmp_path / "work", seed=seed, pad_id=tokenizer.pad_token_id, device=CPU,
          checkpoint_every=10**9, log=lambda *a: None)
    save_encoder(model, tokenizer, tmp_path / "encoder")
    target = MultiHeadModel.build(tmp_path / "encoder", [get_task("xnli")], seed)
    trained, rebuilt = model.encoder.state_dict(), target.encoder.state_dict()
    assert set(trained) == set(rebuilt)
    for k in trained:
        assert torch.equal(trained[k], rebuilt[k]), k
    assert not torch.equal(before["pooler.dense.weight"], trained["pooler.dense.weight"])  # MC trained the pooler
    assert not torch.equal(before["embeddings.word_embeddings.weight"], trained["embeddings.word_embeddings.weight"])


# ------------------------------------------------------------------------------------------------ translated data

def test_translated_data_is_its_own_prepare_input(tmp_path):
    translated = tmp_path / "translated"
    generate(translated, ["sst2"], 7, 24, 8, ["en"])  # another seed: other sentences, same schema and layout
    config = small_config(tmp_path, 'intermediate.tasks=["sst2"]', "intermediate.multitask=false",
                          'target.encoders=["sst2"]', f"intermediate.translated_dir={translated}")
    st = stage(build_plan(config), "intermediate/sst2-s1")
    assert "prepare/sst2-translated" in [d.id for d in st.deps]
    plain = stage(build_plan(small_config(tmp_path, 'intermediate.tasks=["sst2"]', "intermediate.multitask=false",
                                          'target.encoders=["sst2"]')), "intermediate/sst2-s1")
    assert plain.key != st.key
    run_stages(tmp_path / "run", [st], log=lambda *a: None)
    (tr,) = [d for d in st.deps if d.id == "prepare/sst2-translated"]
    got = read_examples(examples_path(stage_dir(tmp_path / "run", tr), "train", "mt"))
    assert got == get_task("sst2").read(DataSource("local", translated), "train", "mt")
    manifest = json.loads((stage_dir(tmp_path / "run", st) / "manifest.json").read_text())
    assert manifest["dev_metrics"]["sst2"]["headline"] == "accuracy"
    # Changing a translated file changes the stages that read it.
    (translated / "SST-2" / "train.tsv").write_text("sentence\tlabel\nthe good cat .\t1\n")
    again = stage(build_plan(config), "intermediate/sst2-s1")
    assert again.key != st.key


def test_translated_dir_without_a_task_is_a_config_error(tmp_path):
    translated = tmp_path / "translated"
    generate(translated, ["sst2"], 7, 8, 4, ["en"])
    with pytest.raises(ConfigError, match="no translated data for task 'qqp'"):
        build_plan(small_config(tmp_path, 'intermediate.tasks=["sst2","qqp"]', f"intermediate.translated_dir={translated}"))


# ------------------------------------------------------------------------------------------------ MLM across a kill

@pytest.mark.slow
def test_mlm_run_killed_and_resumed_is_bit_identical(tmp_path):
    """The masks are drawn at featurisation from the stage's seed, so a resumed run trains on the same
    masked inputs as an uninterrupted one: every output file is identical."""
    import signal

    from conftest import repro

    text = multilingual_text(tmp_path / "mlm.txt", 40)
    common = ["--profile", "smoke", "--set", 'intermediate.tasks=["sst2"]', "--set", "intermediate.multitask=false",
              "--set", 'target.tasks=["xnli"]', "--set", 'target.encoders=["sst2"]', "--set", "synthetic.train_size=32",
              "--set", "synthetic.eval_size=8", "--set", "run.checkpoint_every=5", "--set", f"intermediate.mlm_text={text}"]

    def outputs(run_dir):
        (d,) = [p for p in (run_dir / "intermediate").iterdir() if not p.name.startswith(".")]
        return json.loads((d / "manifest.json").read_text())

    repro("reproduce", "--phase", "intermediate", "--run-dir", tmp_path / "clean", *common)
    proc = repro("reproduce", "--phase", "intermediate", "--run-dir", tmp_path / "killed", *common, check=False,
                 env={"REPRO_KILL_AT": "intermediate/sst2-s1:step13"})
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    resumed = repro("reproduce", "--phase", "intermediate", "--run-dir", tmp_path / "killed", *common)
    assert "resumed at step 10" in resumed.stdout
    clean, killed = outputs(tmp_path / "clean"), outputs(tmp_path / "killed")
    assert clean["outputs"] == killed["outputs"]  # encoder weights and metrics.json, bit for bit
    assert clean["mlm_metrics"] == killed["mlm_metrics"] and clean["training"] == killed["training"]
    assert clean["training"]["steps"] == 6 * (2 + 3)  # sst2: 32/16 batches, MLM: 38 lines/16; 6 epochs
