"""Smoke-world writers for the XTREME targets, in XTREME's processed layout."""
from __future__ import annotations

import json

from repro.atomic import write_text
from repro.synthetic import lexicon as L
from repro.synthetic import world as W
from repro.synthetic.generate import Spec, _conll, _tsv, writer


@writer("xnli")
def _xnli(spec: Spec):
    d = spec.root / "xnli"
    rng = spec.rng("xnli", "train")
    rows = [(W.text(p), W.text(h), y) for p, h, y in (W.nli_pair(rng) for _ in range(spec.train_size))]
    write_text(d / "train-en.tsv", _tsv(rows))
    for lang in spec.languages:
        for split in ("dev", "test"):
            rng = spec.rng("xnli", split)  # same pairs in every language: a parallel evaluation set
            pairs = [W.nli_pair(rng) for _ in range(spec.eval_size)]
            rows = [(W.text(p, lang), W.text(h, lang), y) for p, h, y in pairs]
            if split == "dev":
                write_text(d / f"dev-{lang}.tsv", _tsv(rows))
            else:
                write_text(d / f"test-{lang}.tsv", _tsv(r[:2] for r in rows))
                write_text(spec.label_file("xnli", lang), "".join(r[2] + "\n" for r in rows))


@writer("panx")
def _panx(spec: Spec):
    _tagging(spec, "panx", lambda f: f.ner())


def _tagging(spec: Spec, task: str, tags_of):
    d = spec.root / task
    rng = spec.rng(task, "train")
    facts = [W.fact(rng) for _ in range(spec.train_size)]
    write_text(d / "train-en.tsv", _conll((f.tokens(), tags_of(f)) for f in facts))
    for lang in spec.languages:
        for split in ("dev", "test"):
            rng = spec.rng(task, split)
            facts = [W.fact(rng) for _ in range(spec.eval_size)]
            sents = [(L.translate(f.tokens(), lang), tags_of(f)) for f in facts]
            if split == "dev":
                write_text(d / f"dev-{lang}.tsv", _conll(sents))
            else:
                write_text(d / f"test-{lang}.tsv", _conll((toks,) for toks, _ in sents))
                write_text(spec.label_file(task, lang), _conll((tags,) for _, tags in sents))


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


@writer("squad")
@writer("xquad")
def _squad_and_xquad(spec: Spec):
    """SQuAD v1.1 and v2.0 (the intermediate task and the XQuAD/MLQA training data) and XQuAD."""
    d = spec.root / "squad"
    for split, n in (("train", spec.train_size), ("dev", spec.eval_size)):
        rng = spec.rng("squad", split)
        v1 = [_qa_item(rng, "en", f"sq-{split}-{k}") for k in range(n)]
        write_text(d / f"{split}-v1.1.json", _squad_file(v1, "1.1"))
        rng = spec.rng("squad2", split)
        v2 = [_qa_item(rng, "en", f"sq2-{split}-{k}", answerable=rng.random() < 0.7) for k in range(n)]
        for item in v2:
            for qa in item["paragraphs"][0]["qas"]:
                qa["is_impossible"] = not qa["answers"]
        write_text(d / f"{split}-v2.0.json", _squad_file(v2, "v2.0"))
    for lang in spec.languages:
        rng = spec.rng("xquad", "test")
        items = [_qa_item(rng, lang, f"xq-{k}") for k in range(spec.eval_size)]
        write_text(spec.label_file("xquad", lang, "json"), _squad_file(items, "1.1"))
        for item in items:  # XTREME's remove_qa_test_annotations
            item.pop("title")
            for qa in item["paragraphs"][0]["qas"]:
                qa["answers"] = [{"answer_start": 0, "text": ""}]
        write_text(spec.root / "xquad" / f"xquad.{lang}.json", _squad_file(items, "1.1"))


@writer("tatoeba")
def _tatoeba(spec: Spec):
    d = spec.root / "tatoeba"
    for lang in spec.foreign:
        rng = spec.rng("tatoeba", lang)
        seen, en = set(), []
        while len(en) < spec.eval_size:  # distinct sentences, so gold is unambiguous
            toks = W.fact(rng).tokens()
            if " ".join(toks) not in seen:
                seen.add(" ".join(toks))
                en.append(toks)
        src = [W.text(t, lang) for t in en]
        en_text = [W.text(t) for t in en]
        order = sorted(range(len(en_text)), key=lambda k: en_text[k])  # XTREME sorts the English side
        write_text(d / f"{lang}-en.{lang}", "".join(s + "\n" for s in src))
        write_text(d / f"{lang}-en.en", "".join(en_text[k] + "\n" for k in order))
        write_text(spec.label_file("tatoeba", lang), "".join(f"{k}\n" for k in order))


