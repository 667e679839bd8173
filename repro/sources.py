"""Where each task's data comes from: data.source / data.dir, or the task's own [data.task.NAME] keys;
and the plan-time check that every task's data can be had. The plan resolves every task's source once
(`resolve_sources`): prepare and the data check read the resolved `TaskSource`, not the profile. Light
on purpose (no torch import), so a run that cannot get its data stops within a second, before any
heavy module loads."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from repro.errors import ConfigError
from repro.tasks import DataSource, Task, get_task

if TYPE_CHECKING:  # annotations only: the settings import torch (a device rule), this module must not
    from repro.settings.data import Data
    from repro.settings.phases import Intermediate
    from repro.settings.profile import Profile


@dataclass(frozen=True)
class TaskSource:
    """One task's data as the profile resolves it: where it is read, which languages are evaluated."""
    task: Task
    source: DataSource
    languages: list[str]          # the languages prepared
    not_evaluated: list[str]      # local targets: languages the task knows whose files are absent
    eval_cap: int                 # targets: at most this many dev/test items per language (0 = all)
    fix: str                      # the config keys that give the task its data (for error messages)

    @property
    def name(self) -> str:
        return self.task.name

    def problem(self) -> str | None:
        return self.task.source_problem(self.source)


def task_options(inter: Intermediate, task) -> dict:
    """The values of the [intermediate] options this task declares (Task.config_options): only they
    enter its keys, so changing one task's option re-runs that task's stages alone."""
    return {k: getattr(inter, k) for k in task.config_options}


def source_for(p: Profile, task) -> DataSource:
    """The data source of a task: data.source / data.dir, or its own [data.task.NAME] keys."""
    d = p.data
    own = d.task.get(task.name, {})
    root = own.get("dir") or d.dir
    return DataSource(own.get("source") or d.source, Path(root) if root else None, d.cache_dir or None,
                      task_options(p.intermediate, task))


def with_selection_tasks(selection: str, tasks: list[str]) -> list[str]:
    """`tasks` plus the tasks whose dev splits select their checkpoints under target.selection."""
    extra = [get_task(t).selection_tasks.get(selection) for t in tasks if get_task(t).role == "target"]
    return list(dict.fromkeys(tasks + [t for t in extra if t]))


def resolve_sources(p: Profile, tasks: list[str]) -> dict[str, TaskSource]:
    """Every task's resolved source, the tasks that select checkpoints (target.selection) included:
    the one walk over the data the plan makes."""
    out = {}
    for name in with_selection_tasks(p.target.selection, tasks):
        task = get_task(name)
        src = source_for(p, task)
        languages, not_evaluated = task_languages(p, task, src)
        cap = (p.data.task.get(name, {}).get("eval_cap") or p.data.eval_cap) if task.role == "target" else 0
        out[name] = TaskSource(task, src, languages, not_evaluated, cap, fix_keys(p.data, name, src))
    return out


def check_sources(sources: dict[str, TaskSource]) -> None:
    """Fails before anything runs, naming every task whose data cannot be had and the keys that fix it."""
    problems = []
    for n, ts in sources.items():
        problem = ts.problem()
        if problem:
            problems.append(f"({len(problems) + 1}) {n}: {problem}; set {ts.fix} = a folder holding "
                            f"{ts.task.folder or n}/ (docs/data-layout.md), or leave {n} out of the profile's tasks")
    if problems:  # one line per task on a terminal; numbered and ';'-separated once joined into one line
        raise ConfigError("the data of these tasks cannot be read:\n" + ";\n".join(problems))


def fix_keys(d: Data, name: str, src: DataSource) -> str:
    """The config keys that give a task its data: only the folder where the source is local already."""
    if src.kind == "hub":
        return f'data.task.{name}.source = "local" and data.task.{name}.dir'
    own = d.task.get(name, {})
    return f"data.task.{name}.dir" if own.get("source") or own.get("dir") else f"data.dir (or data.task.{name}.dir)"


def task_languages(p: Profile, task, src: DataSource) -> tuple[list[str], list[str]]:
    """(prepared, not evaluated) languages: English for intermediate tasks; for targets target.languages,
    the generated world's, or those whose local files are present."""
    if task.role == "intermediate":
        return ["en"], []
    found = languages_found(p.data, task, src)
    not_evaluated = found[1] if src.kind == "local" else []
    if p.target.languages:
        return list(p.target.languages), not_evaluated
    if p.data.source == "synthetic":
        return list(p.synthetic.languages), not_evaluated
    if p.data.source == "realtext":  # [realtext] <task>_languages (bucc2018 -> bucc_languages)
        return list(getattr(p.realtext, f"{task.name.removesuffix('2018')}_languages", [])), not_evaluated
    return found[0], not_evaluated


def languages_found(d: Data, task, src: DataSource) -> tuple[list[str], list[str]]:
    """(evaluated, not evaluated) languages of a target read from local files: those whose files are
    present (a task that can tell from its file names), narrowed to [data.task.NAME] languages when
    set; the languages the task knows or the profile names whose files are absent are not evaluated."""
    wanted = list(d.task.get(task.name, {}).get("languages") or [])
    present = list(task.languages)
    if src.kind == "local" and src.root is not None and task.local_dir(src.root).is_dir():
        found = task.local_languages(task.local_dir(src.root))
        present = present if found is None else found
    evaluated = [lang for lang in present if lang in wanted] if wanted else present
    absent = [lang for lang in dict.fromkeys([*task.languages, *wanted]) if lang not in present]
    return evaluated, absent
