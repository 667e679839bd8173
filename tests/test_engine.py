"""Stage engine: keys, skipping, invalidation, atomic outputs, locks, status."""
import json

import pytest

from repro.engine import MANIFEST, RunLock, Stage, is_done, run_stages, stage_dir, stage_status
from repro.errors import LockedError


def make_graph(calls, a_value=1, b_value=2, fail_b=False):
    def writer(name, value, fail=False):
        def run(ctx):
            calls.append(name)
            (ctx.out / "value.txt").write_text(str(value))
            if fail:
                raise RuntimeError("boom")
            return {"value": value}
        return run

    a = Stage("prepare", "a", {"v": a_value}, writer("a", a_value), versions=())
    b = Stage("intermediate", "b", {"v": b_value}, writer("b", b_value, fail_b), [a], versions=())
    c = Stage("target", "c", {}, writer("c", 0), [b], versions=())
    d = Stage("target", "d", {}, writer("d", 0), [a], versions=())
    return [a, b, c, d]


def test_done_stages_are_skipped(tmp_path):
    calls = []
    run_stages(tmp_path, make_graph(calls), log=lambda *_: None)
    assert calls == ["a", "b", "c", "d"]
    calls.clear()
    run_stages(tmp_path, make_graph(calls), log=lambda *_: None)
    assert calls == []


def test_changed_config_reruns_exactly_the_dependents(tmp_path):
    calls = []
    run_stages(tmp_path, make_graph(calls), log=lambda *_: None)
    calls.clear()
    run_stages(tmp_path, make_graph(calls, b_value=3), log=lambda *_: None)
    assert calls == ["b", "c"]          # a and d do not read b
    calls.clear()
    run_stages(tmp_path, make_graph(calls, a_value=5, b_value=3), log=lambda *_: None)
    assert calls == ["a", "b", "c", "d"]


def test_manifest_is_written_last_with_checksums(tmp_path):
    stages = make_graph([])
    run_stages(tmp_path, stages, log=lambda *_: None)
    m = json.loads((stage_dir(tmp_path, stages[1]) / MANIFEST).read_text())
    assert m["config"] == {"v": 2} and m["deps"] == {"prepare/a": stages[0].key}
    assert set(m["outputs"]) == {"value.txt"} and len(m["outputs"]["value.txt"]) == 64
    assert m["finished"] >= m["started"] and "versions" in m


def test_failed_stage_leaves_nothing_done_and_reruns(tmp_path):
    calls = []
    stages = make_graph(calls, fail_b=True)
    with pytest.raises(RuntimeError):
        run_stages(tmp_path, stages, log=lambda *_: None)
    assert is_done(tmp_path, stages[0]) and not is_done(tmp_path, stages[1])
    assert not stage_dir(tmp_path, stages[1]).exists()
    assert stage_status(tmp_path, stages[1])["state"] == "interrupted"
    calls.clear()
    stages = make_graph(calls)
    run_stages(tmp_path, stages, log=lambda *_: None)
    assert calls == ["b", "c", "d"]
    assert (stage_dir(tmp_path, stages[1]) / "value.txt").read_text() == "2"


def test_key_depends_on_config_deps_and_versions():
    a1, a2 = Stage("p", "a", {"x": 1}, None, versions=()), Stage("p", "a", {"x": 2}, None, versions=())
    assert a1.key != a2.key
    b1, b2 = Stage("q", "b", {}, None, [a1], versions=()), Stage("q", "b", {}, None, [a2], versions=())
    assert b1.key != b2.key
    assert Stage("p", "a", {"x": 1}, None, versions=()).key == a1.key


def test_status_reports_stale_after_config_change(tmp_path):
    run_stages(tmp_path, make_graph([]), log=lambda *_: None)
    changed = make_graph([], b_value=9)
    states = {s.name: stage_status(tmp_path, s)["state"] for s in changed}
    assert states == {"a": "done", "b": "stale", "c": "stale", "d": "done"}


def test_second_writer_is_refused_and_lock_recovers(tmp_path):
    with RunLock(tmp_path):
        with pytest.raises(LockedError, match="in use by another run"):
            with RunLock(tmp_path):
                pass
    with RunLock(tmp_path):  # released on exit (and by the kernel if the holder is killed)
        pass
