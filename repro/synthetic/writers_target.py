"""Smoke-world writers for the XTREME targets, in XTREME's processed layout."""
from __future__ import annotations

import json

from repro.atomic import write_text
from repro.synthetic import lexicon as L
from repro.synthetic import world as W
from repro.synthetic.formats import WorldSpec, conll, tsv, writer
from repro.tasks.tydiqa import LANG_NAMES


@writer("xnli")
def _xnli(spec: WorldSpec):
    _pair_task(spec, "xnli", W.nli_pair)


@writer("pawsx")
def _pawsx(spec: WorldSpec):
    # Real PAWS-X lacks some human translations (XTREME's PAWS-X files): one row of each non-English dev/test
    # file has an empty second sentence, so the loaders and heads meet that case in the smoke run too.
    _pair_task(spec, "pawsx", W.paraphrase_pair, missing_translation=True)


def _pair_task(spec: WorldSpec, task: str, make_pair, missing_translation: bool = False):
    """English train; dev/test parallel across languages; test files without labels, gold in labels/."""
    d = spec.root / task
    rng = spec.rng(task, "train")
    rows = [(W.text(a), W.text(b), y) for a, b, y in (make_pair(rng) for _ in range(spec.train_size))]
    write_text(d / "train-en.tsv", tsv(rows))
    for lang in spec.languages:
        for split in ("dev", "test"):
            rng = spec.rng(task, split)  # same pairs in every language: a parallel evaluation set
            pairs = [make_pair(rng) for _ in range(spec.eval_size)]
            rows = [(W.text(a, lang), W.text(b, lang), y) for a, b, y in pairs]
            if missing_translation and lang != "en" and rows:
                rows[len(rows) // 2] = (rows[len(rows) // 2][0], "", rows[len(rows) // 2][2])
            if split == "dev":
                write_text(d / f"dev-{lang}.tsv", tsv(rows))
            else:
                write_text(d / f"test-{lang}.tsv", tsv(r[:2] for r in rows))
                write_text(spec.label_file(task, lang), "".join(r[2] + "\n" for r in rows))


@writer("panx")
def _panx(spec: WorldSpec):
    _tagging(spec, "panx", lambda f: f.ner())


@writer("udpos")
def _udpos(spec: WorldSpec):
    _tagging(spec, "udpos", lambda f: f.pos())


def _tagging(spec: WorldSpec, task: str, tags_of):
    d = spec.root / task
    rng = spec.rng(task, "train")
    facts = [W.fact(rng) for _ in range(spec.train_size)]
    write_text(d / "train-en.tsv", conll((f.tokens(), tags_of(f)) for f in facts))
    for lang in spec.languages:
        for split in ("dev", "test"):
            rng = spec.rng(task, split)
            facts = [W.fact(rng) for _ in range(spec.eval_size)]
            sents = [(L.translate(f.tokens(), lang), tags_of(f)) for f in facts]
            if split == "dev":
                write_text(d / f"dev-{lang}.tsv", conll(sents))
            else:
                write_text(d / f"test-{lang}.tsv", conll((toks,) for toks, _ in sents))
                write_text(spec.label_file(task, lang), conll((tags,) for _, tags in sents))


def _qa_item(rng, lang: str, qid: str, answerable: bool = True) -> dict:
    facts = W.passage(rng)
    q_tokens, i, kind = W.question(rng, facts)
    context, answer_start, answer = "", None, None
    for j, f in enumerate(facts):
        toks = L.translate(f.tokens(), lang)
        if j == i and answerable:
            k = 0 if kind == "person" else 6
            answer_start = len(context) + len(" ".join(toks[:k])) + (1 if k else 0)
            answer = toks[k]
        context += " ".join(toks) + " "
    context = context.rstrip()
    if not answerable:  # ask about a person who is not in the passage (SQuAD 2.0 style)
        absent = next(p for p in L.PERSONS if p not in {f.person for f in facts})
        q_tokens = ["where", "did", absent, facts[i].verb, "the", facts[i].noun, "?"]
    qa = {"id": qid, "question": " ".join(L.translate(q_tokens, lang)),
          "answers": [{"text": answer, "answer_start": answer_start}] if answerable else []}
    if answerable:
        assert context[answer_start:answer_start + len(answer)] == answer
    return {"title": f"passage {qid}", "paragraphs": [{"context": context, "qas": [qa]}]}


def _squad_file(items, version: str) -> str:
    return json.dumps({"version": version, "data": items}, ensure_ascii=False)


def _strip_answers(items) -> list[dict]:
    """XTREME's remove_qa_test_annotations (google-research/xtreme @838c13b, utils_preprocess.py remove_qa_test_annotations): one article per question, no title, and
    every answer list replaced by one empty answer."""
    return [{"paragraphs": [{"context": para["context"], "qas": [
        {"id": qa["id"], "question": qa["question"], "answers": [{"answer_start": 0, "text": ""}]}]}]}
        for item in items for para in item["paragraphs"] for qa in para["qas"]]


def _squad_v11(spec: WorldSpec):
    """SQuAD v1.1 train/dev: the intermediate task's v1.1 option and the XQuAD/MLQA training data."""
    for split, n in (("train", spec.train_size), ("dev", spec.eval_size)):
        rng = spec.rng("squad", split)
        v1 = [_qa_item(rng, "en", f"sq-{split}-{k}") for k in range(n)]
        write_text(spec.root / "squad" / f"{split}-v1.1.json", _squad_file(v1, "1.1"))


@writer("squad")
@writer("xquad")
def _squad_and_xquad(spec: WorldSpec):
    """SQuAD v1.1 and v2.0 (the intermediate task and the XQuAD/MLQA training data) and XQuAD."""
    _squad_v11(spec)
    for split, n in (("train", spec.train_size), ("dev", spec.eval_size)):
        rng = spec.rng("squad2", split)
        v2 = [_qa_item(rng, "en", f"sq2-{split}-{k}", answerable=rng.random() < 0.7) for k in range(n)]
        for item in v2:
            for qa in item["paragraphs"][0]["qas"]:
                qa["is_impossible"] = not qa["answers"]
        write_text(spec.root / "squad" / f"{split}-v2.0.json", _squad_file(v2, "v2.0"))
    for lang in spec.languages:
        rng = spec.rng("xquad", "test")
        items = [_qa_item(rng, lang, f"xq-{k}") for k in range(spec.eval_size)]
        write_text(spec.label_file("xquad", lang, "json"), _squad_file(items, "1.1"))
        write_text(spec.root / "xquad" / f"xquad.{lang}.json", _squad_file(_strip_answers(items), "1.1"))


@writer("mlqa")
def _mlqa(spec: WorldSpec):
    """MLQA_V1/{dev,test}/{split}-context-l-question-l.json (articles with titles, version "1.0" as MLQA's
    files); dev keeps its answers, test is stripped as XTREME strips MLQA_V1/test (google-research/xtreme @838c13b, scripts/download_data.sh).
    Training and English dev are SQuAD v1.1, written here too so MLQA runs without the squad task."""
    _squad_v11(spec)
    d = spec.root / "mlqa" / "MLQA_V1"
    for lang in spec.languages:
        for split in ("dev", "test"):
            rng = spec.rng("mlqa", split)  # MLQA is parallel: the same questions in every language
            items = [_qa_item(rng, lang, f"mlqa-{split}-{k}") for k in range(spec.eval_size)]
            path = d / split / f"{split}-context-{lang}-question-{lang}.json"
            if split == "dev":
                write_text(path, _squad_file(items, "1.0"))
            else:
                write_text(spec.label_file("mlqa", lang, "json"), _squad_file(items, "1.0"))
                write_text(path, _squad_file(_strip_answers(items), "1.0"))


@writer("tydiqa")
def _tydiqa(spec: WorldSpec):
    """TyDiQA-GoldP in XTREME's layout (google-research/xtreme @838c13b, scripts/download_data.sh): English train with ids shortened to their last `-`
    segment; per-language GoldP dev files (XTREME's test) stripped of answers, gold in labels/; and the
    official English dev file with its answers, which the loader uses for checkpoint selection."""

    version = "TyDiQA-GoldP-1.1-for-SQuAD-1.1"
    d = spec.root / "tydiqa"
    rng = spec.rng("tydiqa", "train")
    train = [_qa_item(rng, "en", str(k)) for k in range(spec.train_size)]
    write_text(d / "tydiqa-goldp-v1.1-train" / "tydiqa.goldp.en.train.json", _squad_file(train, version))
    for lang in spec.languages:
        rng = spec.rng("tydiqa", "test", lang)  # TyDiQA is not parallel: each language has its own questions
        name = LANG_NAMES.get(lang, lang)  # ids start with the language's name, as TyDiQA's (english-...)
        items = [_qa_item(rng, lang, f"{name}-{rng.getrandbits(60)}-{k}") for k in range(spec.eval_size)]
        dev = d / "tydiqa-goldp-v1.1-dev"
        write_text(spec.label_file("tydiqa", lang, "json"), _squad_file(items, version))
        write_text(dev / f"tydiqa.goldp.{lang}.dev.json", _squad_file(_strip_answers(items), version))
        if lang == "en":
            write_text(dev / f"tydiqa-goldp-dev-{name}.json", _squad_file(items, version))


def _distinct_sentences(rng, n: int) -> list[list[str]]:
    """n sentences (English tokens) with distinct texts, so gold pairs are unambiguous."""
    seen, out = set(), []
    while len(out) < n:
        toks = W.fact(rng).tokens()
        if " ".join(toks) not in seen:
            seen.add(" ".join(toks))
            out.append(toks)
    return out


@writer("tatoeba")
def _tatoeba(spec: WorldSpec):
    d = spec.root / "tatoeba"
    for lang in spec.foreign:
        en = _distinct_sentences(spec.rng("tatoeba", lang), spec.eval_size)
        src = [W.text(t, lang) for t in en]
        en_text = [W.text(t) for t in en]
        order = sorted(range(len(en_text)), key=lambda k: en_text[k])  # XTREME sorts the English side
        write_text(d / f"{lang}-en.{lang}", "".join(s + "\n" for s in src))
        write_text(d / f"{lang}-en.en", "".join(en_text[k] + "\n" for k in order))
        write_text(spec.label_file("tatoeba", lang), "".join(f"{k}\n" for k in order))


@writer("bucc2018")
def _bucc2018(spec: WorldSpec):
    """Comparable corpora per foreign language and split (BUCC 2018 shared task, Zweigenbaum et al. 2018; XTREME's layout): eval_size source sentences have
    their English translation on the other side (the gold pairs); eval_size // 2 sentences on each side
    have none (distractors). Lines are shuffled, IDs numbered in file order (`xa-000000001`, `en-...`).
    Dev gold goes next to the corpora; test gold only to labels/, as XTREME deletes *test.gold."""
    d = spec.root / "bucc2018"
    for lang in spec.foreign:
        for split in ("dev", "test"):
            rng = spec.rng("bucc2018", lang, split)
            n_gold, n_extra = spec.eval_size, spec.eval_size // 2
            sents = _distinct_sentences(rng, n_gold + 2 * n_extra)
            # (sentence index, text); indexes below n_gold are translations of each other across the sides
            src = [(k, W.text(sents[k], lang)) for k in range(n_gold + n_extra)]
            en = [(k, W.text(sents[k])) for k in [*range(n_gold), *range(n_gold + n_extra, n_gold + 2 * n_extra)]]
            rng.shuffle(src)
            rng.shuffle(en)
            src_id = {k: f"{lang}-{i + 1:09d}" for i, (k, _) in enumerate(src)}
            en_id = {k: f"en-{i + 1:09d}" for i, (k, _) in enumerate(en)}
            stem = f"{lang}-en.{split}"
            write_text(d / f"{stem}.{lang}", tsv((src_id[k], text) for k, text in src))
            write_text(d / f"{stem}.en", tsv((en_id[k], text) for k, text in en))
            gold = tsv(sorted((src_id[k], en_id[k]) for k in range(n_gold)))
            if split == "dev":
                write_text(d / f"{stem}.gold", gold)
            else:
                write_text(spec.label_file("bucc2018", lang), gold)
