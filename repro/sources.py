"""Where each task's data comes from: data.source / data.dir, or the task's own [data.task.NAME] keys;
and the plan-time check that every task's data can be had. Light on purpose (no torch import), so a
run that cannot get its data stops within a second, before any heavy module loads."""
from __future__ import annotations

from pathlib import Path

from repro.errors import ConfigError
from repro.tasks import DataSource, get_task


def task_options(config: dict, task) -> dict:
    """The values of the [intermediate] options this task declares (Task.config_options): only they
    enter its keys, so changing one task's option re-runs that task's stages alone."""
    return {k: config["intermediate"][k] for k in task.config_options}


def source_for(config: dict, task) -> DataSource:
    """The data source of a task: data.source / data.dir, or its own [data.task.NAME] keys."""
    d = config["data"]
    own = d["task"].get(task.name, {})
    root = own.get("dir") or d["dir"]
    return DataSource(own.get("source") or d["source"], Path(root) if root else None, d["cache_dir"] or None,
                      task_options(config, task))


def with_selection_tasks(config: dict, tasks: list[str]) -> list[str]:
    """`tasks` plus the tasks whose dev splits select their checkpoints under target.selection."""
    extra = [get_task(t).selection_tasks.get(config["target"]["selection"]) for t in tasks
             if get_task(t).role == "target"]
    return list(dict.fromkeys(tasks + [t for t in extra if t]))


def check_sources(config: dict, tasks: list[str]) -> None:
    """Fails before anything runs, naming every task whose data cannot be had and the keys that fix it."""
    problems = []
    for n in with_selection_tasks(config, tasks):
        task = get_task(n)
        src = source_for(config, task)
        problem = task.source_problem(src)
        if problem:
            problems.append(f"({len(problems) + 1}) {n}: {problem}; set {fix_keys(config, n, src)} = a folder holding "
                            f"{task.folder or n}/ (docs/data-layout.md), or leave {n} out of the profile's tasks")
    if problems:  # one line per task on a terminal; numbered and ';'-separated once joined into one line
        raise ConfigError("the data of these tasks cannot be read:\n" + ";\n".join(problems))


def fix_keys(config: dict, name: str, src: DataSource) -> str:
    """The config keys that give a task its data: only the folder where the source is local already."""
    if src.kind == "hub":
        return f'data.task.{name}.source = "local" and data.task.{name}.dir'
    own = config["data"]["task"].get(name, {})
    return f"data.task.{name}.dir" if own.get("source") or own.get("dir") else f"data.dir (or data.task.{name}.dir)"


def task_languages(config: dict, task) -> list[str]:
    if task.role == "intermediate":
        return ["en"]
    if config["target"]["languages"]:
        return list(config["target"]["languages"])
    if config["data"]["source"] == "synthetic":
        return list(config["synthetic"]["languages"])
    if config["data"]["source"] == "realtext":  # [realtext] <task>_languages (bucc2018 -> bucc_languages)
        return list(config["realtext"].get(f"{task.name.removesuffix('2018')}_languages", []))
    return languages_found(config, task)[0]


def languages_found(config: dict, task) -> tuple[list[str], list[str]]:
    """(evaluated, not evaluated) languages of a target read from local files: those whose files are
    present (a task that can tell from its file names), narrowed to [data.task.NAME] languages when
    set; the languages the task knows or the profile names whose files are absent are not evaluated."""
    wanted = list(config["data"]["task"].get(task.name, {}).get("languages") or [])
    present = list(task.languages)
    src = source_for(config, task)
    if src.kind == "local" and src.root is not None and task.local_dir(src.root).is_dir():
        found = task.local_languages(task.local_dir(src.root))
        present = present if found is None else found
    evaluated = [lang for lang in present if lang in wanted] if wanted else present
    absent = [lang for lang in dict.fromkeys([*task.languages, *wanted]) if lang not in present]
    return evaluated, absent


def eval_cap(config: dict, task) -> int:
    """At most this many dev/test items per language of a target ([data.task.NAME] eval_cap, else data.eval_cap)."""
    return config["data"]["task"].get(task.name, {}).get("eval_cap") or config["data"]["eval_cap"]
