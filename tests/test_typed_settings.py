"""Stages receive the settings they read, resolved once by the plan (issue 27): no stage function takes
the whole profile, and the plan walks each task's data once."""
import importlib
import inspect
import pkgutil

import repro.phases
from repro import sources
from repro.config import load_config
from repro.plan import build_plan
from repro.settings.profile import Profile, resolve
from test_paper_profile import local_only_files

STAGE_MODULES = [f"repro.phases.{m.name}" for m in pkgutil.iter_modules(repro.phases.__path__)] + ["repro.realtext"]


def stage_functions():
    for name in STAGE_MODULES:
        module = importlib.import_module(name)
        for fname, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ == name and not fname.startswith("_"):
                yield f"{name}.{fname}", fn


def test_no_phase_function_takes_the_whole_profile():
    offenders = []
    for where, fn in stage_functions():
        for p in inspect.signature(fn).parameters.values():
            if p.name == "config" or p.annotation in ("dict", "Profile", Profile) and p.name in ("config", "profile"):
                offenders.append(f"{where}({p.name})")
    assert not offenders, f"take the settings they read, not the profile: {offenders}"


def test_the_plan_reads_each_tasks_local_files_once(tmp_path, monkeypatch):
    calls = {}
    original = sources.languages_found

    def counted(d, task, src):
        calls[task.name] = calls.get(task.name, 0) + 1
        return original(d, task, src)

    monkeypatch.setattr(sources, "languages_found", counted)
    build_plan(load_config("paper", local_only_files(tmp_path)))
    assert {"udpos", "bucc2018", "xnli"} <= set(calls) and all(n == 1 for n in calls.values()), calls


def test_per_task_settings_are_the_defaults_with_the_tasks_overrides():
    p = resolve(load_config("paper"))
    xquad, xnli = p.target.settings("xquad"), p.target.settings("xnli")
    assert (xquad["max_seq_length"], xquad["grad_accum"], xnli["max_seq_length"]) == (384, 4, 256)
    assert p.target.settings("xquad") is not p.target.settings("xquad")  # a copy: a stage may add keys
