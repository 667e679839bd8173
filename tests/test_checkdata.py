"""`check-data`: one example of every dataset a profile needs, from fake hub rows (datasets.load_dataset
monkeypatched, so the real hub_load path runs) and from small local files."""
from __future__ import annotations

import json
from pathlib import Path

import datasets
import pytest

from repro.checkdata import check_data
from repro.cli import main
from repro.config import load_config

ROWS = {
    ("nyu-mll/glue", "mnli", "train"): [{"premise": "p", "hypothesis": "h", "label": 0, "idx": 1}],
    ("nyu-mll/glue", "mnli", "validation_matched"): [{"premise": "p", "hypothesis": "h", "label": 2, "idx": 2}],
    ("allenai/cosmos_qa", None, "train"): [{"id": "c", "context": "x", "question": "q", "answer0": "a",
                                            "answer1": "b", "answer2": "c", "answer3": "d", "label": 1}],
    ("allenai/cosmos_qa", None, "validation"): [{"id": "d", "context": "x", "question": "q", "answer0": "a",
                                                 "answer1": "b", "answer2": "c", "answer3": "d", "label": 3}],
    **{("google/xtreme", f"PAWS-X.{lang}", split): [{"sentence1": "a", "sentence2": "b", "label": "1"}]
       for lang in ("en", "de") for split in ("train", "validation", "test")},
}


class FakeHub:
    def __init__(self, rows=ROWS, error=None):
        self.rows, self.error, self.calls = rows, error, []

    def __call__(self, path, name=None, split=None, cache_dir=None, **kwargs):
        self.calls.append((path, name, split, kwargs))
        if self.error:
            raise self.error
        if path == "allenai/cosmos_qa" and kwargs.get("revision") != "refs/convert/parquet":
            raise RuntimeError("Dataset scripts are no longer supported, but found cosmos_qa.py")
        if (path, name, split) not in self.rows:
            raise ValueError(f"BuilderConfig '{name}' not found")
        return iter(self.rows[(path, name, split)])


def write(root: Path, rel: str, text: str) -> None:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_text(text, encoding="utf-8")


def local_files(root: Path) -> None:
    write(root, "ccg/ccg.train", "Anna runs .\tNP S\\NP .\n")
    write(root, "ccg/ccg.dev", "Bob runs .\tNP S\\NP .\n")
    for split in ("dev", "test"):
        write(root, f"bucc2018/de-en.{split}.de", "de-1\tSatz\n")
        write(root, f"bucc2018/de-en.{split}.en", "en-1\tsentence\n")
    write(root, "bucc2018/de-en.dev.gold", "de-1\ten-1\n")


def profile(root: Path, *extra: str) -> dict:
    d = json.dumps(str(root))
    return load_config("paper", [
        'intermediate.tasks=["mnli", "cosmosqa", "ccg"]', 'target.tasks=["pawsx", "bucc2018"]',
        'target.encoders=["mnli"]', f"data.task.ccg.dir={d}", f"data.task.bucc2018.dir={d}",
        'target.languages=["en", "de"]', *extra])


@pytest.fixture
def online(monkeypatch):
    for key in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "REPRO_OFFLINE"):
        monkeypatch.delenv(key, raising=False)


def run(config, capsys) -> tuple[int, str]:
    code = check_data(config)
    return code, capsys.readouterr().out


def row(out: str, task: str) -> str:
    return next(line for line in out.splitlines() if line.split()[:1] == [task])


def test_every_dataset_read_through_the_hub_path_and_local_files(tmp_path, monkeypatch, capsys, online):
    local_files(tmp_path)
    hub = FakeHub()
    monkeypatch.setattr(datasets, "load_dataset", hub)
    code, out = run(profile(tmp_path), capsys)
    assert code == 0, out
    for task in ("mnli", "cosmosqa", "pawsx"):
        assert "ok (" in row(out, task) and "hub " in row(out, task)
    assert "ok (" in row(out, "ccg") and f"local {tmp_path}" in row(out, "ccg")
    assert "ok (2 split-language files)" in row(out, "bucc2018")  # dev-de, test-de (en is not a BUCC language)
    assert all(kw.get("streaming") for *_, kw in hub.calls)  # one row streamed, nothing downloaded
    cosmos = [kw for path, _, _, kw in hub.calls if path == "allenai/cosmos_qa"]
    assert cosmos and all(kw["revision"] == "refs/convert/parquet" for kw in cosmos)
    # jiant's XNLI-style selection is not involved here; PAWS-X is probed for each language and split
    assert {(n, s) for p, n, s, _ in hub.calls if p == "google/xtreme"} == {
        (f"PAWS-X.{lang}", split) for lang in ("en", "de") for split in ("validation", "test")} | {("PAWS-X.en", "train")}


def test_wrong_columns_configs_and_labels_are_named(tmp_path, monkeypatch, capsys, online):
    local_files(tmp_path)
    rows = dict(ROWS)
    rows[("google/xtreme", "PAWS-X.de", "test")] = [{"sentence1": "a", "label": "1"}]  # no sentence2
    rows[("nyu-mll/glue", "mnli", "train")] = [{"premise": "p", "hypothesis": "h", "label": 7, "idx": 1}]
    del rows[("google/xtreme", "PAWS-X.de", "validation")]
    monkeypatch.setattr(datasets, "load_dataset", FakeHub(rows))
    write(tmp_path, "ccg/ccg.dev", "Bob runs .\tNP .\n")
    code, out = run(profile(tmp_path), capsys)
    assert code == 1
    assert "WRONG" in row(out, "pawsx") and "test-de: the rows have no column 'sentence2'" in row(out, "pawsx")
    assert "dev-de: ValueError: BuilderConfig 'PAWS-X.de' not found" in row(out, "pawsx")
    assert "WRONG" in row(out, "mnli") and "train-en" in row(out, "mnli")
    assert "ccg.dev:1: 3 tokens but 2 supertags" in row(out, "ccg")
    assert "wrong: mnli, ccg, pawsx" in out


def test_offline_lists_the_hub_loads_not_tried_and_still_checks_local_files(tmp_path, monkeypatch, capsys):
    local_files(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub = FakeHub()
    monkeypatch.setattr(datasets, "load_dataset", hub)
    code, out = run(profile(tmp_path), capsys)
    assert code == 1 and hub.calls == []
    assert "NOT TRIED (2 hub loads" in row(out, "mnli") and "train-en, dev-en" in row(out, "mnli")
    assert "ok (" in row(out, "ccg") and "ok (" in row(out, "bucc2018")
    assert "not tried (9)" in out  # mnli 2, cosmosqa 2, pawsx 5


def test_an_unreachable_hub_is_tried_once(tmp_path, monkeypatch, capsys, online):
    local_files(tmp_path)
    hub = FakeHub(error=ConnectionError("Couldn't reach 'nyu-mll/glue' on the Hub"))
    monkeypatch.setattr(datasets, "load_dataset", hub)
    code, out = run(profile(tmp_path), capsys)
    assert code == 1 and len(hub.calls) == 1
    assert "NOT TRIED" in row(out, "pawsx") and "ok (" in row(out, "ccg")


def test_missing_local_folders_name_the_keys(tmp_path, capsys):
    code = main(["check-data", "--profile", "paper", "--offline", "--set", 'intermediate.tasks=["ccg"]',
                 "--set", 'target.tasks=["bucc2018"]', "--set", 'target.encoders=["ccg"]'])
    out = capsys.readouterr().out
    assert code == 1
    assert "ccg: no local folder is set (set data.task.ccg.dir)" in row(out, "ccg")
    assert "bucc2018" in row(out, "bucc2018") and "WRONG" in row(out, "bucc2018")


def test_the_smoke_profile_has_nothing_to_read_before_the_run(capsys):
    code, out = run(load_config("smoke"), capsys)
    assert code == 0 and "smoke world" in row(out, "mnli") and "generated by the run" in out
