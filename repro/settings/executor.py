"""[executor]: where stages run. Never part of a stage's key, so results do not depend on it."""
from __future__ import annotations

from dataclasses import dataclass

from repro.settings.declare import key, section
from repro.settings.rules import choice, count, items, positive, text


@dataclass(frozen=True)
class LocalExecutor:
    """Concurrent stages on this machine (docs/concurrency.md); also --devices, --jobs."""
    devices: list = key([], items(text(), "GPU ids as CUDA_VISIBLE_DEVICES names them", bad=["0", "0"]),
                        "GPU ids (as CUDA_VISIBLE_DEVICES names them), one worker each; [] = one stage at a time")
    stages_per_device: int = key(1, count(1),
                                 "workers sharing each GPU of devices (refused where they would not fit its memory)")
    jobs: int = key(0, count(0), "CPU worker processes (no GPU visible); 0 = none")


@dataclass(frozen=True)
class SlurmExecutor:
    """One Slurm job per stage through submitit; also settable with --set executor.slurm.KEY=V."""
    partition: str = key("", text(nonempty=False), '"" = the cluster\'s default partition')
    time_min: int = key(1440, count(1), "time limit per job",
                        "a job still running is requeued and resumes from its checkpoint")
    signal_delay_s: int = key(120, count(0), "the job is signalled this long before its limit, checkpoints and requeues")
    max_num_timeout: int = key(3, count(0), "requeues after timeouts before a stage counts as failed",
                               "preemptions are not counted")
    gpus_per_node: int = key(1, count(0), "for the phases in gpu_phases; the other stages ask for none")
    gpu_phases: list = key(["intermediate", "target"], items(text(), "phase names", bad=["x", "x"]),
                           "the phases whose jobs get GPUs")
    cpus_per_task: int = key(8, count(1), "CPU cores per job")
    mem_gb: int = key(64, count(0), "memory per job; 0 = the partition's default")
    array_parallelism: int = key(32, count(1), "at most this many jobs of one array run at once")
    poll_s: float = key(15.0, positive("seconds"), "seconds between looks at the queue while waiting")


@dataclass(frozen=True)
class Executor:
    """Where stages run; never part of a stage's key, so results do not depend on it."""
    name: str = key("local", choice("local", "slurm"), "local | slurm (--executor)")
    local: LocalExecutor = section(LocalExecutor)
    slurm: SlurmExecutor = section(SlurmExecutor)
