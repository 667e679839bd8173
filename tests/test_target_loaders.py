"""Loaders of the nine XTREME targets on local files in XTREME's layout (google-research/xtreme scripts/download_data.sh), written by hand in
tmp_path, on the smoke world's files, and on fake hub rows; and the DataErrors that malformed files raise,
each naming the file (and line, where the reader knows it)."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
from conftest import write_file

import repro.tasks.mlqa as mlqa_module
import repro.tasks.pawsx as pawsx_module
import repro.tasks.tydiqa as tydiqa_module
import repro.tasks.udpos as udpos_module
import repro.tasks.xtreme_formats as xtreme_formats
from repro.errors import DataError, ReproError
from repro.heads import get_head
from repro.readers import HUB_SPLITS
from repro.synthetic.generate import generate
from repro.tasks import DataSource, get_task
from repro.tasks.base import has_gold

TARGETS = ["xnli", "pawsx", "udpos", "panx", "xquad", "mlqa", "tydiqa", "bucc2018", "tatoeba"]




def squad_json(qas, version="1.1", title="t", context="anna sees the cat in paris .") -> str:
    return json.dumps({"version": version, "data": [{"title": title, "paragraphs": [
        {"context": context, "qas": qas}]}]})


def read(task: str, root: Path, split: str, lang: str) -> list[dict]:
    return get_task(task).read(DataSource("local", root), split, lang)


def raises_at(path: Path, line: int | None = None, match: str = ""):
    """pytest.raises(DataError) whose message starts with `path:line` (or `path`)."""
    where = f"{path}:{line}: " if line is not None else f"{path}: "
    return pytest.raises(DataError, match=_escape(where) + ".*" + match)


def _escape(text: str) -> str:
    import re
    return "^" + re.escape(text)


# ---------------------------------------------------------------------------------------------------------
# Classification: XNLI, PAWS-X
# ---------------------------------------------------------------------------------------------------------

def test_xnli_dev_and_unlabelled_test(tmp_path):
    write_file(tmp_path, "xnli/dev-de.tsv", "Ein Hund bellt.\tEin Tier bellt.\tentailment\r\nA\tB\tneutral\r\n")
    write_file(tmp_path, "xnli/test-de.tsv", "Ein Hund bellt.\tEin Tier bellt.\n")
    dev = read("xnli", tmp_path, "dev", "de")
    assert [(e["text_a"], e["text_b"], e["label"]) for e in dev] == [
        ("Ein Hund bellt.", "Ein Tier bellt.", "entailment"), ("A", "B", "neutral")]
    assert read("xnli", tmp_path, "test", "de")[0]["label"] is None


def test_pawsx_keeps_rows_with_empty_text(tmp_path):
    # Missing human translations leave empty cells (XTREME's PAWS-X files); each row must survive so predictions
    # stay aligned with the gold lines.
    write_file(tmp_path, "pawsx/dev-de.tsv", "Satz eins\tSatz zwei\t1\n\tnur zwei\t0\nnur eins\t\t0\n")
    write_file(tmp_path, "pawsx/test-de.tsv", "a\tb\n\t\nc\td\n")
    dev = read("pawsx", tmp_path, "dev", "de")
    assert [(e["text_a"], e["text_b"], e["label"]) for e in dev] == [
        ("Satz eins", "Satz zwei", "1"), ("", "nur zwei", "0"), ("nur eins", "", "0")]
    test = read("pawsx", tmp_path, "test", "de")
    assert [(e["text_a"], e["text_b"], e["label"]) for e in test] == [("a", "b", None), ("", "", None),
                                                                       ("c", "d", None)]


def test_pawsx_errors_name_file_and_line(tmp_path):
    p = write_file(tmp_path, "pawsx/dev-en.tsv", "a\tb\t1\nc\td\t2\n")
    with raises_at(p, 2, "unknown label '2'"):
        read("pawsx", tmp_path, "dev", "en")
    p = write_file(tmp_path, "pawsx/train-en.tsv", "a\tb\t1\nc\td\n")
    with raises_at(p, 2, "label"):
        read("pawsx", tmp_path, "train", "en")
    p = write_file(tmp_path, "pawsx/dev-fr.tsv", "a\tb\t1\t9\n")
    with raises_at(p, 1, "columns"):
        read("pawsx", tmp_path, "dev", "fr")
    p = write_file(tmp_path, "pawsx/dev-es.tsv", b"a\tb\t1\n\xff\tb\t0\n")
    with raises_at(p, 2, "UTF-8"):
        read("pawsx", tmp_path, "dev", "es")
    with raises_at(tmp_path / "pawsx" / "dev-ja.tsv", match="not found"):
        read("pawsx", tmp_path, "dev", "ja")


def test_pawsx_hub_labels_are_strings(monkeypatch):
    calls = []

    def fake_hub(source, hub_id, config, split):
        calls.append((hub_id, config, HUB_SPLITS.get(split, split)))  # the name datasets sees
        return [{"sentence1": "a", "sentence2": None, "label": "1"}, {"sentence1": "c", "sentence2": "d", "label": "0"}]

    monkeypatch.setattr(pawsx_module, "hub_load", fake_hub)
    rows = get_task("pawsx").read(DataSource("hub"), "dev", "ko")
    assert calls == [("google/xtreme", "PAWS-X.ko", "validation")]
    assert [(e["text_a"], e["text_b"], e["label"]) for e in rows] == [("a", "", "1"), ("c", "d", "0")]
    monkeypatch.setattr(pawsx_module, "hub_load", lambda *a: [{"sentence1": "a", "sentence2": "b", "label": "2"}])
    with pytest.raises(DataError, match=r"PAWS-X\.ko/validation:row 0: unknown label"):
        get_task("pawsx").read(DataSource("hub"), "dev", "ko")


# ---------------------------------------------------------------------------------------------------------
# Tagging: UD-POS, PAN-X
# ---------------------------------------------------------------------------------------------------------

def test_udpos_sentences_and_test_tokens(tmp_path):
    write_file(tmp_path, "udpos/dev-en.tsv", "The\tDET\ndog\tNOUN\n.\tPUNCT\n\nHi\tINTJ\n")
    write_file(tmp_path, "udpos/test-kk.tsv", "Мен\nкелдім\n\nИә\n")
    dev = read("udpos", tmp_path, "dev", "en")
    assert [(e["tokens"], e["tags"]) for e in dev] == [(["The", "dog", "."], ["DET", "NOUN", "PUNCT"]),
                                                       (["Hi"], ["INTJ"])]
    assert [(e["tokens"], e["tags"]) for e in read("udpos", tmp_path, "test", "kk")] == [
        (["Мен", "келдім"], None), (["Иә"], None)]


def test_udpos_labels_and_splits():
    task = get_task("udpos")
    assert task.labels == ["ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON",
                           "PROPN", "PUNCT", "SCONJ", "SYM", "VERB", "X"]
    assert task.metric == "f1" and len(task.languages) == 33
    assert task.split_languages("dev", ["en", "kk", "tl", "th", "yo", "de"]) == ["en", "de"]
    assert task.split_languages("test", ["en", "kk", "tl", "th", "yo"]) == ["en", "kk", "tl", "th", "yo"]
    assert task.has_split("train", "kk") and not task.has_split("train", "yo")


def test_udpos_errors_name_file_and_line(tmp_path):
    p = write_file(tmp_path, "udpos/dev-en.tsv", "The\tDET\n\ndog\tNOUNS\n")
    with raises_at(p, 3, "unknown label 'NOUNS'"):
        read("udpos", tmp_path, "dev", "en")
    p = write_file(tmp_path, "udpos/dev-de.tsv", "Der\tDET\nHund\tNOUN\textra\n")
    with raises_at(p, 2, "columns"):
        read("udpos", tmp_path, "dev", "de")
    p = write_file(tmp_path, "udpos/train-en.tsv", "The\tDET\ndog\n")
    with raises_at(p, 1, "tag column"):
        read("udpos", tmp_path, "train", "en")


def test_udpos_hub_maps_english_names_and_ids(monkeypatch):
    calls = []

    def fake_hub(source, hub_id, config, split):
        calls.append((config, HUB_SPLITS.get(split, split)))
        return [{"tokens": ["Der", "Hund"], "pos_tags": [5, 7]}]

    monkeypatch.setattr(udpos_module, "hub_load", fake_hub)
    with pytest.warns(UserWarning, match="fused surface forms"):
        rows = get_task("udpos").read(DataSource("hub"), "test", "de")
    assert calls == [("udpos.German", "test")]
    assert rows[0]["tags"] == ["DET", "NOUN"]


def test_panx_sentences(tmp_path):
    write_file(tmp_path, "panx/dev-de.tsv", "Angela\tB-PER\nMerkel\tI-PER\n\nBerlin\tB-LOC\n")
    dev = read("panx", tmp_path, "dev", "de")
    assert [e["tags"] for e in dev] == [["B-PER", "I-PER"], ["B-LOC"]]


# ---------------------------------------------------------------------------------------------------------
# QA: XQuAD, MLQA, TyDiQA-GoldP
# ---------------------------------------------------------------------------------------------------------

ANSWERED = [{"id": "q1", "question": "who sees the cat ?", "answers": [{"text": "anna", "answer_start": 0}]}]
STRIPPED = [{"id": "q1", "question": "who sees the cat ?", "answers": [{"text": "", "answer_start": 0}]}]


def test_xquad_train_from_squad_test_from_xquad(tmp_path):
    write_file(tmp_path, "squad/train-v1.1.json", squad_json(ANSWERED))
    write_file(tmp_path, "xquad/xquad.de.json", squad_json(STRIPPED))
    assert read("xquad", tmp_path, "train", "en")[0]["answers"] == [{"text": "anna", "answer_start": 0}]
    assert read("xquad", tmp_path, "test", "de")[0]["answers"] == []


def test_mlqa_files_and_splits(tmp_path):
    write_file(tmp_path, "squad/train-v1.1.json", squad_json(ANSWERED))
    write_file(tmp_path, "squad/dev-v1.1.json", squad_json([{**ANSWERED[0], "id": "sq-dev"}]))
    for lang in ("en", "de"):
        write_file(tmp_path, f"mlqa/MLQA_V1/dev/dev-context-{lang}-question-{lang}.json",
              squad_json([{**ANSWERED[0], "id": f"mlqa-{lang}"}], version="1.0", title="Katze"))
        write_file(tmp_path, f"mlqa/MLQA_V1/test/test-context-{lang}-question-{lang}.json",
              squad_json(STRIPPED, version="1.0"))
    task, source = get_task("mlqa"), DataSource("local", tmp_path)
    assert read("mlqa", tmp_path, "train", "en")[0]["id"] == "q1"
    assert [e["id"] for e in task.read_selection(source, "en")] == ["sq-dev"]  # selection: SQuAD v1.1 dev
    assert read("mlqa", tmp_path, "dev", "en")[0]["id"] == "mlqa-en"  # dev: MLQA dev, English included
    dev_de = read("mlqa", tmp_path, "dev", "de")
    assert (dev_de[0]["id"], dev_de[0]["title"], dev_de[0]["answers"]) == (
        "mlqa-de", "Katze", [{"text": "anna", "answer_start": 0}])
    assert read("mlqa", tmp_path, "test", "de")[0]["answers"] == []  # XTREME-stripped
    assert task.split_languages("dev", ["en", "de"]) == ["en", "de"]
    assert task.split_languages("train", ["en", "de"]) == ["en"]
    key = task.source_key(source)  # the SQuAD files outside mlqa/ are in the key
    assert set(key["squad"]) == {"train-v1.1.json", "dev-v1.1.json"}


def test_mlqa_scores_with_language_specific_normalisation():
    # MLQA removes German articles (mlqa_evaluation_v1.py); SQuAD normalisation would not, so EM would be 0.
    task, head = get_task("mlqa"), get_head("span_qa")
    example = {"id": "q", "context": "der Hund bellt", "question": "wer?",
               "answers": [{"text": "Hund", "answer_start": 4}]}
    assert head.score(task, [example], {"q": "der Hund"}, lang="de")["exact_match"] == 100.0
    assert head.score(get_task("xquad"), [example], {"q": "der Hund"})["exact_match"] == 0.0


def test_mlqa_errors(tmp_path):
    p = write_file(tmp_path, "mlqa/MLQA_V1/dev/dev-context-es-question-es.json", squad_json(ANSWERED)[:-7])
    with raises_at(p, 1, "invalid JSON"):
        read("mlqa", tmp_path, "dev", "es")
    bad = [{"id": "q9", "question": "?", "answers": [{"text": "anna", "answer_start": 3}]}]
    p = write_file(tmp_path, "mlqa/MLQA_V1/dev/dev-context-ar-question-ar.json", squad_json(bad))
    with raises_at(p, match="q9.*not at answer_start 3"):
        read("mlqa", tmp_path, "dev", "ar")
    p = write_file(tmp_path, "mlqa/MLQA_V1/dev/dev-context-hi-question-hi.json", b'{"data": [], "x": "\xc3\x28"}')
    with raises_at(p, match="UTF-8"):
        read("mlqa", tmp_path, "dev", "hi")
    with raises_at(tmp_path / "mlqa" / "MLQA_V1" / "test" / "test-context-zh-question-zh.json", match="not found"):
        read("mlqa", tmp_path, "test", "zh")


def test_mlqa_hub_configs(monkeypatch):
    calls = []

    def fake_hub(source, hub_id, config, split):
        calls.append((hub_id, config, HUB_SPLITS.get(split, split)))  # the name datasets sees
        return [{"id": "x", "context": "anna", "question": "?", "answers": {"text": ["anna"], "answer_start": [0]}}]

    monkeypatch.setattr(mlqa_module, "hub_load", fake_hub)
    monkeypatch.setattr(xtreme_formats, "hub_load", fake_hub)  # SQuAD v1.1 train and dev
    task = get_task("mlqa")
    task.read(DataSource("hub"), "train", "en")
    task.read_selection(DataSource("hub"), "en")
    for split in ("dev", "test"):
        task.read(DataSource("hub"), split, "vi")
    assert calls == [("rajpurkar/squad", "plain_text", "train"), ("rajpurkar/squad", "plain_text", "validation"),
                     ("google/xtreme", "MLQA.vi.vi", "validation"), ("google/xtreme", "MLQA.vi.vi", "test")]


def test_tydiqa_layout(tmp_path):
    goldp = "TyDiQA-GoldP-1.1-for-SQuAD-1.1"
    write_file(tmp_path, "tydiqa/tydiqa-goldp-v1.1-train/tydiqa.goldp.en.train.json", squad_json(ANSWERED, goldp))
    dev = "tydiqa/tydiqa-goldp-v1.1-dev/"
    write_file(tmp_path, dev + "tydiqa.goldp.en.dev.json", squad_json([{**STRIPPED[0], "id": "english-1-0"}], goldp))
    write_file(tmp_path, dev + "tydiqa.goldp.sw.dev.json", squad_json([{**STRIPPED[0], "id": "swahili-7-0"}], goldp))
    p = write_file(tmp_path, dev + "tydiqa-goldp-dev-english.json", squad_json([{**ANSWERED[0], "id": "english-1-0"}], goldp))
    task, source = get_task("tydiqa"), DataSource("local", tmp_path)
    assert read("tydiqa", tmp_path, "train", "en")[0]["answers"] == [{"text": "anna", "answer_start": 0}]
    # dev = test = XTREME's stripped GoldP dev files (gold from the label folder); all languages.
    assert task.dev_is_test and task.split_languages("dev", ["en", "sw"]) == ["en", "sw"]
    for split in ("dev", "test"):
        assert [(e["id"], e["answers"]) for e in read("tydiqa", tmp_path, split, "sw")] == [("swahili-7-0", [])]
    # Checkpoint selection: the English GoldP dev with its answers, from the official file.
    assert [(e["id"], e["answers"]) for e in task.read_selection(source, "en")] == [
        ("english-1-0", [{"text": "anna", "answer_start": 0}])]
    # Without it, a stripped tydiqa.goldp.en.dev.json cannot select: final weights, with a warning.
    p.unlink()
    with pytest.warns(UserWarning, match="no answers"):
        assert task.read_selection(source, "en") is None
    # An unstripped tydiqa.goldp.en.dev.json (older XTREME versions) is used directly.
    write_file(tmp_path, dev + "tydiqa.goldp.en.dev.json", squad_json([{**ANSWERED[0], "id": "english-1-0"}], goldp))
    assert task.read_selection(source, "en")[0]["answers"] == [{"text": "anna", "answer_start": 0}]


def test_tydiqa_older_train_name_and_missing_file(tmp_path):
    with raises_at(tmp_path / "tydiqa" / "tydiqa-goldp-v1.1-train" / "tydiqa.goldp.en.train.json", match="not found"):
        read("tydiqa", tmp_path, "train", "en")
    write_file(tmp_path, "tydiqa/tydiqa-goldp-v1.1-train/tydiqa.en.train.json", squad_json(ANSWERED))
    assert len(read("tydiqa", tmp_path, "train", "en")) == 1


def test_tydiqa_hub_filters_by_id_prefix(monkeypatch):
    rows = [{"id": f"{name}-{i}-0", "context": "anna", "question": "?",
             "answers": {"text": ["anna"], "answer_start": [0]}}
            for i, name in enumerate(["english", "arabic", "english", "bengali"])]
    monkeypatch.setattr(tydiqa_module, "hub_load", lambda source, hub_id, config, split: rows)
    assert [e["id"] for e in get_task("tydiqa").read(DataSource("hub"), "test", "en")] == ["english-0-0", "english-2-0"]
    assert [e["id"] for e in get_task("tydiqa").read(DataSource("hub"), "test", "ar")] == ["arabic-1-0"]


# ---------------------------------------------------------------------------------------------------------
# Retrieval: BUCC 2018, Tatoeba
# ---------------------------------------------------------------------------------------------------------

def _bucc_files(root: Path, gold="de-000000002\ten-000000001\n"):
    write_file(root, "bucc2018/de-en.dev.de", "de-000000001\tEin Satz.\nde-000000002\tNoch ein Satz.\n")
    write_file(root, "bucc2018/de-en.dev.en", "en-000000001\tAnother sentence.\n")
    return write_file(root, "bucc2018/de-en.dev.gold", gold)


def test_bucc_reads_corpora_and_gold(tmp_path):
    _bucc_files(tmp_path)
    (ex,) = read("bucc2018", tmp_path, "dev", "de")
    assert ex["source_ids"] == ["de-000000001", "de-000000002"]
    assert ex["source"] == ["Ein Satz.", "Noch ein Satz."]
    assert (ex["english_ids"], ex["english"]) == (["en-000000001"], ["Another sentence."])
    assert ex["gold"] == [["de-000000002", "en-000000001"]]
    assert get_task("bucc2018").split_languages("test", ["en", "de", "zh"]) == ["de", "zh"]


def test_bucc_errors_name_file_and_line(tmp_path):
    gold = _bucc_files(tmp_path, gold="de-000000001\ten-000000001\nde-000000009\ten-000000001\n")
    with raises_at(gold, 2, "source ID 'de-000000009' is not in the source corpus"):
        read("bucc2018", tmp_path, "dev", "de")
    _bucc_files(tmp_path, gold="de-000000001\ten-000000007\n")
    with raises_at(gold, 1, "English ID"):
        read("bucc2018", tmp_path, "dev", "de")
    gold.unlink()
    with raises_at(gold, match="not found"):  # the dev gold tunes the threshold: it is required
        read("bucc2018", tmp_path, "dev", "de")
    _bucc_files(tmp_path)
    p = write_file(tmp_path, "bucc2018/de-en.dev.de", "de-000000001\tEin Satz.\nde-000000002\n")
    with raises_at(p, 2, "columns"):
        read("bucc2018", tmp_path, "dev", "de")
    p = write_file(tmp_path, "bucc2018/de-en.dev.de", "de-000000001\tEin Satz.\nde-000000001\tNoch einer.\n")
    with raises_at(p, 2, "duplicate sentence ID"):
        read("bucc2018", tmp_path, "dev", "de")
    p = write_file(tmp_path, "bucc2018/de-en.dev.de", "de-000000001\tEin Satz.\nde-000000002\t\xff\n".encode("latin-1"))
    with raises_at(p, 2, "UTF-8"):
        read("bucc2018", tmp_path, "dev", "de")


def test_bucc_hub_is_refused():
    # google/xtreme bucc18 holds only gold pairs (no distractors): mining it would inflate F1.
    with pytest.raises(ReproError, match="only the gold pairs"):
        get_task("bucc2018").read(DataSource("hub"), "test", "fr")


def test_tatoeba_reads_and_rejects_line_count_mismatch(tmp_path):
    write_file(tmp_path, "tatoeba/de-en.de", "Hallo.\nDanke.\n")
    write_file(tmp_path, "tatoeba/de-en.en", "Hello.\nThanks.\n")
    (ex,) = read("tatoeba", tmp_path, "test", "de")
    assert (ex["source"], ex["english"]) == (["Hallo.", "Danke."], ["Hello.", "Thanks."])
    p = write_file(tmp_path, "tatoeba/de-en.en", "Hello.\n")
    with raises_at(p, match="1 English lines but 2"):
        read("tatoeba", tmp_path, "test", "de")


# ---------------------------------------------------------------------------------------------------------
# The smoke world's files: every target loads, and test examples line up with the gold in labels/
# ---------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def smoke_world(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    assert generate(root, TARGETS, seed=0, train_size=8, eval_size=6, languages=["en", "xa", "xb"]) == TARGETS
    return root


@pytest.mark.parametrize("name", TARGETS)
def test_smoke_world_loads_and_matches_labels(smoke_world, name, tmp_path):
    task, langs = get_task(name), ["en", "xa", "xb"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the smoke world must not trip a loader's warning
        for split in task.splits:
            for lang in task.split_languages(split, langs):
                examples = read(name, smoke_world, split, lang)
                assert examples, (name, split, lang)
                if split == "dev" and not task.dev_is_test:  # its own dev gold scores the dev split
                    assert task.write_gold(tmp_path / f"{split}-{lang}", examples)
                if split == "test":
                    _check_test_against_labels(smoke_world, task, lang, examples)
        if task.head != "retrieval":  # English checkpoint selection needs gold
            selection = task.read_selection(DataSource("local", smoke_world), "en")
            assert selection and all(has_gold(e) for e in selection)


def _check_test_against_labels(root: Path, task, lang: str, examples: list[dict]) -> None:
    """Test files are stripped like XTREME's, and the gold in labels/ lines up with their items."""
    ext = "json" if task.head == "span_qa" else "tsv"
    text = (root / "labels" / task.name / f"test-{lang}.{ext}").read_text(encoding="utf-8")
    if task.head == "span_qa":
        gold_ids = [qa["id"] for a in json.loads(text)["data"] for p in a["paragraphs"] for qa in p["qas"]]
        assert gold_ids == [e["id"] for e in examples]
        assert all(e["answers"] == [] for e in examples)
    elif task.head == "tagging":
        assert [len(s.split()) for s in text.strip().split("\n\n")] == [len(e["tokens"]) for e in examples]
        assert all(e["tags"] is None for e in examples)
    elif task.head == "classification":
        assert len(text.splitlines()) == len(examples) and all(e["label"] is None for e in examples)
    elif task.name == "bucc2018":
        (ex,) = examples
        assert ex["gold"] is None  # XTREME deletes *test.gold; the gold lives in labels/ only
        pairs = [line.split("\t") for line in text.splitlines()]
        assert pairs and all(s in ex["source_ids"] and t in ex["english_ids"] for s, t in pairs)
        assert len(ex["source"]) > len(pairs) and len(ex["english"]) > len(pairs)  # distractors on both sides
    else:  # tatoeba: one source index per sorted English line
        assert len(text.splitlines()) == len(examples[0]["english"])


def test_smoke_world_pawsx_has_a_missing_translation(smoke_world):
    rows = read("pawsx", smoke_world, "dev", "xa")
    assert any(e["text_b"] == "" for e in rows)
    assert all(e["text_b"] for e in read("pawsx", smoke_world, "dev", "en"))
