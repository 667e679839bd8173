"""Seeded sentence makers for the smoke world. Each returns English tokens plus the annotations the
tasks need (entity tags, part-of-speech tags, facts for questions); `lexicon.translate` then gives the
same sentence in a pseudo-language, so the annotations carry over word for word."""
from __future__ import annotations

import random
from dataclasses import dataclass

from repro.synthetic import lexicon as L


@dataclass
class Fact:
    person: str
    verb: str
    adj: str
    noun: str
    place: str
    org: str | None = None

    def tokens(self) -> list[str]:
        toks = [self.person, self.verb, "the", self.adj, self.noun, "in", self.place]
        if self.org:
            toks += ["with", self.org]
        return toks + ["."]

    def ner(self) -> list[str]:
        tags = ["B-PER", "O", "O", "O", "O", "O", "B-LOC"]
        if self.org:
            tags += ["O", "B-ORG"]
        return tags + ["O"]

    def pos(self) -> list[str]:
        tags = ["PROPN", "VERB", "DET", "ADJ", "NOUN", "ADP", "PROPN"]
        if self.org:
            tags += ["ADP", "PROPN"]
        return tags + ["PUNCT"]


def fact(rng: random.Random, with_org: float = 0.5) -> Fact:
    return Fact(rng.choice(L.PERSONS), rng.choice(L.VERBS), rng.choice(L.ADJECTIVES), rng.choice(L.NOUNS),
                rng.choice(L.PLACES), rng.choice(L.ORGS) if rng.random() < with_org else None)


def text(tokens: list[str], lang: str = "en") -> str:
    return " ".join(L.translate(tokens, lang))


def nli_pair(rng: random.Random) -> tuple[list[str], list[str], str]:
    """Premise/hypothesis/label with lexical cues a tiny model can learn: entailment restates part of
    the premise, contradiction negates it, neutral talks about someone or something else."""
    f = fact(rng)
    label = rng.choice(["entailment", "neutral", "contradiction"])
    if label == "entailment":
        hyp = [f.person, f.verb, "the", f.noun, "."]
    elif label == "contradiction":
        hyp = [f.person, rng.choice(["never", "not"]), f.verb, "the", f.noun, "."]
    else:
        other = fact(rng)
        while other.person == f.person:
            other = fact(rng)
        hyp = [other.person, other.verb, "the", other.noun, "."]
    return f.tokens(), hyp, label


def paraphrase_pair(rng: random.Random) -> tuple[list[str], list[str], str]:
    """PAWS-style: high word overlap either way; a paraphrase keeps who-does-what, a non-paraphrase
    swaps the roles (the person becomes the place)."""
    f = fact(rng, with_org=0.0)
    a = f.tokens()
    if rng.random() < 0.5:
        return a, ["in", f.place, f.person, f.verb, "the", f.adj, f.noun, "."], "1"
    other = rng.choice([p for p in L.PERSONS if p != f.person])
    return a, [other, f.verb, "the", f.adj, f.noun, "in", f.place, "with", f.person, "."], "0"


def passage(rng: random.Random, n: int = 3) -> list[Fact]:
    facts, persons = [], set()
    while len(facts) < n:
        f = fact(rng)
        if f.person not in persons:
            persons.add(f.person)
            facts.append(f)
    return facts


def question(rng: random.Random, facts: list[Fact]) -> tuple[list[str], int, str]:
    """A question about one fact and its answer: (question tokens, fact index, answer kind)."""
    i = rng.randrange(len(facts))
    f = facts[i]
    if rng.random() < 0.5:
        return ["who", f.verb, "the", f.adj, f.noun, "?"], i, "person"
    return ["where", "did", f.person, f.verb, "the", f.noun, "?"], i, "place"
