"""Smoke-world writers for the intermediate tasks, in their datasets' original formats.

Every task carries a cue that the tiny randomly initialised model learns within the smoke profile's
intermediate budget (about 100 updates of 16 examples): negation words mark NLI contradictions (the
best-known annotation artifact, Gururangan et al. 2018) and neutral hypotheses add information the premise
lacks, marked by "also"; sentiment sits in polarity adjectives; a duplicate question is the same question
reordered, a non-duplicate asks the other kind of question (where/who) about someone else; the right
multiple-choice answer is of the kind the question asks for (a place for "where", a person for "who") and
repeats the context's own place or person, the distractors are of the other kind. The kind cue is there
because repetition alone is not learnable in that budget (measured: multiple-choice accuracy stayed at
chance after 96 updates when the distractors differed from the answer only in not repeating the context).
Only lexicon words are used: the tiny model's tokenizer was built from that lexicon.
"""
from __future__ import annotations

import csv
import io
import json
import random
import uuid

from repro.atomic import write_text
from repro.synthetic import lexicon as L
from repro.synthetic import world as W
from repro.synthetic.formats import WorldSpec, tsv, writer

NLI_LETTER = {"entailment": "e", "neutral": "n", "contradiction": "c"}


def _jsonl(records) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def _split_sizes(spec: WorldSpec):
    return (("train", spec.train_size), ("dev", spec.eval_size))


@writer("mnli")
def _mnli(spec: WorldSpec):
    """MultiNLI 1.0 JSON lines (multinli_1.0_{train,dev_matched}.jsonl)."""
    d = spec.root / "mnli"
    for split, n in (("train", spec.train_size), ("dev_matched", spec.eval_size)):
        rng = spec.rng("mnli", split)
        lines = []
        for k in range(n):
            p, h, y = W.nli_pair(rng)
            lines.append(json.dumps({"pairID": f"{k}e", "promptID": k, "genre": "fiction", "gold_label": y,
                                     "annotator_labels": [y], "sentence1": W.text(p), "sentence2": W.text(h)}))
        write_text(d / f"multinli_1.0_{split}.jsonl", "\n".join(lines) + "\n")


def adversarial_pair(rng: random.Random) -> tuple[list[str], list[str], str]:
    """NLI with the artifacts of crowd-written hypotheses: entailment restates part of the premise,
    contradiction negates it ("not"/"never"), neutral adds something the premise does not say ("also")."""
    f = W.fact(rng)
    label = rng.choice(["entailment", "neutral", "contradiction"])
    if label == "entailment":
        hyp = rng.choice([[f.person, f.verb, "the", f.noun, "."], ["the", f.noun, "is", "in", f.place, "."]])
    elif label == "contradiction":
        hyp = [f.person, rng.choice(["never", "not"]), f.verb, "the", f.noun, "."]
    else:
        other = rng.choice([n for n in L.NOUNS if n != f.noun])
        hyp = [f.person, "also", rng.choice(L.VERBS), "the", other, "."]
    return f.tokens(), hyp, label


@writer("anli")
def _anli(spec: WorldSpec):
    """ANLI v1.0 release layout (anli_v1.0/R{1,2,3}/{train,dev}.jsonl), plus SNLI 1.0 and MultiNLI files
    for the full-ANLI option (the MNLI files are the mnli writer's, byte for byte)."""
    d = spec.root / "anli" / "anli_v1.0"
    for split, n in _split_sizes(spec):
        for r, rnd in enumerate(("R1", "R2", "R3")):
            rng = spec.rng("anli", rnd, split)
            records = []
            for _ in range(n // 3 + (1 if r < n % 3 else 0)):  # the rounds share the split's size
                p, h, y = adversarial_pair(rng)
                records.append({"uid": str(uuid.UUID(int=rng.getrandbits(128))), "context": W.text(p),
                                "hypothesis": W.text(h), "label": NLI_LETTER[y], "model_label": rng.choice("enc"),
                                "emturk": False, "genre": "fiction", "reason": "", "tag": ""})
            write_text(d / rnd / f"{split}.jsonl", _jsonl(records))
    for split, n in _split_sizes(spec):
        rng = spec.rng("snli", split)
        records = []
        for k in range(n // 4 or 1):
            p, h, y = adversarial_pair(rng)
            records.append({"annotator_labels": [y], "captionID": f"{k}.jpg#0", "gold_label": y,
                            "pairID": f"{k}.jpg#0r1{y[0]}", "sentence1": W.text(p), "sentence2": W.text(h)})
        write_text(spec.root / "snli" / f"snli_1.0_{split}.jsonl", _jsonl(records))
    _mnli(spec)


CCG_TAGS = {"person": "NP", "verb": r"(S[dcl]\NP)/NP", "the": "NP[nb]/N", "adj": "N/N", "noun": "N",
            "prep": r"((S\NP)\(S\NP))/NP", "place": "NP", "org": "NP", ".": "."}


def ccg_sentence(rng: random.Random) -> tuple[list[str], list[str]]:
    """A fact with CCGbank-style supertags; a sentence-final adverbial clause ("near <place>") is the
    rarer construction."""
    f = W.fact(rng)
    tags = [CCG_TAGS["person"], CCG_TAGS["verb"], CCG_TAGS["the"], CCG_TAGS["adj"], CCG_TAGS["noun"],
            CCG_TAGS["prep"], CCG_TAGS["place"]]
    tokens = f.tokens()[:-1]
    if f.org:
        tags += [CCG_TAGS["prep"], CCG_TAGS["org"]]
    if rng.random() < 0.2:
        tokens += ["near", rng.choice(L.PLACES)]
        tags += [r"((S\NP)\(S\NP))/NP", "NP"]
    return tokens + ["."], tags + ["."]


@writer("ccg")
def _ccg(spec: WorldSpec):
    """ccg/ccg.{train,dev}: tokens, TAB, supertags (see repro/tasks/ccg.py)."""
    for split, n in _split_sizes(spec):
        rng = spec.rng("ccg", split)
        lines = [" ".join(t) + "\t" + " ".join(g) for t, g in (ccg_sentence(rng) for _ in range(n))]
        write_text(spec.root / "ccg" / f"ccg.{split}", "".join(line + "\n" for line in lines))


def _others(rng: random.Random, pool: list[str], avoid, k: int) -> list[str]:
    return rng.sample([w for w in pool if w not in set(avoid)], k)


def _answer(f: W.Fact, kind: str) -> list[str]:
    return ["in", f.place] if kind == "where" else [f.person]


def _shuffled(rng: random.Random, right: list[str], wrong: list[list[str]]) -> tuple[list[list[str]], int]:
    choices = [right] + wrong
    order = list(range(len(choices)))
    rng.shuffle(order)
    return [choices[k] for k in order], order.index(0)


def choice_question(rng: random.Random, n_choices: int) -> tuple[list[str], list[list[str]], int]:
    """A where- or who-question about a fact; the right answer is of the asked kind and repeats the
    question's place or person, the distractors are of the other kind and name other facts' ones."""
    f = W.fact(rng, with_org=0.0)
    kind = rng.choice(["where", "who"])
    stem = (["where", "does", f.person, f.verb, "the", f.noun, "?"] if kind == "where"
            else ["who", f.verb, "the", f.noun, "in", f.place, "?"])
    other = "who" if kind == "where" else "where"
    wrong = []
    while len(wrong) < n_choices - 1:
        g = W.fact(rng, with_org=0.0)
        if g.person != f.person and g.place != f.place and _answer(g, other) not in wrong:
            wrong.append(_answer(g, other))
    choices, label = _shuffled(rng, _answer(f, kind), wrong)
    return stem, choices, label


@writer("commonsenseqa")
def _commonsenseqa(spec: WorldSpec):
    """CommonsenseQA release JSON lines ({train,dev}_rand_split.jsonl), 5 choices A-E."""
    for split, n in _split_sizes(spec):
        rng = spec.rng("commonsenseqa", split)
        records = []
        for _ in range(n):
            stem, choices, label = choice_question(rng, 5)
            records.append({"answerKey": "ABCDE"[label], "id": f"{rng.getrandbits(128):032x}",
                            "question": {"question_concept": stem[1], "stem": W.text(stem),
                                         "choices": [{"label": "ABCDE"[k], "text": W.text(c)}
                                                     for k, c in enumerate(choices)]}})
        write_text(spec.root / "commonsenseqa" / f"{split}_rand_split.jsonl", _jsonl(records))


def reading_question(rng: random.Random) -> tuple[list[str], list[str], list[list[str]], int]:
    """A two-fact passage and a where- or who-question about one fact; the right answer is of the asked
    kind and repeats that fact's place or person, the distractors are of the other kind and absent from
    the passage."""
    facts = W.passage(rng, 2)
    f = rng.choice(facts)
    passage = [t for g in facts for t in W.Fact(g.person, g.verb, g.adj, g.noun, g.place).tokens()]
    kind = rng.choice(["where", "who"])
    question = (["where", "does", f.person, f.verb, "the", f.noun, "?"] if kind == "where"
                else ["who", f.verb, "the", f.noun, "?"])
    if kind == "where":  # distractors: people the passage does not mention
        wrong = [[p] for p in _others(rng, L.PERSONS, [g.person for g in facts], 3)]
    else:                # distractors: places the passage does not mention
        wrong = [["in", p] for p in _others(rng, L.PLACES, [g.place for g in facts], 3)]
    choices, label = _shuffled(rng, _answer(f, kind), wrong)
    return passage, question, choices, label


@writer("cosmosqa")
def _cosmosqa(spec: WorldSpec):
    """Cosmos QA release CSV ({train,valid}.csv; header id,context,question,answer0..answer3,label)."""
    for split, name, n in (("train", "train", spec.train_size), ("dev", "valid", spec.eval_size)):
        rng = spec.rng("cosmosqa", split)
        buf = io.StringIO()
        out = csv.writer(buf, lineterminator="\n")
        out.writerow(["id", "context", "question", "answer0", "answer1", "answer2", "answer3", "label"])
        for k in range(n):
            passage, question, answers, label = reading_question(rng)
            out.writerow([f"{split}-{k}", W.text(passage), W.text(question), *(W.text(a) for a in answers), label])
        write_text(spec.root / "cosmosqa" / f"{name}.csv", buf.getvalue())


def ending_choice(rng: random.Random) -> tuple[list[str], list[str], list[list[str]], int]:
    """A context (ctx_a), the start of the next sentence (ctx_b: "where is the <noun> ?" or "who is with
    the <noun> ?") and four endings: the right one answers it with the context's own place or person, the
    distractors with the other kind, absent from the context."""
    f = W.fact(rng, with_org=0.0)
    if rng.random() < 0.5:
        ctx_b, right = ["where", "is", "the", f.noun, "?"], ["in", f.place, "."]
        wrong = [[p, "."] for p in _others(rng, L.PERSONS, [f.person], 3)]
    else:
        ctx_b, right = ["who", "is", "with", "the", f.noun, "?"], [f.person, "."]
        wrong = [["in", p, "."] for p in _others(rng, L.PLACES, [f.place], 3)]
    endings, label = _shuffled(rng, right, wrong)
    return f.tokens(), ctx_b, endings, label


@writer("hellaswag")
def _hellaswag(spec: WorldSpec):
    """HellaSwag release JSON lines (hellaswag_{train,val}.jsonl)."""
    for split, name, n in (("train", "train", spec.train_size), ("dev", "val", spec.eval_size)):
        rng = spec.rng("hellaswag", split)
        records = []
        for k in range(n):
            ctx_a, ctx_b, endings, label = ending_choice(rng)
            records.append({"ind": k, "activity_label": "smoke world", "ctx_a": W.text(ctx_a), "ctx_b": W.text(ctx_b),
                            "ctx": W.text(ctx_a + ctx_b), "split": name, "split_type": "indomain", "label": label,
                            "endings": [W.text(e) for e in endings], "source_id": f"smoke~{k}"})
        write_text(spec.root / "hellaswag" / f"hellaswag_{name}.jsonl", _jsonl(records))


def question_pair(rng: random.Random) -> tuple[list[str], list[str], str]:
    """Quora-style pair: a duplicate asks the same question in another word order; a non-duplicate asks
    the other kind of question (where <-> who) about someone else."""
    f = W.fact(rng, with_org=0.0)
    kind = rng.choice(["where", "who"])
    q1 = (["where", "does", f.person, f.verb, "the", f.noun, "?"] if kind == "where"
          else ["who", f.verb, "the", f.noun, "in", f.place, "?"])
    if rng.random() < 0.5:
        q2 = (["the", f.noun, "where", "does", f.person, f.verb, "?"] if kind == "where"
              else ["in", f.place, "who", f.verb, "the", f.noun, "?"])
        return q1, q2, "1"
    g = W.fact(rng, with_org=0.0)
    while g.person == f.person:
        g = W.fact(rng, with_org=0.0)
    q2 = (["who", g.verb, "the", g.noun, "with", g.person, "?"] if kind == "where"
          else ["where", "does", g.person, g.verb, "the", g.noun, "?"])
    return q1, q2, "0"


@writer("qqp")
def _qqp(spec: WorldSpec):
    """GLUE QQP/{train,dev}.tsv with its header."""
    for split, n in _split_sizes(spec):
        rng = spec.rng("qqp", split)
        rows = [("id", "qid1", "qid2", "question1", "question2", "is_duplicate")]
        for k in range(n):
            q1, q2, y = question_pair(rng)
            rows.append((str(k), str(2 * k + 1), str(2 * k + 2), W.text(q1), W.text(q2), y))
        write_text(spec.root / "QQP" / f"{split}.tsv", tsv(rows))


def sentiment_sentence(rng: random.Random) -> tuple[list[str], str]:
    """A sentence whose polarity adjective decides the label; the other adjectives are neutral."""
    label = rng.choice(["0", "1"])
    polar = rng.choice(L.POSITIVE if label == "1" else L.NEGATIVE)
    f = W.fact(rng, with_org=0.0)
    tokens = rng.choice([["the", f.adj, f.noun, "in", f.place, "is", polar, "."],
                         [f.person, f.verb, "a", polar, f.noun, "."],
                         ["the", polar, f.noun, "is", f.adj, "."]])
    return tokens, label


@writer("sst2")
def _sst2(spec: WorldSpec):
    """GLUE SST-2/{train,dev}.tsv (header sentence, label)."""
    for split, n in _split_sizes(spec):
        rng = spec.rng("sst2", split)
        rows = [("sentence", "label")] + [(W.text(t), y) for t, y in (sentiment_sentence(rng) for _ in range(n))]
        write_text(spec.root / "SST-2" / f"{split}.tsv", tsv(rows))
