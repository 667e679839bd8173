"""run.report_to = ["tensorboard"]: event files per stage when the package is there, one note when it is not,
and never a change of any stage's key (the event files are not results)."""
from __future__ import annotations

import importlib.util

import pytest

from conftest import MINI
from repro.config import load_config
from repro.plan import build_plan
from repro.report import Reporter


def test_report_to_changes_no_stage_key():
    plain = build_plan(load_config(MINI), need_data=False)
    watched = build_plan(load_config(MINI, ['run.report_to=["tensorboard"]']), need_data=False)
    assert [(s.id, s.key) for s in plain.stages] == [(s.id, s.key) for s in watched.stages]


def test_unknown_integration_is_refused():
    from repro.errors import ConfigError
    with pytest.raises(ConfigError, match="run.report_to"):
        load_config(MINI, ['run.report_to=["wandb"]'])


@pytest.mark.skipif(importlib.util.find_spec("tensorboard") is not None, reason="tensorboard is installed")
def test_without_the_package_one_note_and_no_files(tmp_path):
    notes = []
    report = Reporter(tmp_path / "tb", log=notes.append)
    report.scalar("train/loss", 1.0, 1)
    report.close()
    assert len(notes) <= 1 and not (tmp_path / "tb").exists()


def test_with_the_package_event_files_hold_the_scalars(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    report = Reporter(tmp_path / "tb")
    for step in (1, 2, 3):
        report.scalar("train/loss", 1.0 / step, step)
    report.close()
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    assert [e.step for e in events.Scalars("train/loss")] == [1, 2, 3]
