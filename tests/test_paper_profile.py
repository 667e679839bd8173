"""The paper profile against the paper's code base (jiant's X-STILTs guide and XTREME guide): per-task
data sources checked when the plan is built, tasks the hub cannot serve faithfully, intermediate settings,
the checkpoint-selection protocol, and the Tatoeba reader's line splitting."""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from repro.cli import main
from repro.config import PROFILE_DIR, load_config
from repro.engine import run_stages, stage_dir
from repro.errors import ConfigError, ReproError
from repro.phases.common import examples_path, read_examples
from repro.plan import build_plan
from repro.settings.profile import resolve
from repro.tasks import DataSource, get_task

LOCAL_ONLY = ("ccg", "bucc2018", "udpos")


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def local_only_files(root: Path) -> list[str]:
    """Small files for the three tasks the paper profile reads locally; the --set lines that point at them."""
    write(root, "ccg/ccg.train", "Anna runs .\tNP S\\NP .\n")
    write(root, "ccg/ccg.dev", "Bob runs .\tNP S\\NP .\n")
    for lang in ("de", "fr", "ru", "zh"):
        for split in ("dev", "test"):
            write(root, f"bucc2018/{lang}-en.{split}.{lang}", f"{lang}-000000001\tSatz\n")
            write(root, f"bucc2018/{lang}-en.{split}.en", "en-000000001\tsentence\n")
        write(root, f"bucc2018/{lang}-en.dev.gold", f"{lang}-000000001\ten-000000001\n")
    for split in ("train", "dev", "test"):
        write(root, f"udpos/{split}-en.tsv", "The\tDET\ndog\tNOUN\n" if split != "test" else "The\ndog\n")
    return [f"data.task.{t}.dir={json.dumps(str(root))}" for t in LOCAL_ONLY]


# ---- item 2: per-task sources, checked at plan time ----

def test_paper_dry_run_without_local_files_fails_at_once_naming_every_task(capsys):
    started = time.monotonic()
    assert main(["reproduce", "--all", "--profile", "paper", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert time.monotonic() - started < 10  # the plan check, nothing downloaded or trained
    for task in LOCAL_ONLY:
        assert f"data.task.{task}.dir" in err
    assert "Traceback" not in err


def test_paper_dry_run_passes_once_data_task_points_at_local_files(tmp_path, capsys):
    overrides = local_only_files(tmp_path)
    args = ["reproduce", "--all", "--profile", "paper", "--dry-run"]
    for o in overrides:
        args += ["--set", o]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"local files under {tmp_path}/ccg" in out and f"local files under {tmp_path}/udpos" in out
    assert "the hub (google/xtreme)" in out  # the other targets still come from the hub: one run mixes both


def test_a_hub_task_that_the_hub_cannot_serve_names_the_fixing_keys(tmp_path):
    overrides = local_only_files(tmp_path) + ['data.task.bucc2018.source="hub"', 'data.task.ccg.source="hub"',
                                              'data.task.ccg.dir=""']
    with pytest.raises(ConfigError) as e:
        build_plan(load_config("paper", overrides))
    message = str(e.value)
    assert "bucc2018: the hub copy" in message and "distractor" in message
    assert 'data.task.bucc2018.source = "local" and data.task.bucc2018.dir' in message
    assert "ccg: CCGbank (LDC2005T13) is licensed" in message
    assert "udpos" not in message  # its local files are there


def test_data_task_keys_are_validated():
    with pytest.raises(ConfigError, match="data.task.nosuch: no such task"):
        load_config("paper", ['data.task.nosuch.source="local"'])
    with pytest.raises(ConfigError, match='data.task.ccg.source = "synthetic" is not allowed: one of hub, local'):
        load_config("paper", ['data.task.ccg.source="synthetic"'])
    with pytest.raises(ConfigError, match="unknown config key 'data.task.ccg.cache'"):
        load_config("paper", ['data.task.ccg.cache="x"'])
    with pytest.raises(ConfigError, match="target.selection"):
        load_config("paper", ['target.selection="best"'])


# ---- item 1: BUCC from the hub is refused ----

def test_bucc_hub_read_is_refused_with_the_fix():
    with pytest.raises(ReproError, match=r"only the gold pairs.*data\.task\.bucc2018\.source"):
        get_task("bucc2018").read(DataSource("hub"), "dev", "de")
    assert get_task("bucc2018").source_problem(DataSource("hub"))


# ---- item 6 and the labels: jiant's X-STILTs guide ----

def test_intermediate_settings_follow_the_xstilts_guide():
    config = load_config("paper")
    assert config["intermediate"]["squad_version"] == "1.1"
    for task in config["intermediate"]["tasks"]:
        s = resolve(config).intermediate.settings(task)
        assert (s["batch_size"], s["grad_accum"], s["max_seq_length"]) == (4, 1, 256), task
    assert load_config("paper", ['intermediate.squad_version="2.0"'])["intermediate"]["squad_version"] == "2.0"


LABEL = re.compile(r"#.*\[(paper|jiant guide|jiant default|jiant xtreme|XTREME|our choice)\]")


def test_every_value_in_paper_toml_has_a_true_label_and_its_file():
    lines = (PROFILE_DIR / "paper.toml").read_text(encoding="utf-8").splitlines()
    values = [ln for ln in lines if "=" in ln.split("#")[0] and not ln.startswith(("extends", "#"))]
    assert values
    for line in values:
        assert LABEL.search(line), f"no label: {line}"
        comment = line.split("#", 1)[1]
        if not re.search(r"\[(our choice|paper|jiant guide)\]", comment):  # the header names the guide's file
            # jiant/XTREME labels name the file they come from, or say "same file" after one that does.
            assert re.search(r"\.(py|sh|md|toml)\b|same file|d_write_configs|c_tokenize", comment), line
    assert "[jiant default] as the XTREME target runs" not in "\n".join(lines)


# ---- item 8: UD-POS ----

def test_paper_profile_reads_udpos_from_xtreme_files(tmp_path, monkeypatch):
    plan = build_plan(load_config("paper", local_only_files(tmp_path)))
    (prep,) = [s for s in plan.stages if s.id == "prepare/udpos"]
    assert f"local files under {tmp_path}/udpos" in prep.describe
    # Elsewhere the hub stays usable, with the warning that its words are not XTREME's.
    import repro.tasks.udpos as udpos

    monkeypatch.setattr(udpos, "hub_load", lambda *a, **k: [{"tokens": ["de", "le"], "pos_tags": [1, 5]}])
    with pytest.warns(UserWarning, match="fused surface forms"):
        get_task("udpos").read(DataSource("hub"), "test", "fr")


# ---- item 9: checkpoint selection for XNLI ----

def xnli_world(root: Path) -> None:
    write(root, "xnli/train-en.tsv", "a\tb\tentailment\n")
    write(root, "xnli/dev-en.tsv", "xnli premise\tx\tneutral\n")
    write(root, "xnli/test-en.tsv", "c\td\n")
    write(root, "mnli/multinli_1.0_train.jsonl",
          json.dumps({"sentence1": "t", "sentence2": "h", "gold_label": "neutral", "pairID": "t1"}) + "\n")
    write(root, "mnli/multinli_1.0_dev_matched.jsonl",
          json.dumps({"sentence1": "mnli premise", "sentence2": "h", "gold_label": "contradiction",
                      "pairID": "m1"}) + "\n")


@pytest.mark.parametrize("protocol,premise", [("jiant", "mnli premise"), ("xtreme", "xnli premise")])
def test_xnli_selection_protocol(tmp_path, protocol, premise):
    xnli_world(tmp_path / "data")
    config = load_config(str(PROFILE_DIR / "smoke.toml"), [
        'data.source="local"', f"data.dir={json.dumps(str(tmp_path / 'data'))}", 'target.languages=["en"]',
        'intermediate.tasks=["mnli"]', 'target.encoders=["mnli"]', 'target.tasks=["xnli"]', f'target.selection="{protocol}"'])
    (prep,) = [s for s in build_plan(config).stages if s.id == "prepare/xnli"]
    run_stages(tmp_path / "run", [prep], log=lambda *a: None)
    selection = read_examples(examples_path(stage_dir(tmp_path / "run", prep), "select", "en"))
    assert [ex["text_a"] for ex in selection] == [premise]


def test_selection_protocol_is_declared_on_the_task_not_in_phases():
    assert get_task("xnli").selection_tasks == {"jiant": "mnli"}
    phases = Path(__file__).resolve().parents[1] / "repro" / "phases"
    for path in phases.glob("*.py"):
        assert '"xnli"' not in path.read_text(encoding="utf-8"), path


# ---- item 10: Tatoeba lines end at "\n" only ----

def test_tatoeba_keeps_unicode_line_separators_inside_a_sentence(tmp_path):
    write(tmp_path, "tatoeba/de-en.de", "Hal\u2028lo.\nDan\x85ke\x0c.\n")
    write(tmp_path, "tatoeba/de-en.en", "Hello.\nThanks.\n")
    (ex,) = get_task("tatoeba").read(DataSource("local", tmp_path), "test", "de")
    assert ex["source"] == ["Hal\u2028lo.", "Dan\x85ke\x0c."]
