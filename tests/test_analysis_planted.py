"""The planted-distance world (repro/synthetic/planted.py) as ground truth: the better measures must
recover the planted order, and intermediate training on closer tasks must help the target more.
Marked `planted` (select with `-m planted`; run by `tox -e tests`); the second test trains 5 intermediate
and 6 target models of the tiny model (about 6 CPU-minutes measured on a heavily shared 2-core machine)."""
import numpy as np
import pytest

from repro.analysis import known_answer, measures as ms
from repro.analysis.stats import spearman
from repro.config import load_config
from repro.modeling import TINY_MODEL, load_encoder, load_tokenizer
from repro.phases.planted import experiment
from repro.synthetic import planted

pytestmark = [pytest.mark.planted, pytest.mark.slow]
DISTANCES = [0.0, 0.25, 0.5, 0.75, 1.0]
N = 160


@pytest.fixture(scope="module")
def tiny():
    return load_encoder(TINY_MODEL), load_tokenizer(TINY_MODEL)


@pytest.fixture(scope="module")
def world(tiny):
    # words the tiny tokenizer keeps whole: a cue is one token (pseudo-words fall apart into letters)
    return planted.build_world(DISTANCES, seed=0, vocabulary=planted.whole_words(tiny[1]))


def _report(name, rho):
    print(f"planted order recovered by {name}: Spearman(closeness, similarity) = {rho:+.2f}"
          + ("" if rho >= 0.8 else "  <- does NOT recover the planted order"))


def test_measures_recover_the_planted_order(world, tiny):
    model, tok = tiny
    target = planted.target_examples(world, N, 0, "train")
    inters = [planted.intermediate_examples(world, k, N, 0) for k in range(len(DISTANCES))]
    closeness = -np.array(DISTANCES)
    texts = lambda exs: [t for ex in exs for t in ms.example_texts(ex)]
    tc = ms.token_counts(texts(target), tok)
    m1 = [ms.jaccard(set(tc), set(ms.token_counts(texts(e), tok))) for e in inters]
    m1w = [ms.weighted_jaccard(tc, ms.token_counts(texts(e), tok)) for e in inters]
    layer = model.config.num_hidden_layers
    means = {"target": ms.pooled_features(model, ms.encode_inputs(target, tok, 64), tok.pad_token_id, [layer])[layer].mean(0)}
    for k, e in enumerate(inters):
        means[k] = ms.pooled_features(model, ms.encode_inputs(e, tok, 64), tok.pad_token_id, [layer])[layer].mean(0)
    cos = ms.centred_cosines(means)
    m2 = [cos[("target", k)] for k in range(len(inters))]
    results = {"M1 Jaccard": spearman(closeness, m1)[0], "M1 weighted": spearman(closeness, m1w)[0],
               "M2 centred TextEmb": spearman(closeness, m2)[0]}
    for name, rho in results.items():
        _report(name, rho)
    # the lexical measures must recover the planted order; M2 on a random-init tiny model is reported only
    assert results["M1 Jaccard"] >= 0.8 and results["M1 weighted"] >= 0.8


def test_gains_follow_the_planting_and_the_known_answer_is_recovered(tmp_path):
    """The smoke run's known-answer stage (repro/phases/planted.py): intermediate training on closer tasks
    helps the target more, and the measures expected to recover the planted order do (ρ ≥ 0.8)."""
    k = experiment(TINY_MODEL, tmp_path, load_config("smoke")["target"]["defaults"])
    gains = k["gains"]
    rho = spearman(-np.array(k["distances"]), gains)[0]
    print(f"planted gains (points) by distance {k['distances']}: {[round(g, 1) for g in gains]}; Spearman {rho:+.2f}")
    assert rho >= 0.8
    assert gains[0] > gains[-1]
    result = known_answer.analyse(k["distances"], gains, k["measures"], baseline=k["baseline"])
    for m, v in result["measures"].items():
        _report(m, v["recovery"]["spearman"])
    assert result["verdict"].startswith("Known answer recovered"), result["verdict"]
