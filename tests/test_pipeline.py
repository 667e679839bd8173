"""End to end on the mini smoke world: every stage done, a second run skips everything, the smoke
classification target is learnable, the tables exist, and the paper plan lists the whole grid."""
import hashlib
import json
import re

from conftest import MINI, repro


def results(run_dir):
    (d,) = (run_dir / "aggregate").glob("results-*")
    return json.loads((d / "results.json").read_text()), (d / "results.md").read_text()


def test_every_stage_done_and_tables_written(mini_run):
    run_dir, proc = mini_run
    assert "result tables:" in proc.stdout
    status = repro("status", "--profile", MINI, "--run-dir", run_dir).stdout
    rows = [line for line in status.splitlines() if "/" in line.split(" ")[0]]
    assert rows and all(" done " in row for row in rows), status
    res, md = results(run_dir)
    assert res["encoders"] == ["baseline", "mnli", "multitask"]
    assert res["targets"] == ["xnli", "panx", "xquad", "tatoeba"]
    assert "not a reproduction" in md


def test_second_run_skips_every_stage(mini_run):
    run_dir, _ = mini_run
    proc = repro("reproduce", "--all", "--profile", MINI, "--run-dir", run_dir, "--no-verify")
    assert "[run ]" not in proc.stdout
    assert proc.stdout.count("[skip]") > 20


def test_smoke_classification_target_is_learnable(mini_run):
    run_dir, _ = mini_run
    res, _ = results(run_dir)
    en = res["splits"]["dev"]["cells"]["baseline"]["xnli"]["languages"]["en"]
    assert en > 100 / 3 + 15, f"XNLI English dev accuracy {en:.1f} is not clearly above chance"


def test_changed_target_setting_marks_only_target_side_stale(mini_run):
    run_dir, _ = mini_run
    status = repro("status", "--profile", MINI, "--run-dir", run_dir,
                   "--set", "target.task.xnli.lr=0.002").stdout
    state = {line.split()[0]: line.split()[2] for line in status.splitlines() if "/" in line.split(" ")[0]}
    assert state["target/mnli__xnli-s1"] == "stale" and state["evaluate/mnli__xnli-s1"] == "stale"
    assert state["aggregate/results"] == "stale"
    assert state["target/mnli__panx-s1"] == "done" and state["intermediate/mnli-s1"] == "done"


def test_paper_dry_run_lists_the_whole_grid(tmp_path):
    # CCG, BUCC and UD-POS are local in the paper profile: the plan needs their folders to exist.
    sets = []
    for task in ("ccg", "bucc2018", "udpos"):
        (tmp_path / task).mkdir()
        sets += ["--set", f'data.task.{task}.dir="{tmp_path}"']
    out = repro("reproduce", "--all", "--profile", "paper", "--dry-run", *sets).stdout
    counts = dict(re.findall(r"(\w+) (\d+)", out.splitlines()[-1]))
    # 9 intermediate + 9 target tasks prepared; one pretrained encoder; 9 tasks + multi-task;
    # (baseline + 10 intermediate encoders) x 9 targets trained/retrieved and evaluated; one table.
    # analyze: lexical, embeddings, LogME for the baseline and the 9 single-task encoders, the report
    assert counts == {"prepare": "18", "pretrained": "1", "intermediate": "10", "target": "99",
                      "evaluate": "99", "aggregate": "1", "analyze": "13"}
    for name in ["anli", "ccg", "commonsenseqa", "cosmosqa", "hellaswag", "mnli", "qqp", "squad", "sst2"]:
        assert f"intermediate/{name}-s1" in out
        assert f"target/{name}__pawsx-s1" in out
    assert "target/baseline__bucc2018-s1" in out and "target/multitask__tydiqa-s1" in out
    assert "FacebookAI/xlm-roberta-large" in out


def test_verify_passes_on_the_smoke_run_and_fails_on_a_doctored_table(mini_run, tmp_path):
    import shutil

    run_dir, _ = mini_run
    ok = repro("verify", "--profile", MINI, "--run-dir", run_dir, check=False)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    verdicts = json.loads((run_dir / "verify.json").read_text())
    assert verdicts and "-> exit 0" in ok.stdout
    doctored = tmp_path / "doctored"
    shutil.copytree(run_dir, doctored)
    (d,) = (doctored / "aggregate").glob("results-*")
    res = json.loads((d / "results.json").read_text())
    cell = res["splits"]["dev"]["cells"]["baseline"]["xnli"]
    cell["languages"]["en"] = 20.0  # below the learnability bound, in the mean and in every seed
    for per_seed in cell["languages_per_seed"].values():
        per_seed["en"] = 20.0
    (d / "results.json").write_text(json.dumps(res))
    tampered = repro("verify", "--profile", MINI, "--run-dir", doctored, check=False)
    assert tampered.returncode == 2 and "results.json" in tampered.stderr  # an edited table is never verified
    manifest = json.loads((d / "manifest.json").read_text())  # a run that really produced these numbers
    manifest["outputs"]["results.json"] = hashlib.sha256((d / "results.json").read_bytes()).hexdigest()
    manifest.get("output_stats", {}).pop("results.json", None)
    (d / "manifest.json").write_text(json.dumps(manifest))
    bad = repro("verify", "--profile", MINI, "--run-dir", doctored, check=False)
    assert bad.returncode == 1 and "FAIL" in bad.stdout
