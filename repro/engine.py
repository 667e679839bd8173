"""Stage engine: each stage is keyed by a hash of its inputs and is done once its manifest exists.

Layout under RUN_DIR/<phase>/:
  <name>-<key>/            finished outputs; manifest.json (written last) is the done marker
  .<name>-<key>.tmp/       outputs being written; renamed to the final name in one step
  .<name>-<key>.work/      rolling checkpoints of an unfinished stage (kept across kills)
A stage whose key changed leaves its old directory behind (reported as stale), never reused.

Integrity: the manifest records the SHA-256, size and mtime of every output. Before a done stage is
trusted (skipped, or read by the next stage) its outputs are checked: a file whose size and mtime are
the recorded ones is taken as is (free), any other is re-hashed (streamed, cached by size and mtime).
A mismatch (a disk fault, a partial copy, an edit) makes the stage `corrupt`: `reproduce` runs it
again, and its dependents too if the new outputs differ from the recorded ones. `status --verify`
re-hashes every file.
"""
from __future__ import annotations

import fcntl
import functools
import json
import os
import shutil
import socket
import sys
import time
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Callable

from repro import __version__, faults
from repro.atomic import canonical_json, fsync_dir, sha256_file, sha256_text, write_json
from repro.errors import CorruptArtifact, LockedError, ReproError

MANIFEST = "manifest.json"


def package_versions(names=("torch", "transformers", "tokenizers", "datasets", "safetensors", "numpy")) -> dict:

    out = {"repro": __version__, "python": sys.version.split()[0]}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


@dataclass
class Stage:
    phase: str
    name: str
    config: dict                         # the slice of configuration this stage reads
    run: Callable[["StageContext"], dict | None]
    deps: list["Stage"] = field(default_factory=list)
    versions: tuple[str, ...] = ("torch", "transformers", "tokenizers")
    describe: str = ""                   # one line for --dry-run
    cleanup_work: bool = True

    @property
    def id(self) -> str:
        return f"{self.phase}/{self.name}"

    @property
    def key(self) -> str:
        if not hasattr(self, "_key"):
            versions = package_versions(self.versions) if self.versions else {"repro": __version__}
            payload = {"phase": self.phase, "name": self.name, "config": self.config, "versions": versions,
                       "deps": {d.id: d.key for d in self.deps}}
            self._key = sha256_text(canonical_json(payload))[:12]
            self._versions = versions
        return self._key


@dataclass
class StageContext:
    stage: Stage
    run_dir: Path
    out: Path            # write outputs here (a temporary directory until the stage is done)
    work: Path           # checkpoints live here; kept if the stage is killed

    def dep(self, phase_name: str) -> Path:
        """Output directory of a finished upstream stage, by id ('phase/name')."""
        for d in self.stage.deps:
            if d.id == phase_name:
                return stage_dir(self.run_dir, d)
        raise KeyError(f"{self.stage.id} does not depend on {phase_name}")

    def dep_manifest(self, phase_name: str) -> dict:
        return json.loads((self.dep(phase_name) / MANIFEST).read_text())


def stage_dir(run_dir: Path, stage: Stage) -> Path:
    return Path(run_dir) / stage.phase / f"{stage.name}-{stage.key}"


def work_dir(run_dir: Path, stage: Stage) -> Path:
    return Path(run_dir) / stage.phase / f".{stage.name}-{stage.key}.work"


def is_done(run_dir: Path, stage: Stage) -> bool:
    """Done = a readable manifest for exactly this key. A damaged manifest means not done: the stage
    runs again rather than anything half-known being reused."""
    path = stage_dir(run_dir, stage) / MANIFEST
    if not path.is_file():
        return False
    try:
        return json.loads(path.read_text()).get("key") == stage.key
    except (json.JSONDecodeError, UnicodeDecodeError, OSError):
        return False


def topological(stages: list[Stage]) -> list[Stage]:
    order, seen = [], set()

    def visit(s: Stage):
        if s.id in seen:
            return
        seen.add(s.id)
        for d in s.deps:
            visit(d)
        order.append(s)

    for s in stages:
        visit(s)
    return order


class RunLock:
    """One writer per run directory. flock is released by the kernel when its holder dies, so a lock
    left by a killed run never blocks the next one; the file's content names the holder for humans."""

    def __init__(self, run_dir: Path, wait: bool = False):
        self.path = Path(run_dir) / ".lock"
        self.wait = wait
        self.fd = None

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        flags = fcntl.LOCK_EX if self.wait else fcntl.LOCK_EX | fcntl.LOCK_NB
        try:
            fcntl.flock(self.fd, flags)
        except BlockingIOError:
            owner = os.pread(self.fd, 4096, 0).decode(errors="replace").strip() or "unknown owner"
            os.close(self.fd)
            raise LockedError(f"{self.path.parent} is in use by another run ({owner}); "
                              "wait for it to finish, or pass --wait") from None
        info = f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%Y-%m-%d %H:%M:%S')}"
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, info.encode(), 0)
        return self

    def __exit__(self, *exc):
        os.ftruncate(self.fd, 0)
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


def _checksums(root: Path) -> dict:
    return {str(p.relative_to(root)): sha256_file(p) for p in sorted(root.rglob("*")) if p.is_file()}


def _stats(root: Path, names) -> dict:
    """[size, mtime_ns] of each output, taken once it is in place (a rename keeps both)."""
    return {n: [(st := (root / n).stat()).st_size, st.st_mtime_ns] for n in names}


@functools.lru_cache(maxsize=4096)
def _hash(path: str, size: int, mtime_ns: int) -> str:
    """Streamed SHA-256, cached by size and mtime: a second check of an unchanged file is free."""
    return sha256_file(Path(path))


def damaged_outputs(run_dir: Path, stage: Stage, rehash: bool = False) -> list[tuple[str, str]]:
    """(file, what is wrong) for every output of a done stage that no longer matches its manifest;
    rehash=True hashes every file even where size and mtime still match."""
    final = stage_dir(run_dir, stage)
    manifest = json.loads((final / MANIFEST).read_text())
    recorded, stats = manifest.get("outputs", {}), manifest.get("output_stats", {})
    bad = []
    for name, sha in recorded.items():
        path = final / name
        try:
            st = path.stat()
        except FileNotFoundError:
            bad.append((name, "missing"))
            continue
        size, mtime = st.st_size, st.st_mtime_ns
        if not rehash and stats.get(name) == [size, mtime]:
            continue
        if name in stats and stats[name][0] != size:
            bad.append((name, f"size {size} bytes, recorded {stats[name][0]}"))
        elif (_hash(str(path), size, mtime) if not rehash else sha256_file(path)) != sha:
            bad.append((name, "SHA-256 differs from the manifest's"))
    return bad


def check_outputs(run_dir: Path, stage: Stage) -> None:
    """Raises CorruptArtifact naming the first damaged output of a done stage."""
    bad = damaged_outputs(run_dir, stage)
    if bad:
        name, reason = bad[0]
        raise CorruptArtifact(stage.id, stage_dir(run_dir, stage) / name, reason)


def log_line(message: str) -> None:
    """One stage line, flushed at once: a log redirected to a file or pipe (nohup, tee, a batch job) gets
    each line as it happens, and a killed run keeps every line it printed."""
    print(message, flush=True)


def _cuda():
    """torch.cuda where this process has initialised it (a stage ran on a GPU), else None; never imports
    torch nor initialises CUDA itself."""
    torch = sys.modules.get("torch")
    return torch.cuda if torch is not None and torch.cuda.is_initialized() else None


def run_stage(run_dir: Path, stage: Stage, log=log_line) -> dict:
    """Run one stage unless it is done; returns its manifest."""
    final = stage_dir(run_dir, stage)
    if is_done(run_dir, stage):
        return json.loads((final / MANIFEST).read_text())
    missing = [d.id for d in stage.deps if not is_done(run_dir, d)]
    if missing:
        raise ReproError(f"{stage.id}: upstream stages not done: {', '.join(missing)}")
    for d in stage.deps:  # never read a damaged upstream artifact (run_stages repairs them first)
        check_outputs(run_dir, d)
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():  # a directory without manifest is a leftover of a crash between rename and manifest
        shutil.rmtree(final)
    tmp = final.parent / f".{final.name}.tmp"
    if tmp.exists():    # half-written outputs of a killed attempt: never reused
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    work = work_dir(run_dir, stage)
    work.mkdir(parents=True, exist_ok=True)
    started = time.time()
    cuda = _cuda()
    if cuda is not None:
        cuda.reset_peak_memory_stats()
    log(f"[run ] {stage.id} ({stage.key})")
    try:
        extra = stage.run(StageContext(stage, Path(run_dir), tmp, work)) or {}
    except BaseException as e:
        log(f"[fail] {stage.id}: {type(e).__name__}: {e}; nothing of it is marked done")
        raise
    manifest = {
        "phase": stage.phase, "name": stage.name, "key": stage.key, "config": stage.config,
        "deps": {d.id: d.key for d in stage.deps}, "versions": stage._versions,
        "started": started, "finished": time.time(), "duration_s": round(time.time() - started, 3),
        "outputs": _checksums(tmp), "host": socket.gethostname(), **extra,
    }
    if (cuda := _cuda()) is not None:  # what the card must hold for this stage (stages_per_device's rule)
        manifest["cuda_peak_bytes"] = cuda.max_memory_reserved()
    faults.point(f"{stage.id}:before-rename")
    os.replace(tmp, final)
    fsync_dir(final.parent)
    manifest["output_stats"] = _stats(final, manifest["outputs"])
    faults.point(f"{stage.id}:before-manifest")
    write_json(final / MANIFEST, manifest)  # last: its presence means every output is complete
    if stage.cleanup_work:
        shutil.rmtree(work, ignore_errors=True)
    return manifest


def recheck(run_dir: Path, stage: Stage, changed: set, log=log_line) -> tuple[bool, dict | None]:
    """Before a stage runs (its upstream stages are done): (skip: done and trusted, old manifest of a done
    stage that must run again because an output is damaged or an input in `changed` was run again with
    other outputs). The manifest of such a stage is removed, so it runs again."""
    if not is_done(run_dir, stage):
        return False, None
    upstream = [d.id for d in stage.deps if d.id in changed]
    bad = damaged_outputs(run_dir, stage)
    if not bad and not upstream:
        log(f"[skip] {stage.id} ({stage.key}) done")
        return True, None
    old = json.loads((stage_dir(run_dir, stage) / MANIFEST).read_text())
    if bad:
        more = f" (+{len(bad) - 1} more)" if len(bad) > 1 else ""
        log(f"[corrupt] {stage.id}: {stage_dir(run_dir, stage) / bad[0][0]}: {bad[0][1]}{more}; "
            "running it again, then what depends on it")
    else:
        log(f"[redo] {stage.id}: its input {upstream[0]} was run again and its outputs differ")
    (stage_dir(run_dir, stage) / MANIFEST).unlink()
    return False, old


def run_stages(run_dir: Path, stages: list[Stage], log=log_line) -> list[dict]:
    results, changed = [], set()  # changed: re-run stages whose outputs differ from what dependents read
    for stage in topological(stages):
        _, old = recheck(run_dir, stage, changed, log)
        manifest = run_stage(run_dir, stage, log)
        if old is not None and old.get("outputs") != manifest.get("outputs"):
            changed.add(stage.id)
        results.append(manifest)
    return results


def stage_status(run_dir: Path, stage: Stage, rehash: bool = False) -> dict:
    run_dir = Path(run_dir)
    row = {"stage": stage.id, "key": stage.key, "state": "pending", "duration_s": None, "finished": None}
    if is_done(run_dir, stage):
        m = json.loads((stage_dir(run_dir, stage) / MANIFEST).read_text())
        row.update(state="done", duration_s=m.get("duration_s"), finished=m.get("finished"))
        bad = damaged_outputs(run_dir, stage, rehash=rehash)
        if bad:
            row.update(state="corrupt", corrupt=[f"{name}: {reason}" for name, reason in bad])
        return row
    phase_dir = run_dir / stage.phase
    if work_dir(run_dir, stage).exists() or (phase_dir / f".{stage.name}-{stage.key}.tmp").exists():
        row["state"] = "running" if lock_held(run_dir) else "interrupted"
    elif phase_dir.is_dir() and any((p / MANIFEST).is_file() for p in phase_dir.glob(f"{stage.name}-*")
                                    if p.name.rsplit("-", 1)[0] == stage.name):
        row["state"] = "stale"  # done under other inputs; will re-run
    return row


def lock_held(run_dir: Path) -> bool:
    """Whether a run (or a worker of it) holds the run directory's lock."""
    path = Path(run_dir) / ".lock"
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
