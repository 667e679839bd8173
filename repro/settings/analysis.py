"""[retrieval] (BUCC and Tatoeba: embed and retrieve), [analysis] (task similarity vs gain) and
[verify] (which expected table a run is checked against)."""
from __future__ import annotations

from dataclasses import dataclass

from repro.settings.declare import key
from repro.settings.rules import FLAG, PAIR_SPECIAL_TOKENS, choice, count, text


@dataclass(frozen=True)
class Retrieval:
    """The retrieval targets (BUCC, Tatoeba): sentence embeddings from one encoder layer."""
    layer: int = key(14, count(0), "hidden_states index for a model of model.reference_num_layers layers")
    pooling: str = key("mean", choice("mean", "cls"), "mean (over all real tokens incl. <s> </s>) | cls")
    batch_size: int = key(100, count(1), "sentences per forward pass")
    max_seq_length: int = key(512, count(3), "tokens per sentence")
    sort_by_length: bool = key(True, FLAG, "faster; embeddings are un-permuted, results identical")
    bucc_k: int = key(4, count(1), "BUCC: neighbourhood of the margin score")
    bucc_layer: int = key(14, count(0), "BUCC's layer; XTREME's literal script gives 20, jiant uses 14 (docs/data-layout.md)")
    text_prefix: str = key("", text(nonempty=False),
                           'put before every sentence; e5 models want "query: " for bitext mining (their model card)')


@dataclass(frozen=True)
class Analysis:
    """Phase analyze: task similarity vs gain (docs/analysis.md)."""
    enabled: bool = key(True, FLAG, "run the analyze phase")
    sample_size: int = key(2000, count(1), "English examples per task behind every measure",
                           "same N for all: Jaccard grows with N")
    token_cap: int = key(20000, count(1), "LogME on token-level targets: at most this many tokens")
    mid_layer: int = key(12, count(0), "the mid layer of M2/M4 variants, for a model of model.reference_num_layers layers")
    reference_num_layers: int = key(24, count(1), "the depth mid_layer is given for")
    max_seq_length: int = key(256, count(PAIR_SPECIAL_TOKENS + 2), "tokens per example")
    batch_size: int = key(32, count(1), "examples per forward pass")
    fisher_head_steps: int = key(200, count(1), "M3 (b): steps of the linear probe trained on the frozen encoder")
    permutations: int = key(10000, count(1), "interaction test (within-target permutations)")
    bootstrap: int = key(2000, count(1), "source-bootstrap resamples behind the CIs")
    seed: int = key(0, count(0), "seed of samples, probes and resamples")
    planted: bool = key(False, FLAG,
                        "the known-answer check (planted-distance world, tiny-model sized) joins the report")
    cka_probes: int = key(0, count(0),
                          "M5 ΔCKA: dev probes per target whose features the baseline target cells keep; 0 = off")


@dataclass(frozen=True)
class Verify:
    """`verify`: the expected table a run's results are checked against."""
    expected: str = key("paper", text(), "a name under expected/ (paper, smoke, real) or a path")
