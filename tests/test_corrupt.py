"""Corrupted or tampered artifacts of finished stages are caught by their manifest checksums before
anything reads them, shown by `status` as corrupt, and repaired by `reproduce`, which runs the damaged
stage again (and its dependents only if its new outputs differ): the final tables are identical."""
import json
import os
import shutil
from pathlib import Path

import pytest

from conftest import MINI, repro
from repro.cli import main
from repro.config import load_config
from repro.engine import damaged_outputs, run_stage
from repro.errors import CorruptArtifact
from repro.plan import build_plan


def one(run_dir: Path, pattern: str) -> Path:
    found = sorted(run_dir.glob(pattern))
    assert len(found) == 1, (pattern, found)
    return found[0]


def truncate(path: Path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def flip_byte(path: Path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def edit_metrics(path: Path):
    """What a hand edit "improving" a figure looks like: the first digit raised by one, still valid JSON."""
    text = path.read_text()
    i = next(i for i, c in enumerate(text) if c in "012345678")
    path.write_text(text[:i] + str(int(text[i]) + 1) + text[i + 1:])
    json.loads(path.read_text())


# Stages that are quick to redo (no training), so the test stays fast; an intermediate stage's weights
# are repaired the same way (its re-run on CPU is byte-identical too).
CASES = {
    "truncated weights": ("pretrained/tiny-*/encoder/model.safetensors", truncate),
    "flipped byte in predictions": ("target/mnli__tatoeba-s1-*/predictions/dev/tatoeba/test-xa.tsv", flip_byte),
    "edited metrics file": ("evaluate/mnli__panx-s1-*/scores.json", edit_metrics),
}


@pytest.fixture
def run_copy(mini_run, tmp_path):
    original, _ = mini_run
    copy = tmp_path / "run"
    shutil.copytree(original, copy, ignore=shutil.ignore_patterns(".lock"))  # copy2: keeps mtimes
    return Path(original), copy


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.mark.parametrize("kind", sorted(CASES))
def test_damage_is_caught_shown_and_repaired_with_identical_tables(kind, run_copy, capsys):
    original, run_dir = run_copy
    pattern, damage = CASES[kind]
    victim = one(run_dir, pattern)
    damage(victim)
    rel = victim.relative_to(run_dir)
    stage_id = "/".join(rel.parts[:2]).rsplit("-", 1)[0]

    code, out = cli(capsys, "status", "--profile", MINI, "--run-dir", run_dir)
    assert code == 0
    line = next(row for row in out.splitlines() if row.startswith(stage_id + " "))
    assert " corrupt " in line, out
    assert f"corrupt: {Path(*rel.parts[2:])}" in out

    # A fresh process, as a user runs it (the repair is byte-identical in-process as well: checked by hand).
    proc = repro("reproduce", "--all", "--no-verify", "--profile", MINI, "--run-dir", run_dir)
    out = proc.stdout + proc.stderr
    notes = [row for row in out.splitlines() if row.startswith("[corrupt]")]
    assert len(notes) == 1 and notes[0].startswith(f"[corrupt] {stage_id}:") and str(victim) in notes[0], out
    reran = [row for row in out.splitlines() if row.startswith("[run ]")]
    assert len(reran) == 1 and reran[0].startswith(f"[run ] {stage_id} ("), out  # dependents read the same bytes
    assert victim.read_bytes() == (original / rel).read_bytes()  # the same bytes as before the damage
    agg = one(run_dir, "aggregate/results-*/results.md")
    assert agg.read_text() == (original / agg.relative_to(run_dir)).read_text()

    code, out = cli(capsys, "status", "--verify", "--profile", MINI, "--run-dir", run_dir)
    assert code == 0 and "corrupt" not in out, out


def test_status_verify_rehashes_what_size_and_mtime_would_let_through(run_copy, capsys):
    _, run_dir = run_copy
    victim = one(run_dir, CASES["flipped byte in predictions"][0])
    st = victim.stat()
    flip_byte(victim)
    os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size, same mtime: a careful tamper
    code, out = cli(capsys, "status", "--profile", MINI, "--run-dir", run_dir)
    assert code == 0 and "corrupt" not in out
    code, out = cli(capsys, "status", "--verify", "--profile", MINI, "--run-dir", run_dir)
    assert code == 0 and "corrupt: predictions/dev/tatoeba/test-xa.tsv: SHA-256 differs" in out, out


def test_a_stage_never_reads_a_damaged_upstream_output(run_copy):
    _, run_dir = run_copy
    plan = build_plan(load_config(MINI))
    evaluate = next(s for s in plan.stages if s.id == "evaluate/mnli__tatoeba-s1")
    target = next(d for d in evaluate.deps if d.phase == "target")
    assert damaged_outputs(run_dir, target) == []
    victim = one(run_dir, CASES["flipped byte in predictions"][0])
    flip_byte(victim)
    (run_dir / "evaluate" / f"{evaluate.name}-{evaluate.key}" / "manifest.json").unlink()
    with pytest.raises(CorruptArtifact, match=r"test-xa\.tsv: SHA-256 differs from the manifest's \(output of target/"):
        run_stage(run_dir, evaluate, log=lambda *_: None)


def _toy_plan(outputs: dict):
    from repro.engine import Stage

    def writer(name):
        def run(ctx):
            (ctx.out / "out.txt").write_text(outputs[name])
        return run

    a = Stage("p", "a", {"x": 1}, writer("a"), versions=())
    b = Stage("p", "b", {"x": 2}, writer("b"), [a], versions=())
    return a, b


def test_dependents_rerun_only_when_the_repaired_stage_gives_other_bytes(tmp_path):
    from repro.engine import run_stages, stage_dir

    outputs = {"a": "first", "b": "from a"}
    a, b = _toy_plan(outputs)
    run_stages(tmp_path, [b], log=lambda *_: None)
    (stage_dir(tmp_path, a) / "out.txt").write_text("damaged")
    log = []
    run_stages(tmp_path, [b], log=log.append)
    assert [line.split()[0] for line in log] == ["[corrupt]", "[run", "[skip]"], log  # same bytes: b stays
    (stage_dir(tmp_path, a) / "out.txt").write_text("damaged again")
    outputs["a"] = "not deterministic"  # e.g. a GPU kernel: the repaired stage differs from what b read
    log = []
    run_stages(tmp_path, [b], log=log.append)
    assert [line.split()[0] for line in log] == ["[corrupt]", "[run", "[redo]", "[run"], log
    assert log[2] == "[redo] p/b: its input p/a was run again and its outputs differ"
