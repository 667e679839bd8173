"""`python -m repro check-data --profile P`: a preflight before a long run. For every task the profile
needs, it reads the first example of every split and language from where the run would read it (hub
rows streamed, or the local files), through the task's own reader, and checks the fields its head needs
and its labels. It prints one row per task: task, source, ok / what is wrong / what it could not try.

Hub ids and configs, as read by the task modules (each probed here by the same code path the run uses):
google/xtreme (XNLI, PAWS-X.<l>, udpos.<Name>, PAN-X.<l>, XQuAD.<l>, MLQA.<l>.<l>, tydiqa, tatoeba.<xxx>;
no-script Parquet on the hub), nyu-mll/glue (mnli, qqp, sst2), facebook/anli, stanfordnlp/snli,
tau/commonsense_qa, Rowan/hellaswag, rajpurkar/squad, rajpurkar/squad_v2: plain data repositories that
datasets >= 4 loads; allenai/cosmos_qa: a loading script, read from its `refs/convert/parquet` branch
(repro/tasks/cosmosqa.py). BUCC, CCG and (in the paper profile) UD-POS are local by design.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field, replace

from repro.errors import ReproError
from repro.settings.profile import resolve
from repro.sources import TaskSource, resolve_sources
from repro.tasks import DataSource, get_task

# The example fields each head reads (repro/heads/).
FIELDS = {"classification": ("text_a", "label"), "tagging": ("tokens", "tags"),
          "multiple_choice": ("context", "choices", "label"), "span_qa": ("question", "context", "answers"),
          "retrieval": ("source", "english")}


@dataclass
class Report:
    task: str
    source: str
    checked: int = 0
    wrong: list[str] = field(default_factory=list)
    untried: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def status(self) -> str:
        if self.note:
            return self.note
        if self.wrong:
            return "WRONG: " + "; ".join(self.wrong[:3]) + (f" (+{len(self.wrong) - 3} more)" if len(self.wrong) > 3 else "")
        if self.untried:
            return f"NOT TRIED ({len(self.untried)} hub loads; hub unreachable or offline): " + ", ".join(self.untried[:4]) + \
                ("..." if len(self.untried) > 4 else "")
        return f"ok ({self.checked} split-language files)"


def offline() -> bool:
    return any(os.environ.get(k, "").lower() in ("1", "true", "yes")
               for k in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "REPRO_OFFLINE"))


def unreachable(error: BaseException) -> bool:
    """A failure to reach the hub, as opposed to a hub answer that is wrong for this task."""
    chain = [error] + [e for e in (error.__cause__, error.__context__) if e is not None]
    return any(isinstance(e, (ConnectionError, TimeoutError)) or
               any(w in type(e).__name__ for w in ("Offline", "Connect", "Timeout")) for e in chain)


def first_problem(task, source: DataSource, split: str, lang: str) -> str | None:
    """Reads the first example of one split and language; None when it has what the head needs."""
    reader = task.read_local if source.local else task.read_hub
    try:
        example = next(iter(reader(source, split, lang)), None)
    except KeyError as e:  # a hub row without a column the reader takes
        return f"{split}-{lang}: the rows have no column {e}"
    if example is None:
        return f"{split}-{lang}: no rows"
    missing = [k for k in FIELDS.get(task.head, ()) if k not in example]
    if missing:
        return f"{split}-{lang}: examples lack {', '.join(missing)}"
    labels = task.labels
    if labels and example.get("label") is not None and task.head == "classification" and str(example["label"]) not in labels:
        return f"{split}-{lang}: label {example['label']!r} is not one of {labels}"
    if labels and example.get("tags") and any(t not in labels for t in example["tags"]):
        return f"{split}-{lang}: tags {sorted(set(example['tags']) - set(labels))} are not in the label set"
    return None


def probes(ts: TaskSource, selection: str) -> list[tuple[str, str, str]]:
    """(task, split, language) to read for task `ts`: every split and language the run prepares, plus
    the dev split of the task that selects its checkpoints (target.selection)."""
    task, name = ts.task, ts.name
    splits = [s for s in task.splits if not (task.dev_is_test and s == "test")]  # one set, read once
    out = [(name, split, lang) for split in splits for lang in task.split_languages(split, ts.languages)]
    selector = task.selection_tasks.get(selection)
    if selector and task.role == "target":
        out.append((selector, "dev", "en"))
    return out


def check_task(sources: dict[str, TaskSource], selection: str, name: str, hub: dict | None = None) -> Report:
    """sources: every task's resolved source (the plan's); selection: target.selection. `hub` carries
    {"unreachable": True} once one load could not reach the hub: the rest are not tried (each failed
    load would otherwise wait through the hub client's retries)."""
    hub = {} if hub is None else hub
    task = get_task(name)
    source = sources[name].source
    where = {"hub": f"hub {task.hub_id}", "local": f"local {source.root or '(no folder set)'}",
             "synthetic": "synthetic"}[source.kind]
    report = Report(name, where)
    if source.kind == "synthetic":
        report.note = "ok (the smoke world: written by the run itself, nothing to read yet)"
        return report
    for probe_task, split, lang in probes(sources[name], selection):
        src = replace(sources[probe_task].source, streaming=True)  # hub: one row, not the whole dataset
        problem = get_task(probe_task).source_problem(src)
        label = f"{probe_task}/{split}-{lang}" if probe_task != name else f"{split}-{lang}"
        if problem:
            report.wrong.append(f"{probe_task}: {problem} (set {sources[probe_task].fix})")
            break
        if src.kind == "hub" and (offline() or hub.get("unreachable")):
            report.untried.append(label)
            continue
        try:
            problem = first_problem(get_task(probe_task), src, split, lang)
        except ReproError as e:
            problem = str(e)
        except Exception as e:  # the hub's answer (no such config, a script dataset, ...), or no hub at all
            if src.kind == "hub" and unreachable(e):
                hub["unreachable"] = True
                report.untried.append(label)
                continue
            problem = f"{label}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        report.checked += 1
        if problem:
            report.wrong.append(problem if probe_task == name else f"{probe_task}: {problem}")
    return report


def check_data(config: dict, out=None) -> int:
    """Prints the table; 0 = every dataset was read and looked right, 1 = something is wrong or untried."""
    out = out or sys.stdout
    p = resolve(config)
    names = list(dict.fromkeys(p.intermediate.tasks + p.target.tasks))
    sources = resolve_sources(p, names)
    print(f"check-data: profile {p.name}, {len(names)} tasks (one example per split and language)",
          file=out, flush=True)
    reports, hub = [], {}
    for name in names:
        report = check_task(sources, p.target.selection, name, hub)
        reports.append(report)
        print(f"  {report.task:<14} {report.source:<40} {report.status}", file=out, flush=True)
    untried = [f"{r.task}/{p}" for r in reports for p in r.untried]
    wrong = [r.task for r in reports if r.wrong]
    if untried:
        print(f"not tried ({len(untried)}): the hub was unreachable or offline mode is on; run check-data "
              "again with hub access", file=out)
    if wrong:
        print(f"wrong: {', '.join(wrong)}; fix these before a long run", file=out)
    if not untried and not wrong:
        print("every dataset the profile reads was read and has the expected fields" if any(r.checked for r in reports)
              else "nothing to read before the run: its data is generated by the run (synthetic)", file=out)
    return 1 if untried or wrong else 0
