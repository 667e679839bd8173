"""The Slurm executor: every stage that is not done becomes one Slurm job, submitted through submitit.

Stages at the same depth of the not-done graph and of the same phase are independent cells: they go
out as one job array (submitit's `executor.batch()`, at most `array_parallelism` running at once) that
starts once every array holding one of their upstream stages has finished (`afterok`). A job that is
preempted or reaches its time limit is signalled `signal_delay_s` before the end, requeued by
submitit's Checkpointable protocol and, when it starts again, resumes its stage from the stage's
rolling checkpoint (the engine's work directory), up to `max_num_timeout` times.
References: submitit's docs/checkpointing.md and docs/examples.md (github.com/facebookincubator/submitit),
Slurm's sbatch --dependency and --array (https://slurm.schedmd.com/sbatch.html).

Job ids are recorded in RUN_DIR/.slurm/jobs.json so that `status` can show each stage's job and
its Slurm state; submitit's pickles and logs are in RUN_DIR/.slurm/<job id>_*.
"""
from __future__ import annotations

import json
import logging
import shutil
import subprocess
import time
from pathlib import Path

import submitit

from repro.atomic import write_json
from repro.config import load_config
from repro.engine import Stage, is_done, log_line, run_stage, topological
from repro.errors import ReproError
from repro.plan import build_plan

JOBS_FILE = "jobs.json"
NEVER = "PENDING(DependencyNeverSatisfied)"  # an afterok upstream job ended in another state
ACTIVE = {"PENDING", "RUNNING", "REQUEUED", "CONFIGURING", "COMPLETING", "SUSPENDED", "RESIZING", NEVER}
FAILED = {"FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "BOOT_FAIL", "DEADLINE", "PREEMPTED"}


class StageJob(submitit.helpers.Checkpointable):
    """What a Slurm job runs: rebuild the plan from the same profile and overrides, run one stage.
    Rebuilding (rather than pickling the Stage) keeps a job's inputs to a few strings; keys are
    recomputed there, so a node with other package versions finds its upstream stages not done and
    fails rather than mixing versions. Checkpointable.checkpoint requeues this same call: the stage's
    progress is on disk (its rolling checkpoint), so nothing else needs saving when the signal comes."""

    def __init__(self, profile: str, overrides: list[str], run_dir: str, stage_id: str):
        self.profile, self.overrides, self.run_dir, self.stage_id = profile, list(overrides), run_dir, stage_id

    def __call__(self) -> str:
        plan = build_plan(load_config(self.profile, self.overrides))
        stage = next((s for s in plan.stages if s.id == self.stage_id), None)
        if stage is None:
            raise ReproError(f"stage {self.stage_id} is not in the plan of profile {self.profile}")
        print(f"[slurm] {self.stage_id} in {self.run_dir}", flush=True)
        return run_stage(Path(self.run_dir), stage, log=log_line)["key"]


def waves(stages: list[Stage], run_dir: Path) -> list[list[Stage]]:
    """Not-done stages grouped into arrays: same depth among the not-done stages and same phase."""
    depth: dict[str, int] = {}
    groups: dict[tuple[int, str], list[Stage]] = {}
    for s in topological(stages):
        if is_done(run_dir, s):
            continue
        depth[s.id] = 1 + max((depth[d.id] for d in s.deps if d.id in depth), default=-1)
        groups.setdefault((depth[s.id], s.phase), []).append(s)
    return [groups[k] for k in sorted(groups, key=lambda k: k[0])]


def _parameters(settings: dict, phase: str) -> dict:
    gpus = settings["gpus_per_node"] if phase in settings["gpu_phases"] else 0
    params = {"timeout_min": settings["time_min"], "cpus_per_task": settings["cpus_per_task"],
              "slurm_array_parallelism": settings["array_parallelism"], "name": f"repro-{phase}",
              "slurm_signal_delay_s": settings["signal_delay_s"]}
    if gpus:
        params["gpus_per_node"] = gpus
    if settings["mem_gb"]:
        params["mem_gb"] = settings["mem_gb"]
    if settings["partition"]:
        params["slurm_partition"] = settings["partition"]
    return params


def submit(run_dir: Path, stages: list[Stage], settings: dict, profile: str, overrides: list[str], log=log_line):
    """Submits every not-done stage; returns {stage id: submitit job}."""
    folder = run_dir / ".slurm"
    earlier = {sid: j for sid, j in recorded_jobs(run_dir).items() if sid in {s.id for s in topological(stages)}}
    states = slurm_states(earlier.values())
    active = sorted(f"{sid} (job {j} {states[j]})" for sid, j in earlier.items() if states.get(j) in ACTIVE)
    if active:  # two jobs on one stage would write the same directories
        raise ReproError(f"stages still queued or running from an earlier submission: {', '.join(active)}; "
                         "wait for them (python -m repro status) or scancel them, then run the same command again")
    jobs: dict[str, object] = {}
    # Ids must be absolute: a job runs in its own working directory on another machine.
    if Path(profile).suffix == ".toml":
        profile = str(Path(profile).resolve())
    for wave in waves(stages, run_dir):
        after = sorted({jobs[d.id].job_id.split("_")[0] for s in wave for d in s.deps if d.id in jobs})
        executor = submitit.AutoExecutor(folder=folder / "%j", cluster="slurm",
                                         slurm_max_num_timeout=settings["max_num_timeout"])
        executor.update_parameters(**_parameters(settings, wave[0].phase))
        if after:
            executor.update_parameters(slurm_dependency="afterok:" + ":".join(after))
        with executor.batch():
            submitted = [executor.submit(StageJob(profile, overrides, str(run_dir.resolve()), s.id)) for s in wave]
        for s, job in zip(wave, submitted):
            jobs[s.id] = job
        log(f"[slurm] {wave[0].phase}: {len(wave)} job(s) {submitted[0].job_id.split('_')[0]}"
            + (f" after {', '.join(after)}" if after else ""))
        _record(run_dir, {s.id: job.job_id for s, job in zip(wave, submitted)})
    return jobs


def _record(run_dir: Path, new: dict) -> None:
    write_json(run_dir / ".slurm" / JOBS_FILE, {**recorded_jobs(run_dir), **new})


def recorded_jobs(run_dir: Path) -> dict:
    path = Path(run_dir) / ".slurm" / JOBS_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def slurm_states(job_ids) -> dict:
    """Job id → Slurm state, asking squeue (queued/running), then scontrol (recently ended), then sacct
    (accounting, where the cluster has it). Ids Slurm no longer knows are absent."""
    ids = sorted(set(job_ids))
    if not ids:
        return {}
    states: dict[str, str] = {}
    out = _ask(["squeue", "-h", "-r", "-o", "%i %T %r", "-j", ",".join(sorted({i.split('_')[0] for i in ids}))])
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            states[parts[0]] = NEVER if parts[1:] == ["PENDING", "DependencyNeverSatisfied"] else parts[1]
    for job_id in [i for i in ids if i not in states]:
        fields = dict(f.split("=", 1) for f in _ask(["scontrol", "-o", "show", "job", job_id]).split() if "=" in f)
        if "JobState" in fields:
            states[job_id] = fields["JobState"]
    missing = [i for i in ids if i not in states]
    if missing:
        for line in _ask(["sacct", "-n", "-X", "-P", "-o", "JobID,State", "-j", ",".join(missing)]).splitlines():
            job_id, _, state = line.partition("|")
            if state:
                states[job_id] = state.split()[0]
    return states


def _ask(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""


def wait(jobs: dict, stages: dict, run_dir: Path, poll_s: float, log=log_line) -> None:
    """Until every job has ended; the first failure cancels the jobs still queued (they could never
    start: afterok) and is reported with the path of its log. A stage is judged by its outputs on
    disk: a job that finished its stage and was then killed on its way out (e.g. by a late timeout
    signal) ends FAILED in Slurm, so its dependents' afterok can never be met although their inputs
    are complete; their dependency is then lifted."""
    pending = dict(jobs)
    while pending:
        time.sleep(poll_s)
        states = slurm_states(j.job_id for j in pending.values())
        for stage_id, job in list(pending.items()):
            state = states.get(job.job_id, "")
            if job.done():
                try:
                    job.result()
                except Exception as e:  # the job's own traceback is in its log
                    _cancel(pending, stage_id)
                    raise ReproError(f"{stage_id}: Slurm job {job.job_id} failed: {str(e).strip().splitlines()[-1]}"
                                     f" (log {job.paths.stderr})") from None
                log(f"[done] {stage_id} (Slurm job {job.job_id})")
                del pending[stage_id]
            elif state == NEVER and all(is_done(run_dir, d) for d in stages[stage_id].deps):
                log(f"[slurm] {stage_id}: upstream stages are done although Slurm says otherwise; "
                    f"lifting the dependency of job {job.job_id}")
                _ask(["scontrol", "update", f"JobId={job.job_id}", "Dependency="])
            elif state in FAILED or state == NEVER:
                _cancel(pending, stage_id)
                raise ReproError(f"{stage_id}: Slurm job {job.job_id} ended {state} (log {job.paths.stderr}); "
                                 "run the same command again to submit what is not done")


def _cancel(pending: dict, failed: str) -> None:
    ids = [j.job_id for s, j in pending.items() if s != failed]
    if ids:
        _ask(["scancel", *ids])


def run_slurm(run_dir: Path, stages: list[Stage], settings: dict, profile: str, overrides: list[str], log=log_line):
    if shutil.which("sbatch") is None:
        raise ReproError("--executor slurm: sbatch is not on PATH; run on a Slurm login node, or use --executor local")
    # Without accounting (slurmdbd) submitit warns at every poll that sacct failed; this module reads
    # the job states itself (slurm_states), so those warnings say nothing new.
    logging.getLogger("submitit").setLevel(logging.ERROR)
    jobs = submit(Path(run_dir), stages, settings, profile, overrides, log)
    if not jobs:
        log("[slurm] every stage is done; nothing submitted")
        return
    wait(jobs, {s.id: s for s in topological(stages)}, Path(run_dir), settings["poll_s"], log)
