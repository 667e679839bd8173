"""scripts/real_transfer_tables.py: the README's real-transfer tables printed from a run's results.json
and analysis.json, and --check failing when the documentation quotes other numbers."""
import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "real_transfer_tables.py"


@pytest.fixture(scope="module")
def tables():
    spec = importlib.util.spec_from_file_location("real_transfer_tables", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _run(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    cell = lambda m: {"mean": m, "sd": 0.0, "n": 1}
    results = {
        "headline_split": "dev", "encoders": ["baseline", "sst2"], "targets": ["udpos", "xquad"],
        "splits": {"dev": {"cells": {"baseline": {"udpos": cell(64.18), "xquad": cell(8.5)},
                                     "sst2": {"udpos": cell(63.7), "xquad": cell(9.25)}}}},
        "intermediate_dev": {"sst2": {"metric": "accuracy", "mean": 89.583}},
    }
    analysis = {"sources": ["sst2"], "gain": {"sst2": {"udpos": -0.48, "xquad": 0.75}},
                "gain_ci": {"sst2": {"udpos": [-0.98, 0.05], "xquad": None}},
                "verdicts": ["the data cannot resolve it"]}
    for key in ("abc", "new"):  # "new" is newer but not what the published analysis was made from
        (run / "aggregate" / f"results-{key}").mkdir(parents=True)
        table = results if key == "abc" else {**results, "encoders": []}
        (run / "aggregate" / f"results-{key}" / "results.json").write_text(json.dumps(table))
    report = run / "analyze" / "report-k1"
    report.mkdir(parents=True)
    (report / "analysis.json").write_text(json.dumps(analysis))
    (report / "manifest.json").write_text(json.dumps({"deps": {"aggregate/results": "abc"}}))
    (run / "analysis").mkdir()
    (run / "analysis" / "published_from.json").write_text(json.dumps({"dir": "analyze/report-k1"}))
    return run


def test_rows_come_from_the_run(tmp_path, tables, capsys):
    assert tables.main([str(_run(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert "| baseline (e5-small) | 64.18 | 8.50 |" in out
    assert "| SST-2 | −0.48 [−0.98, +0.05] | +0.75 |" in out  # a gain without a CI has none printed
    assert "| SST-2 | accuracy | 89.58 |" in out
    assert "- the data cannot resolve it" in out


def test_check_passes_on_the_quoted_rows_and_fails_on_others(tmp_path, tables, capsys):
    run = _run(tmp_path)
    assert tables.main([str(run)]) == 0
    printed = capsys.readouterr().out
    doc = tmp_path / "README.md"
    doc.write_text(printed)
    assert tables.main([str(run), "--check", str(doc)]) == 0
    doc.write_text(printed.replace("64.18", "64.19"))
    assert tables.main([str(run), "--check", str(doc)]) == 1
    assert "row not found" in capsys.readouterr().out
    gains_only = printed[printed.index("| source |"):printed.index("Intermediate tasks")]
    doc.write_text(gains_only)  # a page may quote one table: only its rows are checked
    assert tables.main([str(run), "--check", str(doc)]) == 0
    doc.write_text("no table here")
    assert tables.main([str(run), "--check", str(doc)]) == 1
    assert "quotes none" in capsys.readouterr().out


def test_a_run_without_results_says_so(tmp_path, tables):
    with pytest.raises(SystemExit, match="no results.json"):
        tables.main([str(tmp_path)])


@pytest.mark.parametrize("profile, expected", [("real-transfer", "local"), ("smoke", "synthetic")])
def test_results_name_where_the_tasks_were_read(profile, expected):
    """real-transfer reads every task through [data.task.NAME] source = "local" while data.source stays
    "hub": the results table must say local (and the aggregate stage is keyed by it)."""
    from repro.config import load_config
    from repro.plan import about
    from repro.settings.profile import resolve
    from repro.sources import resolve_sources

    p = resolve(load_config(profile, []))
    tasks = list(dict.fromkeys(p.intermediate.tasks + p.target.tasks))
    assert about(p, resolve_sources(p, tasks)).data_source == expected
