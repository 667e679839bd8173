"""Where stages run: `local` (this machine: one stage at a time in this process, or concurrent workers with
--devices / --jobs) or `slurm` (one Slurm job per stage, submitted through submitit). All run the engine's
`run_stage`, so a stage's key, outputs and manifest do not depend on the executor."""
EXECUTORS = ("local", "slurm")
