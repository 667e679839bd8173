"""Tests of the verification step (repro.verify) and of the expected-figure tables and schemas.

The results tables are built by the real aggregate code (repro.phases.aggregate.build_results) from small
synthetic cell dicts shaped like evaluate's scores.json, so no training is needed. Expected values in the
hand-written tables are derived from the synthetic scores in the comments.
"""
from __future__ import annotations

import copy
import json
import math
import statistics
from pathlib import Path

import jsonschema
import pytest

from repro.config import load_config
from repro.engine import MANIFEST, stage_dir
from repro.phases.aggregate import aggregate_stage, build_results
from repro.plan import Plan, about
from repro.settings.profile import resolve
from repro.tasks import get_task, tasks_with_role
from repro.verify import load_schema, verify_run
from repro.verify.schema import json_path

ROOT = Path(__file__).resolve().parents[1]
EXPECTED = ROOT / "expected"
SCHEMA_DIR = ROOT / "repro" / "schemas"
SCHEMAS = ["schema.json", "results.schema.json"]
LANGS = ("en", "xa")

# Synthetic task scores per (encoder, target) and seed; the per-language scores are spread by ±2 around them.
# Seed 1 and seed 2 differ, so multi-seed figures have a non-zero sd.
SCORES = {
    ("baseline", "xnli"): {1: 50.0, 2: 52.0}, ("baseline", "xquad"): {1: 40.0, 2: 40.0},
    ("mnli", "xnli"): {1: 60.0, 2: 64.0}, ("mnli", "xquad"): {1: 45.0, 2: 43.0},
    ("multitask", "xnli"): {1: 58.0, 2: 58.0}, ("multitask", "xquad"): {1: 47.0, 2: 47.0},
}
# Intermediate dev accuracy (MNLI) / F1 (SQuAD) per seed.
INTERMEDIATE = {("mnli", "mnli"): {1: 70.0, 2: 72.0}, ("squad", "squad"): {1: 55.0, 2: 57.0},
                ("multitask", "mnli"): {1: 69.0, 2: 69.0}, ("multitask", "squad"): {1: 54.0, 2: 54.0}}


def task_scores(task: str, value: float) -> dict:
    """One split of evaluate's scores.json (metric -> language -> score) whose avg_metric is `value`."""
    spread = dict(zip(LANGS, (value + 2, value - 2)))
    if get_task(task).group == "qa":  # (EM + F1) / 2 = value
        metrics = {"exact_match": {k: v - 5 for k, v in spread.items()}, "f1": {k: v + 5 for k, v in spread.items()}}
    else:
        metrics = {"accuracy": spread}
    out = dict(metrics)
    for name, per_lang in metrics.items():
        out[f"avg_{name}"] = statistics.fmean(per_lang.values())
    out["avg_metric"] = value
    return out


def make_config(seeds=(1, 2)) -> dict:
    return load_config("smoke", ['intermediate.tasks=["mnli","squad"]', 'target.tasks=["xnli","xquad"]',
                                 'target.encoders=["multitask","mnli"]', f"run.seeds={list(seeds)}"])


def make_results(config: dict, scores=SCORES, splits=("dev", "test")) -> dict:
    """Test scores are the dev scores minus 1."""
    seeds = config["run"]["seeds"]
    cells = {(enc, tgt, s): {split: task_scores(tgt, v[s] - (split == "test")) for split in splits}
             for (enc, tgt), v in scores.items() for s in seeds}
    inter = {}
    for (name, task), v in INTERMEDIATE.items():
        for s in seeds:
            metric = "accuracy" if task == "mnli" else "f1"
            inter.setdefault((name, s), {})[task] = {metric: v[s], "headline": metric}
    return build_results(about(resolve(config)), cells, inter)


def make_run(tmp_path: Path, config: dict, results: dict) -> tuple[Path, Plan]:
    """A run directory whose aggregate stage is done and holds `results`."""
    agg = aggregate_stage(about(resolve(config)), {}, {})
    run_dir = tmp_path / "run"
    out = stage_dir(run_dir, agg)
    out.mkdir(parents=True)
    (out / "results.json").write_text(json.dumps(results))
    (out / MANIFEST).write_text(json.dumps({"key": agg.key}))  # the engine's done marker
    return run_dir, Plan([agg], agg)


def definition(quantity, **kw) -> dict:
    d = {"quantity": quantity, "encoder": None, "baseline": None, "encoders": None, "targets": None, "split": "dev",
         "selection_split": None, "language": None, "aggregation": "none", "qa_metric": "em_f1_mean", "metric": None}
    d.update(kw)
    return d


PROV = {"source": "tests/test_verify.py synthetic scores", "confidence": "inferred", "note": "derived in comments"}


def value_figure(fid, value, tol, defn, **extra) -> dict:
    return {"id": fid, "claim": fid, "check": "value", "value": value, "unit": "points",
            "tolerance": {"abs": tol, "note": "test"}, "definition": defn, "provenance": PROV, **extra}


def figures() -> list[dict]:
    return [
        # mnli - baseline: xnli (10, 12), xquad (5, 3) -> per seed (7.5, 7.5) -> 7.5 ± 0
        value_figure("mnli_gain", 7.5, 0.01, definition("mean_gain", encoder="mnli", baseline="baseline",
                                                        targets=["xnli", "xquad"], aggregation="mean_over_targets")),
        # best on dev by seed-mean: xnli -> mnli (62 > 58), xquad -> multitask (47 > 44);
        # per seed: ((60-50) + (47-40))/2 = 8.5, ((64-52) + (47-40))/2 = 9.5 -> 9.0 ± 0.707
        value_figure("best_gain", 9.0, 0.01, definition("xtreme_best_gain", baseline="baseline",
                                                        encoders="results_intermediate", targets=["xnli", "xquad"],
                                                        selection_split="dev", aggregation="mean_over_targets")),
        # baseline xnli English = value + 2 -> (52, 54) -> 53
        {"id": "baseline_xnli_en", "claim": "learnable", "check": "range", "unit": "points",
         "range": {"min": 48.33, "max": 100, "note": "chance + 15"},
         "definition": definition("cell", encoder="baseline", targets=["xnli"], language="en"), "provenance": PROV},
        # intermediate dev MNLI accuracy (70, 72) -> 71
        value_figure("mnli_dev", 71.0, 0.01, definition("intermediate_dev", encoder="mnli", metric="accuracy")),
        {"id": "cells_complete", "claim": "complete", "check": "structure",
         "definition": definition("all_cells_present", encoders="config", targets="config", aggregation="all"),
         "provenance": PROV},
        {"id": "xtreme_present", "claim": "present", "check": "structure",
         "definition": definition("xtreme_present", encoders="config", aggregation="all"), "provenance": PROV},
        {"id": "inter_complete", "claim": "complete", "check": "structure",
         "definition": definition("intermediate_dev_present", aggregation="all"), "provenance": PROV},
        {"id": "in_range", "claim": "0-100", "check": "range", "unit": "points",
         "range": {"min": 0, "max": 100, "note": "scale"},
         "definition": definition("all_scores", encoders="results", targets="results", aggregation="all"),
         "provenance": PROV},
    ]


def write_expected(tmp_path: Path, figs: list[dict], name="expected.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"profile": "smoke", "description": "test table", "figures": figs}))
    return path


def verify(tmp_path, figs, results=None, config=None):
    config = config or make_config()
    run_dir, plan = make_run(tmp_path, config, results if results is not None else make_results(config))
    # --out: these tables are written for the test, so their verdicts are asked for in the run's verify.json
    code = verify_run(run_dir, plan, config, str(write_expected(tmp_path, figs)), run_dir / "verify.json")
    report = json.loads((run_dir / "verify.json").read_text()) if (run_dir / "verify.json").exists() else None
    return code, report


def by_id(report: dict) -> dict:
    return {f["id"]: f for f in report["figures"]}


# ---------------------------------------------------------------- verdicts and exit codes

def test_all_figures_pass(tmp_path, capsys):
    code, report = verify(tmp_path, figures())
    out = capsys.readouterr().out
    assert code == 0, out
    assert report["summary"] == {"figures": 8, "pass": 8, "fail": 0, "not_computed": 0, "not_computed_optional": 0,
                                 "exit_code": 0}
    for fid in ("mnli_gain", "best_gain", "cells_complete", "in_range"):
        assert any(line.startswith(fid) and "pass" in line for line in out.splitlines()), out


def test_multi_seed_mean_and_sd(tmp_path):
    _, report = verify(tmp_path, figures())
    best = by_id(report)["best_gain"]
    assert best["per_seed"] == {"1": pytest.approx(8.5), "2": pytest.approx(9.5)}
    assert best["n"] == 2
    assert best["mean"] == pytest.approx(9.0)
    assert best["sd"] == pytest.approx(statistics.stdev([8.5, 9.5]))
    assert "9.00 ± 0.71 (n=2)" in best["got"]
    assert by_id(report)["baseline_xnli_en"]["mean"] == pytest.approx(53.0)


def test_single_seed_has_zero_sd(tmp_path):
    config = make_config(seeds=(1,))
    figs = [value_figure("mnli_gain", 7.5, 0.01, definition("mean_gain", encoder="mnli", baseline="baseline",
                                                            targets=["xnli", "xquad"], aggregation="mean_over_targets"))]
    code, report = verify(tmp_path, figs, config=config)
    assert code == 0
    assert (by_id(report)["mnli_gain"]["n"], by_id(report)["mnli_gain"]["sd"]) == (1, 0.0)


def test_doctored_results_fail(tmp_path, capsys):
    config = make_config()
    results = make_results(config)
    results["splits"]["dev"]["cells"]["mnli"]["xnli"]["per_seed"] = {"1": 50.0, "2": 52.0}  # gain on xnli gone
    code, report = verify(tmp_path, figures(), results=results, config=config)
    out = capsys.readouterr().out
    assert code == 1
    assert by_id(report)["mnli_gain"]["verdict"] == "FAIL"
    assert by_id(report)["mnli_gain"]["mean"] == pytest.approx(2.0)  # per seed (0 + 5)/2, (0 + 3)/2 -> 2.0
    assert any(line.startswith("mnli_gain") and "FAIL" in line for line in out.splitlines())


def test_tolerance_rel_widens_abs(tmp_path):
    fig = value_figure("mnli_dev", 75.0, 1.0, definition("intermediate_dev", encoder="mnli", metric="accuracy"))
    assert verify(tmp_path / "a", [fig])[0] == 1           # |71 - 75| = 4 > 1
    fig["tolerance"]["rel"] = 0.06                           # 0.06 * 75 = 4.5 >= 4
    assert verify(tmp_path / "b", [fig])[0] == 0


def test_out_of_range_score_fails(tmp_path):
    config = make_config()
    results = make_results(config)
    results["splits"]["dev"]["cells"]["baseline"]["xnli"]["languages"]["xa"] = 101.0
    code, report = verify(tmp_path, figures(), results=results, config=config)
    assert code == 1
    assert by_id(report)["in_range"]["verdict"] == "FAIL"
    results["splits"]["dev"]["cells"]["baseline"]["xnli"]["languages"]["xa"] = math.nan
    code, report = verify(tmp_path / "nan", figures(), results=results, config=config)
    assert by_id(report)["in_range"]["verdict"] == "FAIL"


def test_structure_expects_every_split_a_target_has(tmp_path):
    """Tatoeba's one set is scored as both dev (as jiant) and test: a missing cell fails either."""
    config = load_config("smoke", ['intermediate.tasks=["mnli","squad"]', 'target.tasks=["xnli","tatoeba"]',
                                   'target.encoders=["mnli"]', "run.seeds=[1]"])
    scores = {("baseline", "xnli"): {1: 50.0}, ("mnli", "xnli"): {1: 60.0}}
    results = make_results(config, scores)
    structure = lambda split: {"id": f"cells_{split}", "claim": "c", "check": "structure", "provenance": PROV,
                               "definition": definition("all_cells_present", encoders="config", targets="config",
                                                        split=split, aggregation="all")}
    code, report = verify(tmp_path, [structure("dev"), structure("test")], results=results, config=config)
    assert code == 1
    assert by_id(report)["cells_dev"]["verdict"] == "FAIL"
    assert "baseline×tatoeba" in by_id(report)["cells_dev"]["reason"]
    assert by_id(report)["cells_test"]["verdict"] == "FAIL"
    assert "baseline×tatoeba" in by_id(report)["cells_test"]["reason"]


def test_missing_cell_fails_structure(tmp_path):
    config = make_config()
    scores = {k: v for k, v in SCORES.items() if k != ("multitask", "xquad")}
    code, report = verify(tmp_path, figures(), results=make_results(config, scores), config=config)
    assert code == 1
    cells = by_id(report)["cells_complete"]
    assert cells["verdict"] == "FAIL" and "multitask×xquad" in cells["reason"]


def test_not_computed_is_not_a_pass(tmp_path, capsys):
    config = make_config()
    test_cell = value_figure("test_cell", 50.0, 1.0, definition("cell", encoder="baseline", targets=["xnli"], split="test"))
    figs = [value_figure("panx_gain", 1.0, 1.0, definition("mean_gain", encoder="mnli", baseline="baseline",
                                                           targets=["xnli", "panx"], aggregation="mean_over_targets")),
            value_figure("squad_gain", 1.0, 1.0, definition("mean_gain", encoder="squad", baseline="baseline",
                                                            targets=["xnli"], aggregation="mean_over_targets")),
            test_cell]
    code, report = verify(tmp_path, figs, results=make_results(config, splits=("dev",)), config=config)
    out = capsys.readouterr().out
    assert code == 1
    assert {f["verdict"] for f in report["figures"]} == {"not computed"}
    assert "no panx cell for encoder 'mnli'" in by_id(report)["panx_gain"]["reason"]
    assert "encoder 'squad' has no cells" in by_id(report)["squad_gain"]["reason"]
    assert "split 'test' was not scored" in by_id(report)["test_cell"]["reason"]
    assert "not computed" in out and report["summary"]["not_computed"] == 3


def test_test_split_figure(tmp_path):
    # baseline xnli on test: dev minus 1 -> (49, 51) -> 50
    fig = value_figure("test_cell", 50.0, 0.01, definition("cell", encoder="baseline", targets=["xnli"], split="test"))
    assert verify(tmp_path, [fig])[0] == 0


def test_optional_not_computed_passes(tmp_path):
    figs = figures() + [value_figure("panx_cell", 50.0, 1.0, definition("cell", encoder="baseline", targets=["panx"]),
                                     optional=True)]
    code, report = verify(tmp_path, figs)
    assert code == 0
    assert report["summary"]["not_computed_optional"] == 1


def test_intermediate_metric_mismatch_not_computed(tmp_path):
    fig = value_figure("squad_dev", 56.0, 1.0, definition("intermediate_dev", encoder="squad", metric="exact_match"))
    code, report = verify(tmp_path, [fig])
    assert code == 1 and "reports 'f1'" in by_id(report)["squad_dev"]["reason"]


# ---------------------------------------------------------------- exit 2: files that cannot be used

def test_schema_invalid_expected_names_json_path(tmp_path, capsys):
    figs = figures()
    figs[2] = {**figs[2], "check": "value", "value": 50.0, "tolerance": {"abs": -1, "note": "negative"}}
    del figs[2]["range"]
    code, report = verify(tmp_path, figs)
    err = capsys.readouterr().err
    assert code == 2 and report is None
    assert "figures[2].tolerance.abs" in err and "expected.json" in err


def test_missing_required_field_names_figure(tmp_path, capsys):
    figs = figures()
    del figs[0]["tolerance"]
    assert verify(tmp_path, figs)[0] == 2
    err = capsys.readouterr().err
    assert "at figures[0]: 'tolerance' is a required property" in err


def test_duplicate_ids_rejected(tmp_path, capsys):
    figs = figures()
    figs[1]["id"] = figs[0]["id"]
    assert verify(tmp_path, figs)[0] == 2
    assert "figures[1].id" in capsys.readouterr().err


def test_expected_file_missing_or_not_json(tmp_path, capsys):
    config = make_config()
    run_dir, plan = make_run(tmp_path, config, make_results(config))
    assert verify_run(run_dir, plan, config, str(tmp_path / "absent.json")) == 2
    assert "absent.json does not exist" in capsys.readouterr().err
    (tmp_path / "broken.json").write_text("{not json")
    assert verify_run(run_dir, plan, config, str(tmp_path / "broken.json")) == 2
    assert "not valid JSON" in capsys.readouterr().err
    assert verify_run(run_dir, plan, config, "no-such-table") == 2
    err = capsys.readouterr().err  # every table in expected/ is listed (other profiles add their own)
    assert "known: paper, " in err and "smoke" in err


def test_invalid_results_names_json_path(tmp_path, capsys):
    config = make_config()
    results = make_results(config)
    results["splits"]["dev"]["cells"]["mnli"]["xnli"]["per_seed"]["1"] = "sixty"
    code, _ = verify(tmp_path, figures(), results=results, config=config)
    err = capsys.readouterr().err
    assert code == 2
    assert "results.json" in err and "splits.dev.cells.mnli.xnli.per_seed.1" in err


def test_aggregate_not_done(tmp_path, capsys):
    config = make_config()
    agg = aggregate_stage(about(resolve(config)), {}, {})
    code = verify_run(tmp_path / "empty-run", Plan([agg], agg), config, str(write_expected(tmp_path, figures())))
    assert code == 2
    assert "aggregate stage is not done" in capsys.readouterr().err


def test_default_expected_comes_from_config(tmp_path, capsys):
    """verify.expected = "smoke" in the smoke profile: the real smoke table, computed on the synthetic results."""
    config = make_config()
    run_dir, plan = make_run(tmp_path, config, make_results(config))
    code = verify_run(run_dir, plan, config)
    out = capsys.readouterr().out
    assert str(EXPECTED / "smoke.json") in out
    assert code == 0, out


def test_json_path_format():
    assert json_path(["figures", 2, "tolerance", "abs"]) == "figures[2].tolerance.abs"
    assert json_path([]) == "$"


# ---------------------------------------------------------------- the shipped tables and schemas

@pytest.mark.parametrize("name", SCHEMAS)
def test_schemas_are_valid_and_name_the_registered_tasks(name):
    raw = json.loads((SCHEMA_DIR / name).read_text())
    jsonschema.Draft202012Validator.check_schema(raw)
    assert "enum" not in raw["$defs"]["task"]  # task names come from the registry, not the file
    loaded = load_schema(name)
    assert loaded["$defs"]["task"]["enum"] == [t.name for t in tasks_with_role("target")]


@pytest.mark.parametrize("name", ["paper", "smoke"])
def test_expected_tables_validate(name):
    schema = load_schema("schema.json")
    table = json.loads((EXPECTED / f"{name}.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(table)
    ids = [f["id"] for f in table["figures"]]
    assert len(ids) == len(set(ids))


def test_paper_table_headline_figures():
    figs = {f["id"]: f for f in json.loads((EXPECTED / "paper.json").read_text())["figures"]}
    for fid, value in {"squad_gain": 8.2, "mnli_gain": 7.5, "hellaswag_gain": 7.0, "multitask_gain": 8.7}.items():
        assert figs[fid]["value"] == value
        assert figs[fid]["provenance"]["confidence"] == "unverified"
        assert figs[fid]["definition"]["split"] == "dev"
    assert figs["xtreme_best_gain"]["value"] == 5.4
    assert figs["xtreme_best_gain"]["provenance"]["confidence"] == "verified"


def test_built_results_validate_against_results_schema():
    schema = load_schema("results.schema.json")
    jsonschema.Draft202012Validator(schema).validate(make_results(make_config()))


def test_languages_without_a_file_are_listed_not_scored():
    """A language a target knows whose file the data lacks is listed as not evaluated in results.json and
    results.md; targets with every language evaluated are left out."""
    from repro.phases.aggregate import markdown

    config = make_config()
    base = make_results(config)
    cells = {(enc, tgt, s): {"dev": task_scores(tgt, v[s])} for (enc, tgt), v in SCORES.items() for s in (1, 2)}
    results = build_results(about(resolve(config)), cells, {}, {"xnli": ["sw", "ur (dev: no file)"], "xquad": []})
    assert results["not_evaluated"] == {"xnli": ["sw", "ur (dev: no file)"]} and "not_evaluated" not in base
    jsonschema.Draft202012Validator(load_schema("results.schema.json")).validate(results)
    assert "## Not evaluated: no file in the data\n\n- xnli: sw, ur (dev: no file)" in markdown(results)


def test_schema_rejects_mismatched_check_and_definition():
    schema = load_schema("schema.json")
    bad = copy.deepcopy(figures()[4])  # structure figure
    bad["check"] = "value"
    bad.update(value=1.0, unit="points", tolerance={"abs": 1.0, "note": "x"})
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors({"profile": "p", "description": "d", "figures": [bad]}))
    assert errors
