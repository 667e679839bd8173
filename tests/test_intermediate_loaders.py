"""Loaders of the nine English intermediate tasks (ANLI, CCG, CommonsenseQA, Cosmos QA, HellaSwag, QQP,
SST-2; MNLI and SQuAD have their own tests): small hand-written files in each dataset's original format ->
the expected examples; malformed files -> DataError naming the file and the line; hub rows -> the same
examples; the smoke world's files read back through the same loaders."""
from __future__ import annotations

import json

import pytest
from conftest import write_file

from repro.errors import DataError, ReproError
from repro.readers import HUB_SPLITS
from repro.synthetic.generate import generate
from repro.tasks import DataSource, get_task

INTERMEDIATE = ["anli", "ccg", "commonsenseqa", "cosmosqa", "hellaswag", "qqp", "sst2"]




def jl(*records) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def read(root, task, split, **options):
    return get_task(task).read(DataSource("local", root, None, options), split, "en")


# ------------------------------------------------------------------------------------------------ ANLI

def anli_record(uid, label, premise_key="context"):
    return {"uid": uid, premise_key: f"premise {uid}", "hypothesis": f"hypothesis {uid}", "label": label,
            "model_label": "e", "emturk": False, "genre": "wiki", "reason": "", "tag": ""}


def write_anli(root, split="train"):
    write_file(root, f"anli/anli_v1.0/R1/{split}.jsonl", jl(anli_record("a", "e"), anli_record("b", "c")))
    write_file(root, f"anli/anli_v1.0/R2/{split}.jsonl", jl(anli_record("c", "n")))
    write_file(root, f"anli/anli_v1.0/R3/{split}.jsonl", jl(anli_record("d", "e", premise_key="premise")))


def test_anli_pools_the_three_rounds_in_order(tmp_path):
    write_anli(tmp_path)
    assert read(tmp_path, "anli", "train") == [
        {"id": "r1-a", "text_a": "premise a", "text_b": "hypothesis a", "label": "entailment"},
        {"id": "r1-b", "text_a": "premise b", "text_b": "hypothesis b", "label": "contradiction"},
        {"id": "r2-c", "text_a": "premise c", "text_b": "hypothesis c", "label": "neutral"},
        {"id": "r3-d", "text_a": "premise d", "text_b": "hypothesis d", "label": "entailment"},
    ]


def test_anli_with_snli_mnli_adds_both_to_training_only(tmp_path):
    write_anli(tmp_path)
    write_anli(tmp_path, "dev")
    write_file(tmp_path, "snli/snli_1.0_train.jsonl", jl(
        {"pairID": "s1", "sentence1": "p", "sentence2": "h", "gold_label": "neutral"},
        {"pairID": "s2", "sentence1": "p", "sentence2": "h", "gold_label": "-"}))  # no majority: dropped
    write_file(tmp_path, "mnli/multinli_1.0_train.jsonl", jl(
        {"pairID": "m1", "sentence1": "p", "sentence2": "h", "gold_label": "contradiction"}))
    train = read(tmp_path, "anli", "train", anli_with_snli_mnli=True)
    assert [ex["id"] for ex in train] == ["r1-a", "r1-b", "r2-c", "r3-d", "snli-s1", "mnli-m1"]
    assert train[-2]["label"] == "neutral" and train[-1]["label"] == "contradiction"
    assert len(read(tmp_path, "anli", "dev", anli_with_snli_mnli=True)) == 4
    plain = get_task("anli").source_key(DataSource("local", tmp_path, None, {}))
    full = get_task("anli").source_key(DataSource("local", tmp_path, None, {"anli_with_snli_mnli": True}))
    assert set(plain) == {"anli"} and set(full) == {"anli", "snli", "mnli"}


def test_anli_with_snli_mnli_needs_their_files(tmp_path):
    write_anli(tmp_path)
    with pytest.raises(DataError, match=r"snli_1\.0_train\.jsonl: file not found"):
        read(tmp_path, "anli", "train", anli_with_snli_mnli=True)


# ------------------------------------------------------------------------------------------------ CCG

CCG_TRAIN = ("anna sees the cat .\tNP (S[dcl]\\NP)/NP NP[nb]/N N .\n"
             "\n"
             "boris sees anna .\tNP (S[dcl]\\NP)/NP NP .\n")


def test_ccg_reads_tokens_and_supertags(tmp_path):
    write_file(tmp_path, "ccg/ccg.train", CCG_TRAIN)
    assert read(tmp_path, "ccg", "train") == [
        {"id": "ccg-train-1", "tokens": ["anna", "sees", "the", "cat", "."],
         "tags": ["NP", "(S[dcl]\\NP)/NP", "NP[nb]/N", "N", "."]},
        {"id": "ccg-train-3", "tokens": ["boris", "sees", "anna", "."], "tags": ["NP", "(S[dcl]\\NP)/NP", "NP", "."]},
    ]


def test_ccg_label_set_comes_from_training_and_unseen_dev_tags_are_errors(tmp_path):
    from repro.heads import get_head

    write_file(tmp_path, "ccg/ccg.train", CCG_TRAIN)
    task = get_task("ccg")
    assert task.labels is None  # nothing is known before the data is read
    bound = task.bind(read(tmp_path, "ccg", "train"))
    assert bound.labels == ["(S[dcl]\\NP)/NP", ".", "N", "NP", "NP[nb]/N", "<unseen>"]  # sorted, reserved last
    assert bound.default_tag == "NP"  # the most frequent training supertag (3 of 9)
    assert task.labels is None  # the registered task is untouched
    dev = [{"id": "d", "tokens": ["anna", "runs"], "tags": ["NP", "S\\NP"]}]
    assert bound.encodable(dev)[0]["tags"] == ["NP", "<unseen>"]
    assert dev[0]["tags"] == ["NP", "S\\NP"]
    # A model that tags everything "NP" gets the known token right and the unseen one wrong.
    assert get_head("tagging").score(bound, dev, {"d": ["NP", "NP"]})["token_accuracy"] == 50.0
    assert get_head("tagging").score(bound, dev, {"d": ["NP", "<unseen>"]})["token_accuracy"] == 50.0


def test_ccg_has_no_hub_copy(tmp_path):
    task = get_task("ccg")
    with pytest.raises(ReproError, match=r"CCGbank.*licensed.*ccg/ccg\.train"):
        task.read(DataSource("hub", None), "train", "en")
    # A hub run plans without CCGbank (dry runs work); preparing it is what fails.
    assert task.source_key(DataSource("hub", None)) == {"local_files": None}
    # With data.dir set, a hub run reads CCGbank from there.
    write_file(tmp_path, "ccg/ccg.train", CCG_TRAIN)
    assert len(task.read(DataSource("hub", tmp_path), "train", "en")) == 2
    assert "files" in task.source_key(DataSource("hub", tmp_path))


# ------------------------------------------------------------------------------------------------ multiple choice

def csqa_record(qid="q1", answer="C", labels="ABCDE"):
    return {"answerKey": answer, "id": qid, "question": {"question_concept": "x", "stem": "where is the cat ?",
            "choices": [{"label": k, "text": f"choice {k}"} for k in labels]}}


def test_commonsenseqa_orders_choices_by_letter(tmp_path):
    rec = csqa_record()
    rec["question"]["choices"].reverse()  # the letters, not the list order, decide
    write_file(tmp_path, "commonsenseqa/dev_rand_split.jsonl", jl(rec))
    assert read(tmp_path, "commonsenseqa", "dev") == [
        {"id": "q1", "context": "where is the cat ?", "choices": [f"choice {k}" for k in "ABCDE"], "label": 2}]


COSMOS_CSV = ('id,context,question,answer0,answer1,answer2,answer3,label\n'
              'c1,"Anna sat down, tired.",Why?,A0,A1,"A2, really",A3,2\n'
              'c2,"Two\nlines",What?,B0,B1,B2,B3,0\n')


def test_cosmosqa_csv_with_quoting_and_jsonl(tmp_path):
    write_file(tmp_path, "cosmosqa/valid.csv", COSMOS_CSV)
    assert read(tmp_path, "cosmosqa", "dev") == [
        {"id": "c1", "context": "Anna sat down, tired. Why?", "choices": ["A0", "A1", "A2, really", "A3"], "label": 2},
        {"id": "c2", "context": "Two\nlines What?", "choices": ["B0", "B1", "B2", "B3"], "label": 0}]
    other = tmp_path / "j"
    write_file(other, "cosmosqa/train.jsonl", jl({"id": "j1", "context": "c", "question": "q", "answer0": "a",
                                            "answer1": "b", "answer2": "c", "answer3": "d", "label": 3}))
    assert read(other, "cosmosqa", "train")[0] == {"id": "j1", "context": "c q", "choices": ["a", "b", "c", "d"], "label": 3}


def hellaswag_record(ind=7, label=1, **over):
    rec = {"ind": ind, "activity_label": "x", "ctx_a": "A man sits.", "ctx_b": "he", "ctx": "A man sits. he",
           "split": "val", "split_type": "indomain", "label": label, "endings": ["runs.", "sleeps.", "eats.", "sings."],
           "source_id": "s"}
    rec.update(over)
    return rec


def test_hellaswag_joins_ctx_b_to_each_ending_as_jiant(tmp_path):
    write_file(tmp_path, "hellaswag/hellaswag_val.jsonl", jl(hellaswag_record(), hellaswag_record(8, 0, ctx_b="")))
    assert read(tmp_path, "hellaswag", "dev") == [
        {"id": "7", "context": "A man sits.", "choices": ["he runs.", "he sleeps.", "he eats.", "he sings."], "label": 1},
        {"id": "8", "context": "A man sits.", "choices": ["runs.", "sleeps.", "eats.", "sings."], "label": 0}]


# ------------------------------------------------------------------------------------------------ GLUE

QQP_TSV = ("id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n"
           "5\t1\t2\tHow do I \"learn\"?\tHow to learn?\t1\n"
           "6\t3\t4\tWhy?\tWhere?\t0\n")


def test_qqp_reads_glue_tsv_without_quoting(tmp_path):
    write_file(tmp_path, "QQP/dev.tsv", QQP_TSV)
    assert read(tmp_path, "qqp", "dev") == [
        {"id": "5", "text_a": 'How do I "learn"?', "text_b": "How to learn?", "label": "duplicate"},
        {"id": "6", "text_a": "Why?", "text_b": "Where?", "label": "not_duplicate"}]


def test_sst2_is_single_sentence(tmp_path):
    write_file(tmp_path, "SST-2/train.tsv", "sentence\tlabel\nit 's a \"charming\" film \t1\nawful \t0\n")
    assert read(tmp_path, "sst2", "train") == [
        {"id": "sst2-train-2", "text_a": 'it \'s a "charming" film ', "label": "positive"},
        {"id": "sst2-train-3", "text_a": "awful ", "label": "negative"}]


def test_qqp_metric_is_mean_of_accuracy_and_f1():
    from repro.heads import get_head

    task = get_task("qqp")
    ex = [{"id": str(i), "label": y} for i, y in enumerate(["duplicate", "duplicate", "not_duplicate", "not_duplicate"])]
    pred = {"0": "duplicate", "1": "not_duplicate", "2": "duplicate", "3": "not_duplicate"}
    m = get_head("classification").score(task, ex, pred)
    # accuracy 2/4; duplicate class: tp 1, fp 1, fn 1 -> F1 0.5
    assert m == {"accuracy": 50.0, "f1": 50.0, "acc_and_f1": 50.0}


# ------------------------------------------------------------------------------------------------ malformed files

GOOD_CSQA = jl(csqa_record("q0"))
GOOD_HS = jl(hellaswag_record(0))
BAD_UTF8 = b'{"a": "caf\xe9"}\n'

# (task, file, content, line named in the error (None: the whole file), words of the message)
MALFORMED = [
    ("anli", "anli/anli_v1.0/R2/train.jsonl", jl(anli_record("x", "e")) + '{"uid": "y", "context": "p",\n', 2, "invalid JSON"),
    ("anli", "anli/anli_v1.0/R2/train.jsonl", jl({"uid": "x", "context": "p", "label": "e"}), 1, "missing field 'hypothesis'"),
    ("anli", "anli/anli_v1.0/R2/train.jsonl", jl({"uid": "x", "hypothesis": "h", "label": "e"}), 1, "missing field 'context'"),
    ("anli", "anli/anli_v1.0/R2/train.jsonl", jl(anli_record("x", "e"), anli_record("y", "entailment")), 2, "unknown label"),
    ("anli", "anli/anli_v1.0/R2/train.jsonl", BAD_UTF8, 1, "not valid UTF-8"),
    ("ccg", "ccg/ccg.train", "a b\tNP NP\na b c\tNP NP\n", 2, "3 tokens but 2 supertags"),
    ("ccg", "ccg/ccg.train", "a b\tNP NP\na b NP NP\n", 2, "expected tokens, one TAB, supertags; got 1"),
    ("ccg", "ccg/ccg.train", "a b\tNP NP\tX\n", 1, "got 3 tab-separated fields"),
    ("ccg", "ccg/ccg.train", b"a\tNP\n\xff\tNP\n", 2, "not valid UTF-8"),
    ("ccg", "ccg/ccg.train", "\n\n", None, "no sentences: the file is empty"),
    ("commonsenseqa", "commonsenseqa/train_rand_split.jsonl", GOOD_CSQA + GOOD_CSQA[:40] + "\n", 2, "invalid JSON"),
    ("commonsenseqa", "commonsenseqa/train_rand_split.jsonl", GOOD_CSQA + jl({"id": "q", "question": {}}), 2, "missing field 'answerKey'"),
    ("commonsenseqa", "commonsenseqa/train_rand_split.jsonl", jl(csqa_record(answer="F")), 1, "unknown answerKey 'F'"),
    ("commonsenseqa", "commonsenseqa/train_rand_split.jsonl", jl(csqa_record(labels="ABCD")), 1, "expected choices labelled"),
    ("commonsenseqa", "commonsenseqa/train_rand_split.jsonl", jl({"id": "q", "question": "stem", "answerKey": "A"}), 1, "'question' must be an object"),
    ("commonsenseqa", "commonsenseqa/train_rand_split.jsonl", BAD_UTF8, 1, "not valid UTF-8"),
    ("cosmosqa", "cosmosqa/train.csv", COSMOS_CSV + "c3,ctx,q,a,b,c,d,1,extra\n", 5, "expected 8 comma-separated columns, got 9"),
    ("cosmosqa", "cosmosqa/train.csv", COSMOS_CSV.replace(",2\n", ",4\n"), 2, "unknown label '4'"),
    ("cosmosqa", "cosmosqa/train.csv", "id,context,question,answer0,answer1,answer2,label\n", 1, "header lacks column(s) answer3"),
    ("cosmosqa", "cosmosqa/train.csv", b"id,context,question,answer0,answer1,answer2,answer3,label\nc,\xe9,q,a,b,c,d,0\n", 2, "not valid UTF-8"),
    ("cosmosqa", "cosmosqa/train.jsonl", jl({"id": "j", "context": "c", "question": "q", "label": 0}), 1, "missing field 'answer0'"),
    ("hellaswag", "hellaswag/hellaswag_train.jsonl", GOOD_HS + GOOD_HS[:-30] + "\n", 2, "invalid JSON"),
    ("hellaswag", "hellaswag/hellaswag_train.jsonl", jl(hellaswag_record(endings=["a", "b", "c"])), 1, "list of 4 strings"),
    ("hellaswag", "hellaswag/hellaswag_train.jsonl", jl(hellaswag_record(label=4)), 1, "unknown label 4"),
    ("hellaswag", "hellaswag/hellaswag_train.jsonl", jl({"ind": 1, "ctx_b": "", "endings": [], "label": 0}), 1, "missing field 'ctx_a'"),
    ("qqp", "QQP/train.tsv", QQP_TSV + "7\t5\t6\tonly one question\t1\n", 4, "expected 6 tab-separated columns, got 5"),
    ("qqp", "QQP/train.tsv", QQP_TSV.replace("\t0\n", "\t2\n"), 3, "unknown is_duplicate value '2'"),
    ("qqp", "QQP/train.tsv", QQP_TSV.split("\n", 1)[1], 1, "expected the header"),
    ("qqp", "QQP/train.tsv", QQP_TSV.encode() + b"8\t1\t2\t\xfe\tq\t0\n", 4, "not valid UTF-8"),
    ("sst2", "SST-2/train.tsv", "sentence\tlabel\ngood\t1\nbad\t0\textra\n", 3, "expected 2 tab-separated columns, got 3"),
    ("sst2", "SST-2/train.tsv", "sentence\tlabel\ngood\tpositive\n", 2, "unknown label 'positive'"),
    ("sst2", "SST-2/train.tsv", b"sentence\tlabel\n\x80\t1\n", 2, "not valid UTF-8"),
]


@pytest.mark.parametrize("task,rel,content,line,message", MALFORMED,
                         ids=[f"{m[0]}-{i}" for i, m in enumerate(MALFORMED)])
def test_malformed_file_names_file_and_line(tmp_path, task, rel, content, line, message):
    if task == "anli":  # the other rounds are fine; the error must name the broken one
        write_anli(tmp_path)
    path = write_file(tmp_path, rel, content)
    with pytest.raises(DataError) as err:
        read(tmp_path, task, "train")
    text = str(err.value)
    assert text.startswith(f"{path}:{line}:" if line else f"{path}:"), text
    assert message in text, text


MISSING = {"anli": "anli/anli_v1.0/R1/dev.jsonl", "ccg": "ccg/ccg.dev", "commonsenseqa": "commonsenseqa/dev_rand_split.jsonl",
           "cosmosqa": "cosmosqa/valid.csv", "hellaswag": "hellaswag/hellaswag_val.jsonl", "qqp": "QQP/dev.tsv",
           "sst2": "SST-2/dev.tsv"}


@pytest.mark.parametrize("task", INTERMEDIATE)
def test_missing_file_is_named(tmp_path, task):
    with pytest.raises(DataError, match="file not found") as err:
        read(tmp_path, task, "dev")
    assert str(err.value).startswith(str(tmp_path / MISSING[task]))


@pytest.mark.parametrize("task", INTERMEDIATE)
def test_missing_task_folder_fails_when_planning(tmp_path, task):
    with pytest.raises(DataError, match="not found"):
        get_task(task).source_key(DataSource("local", tmp_path))


# ------------------------------------------------------------------------------------------------ hub rows

HUB_ROWS = {
    ("anli", "facebook/anli", None, "train_r2"): [{"uid": "u", "premise": "p", "hypothesis": "h", "label": 2, "reason": ""}],
    ("commonsenseqa", "tau/commonsense_qa", None, "validation"): [
        {"id": "q", "question": "stem", "question_concept": "c",
         "choices": {"label": ["A", "B", "C", "D", "E"], "text": ["a", "b", "c", "d", "e"]}, "answerKey": "E"}],
    ("cosmosqa", "allenai/cosmos_qa", None, "validation"): [
        {"id": "c", "context": "ctx", "question": "q?", "answer0": "a", "answer1": "b", "answer2": "c", "answer3": "d", "label": 1}],
    ("hellaswag", "Rowan/hellaswag", None, "validation"): [
        {"ind": 4, "activity_label": "x", "ctx_a": "A", "ctx_b": "b", "ctx": "A b", "endings": ["1", "2", "3", "4"],
         "source_id": "s", "split": "val", "split_type": "zeroshot", "label": "3"}],
    ("qqp", "nyu-mll/glue", "qqp", "validation"): [{"question1": "a", "question2": "b", "label": 1, "idx": 9}],
    ("sst2", "nyu-mll/glue", "sst2", "train"): [{"sentence": "fine", "label": 0, "idx": 3},
                                                {"sentence": "test", "label": -1, "idx": 4}],
}
HUB_EXPECTED = {
    "anli": {"id": "r2-u", "text_a": "p", "text_b": "h", "label": "contradiction"},
    "commonsenseqa": {"id": "q", "context": "stem", "choices": ["a", "b", "c", "d", "e"], "label": 4},
    "cosmosqa": {"id": "c", "context": "ctx q?", "choices": ["a", "b", "c", "d"], "label": 1},
    "hellaswag": {"id": "4", "context": "A", "choices": ["b 1", "b 2", "b 3", "b 4"], "label": 3},
    "qqp": {"id": "9", "text_a": "a", "text_b": "b", "label": "duplicate"},
    "sst2": {"id": "3", "text_a": "fine", "label": "negative"},
}


@pytest.mark.parametrize("task", sorted(HUB_EXPECTED))
def test_hub_rows_become_the_same_examples(monkeypatch, task):
    import importlib

    module = importlib.import_module(f"repro.tasks.{task}")
    calls = []

    def fake_hub_load(source, hub_id, config, split, **kwargs):
        hub_split = HUB_SPLITS.get(split, split)  # the name datasets sees
        calls.append((hub_id, config, hub_split))
        if task == "cosmosqa":  # a script dataset: read from the hub's Parquet conversion
            assert kwargs == {"revision": "refs/convert/parquet", "data_dir": "default"}
        return HUB_ROWS.get((task, hub_id, config, hub_split), [])

    monkeypatch.setattr(module, "hub_load", fake_hub_load)
    split = "train" if task in ("anli", "sst2") else "dev"
    examples = get_task(task).read(DataSource("hub", None), split, "en")
    assert examples == [HUB_EXPECTED[task]]
    if task == "anli":
        assert [c[2] for c in calls] == ["train_r1", "train_r2", "train_r3"]


# ------------------------------------------------------------------------------------------------ smoke world

def test_smoke_world_files_read_back(tmp_path):
    written = generate(tmp_path, INTERMEDIATE, 0, 30, 12, ["en"])
    assert sorted(written) == sorted(INTERMEDIATE)
    src = DataSource("synthetic", tmp_path, None, {"anli_with_snli_mnli": False})
    for name in INTERMEDIATE:
        task = get_task(name)
        train, dev = task.read(src, "train", "en"), task.read(src, "dev", "en")
        assert (len(train), len(dev)) == (30, 12), name
        assert len({ex["id"] for ex in train}) == 30, name
        if task.head == "multiple_choice":
            n = {"commonsenseqa": 5}.get(name, 4)
            assert all(len(ex["choices"]) == n for ex in train + dev)
            assert len({ex["label"] for ex in train}) > 1  # the answer is not always in one place
        elif task.head == "classification":
            assert {ex["label"] for ex in train} == set(task.labels), name
    full = get_task("anli").read(DataSource("synthetic", tmp_path, None, {"anli_with_snli_mnli": True}), "train", "en")
    assert len(full) == 30 + 30 // 4 + 30  # ANLI + SNLI + MNLI (the mnli writer's own files)
    # The original schemas, as the releases ship them.
    anli = json.loads((tmp_path / "anli/anli_v1.0/R1/train.jsonl").read_text().splitlines()[0])
    assert {"uid", "context", "hypothesis", "label"} <= set(anli) and anli["label"] in "enc"
    assert (tmp_path / "QQP/train.tsv").read_text().startswith("id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n")
    assert (tmp_path / "SST-2/dev.tsv").read_text().startswith("sentence\tlabel\n")
    assert (tmp_path / "cosmosqa/valid.csv").read_text().startswith("id,context,question,answer0,")


def test_smoke_world_uses_only_lexicon_words(tmp_path):
    """New words would fall apart into characters under the tiny model's tokenizer."""
    from repro.synthetic.lexicon import ENGLISH, PUNCT

    generate(tmp_path, INTERMEDIATE, 0, 40, 10, ["en"])
    known = set(ENGLISH) | set(PUNCT)
    src = DataSource("synthetic", tmp_path)
    for name in INTERMEDIATE:
        for ex in get_task(name).read(src, "train", "en"):
            text = " ".join([ex.get("text_a", ""), ex.get("text_b") or "", ex.get("context", ""),
                             *ex.get("choices", []), *ex.get("tokens", [])])
            assert set(text.split()) <= known, (name, set(text.split()) - known)


def test_mlm_text_errors_name_file_and_line(tmp_path):
    from repro.tasks.mlm_text import read_text

    good = write_file(tmp_path, "t.txt", "anna sees the cat .\n\n  boris \n")
    assert read_text(good) == ["anna sees the cat .", "boris"]
    bad = write_file(tmp_path, "bad.txt", b"line one\n" * 5000 + b"caf\xe9\n")  # past the first read buffer
    with pytest.raises(DataError, match=rf"^{bad}:5001: not valid UTF-8"):
        read_text(bad)
    with pytest.raises(DataError, match="no text"):
        read_text(write_file(tmp_path, "blank.txt", "\n  \n"))
    with pytest.raises(DataError, match="file not found"):
        read_text(tmp_path / "absent.txt")
