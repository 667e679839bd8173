"""Build the tiny XLM-R used by the smoke profile and the tests, fully offline.

Run once; its output (repro/resources/tiny-xlmr/) is committed, because tokenizer training gives
different ids across `tokenizers` versions and the smoke run must stay comparable over time.
Recipe: a Unigram tokenizer with XLM-R's special tokens and pair template (<s> A </s></s> B </s>), and an XLMRobertaConfig scaled down to 4 layers and hidden size 64.

    python scripts/build_tiny_model.py [--out repro/resources/tiny-xlmr]
"""
from __future__ import annotations

import argparse
import math
import os
import string
import sys
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors  # noqa: E402
from transformers import XLMRobertaConfig, XLMRobertaModel, XLMRobertaTokenizerFast  # noqa: E402

from repro.synthetic.lexicon import corpus_lines  # noqa: E402

SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]


def build_tokenizer() -> XLMRobertaTokenizerFast:
    # A Unigram model estimated directly from the smoke corpus: every corpus word is a piece scored by
    # its log relative frequency, and every printable ASCII character (plus each corpus character) is a
    # low-scored fallback piece. UnigramTrainer on so small and uniform a corpus keeps only 2-3 letter
    # pieces, which makes the synthetic tasks needlessly hard for a model this small.
    counts = Counter(w for line in corpus_lines() for w in line.split())
    total = sum(counts.values())
    chars = sorted(set(string.ascii_letters + string.digits + string.punctuation) | {c for w in counts for c in w})
    vocab = [(t, 0.0) for t in SPECIALS]
    vocab += [("\u2581" + w, math.log(n / total)) for w, n in sorted(counts.items())]
    vocab += [("\u2581", -12.0)] + [(c, -14.0) for c in chars]
    tok = Tokenizer(models.Unigram(vocab, unk_id=SPECIALS.index("<unk>"), byte_fallback=False))
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", tok.token_to_id("<s>")), ("</s>", tok.token_to_id("</s>"))],
    )
    return XLMRobertaTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", cls_token="<s>", sep_token="</s>",
        unk_token="<unk>", pad_token="<pad>", mask_token="<mask>", model_max_length=128,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="repro/resources/tiny-xlmr")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer()
    assert [tokenizer.convert_tokens_to_ids(t) for t in ("<s>", "<pad>", "</s>")] == [0, 1, 2]
    torch.manual_seed(0)
    config = XLMRobertaConfig(
        vocab_size=len(tokenizer), hidden_size=64, num_hidden_layers=4, num_attention_heads=4,
        intermediate_size=128, max_position_embeddings=130, type_vocab_size=1,
        pad_token_id=1, bos_token_id=0, eos_token_id=2,
    )
    XLMRobertaModel(config, add_pooling_layer=False).save_pretrained(out)
    tokenizer.save_pretrained(out)
    for f in out.iterdir():  # safetensors writes 0600 (safetensors' save_file creates files with mode 0600); results are shared
        f.chmod(0o644)
    print(f"tiny model: {len(tokenizer)} pieces, {sum(p.numel() for p in XLMRobertaModel(config).parameters())} params -> {out}")


if __name__ == "__main__":
    main()
