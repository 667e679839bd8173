"""What a user meets in the first hour, tried from outside as a user runs it (issue 22, issue 28): a log
redirected to a file, a run directory read back without its profile, verdicts against another table,
mistyped options. Each test failed on the code before its fix."""
import json
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from conftest import MINI, ROOT, repro
from repro.cli import main
from repro.config import load_config
from repro.engine import MANIFEST, stage_dir
from repro.plan import build_plan


def _one_error_line(code, err, *needles, expected=2):
    """One `error:` line on stderr, naming each needle; exit 2; no traceback."""
    assert code == expected, err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, err
    for n in needles:
        assert str(n) in errors[0], (n, err)
    return errors[0]


def test_stage_lines_reach_a_redirected_log_as_they_happen(tmp_path):
    """stdout a file (nohup, tee, a batch job): each stage line is in it when printed, so a run killed
    mid-way keeps them. The process kills itself (SIGKILL) before its second stage is marked done."""
    log = tmp_path / "log"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    env["REPRO_KILL_AT"] = "prepare/mnli:before-manifest"
    with open(log, "w") as out:
        proc = subprocess.run([sys.executable, "-m", "repro", "reproduce", "--phase", "prepare", "--profile", MINI,
                               "--run-dir", tmp_path / "run"], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                              env=env, timeout=600)
    assert proc.returncode == -9
    lines = log.read_text().splitlines()
    assert any(line.startswith("[run ] prepare/synthetic-data") for line in lines), lines
    assert any(line.startswith("[run ] prepare/mnli") for line in lines), lines


# ------------------------------------------------------------------------ a run directory read back (issue 22.1)
def test_a_run_dir_is_read_with_the_profile_it_was_made_with(mini_run):
    """status, verify and analyze need only --run-dir: the run recorded its profile (a .toml path here)."""
    run_dir, _ = mini_run
    assert json.loads((run_dir / "run.json").read_text())["profile"] == str(ROOT / "tests" / "profiles" / "mini.toml")
    status = repro("status", "--run-dir", run_dir, "--json")
    rows = json.loads(status.stdout)
    assert rows and {r["state"] for r in rows} == {"done"}, {r["stage"]: r["state"] for r in rows}
    analyze = repro("analyze", "--run-dir", run_dir)  # crashed with AttributeError: no attribute 'executor'
    assert "research-question report:" in analyze.stdout, analyze.stdout
    verify = repro("verify", "--run-dir", run_dir, check=False)
    assert verify.returncode in (0, 1) and "verify: " in verify.stdout, verify.stderr


def test_verify_against_another_table_keeps_the_runs_verdicts(mini_run, tmp_path):
    """Issue 28.1: verdicts against another expected table go to a file named after it."""
    run_dir, _ = mini_run
    repro("verify", "--run-dir", run_dir, check=False)
    own = (run_dir / "verify.json").read_bytes()
    other = tmp_path / "other.json"
    other.write_text((ROOT / "expected" / "smoke.json").read_text())
    proc = repro("verify", "--run-dir", run_dir, "--expected", other, check=False)
    assert proc.returncode in (0, 1), proc.stderr
    assert (run_dir / "verify.json").read_bytes() == own
    assert json.loads((run_dir / "verify-other.json").read_text())["expected"] == str(other)
    asked = tmp_path / "verdicts.json"
    repro("verify", "--run-dir", run_dir, "--expected", other, "--out", asked, check=False)
    assert json.loads(asked.read_text())["expected"] == str(other)


def test_verify_reads_no_data_folders(capsys, tmp_path):
    """Issue 28.1: checking figures reads results.json only; the paper profile's CCG/UD/BUCC folders are not
    needed to say that the run has no results yet."""
    code = main(["verify", "--profile", "paper", "--run-dir", str(tmp_path / "run")])
    _one_error_line(code, capsys.readouterr().err, "aggregate stage is not done")


def test_a_run_dir_without_a_record_is_recognised_by_its_stages(capsys, tmp_path):
    """A run directory written before run.json existed: the profile whose stages it holds is taken."""
    plan = build_plan(load_config("smoke-grid"), need_data=False)
    smoke = {stage_dir(tmp_path, s) for s in build_plan(load_config("smoke"), need_data=False).stages}
    own = [s for s in plan.stages if stage_dir(tmp_path, s) not in smoke][:3]
    for stage in own:
        d = stage_dir(tmp_path, stage)
        d.mkdir(parents=True)
        (d / MANIFEST).write_text(json.dumps({"key": stage.key, "outputs": {}}))
    assert main(["status", "--run-dir", str(tmp_path), "--json"]) == 0
    out = capsys.readouterr()
    assert "read as profile 'smoke-grid'" in out.err
    states = {r["stage"]: r["state"] for r in json.loads(out.out)}
    assert all(states[s.id] == "done" for s in own) and len(states) == len(plan.stages)


@pytest.mark.parametrize("command", ["status", "verify", "analyze"])
def test_a_run_dir_of_unknown_profile_says_what_is_needed(capsys, tmp_path, command):
    (tmp_path / "notes.txt").write_text("not a run\n")
    code = main([command, "--run-dir", str(tmp_path)])
    _one_error_line(code, capsys.readouterr().err, str(tmp_path), "--profile")


@pytest.mark.parametrize("command", [["reproduce", "--all"], ["status"], ["verify"], ["plan"]])
def test_a_run_dir_that_is_a_file_is_one_line(capsys, tmp_path, command):
    """Issue 22.5: reproduce said "File exists ...; free the space" (exit 1), status printed 90 pending rows."""
    path = tmp_path / "a-file"
    path.write_text("x")
    code = main([*command, "--run-dir", str(path)])
    _one_error_line(code, capsys.readouterr().err, f"--run-dir {path} is not a directory")


def test_score_on_the_wrong_folder_level_is_an_error(capsys, tmp_path):
    """Issue 28.5: folders one level above the task folders scored nothing, wrote {} and exited 0."""
    for side in ("predictions", "labels"):
        (tmp_path / "outer" / side / "xnli").mkdir(parents=True)
        (tmp_path / "outer" / side / "xnli" / "test-en.tsv").write_text("entailment\n")
    out = tmp_path / "scores.json"
    code = main(["score", "--prediction-folder", str(tmp_path / "outer"), "--label-folder", str(tmp_path / "outer"),
                 "--output-file", str(out)])
    line = _one_error_line(code, capsys.readouterr().err, "nothing scored", str(tmp_path / "outer"), "xnli",
                           f"one level down, in {tmp_path / 'outer' / 'labels'}")
    assert "test-<lang>" in line and not out.exists()


def test_set_with_a_space_says_to_write_key_equals_value(capsys):
    """Issue 28.6: `--set KEY VALUE` got only argparse's usage and "unrecognized arguments"."""
    code = main(["reproduce", "--all", "--dry-run", "--set", "target.defaults.lr", "2e-5"])
    err = capsys.readouterr().err
    _one_error_line(code, err, "--set target.defaults.lr=2e-5")
    assert len(err.splitlines()) == 1


def test_a_misspelt_set_key_gets_a_suggestion(capsys):
    """Issue 22.7: a misspelt key, or one given without its table, names the key meant."""
    code = main(["reproduce", "--all", "--dry-run", "--set", "run.sedes=[1]"])
    _one_error_line(code, capsys.readouterr().err, "unknown config key 'run.sedes'; did you mean 'run.seeds'?")
    code = main(["reproduce", "--all", "--dry-run", "--set", "lr=2e-5"])
    _one_error_line(code, capsys.readouterr().err, "did you mean 'intermediate.defaults.lr' or 'target.defaults.lr'?")


# ------------------------------------------------------------------ a table typed in from a paper (issue 22.6)
TYPED_GAINS = {"mnli": {"xnli": 1.0, "pawsx": 0.5, "udpos": -1.0, "panx": 0.2},
               "qqp": {"xnli": 0.2, "pawsx": 0.1, "udpos": -0.5, "panx": 0.0},
               "squad": {"xnli": 0.8, "pawsx": 0.9, "udpos": 0.4, "panx": -0.3},
               "ccg": {"xnli": -0.6, "pawsx": -0.2, "udpos": 0.9, "panx": 0.5}}


def _analyze_typed(capsys, tmp_path, table: dict):
    path = tmp_path / "typed.json"
    path.write_text(json.dumps(table))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = main(["analyze", "--results", str(path), "--out", str(tmp_path / "out"), "--permutations", "50",
                     "--bootstrap", "30"])
    assert code == 0, capsys.readouterr().err
    assert not caught, [str(w.message) for w in caught]  # counted into the report, not flooded
    return json.loads((tmp_path / "out" / "analysis.json").read_text()), (tmp_path / "out" / "report.md").read_text()


def test_a_typed_table_of_gains_is_analysed(capsys, tmp_path):
    """Only the gains, as read off a paper: no schema_version, seeds, provenance or retrieval settings."""
    analysis, report = _analyze_typed(capsys, tmp_path, {"source": "typed by hand", "gains": TYPED_GAINS})
    assert analysis["gain"]["mnli"]["xnli"] == 1.0 and analysis["split"] == "test"
    assert report.count("ConstantInputWarning") <= 1  # counted once if raised at all, never one line per resample


def test_numerical_warnings_are_counted_into_one_note(monkeypatch):
    """scipy warns once per resample of a constant column: the analysis counts them into one note per kind."""
    from scipy.stats import ConstantInputWarning

    from repro.analysis import core

    def noisy(*args, **kwargs):
        for _ in range(677):
            warnings.warn("An input array is constant", ConstantInputWarning)
        return {"notes": []}

    monkeypatch.setattr(core, "_analyse", noisy)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = core.analyse()
    assert not caught
    assert result["notes"] == ["ConstantInputWarning 677 times during the analysis: An input array is constant"]


def test_a_typed_table_of_scores_is_analysed_as_gains_over_the_baseline(capsys, tmp_path):
    scores = {"baseline": {"xnli": 79.0, "pawsx": 88.0}, "mnli": {"xnli": 80.5, "pawsx": 88.5},
              "qqp": {"xnli": 78.0, "pawsx": 89.0}, "squad": {"xnli": 79.5, "pawsx": 87.0}}
    analysis, _ = _analyze_typed(capsys, tmp_path, {"scores": scores, "split": "dev"})
    assert analysis["gain"]["mnli"]["xnli"] == pytest.approx(1.5) and analysis["gain"]["qqp"]["pawsx"] == 1.0
    assert analysis["split"] == "dev"


def test_a_bad_typed_table_names_the_json_path(capsys, tmp_path):
    path = tmp_path / "typed.json"
    path.write_text(json.dumps({"gains": {"mnli": {"xnli": "1.0"}}}))
    code = main(["analyze", "--results", str(path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "gains.mnli.xnli" in err and "typed-results.schema.json" in err, err


def test_analyze_help_cites_schemas_that_exist(capsys):
    """Issue 28.6: the help named expected/results.schema.json, which does not exist."""
    with pytest.raises(SystemExit):
        main(["analyze", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    cited = re.findall(r"[\w./-]+\.schema\.json", text)
    assert cited and all((ROOT / c).is_file() for c in cited), cited


def test_several_tasks_without_data_are_told_apart(capsys):
    """Issue 22.7: the paper profile's three local tasks ran together on one line with no separator."""
    code = main(["reproduce", "--all", "--dry-run", "--profile", "paper"])
    _one_error_line(code, capsys.readouterr().err, "(1) ccg:", "; (2) udpos:", "; (3) bucc2018:")


def test_check_data_asks_only_for_the_missing_folder(capsys):
    """Issue 22.7: a task whose source is already local needs only its folder, not source/dir."""
    main(["check-data", "--profile", "paper", "--offline"])
    out = capsys.readouterr().out
    assert "(set data.task.ccg.dir)" in out and "source/dir" not in out, out


def test_loading_the_tiny_model_prints_no_load_report(capfd):
    """Issue 22.7: transformers' LOAD REPORT table (the tiny model has no pooler) came with every load."""
    import logging

    from transformers.utils import logging as hf_logging

    from repro.modeling import TINY_MODEL, _PoolerOnlyReport, load_encoder
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_warning()  # the library default; the tests run at error
    try:
        load_encoder(TINY_MODEL)
    finally:
        hf_logging.set_verbosity(verbosity)
    assert "LOAD REPORT" not in capfd.readouterr().err
    assert not hf_logging.get_logger("transformers.modeling_utils").filters  # only around that load

    def report(*rows):
        table = "Key | Status | \n----+---\n" + "\n".join(f"{k} | {s} | " for k, s in rows)
        return logging.LogRecord("t", logging.WARNING, "", 0, "M LOAD REPORT from: x\n" + table, None, None)
    assert not _PoolerOnlyReport().filter(report(("pooler.dense.weight", "MISSING"), ("pooler.dense.bias", "MISSING")))
    assert _PoolerOnlyReport().filter(report(("pooler.dense.bias", "MISSING"), ("encoder.layer.0.x", "MISSING")))
    assert _PoolerOnlyReport().filter(report(("lm_head.bias", "UNEXPECTED")))


def test_no_phase_names_a_task():
    """Issue 22.7: a phase held ("bucc2018", "tatoeba"); what differs per task is declared on the task
    (here fit_measure), so a new task needs no edit to any phase."""
    import ast

    from repro.tasks import REGISTRY
    for path in sorted((ROOT / "repro" / "phases").glob("*.py")):
        strings = {n.value for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Constant)
                   and isinstance(n.value, str)}
        assert not strings & set(REGISTRY), (path.name, strings & set(REGISTRY))
    assert {n for n, t in REGISTRY.items() if t.fit_measure == "alignment"} == {"bucc2018", "tatoeba"}


def test_the_run_environments_install_no_test_tools_and_nothing_unused():
    """Issue 22.7: tox -e smoke installed pytest, pytest-benchmark and hadolint; accelerate was declared (and
    locked in the container) but never imported."""
    import configparser
    import tomllib

    tox = configparser.ConfigParser(interpolation=None)
    tox.read(ROOT / "tox.ini")
    run_deps = tox["testenv"]["deps"]  # what smoke and soak install (they declare no deps of their own)
    assert "deps" not in tox["testenv:smoke"] and "deps" not in tox["testenv:soak"]
    assert not [d for d in ("pytest", "hadolint") if d in run_deps], run_deps
    assert "pytest==" in tox["testenv:tests"]["deps"]
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert not [d for d in declared if d.startswith("accelerate")]
    for lock in ("docker/constraints.txt", "docker/requirements-gpu.txt", "tox.ini"):
        assert "accelerate" not in (ROOT / lock).read_text(), lock
    sources = [p.read_text() for p in (ROOT / "repro").rglob("*.py")]
    assert not any(re.search(r"^\s*(import|from) accelerate\b", s, re.M) for s in sources)


def test_code_and_tests_cite_no_internal_document():
    """Issue 22.7: docstrings cited "spec B.3", "B.4 step 7 of the design" and "§4.x of the retrieval notes",
    documents a user does not have; the code cites public sources or states the rule."""
    cited = re.compile("|".join(["design " + "notes", r"spec B\.[0-9]", "retrieval " + "notes", "§" + "4"]))
    me = Path(__file__).resolve()
    hits = [f"{p.relative_to(ROOT)}:{i}" for folder in ("repro", "tests") for p in sorted((ROOT / folder).rglob("*"))
            if p.suffix in (".py", ".toml", ".md") and p.resolve() != me
            for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if cited.search(line)]
    assert not hits, hits
