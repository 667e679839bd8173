"""Where stages run: `local` (this process, one stage at a time) or `slurm` (one Slurm job per stage,
submitted through submitit). Both run the engine's `run_stage`, so a stage's key, outputs and manifest
do not depend on the executor."""
EXECUTORS = ("local", "slurm")
