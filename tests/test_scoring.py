"""Tests of the XTREME scorer (repro.scoring) against the official numbers and rules.

The expected values are those of the official evaluate.py on its mock_test_data (google-research/xtreme
third_party/evaluate_test.py @838c13b; tagging with seqeval 0.0.12). The fixtures are a verbatim copy of
that mock data.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from repro.cli import main as repro_main
from repro.scoring.files import read_line_file, read_squad_json, read_tag_file
from repro.scoring.metrics import (
    ScoringError,
    accuracy,
    bucc_f1,
    extract_chunks,
    mlqa_em_f1,
    normalize_mlqa_answer,
    normalize_squad_answer,
    squad_em_f1,
    tagging_f1,
)
from repro.scoring import xtreme
from repro.scoring.xtreme import by_language, groups
from repro.tasks import get_task, tasks_with_role

# evaluate.py's own tables (XTREME_TASK2LANGS of the `xtreme` version, XTREME_GROUP2TASK): the registry
# must declare exactly these languages, in this order, and these groups (test_registry_matches_evaluate_py).
TASK2LANGS: dict[str, list[str]] = {
    "xnli": "ar bg de el en es fr hi ru sw th tr ur vi zh".split(),
    "pawsx": "de en es fr ja ko zh".split(),
    "udpos": ("af ar bg de el en es et eu fa fi fr he hi hu id it ja kk ko mr nl pt ru ta te th tl tr ur vi "
              "yo zh").split(),
    "panx": ("ar he vi id jv ms tl eu ml ta te af nl en de el bn hi mr ur fa fr it pt es bg ru ja ka ko th "
             "sw yo my zh kk tr et fi hu").split(),
    "xquad": "en es de el ru tr ar vi th zh hi".split(),
    "mlqa": "en es de ar hi vi zh".split(),
    "tydiqa": "en ar bn fi id ko ru sw te".split(),
    "bucc2018": "de fr ru zh".split(),
    "tatoeba": ("ar he vi id jv tl eu ml ta te af nl de el bn hi mr ur fa fr it pt es bg ru ja ka ko th sw "
                "zh kk tr et fi hu").split(),
}
GROUP2TASKS = {"classification": ["xnli", "pawsx"], "tagging": ["udpos", "panx"],
               "qa": ["xquad", "mlqa", "tydiqa"], "retrieval": ["bucc2018", "tatoeba"]}
TARGETS = tasks_with_role("target")


def score_folders(prediction_folder, label_folder, tasks=None, languages=None):
    """The registry scorer over the nine targets (or the named ones), as evaluate.py is called."""
    return xtreme.score_folders(prediction_folder, label_folder, TARGETS, languages, only=tasks)


def score_task(name, prediction_folder, label_folder, **kwargs):
    return xtreme.score_task(get_task(name), prediction_folder, label_folder, **kwargs)

MOCK = Path(__file__).parent / "fixtures" / "xtreme-mock"
PREDICTIONS = MOCK / "predictions"
LABELS = MOCK / "labels"

# evaluate_test.py's TASK2AVG_SCORES.
EXPECTED_AVERAGES = {
    "pawsx": {"avg_accuracy": 51.42857142857143},
    "xnli": {"avg_accuracy": 30.666666666666668},
    "panx": {"avg_f1": 57.50793650793652, "avg_precision": 54.729166666666664,
             "avg_recall": 62.750000000000014},
    "udpos": {"avg_f1": 70.21746048354693, "avg_precision": 71.02232625883823,
              "avg_recall": 69.54982073976082},
    "bucc2018": {"avg_f1": 55.0, "avg_precision": 55.0, "avg_recall": 55.0},
    "tatoeba": {"avg_accuracy": 53.611111111111114},
    "xquad": {"avg_exact_match": 77.27272727272727, "avg_f1": 79.9586776859504},
    "mlqa": {"avg_exact_match": 57.142857142857146, "avg_f1": 81.76870748299321},
    "tydiqa": {"avg_exact_match": 88.88888888888889, "avg_f1": 97.22222222222223},
}
EXPECTED_OVERALL = {"classification": 41.0476, "tagging": 63.8627, "qa": 80.3757, "retrieval": 54.3056,
                    "all_task": 62.1732}


@pytest.fixture(scope="module")
def mock_result() -> dict:
    return score_folders(str(PREDICTIONS), str(LABELS))


@pytest.fixture
def mock_copy(tmp_path: Path) -> Path:
    """A writable copy of the mock data, to break on purpose."""
    shutil.copytree(MOCK, tmp_path / "mock")
    return tmp_path / "mock"


# --------------------------------------------------------------------------------------------------
# Official numbers on the mock data
# --------------------------------------------------------------------------------------------------

def test_fixtures_cover_every_task_and_language():
    for task, langs in TASK2LANGS.items():
        for side in (PREDICTIONS, LABELS):
            for lang in langs:
                assert (side / task / f"test-{lang}.{get_task(task).ext}").is_file()


@pytest.mark.parametrize("task", list(EXPECTED_AVERAGES))
def test_task_averages_match_official(mock_result, task):
    for key, expected in EXPECTED_AVERAGES[task].items():
        assert mock_result[task][key] == pytest.approx(expected, abs=1e-6), key


@pytest.mark.parametrize("task", list(EXPECTED_AVERAGES))
def test_score_task_equals_folder_entry(mock_result, task):
    assert score_task(task, str(PREDICTIONS), str(LABELS)) == mock_result[task]


def test_headline_metrics(mock_result):
    # QA: (EM + F1) / 2; tagging and BUCC: F1; the others: accuracy (evaluate.py).
    assert mock_result["xquad"]["avg_metric"] == pytest.approx(78.6157, abs=1e-4)
    for task in ("xquad", "mlqa", "tydiqa"):
        averages = EXPECTED_AVERAGES[task]
        assert mock_result[task]["avg_metric"] == pytest.approx(
            (averages["avg_exact_match"] + averages["avg_f1"]) / 2, abs=1e-9)
    for task in ("udpos", "panx", "bucc2018"):
        assert mock_result[task]["avg_metric"] == mock_result[task]["avg_f1"]
    for task in ("xnli", "pawsx", "tatoeba"):
        assert mock_result[task]["avg_metric"] == mock_result[task]["avg_accuracy"]


def test_group_and_overall_scores(mock_result):
    for key, expected in EXPECTED_OVERALL.items():
        assert mock_result[key] == pytest.approx(expected, abs=1e-4), key
    # all_task is the mean of the nine tasks, not of the four groups (evaluate.py).
    mean_of_groups = sum(mock_result[g] for g in GROUP2TASKS) / len(GROUP2TASKS)
    assert abs(mock_result["all_task"] - mean_of_groups) > 1e-3


def test_output_layout_is_evaluate_py(mock_result):
    assert set(mock_result) == set(TASK2LANGS) | set(GROUP2TASKS) | {"all_task"}
    xnli = mock_result["xnli"]
    assert set(xnli) == {"accuracy", "avg_accuracy", "avg_metric"}
    assert list(xnli["accuracy"]) == TASK2LANGS["xnli"]
    assert set(mock_result["mlqa"]) == {"exact_match", "f1", "avg_exact_match", "avg_f1", "avg_metric"}
    assert set(mock_result["udpos"]["f1"]) == set(TASK2LANGS["udpos"])
    assert by_language(xnli)["en"] == {"accuracy": xnli["accuracy"]["en"]}


def test_registry_matches_evaluate_py():
    assert [t.name for t in TARGETS] == list(TASK2LANGS)
    assert {t.name: list(t.languages) for t in TARGETS} == TASK2LANGS
    assert groups(TARGETS) == GROUP2TASKS
    assert {t.name: t.ext for t in TARGETS} == {t: "json" if t in GROUP2TASKS["qa"] else "tsv" for t in TASK2LANGS}


def test_task_list_matches_xtreme():
    assert list(TASK2LANGS) == ["xnli", "pawsx", "udpos", "panx", "xquad", "mlqa", "tydiqa", "bucc2018",
                                "tatoeba"]
    assert [len(v) for v in TASK2LANGS.values()] == [15, 7, 33, 40, 11, 7, 9, 4, 36]
    assert "en" not in TASK2LANGS["tatoeba"] and "en" not in TASK2LANGS["bucc2018"]
    assert sorted(t for ts in GROUP2TASKS.values() for t in ts) == sorted(TASK2LANGS)


# --------------------------------------------------------------------------------------------------
# Task selection, partial folders, language overrides
# --------------------------------------------------------------------------------------------------

def test_group_only_when_complete_and_no_all_task(tmp_path):
    for side in ("predictions", "labels"):
        for task in ("xnli", "pawsx", "udpos"):
            shutil.copytree(MOCK / side / task, tmp_path / side / task)
    result = score_folders(str(tmp_path / "predictions"), str(tmp_path / "labels"))
    assert set(result) == {"xnli", "pawsx", "udpos", "classification"}


def test_task_missing_on_one_side_is_skipped(mock_copy):
    shutil.rmtree(mock_copy / "labels" / "tatoeba")
    result = score_folders(str(mock_copy / "predictions"), str(mock_copy / "labels"))
    assert "tatoeba" not in result and "retrieval" not in result and "all_task" not in result
    assert result["bucc2018"]["avg_f1"] == pytest.approx(55.0)


def test_tasks_argument_restricts(mock_result):
    result = score_folders(str(PREDICTIONS), str(LABELS), tasks=["mlqa"])
    assert set(result) == {"mlqa"}
    assert result["mlqa"] == mock_result["mlqa"]


def test_language_override_for_pseudo_languages(tmp_path):
    for side in ("predictions", "labels"):
        (tmp_path / side / "xnli").mkdir(parents=True)
        for pseudo, real in (("xa", "en"), ("xb", "de")):
            shutil.copy(MOCK / side / "xnli" / f"test-{real}.tsv",
                        tmp_path / side / "xnli" / f"test-{pseudo}.tsv")
    result = score_folders(str(tmp_path / "predictions"), str(tmp_path / "labels"),
                           languages={"xnli": ["xa", "xb"]})
    full = score_task("xnli", str(PREDICTIONS), str(LABELS))
    assert result["xnli"]["accuracy"] == {"xa": full["accuracy"]["en"], "xb": full["accuracy"]["de"]}


def test_unknown_task_rejected(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        repro_main(["score", "--prediction-folder", str(PREDICTIONS), "--label-folder", str(LABELS),
                    "--output-file", str(tmp_path / "o.json"), "--tasks", "xcopa"])
    assert exit_info.value.code == 2 and "xcopa" in capsys.readouterr().err
    with pytest.raises(ScoringError, match="unknown task"):
        xtreme.score_folders(str(PREDICTIONS), str(LABELS), TARGETS, languages={"xcopa": ["en"]})


# --------------------------------------------------------------------------------------------------
# Tagging: seqeval 0.0.12 chunk rules (seqeval 0.0.12)
# --------------------------------------------------------------------------------------------------

def test_pos_runs_are_chunks_so_shifted_boundary_scores_zero():
    gold = [["NOUN", "NOUN", "VERB"]]
    pred = [["NOUN", "VERB", "VERB"]]
    assert extract_chunks(gold) == {("NOUN", 0, 1), ("VERB", 2, 2)}
    assert extract_chunks(pred) == {("NOUN", 0, 0), ("VERB", 1, 2)}
    assert tagging_f1(pred, gold) == {"f1": 0.0, "precision": 0.0, "recall": 0.0}


def test_sconj_and_cconj_are_different_types():
    # seqeval 1.x strips only the first character, so both would be type "CONJ"; 0.0.12 keeps the tag.
    assert extract_chunks([["CCONJ", "SCONJ"]]) == {("CCONJ", 0, 0), ("SCONJ", 1, 1)}
    assert tagging_f1([["SCONJ"]], [["CCONJ"]])["f1"] == 0.0


def test_s_prefixed_tags_are_single_token_chunks():
    # "S" is seqeval's single-token prefix: SCONJ/SYM runs split into one chunk per token.
    assert extract_chunks([["SYM", "SYM"]]) == {("SYM", 0, 0), ("SYM", 1, 1)}
    assert extract_chunks([["CCONJ", "CCONJ"]]) == {("CCONJ", 0, 1)}


def test_chunks_do_not_cross_sentence_boundaries():
    # An "O" is inserted after every sentence, so positions skip one per boundary.
    assert extract_chunks([["NOUN"], ["NOUN"]]) == {("NOUN", 0, 0), ("NOUN", 2, 2)}
    assert extract_chunks([["B-PER"], ["I-PER"]]) == {("PER", 0, 0), ("PER", 2, 2)}


def test_iob2_entity_f1():
    gold = [["O", "O", "O", "B-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]]
    pred = [["O", "O", "B-MISC", "I-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]]
    assert tagging_f1(pred, gold) == pytest.approx({"f1": 50.0, "precision": 50.0, "recall": 50.0})
    # An I- tag after O opens a chunk (0.0.12 is lenient about IOB2 violations).
    assert extract_chunks([["O", "I-LOC", "I-LOC"]]) == {("LOC", 1, 2)}


def test_tagging_precision_and_recall_differ():
    gold = [["B-PER", "O", "B-LOC"]]
    pred = [["B-PER", "O", "O"]]
    assert tagging_f1(pred, gold) == pytest.approx({"precision": 100.0, "recall": 50.0, "f1": 200 / 3})


# --------------------------------------------------------------------------------------------------
# QA (evaluate_squad.py, evaluate_mlqa.py)
# --------------------------------------------------------------------------------------------------

def _squad(*questions: tuple[str, list[str]]) -> dict:
    qas = [{"id": qid, "question": "?", "answers": [{"answer_start": 0, "text": t} for t in answers]}
           for qid, answers in questions]
    return {"data": [{"paragraphs": [{"context": "...", "qas": qas}]}], "version": "1.1"}


def test_squad_missing_id_scores_zero_and_extra_ids_ignored():
    data = _squad(("q1", ["Paris"]), ("q2", ["the Seine river"]))
    assert squad_em_f1({"q1": "paris", "zz": "x"}, data) == {"exact_match": 50.0, "f1": 50.0}


def test_squad_normalisation_and_max_over_golds():
    assert normalize_squad_answer("The  Cat, (sat)!") == "cat sat"
    data = _squad(("q", ["a big dog", "dog"]))
    assert squad_em_f1({"q": "Dog."}, data) == {"exact_match": 100.0, "f1": 100.0}
    partial = squad_em_f1({"q": "big brown dog"}, _squad(("q", ["big dog"])))
    assert partial["exact_match"] == 0.0
    assert partial["f1"] == pytest.approx(100 * 2 * (2 / 3) * 1 / (2 / 3 + 1))


def test_squad_accepts_bare_article_list():
    data = _squad(("q", ["x"]))
    assert squad_em_f1({"q": "x"}, data["data"]) == squad_em_f1({"q": "x"}, data)


def test_squad_uses_english_rules_for_chinese():
    # Unspaced Chinese is one token under SQuAD normalisation: all or nothing (evaluate_squad.py).
    assert squad_em_f1({"q": "电化电池"}, _squad(("q", ["电池"])))["f1"] == 0.0


def test_mlqa_arabic_removes_every_al():
    # Every "ال", also inside a word ("والقلم" -> "و قلم"), not only the word-initial article.
    assert normalize_mlqa_answer("الكتاب والقلم", "ar") == "كتاب و قلم"
    data = _squad(("q", ["الكتاب"]))
    assert mlqa_em_f1({"q": "كتاب"}, data, "ar")["exact_match"] == 100.0
    assert squad_em_f1({"q": "كتاب"}, data)["exact_match"] == 0.0


def test_mlqa_chinese_mixed_segmentation():
    assert normalize_mlqa_answer("电化电池 ABC  def，好", "zh") == "电 化 电 池 abc def 好"
    scores = mlqa_em_f1({"q": "电化电池"}, _squad(("q", ["电池"])), "zh")
    # tokens 电 化 电 池 vs 电 池: overlap 2, P = 2/4, R = 1.
    assert scores["exact_match"] == 0.0
    assert scores["f1"] == pytest.approx(100 * 2 * 0.5 * 1.0 / 1.5)


def test_mlqa_language_specific_articles_and_unicode_punctuation():
    assert normalize_mlqa_answer("Die Katze «schläft»", "de") == "katze schläft"
    assert normalize_mlqa_answer("Los gatos", "es") == "gatos"
    assert normalize_mlqa_answer("the cat", "hi") == "the cat"
    assert normalize_mlqa_answer("những con mèo", "vi") == "con mèo"
    # Unicode punctuation goes in MLQA but stays in SQuAD normalisation (ASCII only).
    assert normalize_squad_answer("«chat»") == "«chat»"
    assert normalize_mlqa_answer("«chat»", "en") == "chat"


def test_mlqa_unknown_language_raises():
    with pytest.raises(ScoringError, match="unknown MLQA language"):
        mlqa_em_f1({"q": "x"}, _squad(("q", ["x"])), "fr")


# --------------------------------------------------------------------------------------------------
# Accuracy and BUCC (evaluate.py, evaluate.py bucc_f1)
# --------------------------------------------------------------------------------------------------

def test_accuracy():
    assert accuracy(["a", "b", "c", "d"], ["a", "x", "c", "y"]) == {"accuracy": 50.0}
    with pytest.raises(ScoringError):
        accuracy(["a"], ["a", "b"])


def test_bucc_set_based():
    gold = ["de-1\ten-1", "de-2\ten-2", "de-2\ten-2"]          # duplicate collapses: |gold| = 2
    pred = ["de-1\ten-1", "de-1\ten-1", "de-3\ten-3"]          # |pred| = 2, one correct
    assert bucc_f1(pred, gold) == pytest.approx({"f1": 50.0, "precision": 50.0, "recall": 50.0})
    assert bucc_f1(["de-9\ten-9"], gold) == {"f1": 0.0, "precision": 0.0, "recall": 0.0}


# --------------------------------------------------------------------------------------------------
# Readers (seqeval 0.0.12)
# --------------------------------------------------------------------------------------------------

def test_read_tag_file_rules(tmp_path):
    path = tmp_path / "tags.tsv"
    path.write_text("NOUN\n VERB \n\n\nX\n\nADJ", encoding="utf-8")
    # The double blank line closes an empty sentence; the last sentence has no trailing blank line.
    assert read_tag_file(str(path)) == [["NOUN", "VERB"], [], ["X"], ["ADJ"]]
    path.write_text("NOUN\n\n", encoding="utf-8")
    assert read_tag_file(str(path)) == [["NOUN"]]


def test_read_line_file_strips_and_keeps_blank_lines(tmp_path):
    path = tmp_path / "lines.tsv"
    path.write_bytes(b"entailment\r\n\r\n neutral \n")
    assert read_line_file(str(path)) == ["entailment", "", "neutral"]


def test_read_squad_json_rejects_object_without_data(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{"version": "1.1"}', encoding="utf-8")
    with pytest.raises(ScoringError, match="x.json"):
        read_squad_json(str(path))


# --------------------------------------------------------------------------------------------------
# Malformed input: errors name the file
# --------------------------------------------------------------------------------------------------

def test_truncated_prediction_json_names_file_and_line(mock_copy):
    path = mock_copy / "predictions" / "xquad" / "test-de.json"
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: len(text) // 2], encoding="utf-8")
    with pytest.raises(ScoringError) as info:
        score_folders(str(mock_copy / "predictions"), str(mock_copy / "labels"))
    assert info.value.path == str(path)
    assert info.value.line is not None and info.value.line >= 1
    assert str(info.value).startswith(f"{path}:{info.value.line}: invalid JSON")


def test_truncated_label_json_names_file(mock_copy):
    path = mock_copy / "labels" / "mlqa" / "test-zh.json"
    path.write_text('{"data": [{"paragraphs": [', encoding="utf-8")
    with pytest.raises(ScoringError, match=str(path)):
        score_task("mlqa", str(mock_copy / "predictions"), str(mock_copy / "labels"))


@pytest.mark.parametrize("task", ["xnli", "udpos", "tatoeba"])
def test_count_mismatch_names_both_files_and_counts(mock_copy, task):
    pred = mock_copy / "predictions" / task / f"test-{TASK2LANGS[task][1]}.tsv"
    label = mock_copy / "labels" / task / pred.name
    # Drop the last item: a line, or for tagging the last sentence.
    if task == "udpos":
        sentences = pred.read_text(encoding="utf-8").strip("\n").split("\n\n")
        n_gold = len(read_tag_file(str(label)))
        pred.write_text("\n\n".join(sentences[:-1]) + "\n", encoding="utf-8")
    else:
        lines = pred.read_text(encoding="utf-8").splitlines()
        n_gold = len(read_line_file(str(label)))
        pred.write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")
    with pytest.raises(ScoringError) as info:
        score_task(task, str(mock_copy / "predictions"), str(mock_copy / "labels"))
    message = str(info.value)
    assert str(pred) in message and str(label) in message
    assert f"{n_gold - 1} " in message and f"{n_gold} in the labels" in message


def test_bucc_and_qa_do_not_require_equal_counts(mock_copy):
    pred = mock_copy / "predictions" / "bucc2018" / "test-de.tsv"
    pred.write_text(pred.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    assert score_task("bucc2018", str(mock_copy / "predictions"), str(mock_copy / "labels"))["f1"]["de"] >= 0


def test_missing_language_file_names_path(mock_copy):
    missing = mock_copy / "labels" / "panx" / "test-yo.tsv"
    missing.unlink()
    with pytest.raises(ScoringError) as info:
        score_folders(str(mock_copy / "predictions"), str(mock_copy / "labels"))
    assert info.value.path == str(missing)


def test_missing_prediction_folder(tmp_path):
    with pytest.raises(ScoringError, match="prediction folder"):
        score_folders(str(tmp_path / "nope"), str(LABELS))


def test_invalid_utf8_names_file(mock_copy):
    path = mock_copy / "predictions" / "pawsx" / "test-ja.tsv"
    path.write_bytes(b"1\n\xff\n")
    with pytest.raises(ScoringError, match="test-ja.tsv"):
        score_task("pawsx", str(mock_copy / "predictions"), str(mock_copy / "labels"))


def test_non_string_qa_prediction_rejected(mock_copy):
    path = mock_copy / "predictions" / "tydiqa" / "test-en.json"
    path.write_text(json.dumps({"english--3215621880858840488-2": 7}), encoding="utf-8")
    with pytest.raises(ScoringError, match="test-en.json"):
        score_task("tydiqa", str(mock_copy / "predictions"), str(mock_copy / "labels"))


# --------------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------------

def test_main_writes_sorted_json_atomically(tmp_path, capsys, mock_result):
    out = tmp_path / "reports" / "scores.json"
    rc = repro_main(["score", "--prediction-folder", str(PREDICTIONS), "--label-folder", str(LABELS),
                      "--output-file", str(out)])
    assert rc == 0
    text = out.read_text(encoding="utf-8")
    assert json.loads(text) == json.loads(json.dumps(mock_result))
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=2) + "\n"
    assert [p.name for p in out.parent.iterdir()] == ["scores.json"]   # no temp file left behind
    assert "all_task" in capsys.readouterr().out


def test_main_tasks_option(tmp_path):
    out = tmp_path / "scores.json"
    rc = repro_main(["score", "--prediction-folder", str(PREDICTIONS), "--label-folder", str(LABELS),
                      "--output-file", str(out), "--tasks", "bucc2018", "tatoeba"])
    assert rc == 0
    assert set(json.loads(out.read_text(encoding="utf-8"))) == {"bucc2018", "tatoeba", "retrieval"}


def test_main_exit_code_2_on_scoring_error(mock_copy, tmp_path, capsys):
    missing = mock_copy / "predictions" / "xnli" / "test-sw.tsv"
    missing.unlink()
    out = tmp_path / "scores.json"
    rc = repro_main(["score", "--prediction-folder", str(mock_copy / "predictions"),
                      "--label-folder", str(mock_copy / "labels"), "--output-file", str(out)])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(missing) in err
    assert not out.exists()
