"""The D0 ladder file, `analyze --results` on a hand-typed table, and bad input."""
import json

import numpy as np
import pytest
from scipy import stats as sps

from conftest import ROOT, repro
from repro.analysis import ladder
from repro.engine import Stage, stage_dir
from repro.phases.analyze import publish

TYPED = ROOT / "tests" / "fixtures" / "analysis" / "typed_results.json"

# The ladder over Phang et al.'s task list, typed in by hand: the attributes must reproduce it.
SPEC_LADDER = """
anli 0 1 3 3 3 3 3 2 2
ccg 3 3 0 1 2 2 2 3 3
commonsenseqa 2 2 3 3 2 2 2 2 2
cosmosqa 2 2 3 3 2 2 2 2 2
hellaswag 2 2 3 3 3 3 3 2 2
mnli 0 1 3 3 3 3 3 2 2
qqp 1 0 3 3 3 3 3 1 1
squad 3 3 2 2 0 0 0 3 3
sst2 2 2 3 3 3 3 3 2 2
"""
TARGETS = ["xnli", "pawsx", "udpos", "panx", "xquad", "mlqa", "tydiqa", "bucc2018", "tatoeba"]


def test_ladder_reproduces_the_tabled_distances_and_self_transfer():
    for line in SPEC_LADDER.strip().splitlines():
        source, *ds = line.split()
        assert [ladder.distance(source, t) for t in TARGETS] == list(map(int, ds)), source
    assert ladder.is_self_transfer("mnli", "xnli") and ladder.is_self_transfer("squad", "mlqa")
    assert not ladder.is_self_transfer("anli", "xnli")


def test_analyze_results_on_a_hand_typed_table(tmp_path):
    proc = repro("analyze", "--results", TYPED, "--out", tmp_path, "--permutations", "200", "--bootstrap", "50")
    assert "report.md" in proc.stdout
    a = json.loads((tmp_path / "analysis.json").read_text())
    for key in ("split", "targets", "sources", "gain", "measures", "per_target", "pawsx_interaction", "verdicts"):
        assert key in a
    assert a["gain"]["mnli"]["xnli"] == 1.0 and ["mnli", "xnli"] in a["masked"]
    # D0 on udpos by hand: ccg (d 0) is nearest; the others are 2 (squad) or 3
    order = a["sources"]
    gains = [json.loads(TYPED.read_text())["splits"]["dev"]["gain"][s]["udpos"]["mean"] for s in order]
    d0 = [-ladder.distance(s, "udpos") for s in order]
    row = a["per_target"]["D0"]["udpos"]
    assert row["spearman"] == pytest.approx(sps.spearmanr(gains, d0).statistic)
    assert row["n"] == 5 and row["regret1"] == pytest.approx(0.0)  # ccg is best and ranked first
    assert row["kendall"] == pytest.approx(sps.kendalltau(gains, d0).statistic)
    # xnli: mnli masked, four sources remain
    assert a["per_target"]["D0"]["xnli"]["n"] == 4
    assert set(a["pawsx_interaction"]) >= {"D0", "B1", "B2"}
    assert a["verdicts"] and all(isinstance(v, str) for v in a["verdicts"])
    for png in ("gain_heatmap.png", "similarity_vs_gain.png", "forest.png"):
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"
    assert "## Verdicts" in (tmp_path / "report.md").read_text()


def test_analyze_results_bad_input_is_one_line_exit_2(tmp_path):
    bad = tmp_path / "bad.json"
    table = json.loads(TYPED.read_text())
    table["splits"]["dev"]["gain"]["mnli"]["xnli"]["mean"] = "high"
    bad.write_text(json.dumps(table))
    proc = repro("analyze", "--results", bad, "--out", tmp_path / "o", check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "mean" in proc.stderr
    assert not (tmp_path / "o" / "analysis.json").exists()


def test_the_mini_run_includes_the_analysis(mini_run):
    run_dir, proc = mini_run
    assert "research-question report:" in proc.stdout
    reports = list((run_dir / "analyze").glob("report-*/analysis.json"))
    assert len(reports) == 1
    a = json.loads(reports[0].read_text())
    assert a["sources"] == ["mnli"] and ["mnli", "xnli"] in a["masked"]
    assert a["measures"]["M4"]["mnli"]["panx"] is not None      # ΔLogME from the kept encoders
    assert a["measures"]["M4"]["mnli"]["tatoeba"] is not None   # ΔA for retrieval
    assert any("cannot resolve" in v for v in a["verdicts"])    # one source: honestly unresolvable
    assert {p.name for p in reports[0].parent.glob("*.png")} == {"gain_heatmap.png", "similarity_vs_gain.png", "forest.png"}
    # the gains' CIs: paired bootstrap over evaluation examples where the metric decomposes per example
    assert a["gain_ci"]["mnli"]["xquad"] is None and a["gain_ci"]["mnli"]["tatoeba"] is None
    lo, hi = a["gain_ci"]["mnli"]["panx"]
    assert lo <= a["gain"]["mnli"]["panx"] <= hi and a["gain_ci"]["mnli"]["xnli"] is not None
    assert "paired bootstrap over evaluation examples" in (reports[0].parent / "report.md").read_text()
    # M5: the baseline target cells kept their probe features (float16) before their models went
    kept = sorted(run_dir.glob("target/baseline__panx-s*/cka_features.npy"))
    assert len(kept) == 1 and np.load(kept[0]).dtype == np.float16 and np.load(kept[0]).shape[0] <= 48
    assert not list(run_dir.glob("target/mnli__panx-s*/cka_features.npy"))
    assert -1 <= a["measures"]["M5"]["mnli"]["panx"] <= 1 and a["measures"]["M5"]["mnli"]["tatoeba"] is None
    assert "M5" in a["measures_available"]
    # published where the issue says, a copy of the cached stage's outputs; the CLI names it
    published = run_dir / "analysis"
    assert f"research-question report: {published / 'report.md'}" in proc.stdout
    for name in ("report.md", "analysis.json", "gain_heatmap.png", "similarity_vs_gain.png", "forest.png"):
        assert (published / name).read_bytes() == (reports[0].parent / name).read_bytes(), name


def test_publish_replaces_the_whole_set_and_leaves_no_temporaries(tmp_path):
    stage = Stage("analyze", "report", {"k": 1}, lambda ctx: None, versions=())
    src = stage_dir(tmp_path, stage)
    src.mkdir(parents=True)
    (src / "report.md").write_text("new")
    (src / "manifest.json").write_text("{}")
    old = tmp_path / "analysis"
    old.mkdir()
    (old / "report.md").write_text("old")
    (old / "stale.png").write_text("from an earlier analysis")
    (tmp_path / ".analysis.tmp").mkdir()  # left by a killed publish
    assert publish(tmp_path, stage) == old / "report.md"
    assert {p.name for p in old.iterdir()} == {"report.md", "published_from.json"}
    assert (old / "report.md").read_text() == "new"
    assert json.loads((old / "published_from.json").read_text())["key"] == stage.key
    assert sorted(p.name for p in tmp_path.iterdir()) == ["analysis", "analyze"]


@pytest.mark.slow
def test_analyze_results_with_a_profile_reads_the_data(tmp_path):
    """`--profile P`: M1, M2, M3 (b) and C2 from the tasks' data as P reads them (the tiny model, synthetic world)."""
    proc = repro("analyze", "--results", TYPED, "--out", tmp_path / "o", "--profile", "smoke", "--run-dir",
                 tmp_path / "run", "--set", "analysis.sample_size=32", "--set", "analysis.fisher_head_steps=10",
                 "--permutations", "100", "--bootstrap", "20")
    assert "report.md" in proc.stdout
    a = json.loads((tmp_path / "o" / "analysis.json").read_text())
    assert {"M1", "M2", "M3", "D0", "B1", "B2"} <= set(a["measures_available"])
    assert 0 < a["measures"]["M1"]["qqp"]["pawsx"] <= 1 and a["measures"]["M2"]["ccg"]["udpos"] is not None
    assert a["measures"]["M3"]["mnli"]["xnli"] is not None and a["measures"]["M3"]["ccg"]["xnli"] is None
    assert "pawsx" in a["variants"]["C2"] and any("profile `smoke`" in n for n in a["notes"])
    # without a profile the report says what was skipped and why
    repro("analyze", "--results", TYPED, "--out", tmp_path / "bare", "--permutations", "100", "--bootstrap", "20")
    bare = json.loads((tmp_path / "bare" / "analysis.json").read_text())
    assert bare["measures_available"] == ["D0", "B1", "B2"]
    assert any("M1, M2, M3 and C2 skipped" in n for n in bare["notes"])
