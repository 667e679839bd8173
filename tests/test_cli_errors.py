"""Every user-facing failure is one line on stderr naming the file (and line), key or JSON path, with
exit 1 or 2 and no traceback; `--debug` shows the traceback. Broken config, data files, model
directories, checkpoints, expected tables and results tables."""
import json
import re
import shutil
import subprocess
import sys

import pytest

from conftest import MINI, ROOT
from repro.cli import main
from repro.config import load_config
from repro.engine import work_dir
from repro.plan import build_plan
from repro.synthetic.generate import generate

ONE_LINE = re.compile(r"error: [^\n]+\n")


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.err


def assert_one_line(code, err, *needles, codes=(2,)):
    assert code in codes, err
    assert "Traceback" not in err
    # A stage that ran before failing may have logged progress; the failure itself is the last line.
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and ONE_LINE.fullmatch(errors[0] + "\n") and err.rstrip().endswith(errors[0]), err
    for n in needles:
        assert str(n) in errors[0], (n, err)


@pytest.fixture
def model_dir(tmp_path):
    model = tmp_path / "model"
    shutil.copytree(ROOT / "repro" / "resources" / "tiny-xlmr", model)
    return model


def test_bad_config_value(capsys, tmp_path):
    code, err = cli(capsys, "reproduce", "--all", "--dry-run", "--set", "retrieval.bucc_k=0")
    assert_one_line(code, err, "retrieval.bucc_k = 0 is not allowed")


def test_malformed_profile_names_file_and_line(capsys, tmp_path):
    bad = tmp_path / "p.toml"
    bad.write_text('extends = "smoke"\n[run]\nseeds = [1,,2]\n')
    code, err = cli(capsys, "status", "--profile", bad)
    assert_one_line(code, err, bad, "line 3")


def test_bad_data_file_names_file_and_line(capsys, tmp_path):
    data = tmp_path / "data"
    generate(data, ["mnli", "xnli"], 0, 8, 4, ["en"])
    rows = (data / "xnli" / "dev-en.tsv").read_text().splitlines()
    rows[2] = rows[2].replace("\t", " ")
    (data / "xnli" / "dev-en.tsv").write_text("\n".join(rows) + "\n")
    code, err = cli(capsys, "reproduce", "--phase", "prepare", "--run-dir", tmp_path / "run",
                    "--set", 'data.source="local"', "--set", f'data.dir="{data}"', "--set", 'intermediate.tasks=["mnli"]',
                    "--set", 'target.tasks=["xnli"]', "--set", 'target.encoders=["mnli"]', "--set", 'target.languages=["en"]')
    assert_one_line(code, err, f"{data / 'xnli' / 'dev-en.tsv'}:3: expected 2 or 3 tab-separated columns")


def test_model_dir_with_broken_config_json(capsys, model_dir):
    (model_dir / "config.json").write_text('{"hidden_size": 64,\n "model_type": }\n')
    code, err = cli(capsys, "reproduce", "--all", "--dry-run", "--set", f'model.name="{model_dir}"')
    assert_one_line(code, err, f"{model_dir / 'config.json'}:2: not valid JSON")


def test_model_dir_with_truncated_weights(capsys, model_dir):
    weights = model_dir / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])  # a partial copy: the header is whole, the tensors are not
    code, err = cli(capsys, "reproduce", "--all", "--dry-run", "--set", f'model.name="{model_dir}"')
    assert_one_line(code, err, f"{weights}: truncated safetensors file")


def test_damaged_checkpoint_is_refused_by_name(capsys, tmp_path):
    args = ["--profile", MINI, "--run-dir", tmp_path / "run", "--set", 'intermediate.tasks=["mnli"]',
            "--set", 'target.encoders=["mnli"]', "--set", 'target.tasks=["xnli"]']
    plan = build_plan(load_config(MINI, [a for a in map(str, args[4:]) if a != "--set"]))
    stage = next(s for s in plan.stages if s.id == "intermediate/mnli-s1")
    ckpt = work_dir(tmp_path / "run", stage) / "checkpoint"
    ckpt.mkdir(parents=True)
    (ckpt / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}      ")
    (ckpt / "state.pt").write_bytes(b"garbage")
    code, err = cli(capsys, "reproduce", "--phase", "intermediate", *args)
    assert_one_line(code, err, f"{ckpt / 'model.safetensors'}: refusing to load this checkpoint")


def test_invalid_expected_table_names_json_path(capsys, tmp_path):
    bad = tmp_path / "expected.json"
    bad.write_text(json.dumps({"profile": "smoke", "figures": [{"id": 3}]}))
    code, err = cli(capsys, "verify", "--profile", "smoke", "--run-dir", tmp_path / "run", "--expected", bad)
    assert code == 2 and str(bad) in err and "figures[0]" in err and "Traceback" not in err


def test_edited_results_table_is_named_not_verified(capsys, mini_run, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(mini_run[0], run_dir, ignore=shutil.ignore_patterns(".lock"))
    results = next(run_dir.glob("aggregate/results-*/results.json"))
    results.write_text(results.read_text().replace("}", "}}", 1))
    code, err = cli(capsys, "verify", "--profile", MINI, "--run-dir", run_dir)
    assert_one_line(code, err, f"{results}: ", "output of aggregate/results")


def test_scoring_error_is_one_line(capsys, tmp_path):
    (tmp_path / "p" / "xnli").mkdir(parents=True)
    (tmp_path / "l" / "xnli").mkdir(parents=True)
    (tmp_path / "p" / "xnli" / "test-en.tsv").write_text("entailment\n")
    (tmp_path / "l" / "xnli" / "test-en.tsv").write_text("entailment\nneutral\n")
    code, err = cli(capsys, "score", "--prediction-folder", tmp_path / "p", "--label-folder", tmp_path / "l",
                    "--output-file", tmp_path / "o.json")
    assert_one_line(code, err, f"{tmp_path / 'p' / 'xnli' / 'test-ar.tsv'}: missing file for a scored language")


def test_scoring_error_raised_inside_a_stage_is_caught_by_the_cli(capsys, monkeypatch):
    from repro.errors import ReproError, ScoringError

    assert issubclass(ScoringError, ReproError)

    def broken(*a, **k):
        raise ScoringError("2 predictions but 3 labels", "preds/xnli/test-en.tsv")

    monkeypatch.setattr("repro.cli.stage_status", broken)  # the name the CLI calls
    code, err = cli(capsys, "status")
    assert_one_line(code, err, "preds/xnli/test-en.tsv: 2 predictions but 3 labels")


def test_an_unexpected_failure_is_one_line_and_debug_shows_the_traceback(capsys, monkeypatch):
    def broken(*a, **k):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr("repro.cli.stage_status", broken)  # the name the CLI calls
    code, err = cli(capsys, "status")
    assert_one_line(code, err, "unexpected ZeroDivisionError: division by zero", "--debug", codes=(1,))
    with pytest.raises(ZeroDivisionError):
        main(["status", "--debug"])


@pytest.mark.slow
def test_a_real_process_prints_no_traceback_unless_debug():
    args = [sys.executable, "-m", "repro", "reproduce", "--all", "--dry-run", "--set", 'run.device="tpu"']
    plain = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert plain.returncode == 2 and ONE_LINE.fullmatch(plain.stderr), plain.stderr
    debug = subprocess.run([*args, "--debug"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert debug.returncode == 1 and "Traceback" in debug.stderr and "ConfigError" in debug.stderr
