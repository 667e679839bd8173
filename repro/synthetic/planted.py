"""A planted-distance world: one target task and a family of intermediate tasks at known, controlled
semantic distances from it — the ground truth against which the similarity measures are tested.

Target: a sentence is labelled 1 when it contains one of the target's cue words. Intermediate task k
at distance d_k in [0, 1] (d = 0: the target's own rule and vocabulary) shares a fraction 1 - d_k of
the target's cue words (the rest of its cues are words the target treats as filler, so the two rules
conflict there) and draws a fraction 1 - d_k of its filler words from the target's vocabulary (the rest
from a disjoint one). So both the labelling rule and the input distribution drift away from the target
as d grows; a measure that tracks transferability should order the family by d, and training on a closer
task should help the target more.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

from repro.tasks.base import Task

N_CUES = 8
N_FILLER = 40
SENTENCE_WORDS = 7


@dataclass
class PlantedTask(Task):
    """An unregistered classification task of the planted world (the phases' heads accept it)."""
    name: str = "planted"
    role: str = "intermediate"
    head: str = "classification"
    labels: tuple = ("0", "1")
    metric: str = "accuracy"

    def __post_init__(self):
        self.labels = list(self.labels)


def _words(prefix: str, n: int) -> list[str]:
    # Pronounceable pseudo-words: the tiny tokenizer splits them into a few pieces, as real words.
    syll = ["ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "be", "do"]
    return [prefix + syll[i % 10] + syll[(i // 10) % 10] for i in range(n)]


@dataclass
class World:
    target_cues: list[str]
    target_filler: list[str]
    distances: list[float]
    cues: list[list[str]]       # per intermediate task
    filler: list[list[str]]     # per intermediate task


def whole_words(tokenizer) -> list[str]:
    """The words a tokenizer keeps as one piece (SentencePiece "▁word"), sorted: a planted cue is then one
    token, as a real word is for a real model (pseudo-words fall apart into letters on the tiny model)."""
    return sorted(k[1:] for k in tokenizer.get_vocab() if k.startswith("\u2581") and len(k) >= 3 and k[1:].isalpha())


def build_world(distances: list[float], seed: int = 0, vocabulary: list[str] | None = None) -> World:
    """vocabulary: the words to draw from (default pseudo-words); needs N_CUES + N_FILLER * (1 + tasks)."""
    rng = random.Random(seed)
    need = N_CUES + N_FILLER * (1 + len(distances))
    pool = list(vocabulary) if vocabulary else _words("pa", need)
    if len(pool) < need:
        raise ValueError(f"planted world: {len(pool)} words in the vocabulary, {need} needed")
    rng.shuffle(pool)
    # Cues and filler come from one pool of look-alike words: a model cannot tell a cue by its form
    # (a generic "unusual word" detector would transfer at any distance), only by what it was taught.
    target_cues, target_filler = pool[:N_CUES], pool[N_CUES:N_CUES + N_FILLER]
    rest = pool[N_CUES + N_FILLER:]
    cues, filler = [], []
    for k, d in enumerate(distances):
        keep_c, keep_f = round((1 - d) * N_CUES), round((1 - d) * N_FILLER)
        # the rest of the cues are words the target treats as filler: the labelling rules conflict there
        task_cues = rng.sample(target_cues, keep_c) + rng.sample(target_filler, N_CUES - keep_c)
        shared = [w for w in target_filler if w not in task_cues]
        cues.append(task_cues)
        own = rest[k * N_FILLER:(k + 1) * N_FILLER]
        filler.append(rng.sample(shared, min(keep_f, len(shared))) + own[: N_FILLER - keep_f])
    return World(target_cues, target_filler, list(distances), cues, filler)


def _examples(cues: list[str], filler: list[str], n: int, rng: random.Random, tag: str) -> list[dict]:
    out = []
    for i in range(n):
        words = [rng.choice(filler) for _ in range(SENTENCE_WORDS)]
        label = i % 2
        if label:
            words[rng.randrange(SENTENCE_WORDS)] = rng.choice(cues)
        out.append({"id": f"{tag}-{i}", "text_a": " ".join(words), "label": str(label)})
    rng.shuffle(out)
    return out


def target_examples(world: World, n: int, seed: int, split: str) -> list[dict]:
    return _examples(world.target_cues, world.target_filler, n, random.Random(f"{seed}/target/{split}"), f"t-{split}")


def intermediate_examples(world: World, k: int, n: int, seed: int) -> list[dict]:
    return _examples(world.cues[k], world.filler[k], n, random.Random(f"{seed}/inter/{k}"), f"i{k}")
