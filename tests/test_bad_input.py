"""Bad input of many kinds: each gives a non-zero exit and a message naming the file and line (or
the config key), and no stage is marked done. Runs the CLI in-process for speed."""
import json
import re
import shutil

import numpy as np
import pytest

from repro.cli import main
from repro.synthetic.generate import generate

LOCAL = ["--set", 'intermediate.tasks=["mnli","squad"]', "--set", 'target.tasks=["xnli","panx","xquad","tatoeba"]',
         "--set", 'target.encoders=["mnli"]', "--set", 'data.source="local"',
         "--set", 'target.languages=["en","xa","xb"]']


@pytest.fixture(scope="module")
def clean_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    generate(root, ["mnli", "squad", "xnli", "panx", "xquad", "tatoeba"], 0, 12, 4, ["en", "xa", "xb"])
    return root


@pytest.fixture
def data(clean_data, tmp_path):
    root = tmp_path / "data"
    shutil.copytree(clean_data, root)
    return root


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out + out.err


def prepare(capsys, data, run_dir):
    return run(capsys, "reproduce", "--phase", "prepare", "--run-dir", run_dir, *LOCAL, "--set", f'data.dir="{data}"')


def nothing_done(run_dir, phase="prepare", name=None):
    found = [p for p in (run_dir / phase).glob("*/manifest.json")] if (run_dir / phase).exists() else []
    return not [p for p in found if name is None or p.parent.name.startswith(name + "-")]


def edit(path, fn):
    path.write_text(fn(path.read_text()))


DATA_CASES = {
    "wrong column count": ("xnli/train-en.tsv", lambda t: t.replace("\t", " ", 1), r"train-en\.tsv:1: expected sentence1, sentence2 and label"),
    "unknown label": ("xnli/dev-en.tsv", lambda t: t.replace("neutral", "maybe", 1).replace("entailment", "maybe", 1)
                      .replace("contradiction", "maybe", 1), r"dev-en\.tsv:\d+: unknown label 'maybe'"),
    "empty file": ("xnli/train-en.tsv", lambda t: "", r"train-en\.tsv: no rows"),
    "missing tag column": ("panx/dev-xa.tsv", lambda t: t.replace("\tB-PER", "", 1), r"dev-xa\.tsv:\d+: expected a tag"),
    "unknown tag": ("panx/train-en.tsv", lambda t: t.replace("B-LOC", "B-PLACE", 1), r"train-en\.tsv:\d+: unknown label 'B-PLACE'"),
    "truncated JSON": ("squad/train-v1.1.json", lambda t: t[: len(t) // 2], r"train-v1\.1\.json:1: invalid JSON"),
    "answer not at answer_start": ("squad/dev-v1.1.json", lambda t: re.sub(r'"answer_start": (\d+)', lambda m: f'"answer_start": {int(m[1]) + 7}', t, count=1),
                                   r"dev-v1\.1\.json: question .* not at answer_start"),
    "bad JSON line": ("mnli/multinli_1.0_train.jsonl", lambda t: t.replace("}\n", "\n", 1), r"multinli_1\.0_train\.jsonl:1: invalid JSON"),
    "missing field": ("mnli/multinli_1.0_dev_matched.jsonl", lambda t: t.replace('"sentence2"', '"sentence_2"', 1),
                      r"multinli_1\.0_dev_matched\.jsonl:1: missing field 'sentence2'"),
    "tatoeba line mismatch": ("tatoeba/xa-en.en", lambda t: t + "one more line\n", r"xa-en\.en: 5 English lines but 4"),
}


@pytest.mark.parametrize("kind", sorted(DATA_CASES))
def test_bad_data_file(kind, data, tmp_path, capsys):
    rel, fn, pattern = DATA_CASES[kind]
    edit(data / rel, fn)
    code, out = prepare(capsys, data, tmp_path / "run")
    assert code == 2, out
    assert re.search(pattern, out), out
    assert str(data / rel) in out
    assert nothing_done(tmp_path / "run", name=rel.split("/")[0].replace("squad", "xquad"))


def test_bad_encoding(data, tmp_path, capsys):
    (data / "xnli" / "dev-xb.tsv").write_bytes("caf\xe9\tx\tneutral\n".encode("latin-1"))
    code, out = prepare(capsys, data, tmp_path / "run")
    assert code == 2 and "dev-xb.tsv:1: not valid UTF-8" in out
    assert nothing_done(tmp_path / "run", name="xnli")


def test_missing_file_and_missing_task_folder(data, tmp_path, capsys):
    (data / "xnli" / "dev-xa.tsv").unlink()
    code, out = prepare(capsys, data, tmp_path / "run")
    assert code == 2 and f"{data / 'xnli' / 'dev-xa.tsv'}: file not found" in out
    shutil.rmtree(data / "panx")
    code, out = prepare(capsys, data, tmp_path / "run2")
    assert code == 2 and f"{data / 'panx'}: data for task 'panx' not found" in out
    assert nothing_done(tmp_path / "run2")


CONFIG_CASES = {
    "unknown key": (["--set", "run.sedes=[1]"], "unknown config key 'run.sedes'"),
    "wrong type": (["--set", 'run.checkpoint_every="often"'], "run.checkpoint_every must be int"),
    "unknown task": (["--set", 'target.tasks=["xnlii"]'], 'target.tasks = ["xnlii"] is not allowed: "xnlii" is not a known target task (bucc2018'),
    "bad language code": (["--set", 'synthetic.languages=["en","../x"]'], 'synthetic.languages = ["en", "../x"] is not allowed'),
    "empty seeds": (["--set", "run.seeds=[]"], "run.seeds = [] is not allowed: a list of at least 1 integer seed"),
    "override without =": (["--set", "run.seeds"], "--set run.seeds: write KEY=VALUE"),
    "unknown profile": (["--profile", "papers"], "unknown profile 'papers'"),
    "untrained encoder": (["--set", 'target.encoders=["qqq"]'], "target.encoders names stages that are not trained"),
    "missing model dir": (["--set", 'model.name="/nonexistent/model"'], "/nonexistent/model: model directory not found"),
}


@pytest.mark.parametrize("kind", sorted(CONFIG_CASES))
def test_bad_config(kind, tmp_path, capsys):
    args, message = CONFIG_CASES[kind]
    code, out = run(capsys, "reproduce", "--all", "--run-dir", tmp_path / "run", *args)
    assert code == 2 and message in out, out
    assert not (tmp_path / "run").exists()


def test_malformed_profile_names_file_and_line(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('extends = "smoke"\n[run]\nseeds = [1,,2]\n')
    code, out = run(capsys, "reproduce", "--all", "--dry-run", "--profile", bad)
    assert code == 2 and str(bad) in out and "line 3" in out


def test_model_dir_with_pickled_weights_only_is_refused(tmp_path, capsys):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "pytorch_model.bin").write_bytes(b"not even a pickle")
    code, out = run(capsys, "reproduce", "--all", "--dry-run", "--set", f'model.name="{model}"')
    assert code == 2 and f"{model}: no *.safetensors weights" in out


def score(capsys, tmp_path, mutate):
    mock = __import__("pathlib").Path(__file__).parent / "fixtures" / "xtreme-mock"
    preds, labels = tmp_path / "p", tmp_path / "l"
    shutil.copytree(mock / "predictions", preds)
    shutil.copytree(mock / "labels", labels)
    mutate(preds, labels)
    return run(capsys, "score", "--prediction-folder", preds, "--label-folder", labels, "--output-file", tmp_path / "o.json")


def test_score_count_mismatch_names_both_files(tmp_path, capsys):
    code, out = score(capsys, tmp_path, lambda p, l: edit(p / "xnli" / "test-de.tsv", lambda t: t + "neutral\n"))
    assert code == 2 and "xnli/test-de.tsv" in out and "11" in out


def test_score_missing_language_file(tmp_path, capsys):
    code, out = score(capsys, tmp_path, lambda p, l: (p / "pawsx" / "test-ja.tsv").unlink())
    assert code == 2 and "pawsx/test-ja.tsv" in out


def test_score_truncated_prediction_json(tmp_path, capsys):
    code, out = score(capsys, tmp_path, lambda p, l: edit(p / "xquad" / "test-de.json", lambda t: t[:-3]))
    assert code == 2 and "xquad/test-de.json:" in out


def test_nan_embeddings_are_refused():
    from repro.errors import ReproError
    from repro.phases.retrieve import check_finite

    emb = np.ones((4, 3), dtype=np.float32)
    emb[2, 1] = np.nan
    with pytest.raises(ReproError, match=r"enc: 1 of 4 sentence embeddings contain NaN or inf \(first at sentence 3\)"):
        check_finite(emb, "enc")


def test_schema_invalid_expected_file_exits_2(tmp_path, capsys):
    bad = tmp_path / "expected.json"
    bad.write_text(json.dumps({"profile": "smoke", "figures": [{"id": 3}]}))
    code, out = run(capsys, "verify", "--profile", "smoke", "--run-dir", tmp_path / "run", "--expected", bad)
    assert code == 2 and str(bad) in out and "figures[0]" in out
