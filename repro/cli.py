"""Command line: `python -m repro {reproduce,status,verify,analyze,check-data,score}` (also the `repro` console script)."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from repro import progress, runrecord
from repro.analysis.tables import analyse_results, gains_of
from repro.analysis.typed import load_analysis_table
from repro.atomic import write_json
from repro.checkdata import check_data
from repro.config import PROFILE_DIR, load_config
from repro.engine import RunLock, is_done, stage_dir, stage_status, topological
from repro.errors import ReproError
from repro.estimate import estimate, fit_calibration, makespan, print_estimate
from repro.executors import EXECUTORS
from repro.executors.local import grid_progress, local_overrides, local_slots, run_local
from repro.executors.slurm import recorded_jobs, run_slurm, slurm_states
from repro.phases.analyze import publish
from repro.plan import build_plan, data_measures_plan
from repro.scoring.metrics import ScoringError
from repro.scoring.xtreme import score_folders, summary_lines
from repro.tasks import REGISTRY, tasks_with_role
from repro.verify import verify_run

DEFAULT_RUN_DIR = "runs/{profile}"


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", default=None, help="profile name (smoke, smoke-grid, paper) or a .toml path "
                   "(default: the one --run-dir was made with, recorded in its run.json; else smoke)")
    p.add_argument("--run-dir", default=None, help="where stages are written (default runs/<profile>)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config value, e.g. --set target.defaults.lr=2e-5 (repeatable)")


def _resolve(args, reads_run: bool = False) -> Path:
    """Sets args.profile and args.overrides to those the command runs with (given, or recorded in the run
    directory: repro/runrecord.py) and returns the run directory."""
    args.profile, args.overrides, run_dir = runrecord.resolve(
        args.profile, args.overrides, args.run_dir, PROFILE_DIR, _profile_stages, DEFAULT_RUN_DIR, reads_run)
    return run_dir


def _profile_stages(profile: str):
    return build_plan(load_config(profile), need_data=False).stages


def _load(args, need_data: bool = True, reads_run: bool = False):
    """The profile's config, its plan and run dir; need_data=False plans without the data-source check
    (a cost estimate, a status table and a verification need no data); reads_run: the command reads an
    existing run, so a --run-dir of unknown profile is an error rather than read as the default."""
    run_dir = _resolve(args, reads_run)
    config = load_config(args.profile, args.overrides)
    return config, build_plan(config, need_data), run_dir


def cmd_reproduce(args) -> int:
    if not args.all and not args.phase:
        raise ReproError("say what to run: --all, or --phase NAME")
    # `analyze` (no such options) runs through here too
    args.overrides += local_overrides(*(getattr(args, k, None) for k in ("devices", "jobs", "stages_per_device")))
    config, plan, run_dir = _load(args)  # the plan checks every task's data source before anything runs
    stages = plan.stages if args.all else plan.phase(args.phase)
    if not stages:
        raise ReproError(f"no stages in phase {args.phase!r}; phases: prepare, pretrained, intermediate, target, evaluate, aggregate, analyze")
    if args.dry_run:
        return _print_plan(config, topological(stages))
    started = time.time()
    executor = args.executor or config["executor"]["name"]
    with RunLock(run_dir, wait=args.wait) as lock:
        runrecord.write_record(run_dir, args.profile, args.overrides)  # what status/verify/analyze read it with
        if executor == "slurm":
            run_slurm(run_dir, stages, config["executor"]["slurm"], args.profile, args.overrides)
        elif executor == "local":
            slots, cost = local_slots(config, plan, run_dir)
            run_local(run_dir, stages, slots=slots, profile=args.profile, overrides=args.overrides, cost=cost,
                      lock_fd=lock.fd)
        else:
            raise ReproError(f"executor.name: {executor!r} is not an executor; known: {', '.join(EXECUTORS)}")
    print(f"done in {time.time() - started:.1f} s; run dir {run_dir}")
    if is_done(run_dir, plan.aggregate):
        d = stage_dir(run_dir, plan.aggregate)
        print(f"result tables: {d / 'results.md'} and {d / 'results.json'}")
        if plan.analysis is not None and is_done(run_dir, plan.analysis):
            print(f"research-question report: {publish(run_dir, plan.analysis)} "
                  f"(with analysis.json and the plots; cached in {stage_dir(run_dir, plan.analysis)})")
        if args.all and not args.no_verify:
            return verify_run(run_dir, plan, config, None)
    return 0


def _print_plan(config, stages) -> int:
    print(f"profile {config['profile']}: model {config['model']['name']}, data {config['data']['source']}, "
          f"seeds {config['run']['seeds']}; {len(stages)} stages")
    for s in stages:
        print(f"  {s.id:<48} {s.describe}")
    counts = {}
    for s in stages:
        counts[s.phase] = counts.get(s.phase, 0) + 1
    print("stages per phase: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


def cmd_status(args) -> int:

    config, plan, run_dir = _load(args, need_data=False, reads_run=True)
    rows = [stage_status(run_dir, s, rehash=args.verify) for s in topological(plan.stages)]
    _add_slurm_jobs(run_dir, rows)
    eta = grid_progress(config, plan, run_dir, rows)  # adds each running stage's slot (concurrent local runs)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    jobs = any("slurm_job" in r for r in rows)
    slots = any("slot" in r for r in rows)
    print(f"{'stage':<52} {'key':<13} {'state':<12} {'duration':>9}  {'finished':<19}" + ("  slurm job   state" if jobs else "")
          + ("  device" if slots else ""))
    for r in rows:
        dur = f"{r['duration_s']:.1f}s" if r["duration_s"] is not None else ""
        fin = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r["finished"])) if r["finished"] else ""
        job = f"  {r.get('slurm_job', ''):<11} {r.get('slurm_state', '')}" if jobs else ""
        slot = f"  {r.get('slot', '')}" if slots else ""
        print(f"{r['stage']:<52} {r['key']:<13} {r['state']:<12} {dur:>9}  {fin:<19}{job}{slot}".rstrip())
        for problem in r.get("corrupt", []):  # reproduce runs such a stage again
            print(f"    corrupt: {problem}")
    counts = {}
    for r in rows:
        counts[r["state"]] = counts.get(r["state"], 0) + 1
    print(", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
    if eta:
        print(eta)
    return 0


def _add_slurm_jobs(run_dir, rows) -> None:
    """Each stage's last Slurm job id and its state, where a run went through the Slurm executor."""
    jobs = recorded_jobs(run_dir)
    if not jobs:
        return
    states = slurm_states(jobs.values())
    for r in rows:
        if r["stage"] in jobs:
            r["slurm_job"] = jobs[r["stage"]]
            r["slurm_state"] = states.get(jobs[r["stage"]], "unknown")
def cmd_plan(args) -> int:
    """The stage plan; with --estimate, device-hours per stage and for the grid (repro/estimate.py)."""
    config, plan, run_dir = _load(args, need_data=False)
    if not args.estimate:
        return _print_plan(config, topological(plan.stages))
    if args.devices < 1 or args.stages_per_device < 1:
        raise ReproError("plan --estimate: --devices and --stages-per-device must be at least 1")
    if args.fit_calibration:  # latencies and fixed costs fitted to this run dir's finished stages
        write_json(Path(args.fit_calibration), fit_calibration(config, plan, run_dir))
        print(f"wrote {args.fit_calibration} (fitted to {run_dir}); use it with --calibration")
        return 0
    result = estimate(config, plan, run_dir if run_dir.is_dir() else None, args.calibration)
    span = makespan(config, plan, result, args.devices, args.stages_per_device)
    if args.json:
        print(json.dumps({**result, "makespan": span}, indent=2))
    else:
        print_estimate(result, config["profile"], span)
    return 0


def cmd_verify(args) -> int:
    config, plan, run_dir = _load(args, need_data=False, reads_run=True)  # figures are checked without data
    return verify_run(run_dir, plan, config, args.expected, Path(args.out) if args.out else None)


def cmd_check_data(args) -> int:
    if args.offline:
        os.environ["HF_HUB_OFFLINE"] = "1"
    _resolve(args)
    return check_data(load_config(args.profile, args.overrides))


def cmd_score(args) -> int:
    """Score, write the report atomically and print a summary; exit 2 with one line on a bad file."""

    targets = tasks_with_role("target")
    try:
        result = score_folders(args.prediction_folder, args.label_folder, targets, only=args.tasks)
    except ScoringError as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    if not any(t.name in result for t in targets):  # a folder given one level off scores nothing: say so
        print(f"error: {_nothing_scored(args.prediction_folder, args.label_folder, targets)}", file=sys.stderr)
        return 2
    write_json(Path(args.output_file), result)
    for line in summary_lines(result, targets):
        print(line)
    print(f"wrote {args.output_file}")
    return 0


def _nothing_scored(prediction_folder: str, label_folder: str, targets) -> str:
    """What `score` expected inside the folders, and where the task folders are if one level off."""
    names = {t.name for t in targets}
    hints = []
    for folder in (prediction_folder, label_folder):
        f = Path(folder)
        if f.name in names:
            hints.append(f"{f} is itself a task folder: give its parent")
        else:
            down = sorted(str(c) for c in f.iterdir() if c.is_dir() and any((c / n).is_dir() for n in names))
            if down:
                hints.append(f"the task folders are one level down, in {down[0]}")
    return (f"nothing scored: {prediction_folder} and {label_folder} have no task folder in common; each must hold "
            f"one sub-folder per task ({', '.join(sorted(names))}) of test-<lang>.<ext> files"
            + (f" ({'; '.join(hints)})" if hints else ""))


def _score_arguments(p: argparse.ArgumentParser) -> None:
    # The underscore spellings are evaluate.py's option names, accepted as aliases.
    p.add_argument("--prediction-folder", "--prediction_folder", dest="prediction_folder", required=True,
                   help="folder with one sub-folder per task of test-<lang>.<ext> prediction files")
    p.add_argument("--label-folder", "--label_folder", dest="label_folder", required=True,
                   help="folder with the gold files in the same layout")
    p.add_argument("--output-file", "--output_file", dest="output_file", required=True,
                   help="where to write the JSON report")
    p.add_argument("--tasks", nargs="+", choices=[t.name for t in tasks_with_role("target")], default=None,
                   help="score only these tasks (default: every task present on both sides)")


def cmd_analyze(args) -> int:
    """The research-question analysis: of a run (the analyze phase) or of any results table."""
    if args.results:
        if not args.out:
            raise ReproError("analyze --results FILE needs --out DIR")
        results = load_analysis_table(Path(args.results))  # a VerifyInputError is a ReproError: one line, exit 2
        split, _, sources, targets, _ = gains_of(results, args.split)
        data = None
        if args.profile:  # read the tasks' data as that profile does: M1, M2, M3 (b), C2 become available
            config = load_config(args.profile, args.overrides)
            unknown = [t for t in sources + targets if t not in REGISTRY]
            if unknown:
                raise ReproError(f"{args.results}: task {unknown[0]!r} is not registered, so its data cannot be read")
            stages, lex, emb = data_measures_plan(config, list(dict.fromkeys(sources + targets)))
            run_dir = Path(args.run_dir or DEFAULT_RUN_DIR.format(profile=config["profile"]))
            with RunLock(run_dir, wait=args.wait):
                run_local(run_dir, stages)
            data = {name: json.loads((stage_dir(run_dir, st) / f"{name}.json").read_text())
                    for name, st in (("lexical", lex), ("embeddings", emb))}
        path = analyse_results(results, Path(args.out), split, permutations=args.permutations,
                               bootstrap=args.bootstrap, data=data, profile=args.profile)
        print(f"research-question report: {path}")
        return 0
    # The analyze phase of a run, as `reproduce --phase analyze` runs it, with the profile the run recorded.
    args.all, args.phase, args.dry_run, args.no_verify, args.executor = False, "analyze", False, True, None
    _resolve(args, reads_run=True)
    return cmd_reproduce(args)


def _concurrency(p: argparse.ArgumentParser) -> None:
    """The local executor's slots (executor.local; docs/concurrency.md)."""
    p.add_argument("--devices", default=None, metavar="IDS",
                   help="GPU ids, e.g. 0,1,2,3: independent stages run concurrently, one worker per GPU (executor.local.devices)")
    p.add_argument("--stages-per-device", type=int, default=None, metavar="K",
                   help="workers sharing each GPU (executor.local.stages_per_device)")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="N concurrent CPU workers, no GPU (executor.local.jobs)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="repro", description="X-STILTs reproduction (Phang et al. 2020) on XTREME")
    parser.add_argument("--debug", action="store_true", help="show the Python traceback of a failure (any position)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("reproduce", help="run stages (skipping done ones)")
    _common(p)
    p.add_argument("--all", action="store_true", help="every stage of the profile")
    p.add_argument("--phase", help="one phase (and what it needs): prepare, pretrained, intermediate, target, evaluate, aggregate")
    p.add_argument("--dry-run", action="store_true", help="print the plan; download and train nothing")
    p.add_argument("--wait", action="store_true", help="wait for another run on this run dir instead of refusing")
    p.add_argument("--no-verify", action="store_true", help="skip the verification after --all")
    p.add_argument("--executor", choices=EXECUTORS, default=None,
                   help="local: this machine (default, executor.name); slurm: one Slurm job per stage ([executor.slurm])")
    _concurrency(p)
    p.set_defaults(func=cmd_reproduce)
    p = sub.add_parser("status", help="table of stages: done / stale / pending / running / corrupt")
    _common(p)
    p.add_argument("--json", action="store_true")
    p.add_argument("--verify", action="store_true", help="re-hash every output against its manifest (slow), "
                   "rather than trusting files whose size and mtime are the recorded ones")
    p.set_defaults(func=cmd_status)
    p = sub.add_parser("plan", help="print the stage plan; --estimate: device-hours per stage and for the grid")
    _common(p)
    p.add_argument("--estimate", action="store_true", help="device-hours from token counts and a calibration")
    p.add_argument("--calibration", default=None, help="calibration.json written by tests/bench/gpu.py")
    p.add_argument("--devices", type=int, default=1, metavar="N", help="with --estimate: the grid's makespan on N devices")
    p.add_argument("--stages-per-device", type=int, default=1, metavar="K", help="with --estimate: K stages sharing each device")
    p.add_argument("--fit-calibration", default=None, metavar="FILE",
                   help="with --estimate: fit step latency and per-stage costs to the run dir's finished stages, write FILE")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_plan)
    p = sub.add_parser("verify", help="check the results against expected figures (exit 0 / 1 / 2)")
    _common(p)
    p.add_argument("--expected", default=None, help="expected-figures file (default: the profile's verify.expected)")
    p.add_argument("--out", default=None, help="where the verdicts go (default: RUN_DIR/verify.json against the "
                   "profile's table, RUN_DIR/verify-<table>.json against another, so the run's own are kept)")
    p.set_defaults(func=cmd_verify)
    p = sub.add_parser("check-data", help="read one example of every dataset the profile needs (run before a long job)")
    _common(p)
    p.add_argument("--offline", action="store_true", help="try no hub load; list the ones not tried")
    p.set_defaults(func=cmd_check_data)
    p = sub.add_parser("analyze", help="task similarity vs gain: the research-question report")
    _common(p)
    p.add_argument("--wait", action="store_true", help="wait for another run on this run dir instead of refusing")
    p.add_argument("--results", default=None, help="analyse this results table instead of a run: a run's results.json "
                   "(repro/schemas/results.schema.json) or one typed in by hand with only the gains or scores "
                   "(repro/schemas/typed-results.schema.json)")
    p.add_argument("--out", default=None, help="with --results: where report.md, analysis.json and the plots go")
    p.add_argument("--split", default=None, help="with --results: the split to analyse (default: the table's headline split)")
    p.add_argument("--permutations", type=int, default=10_000, help="with --results: interaction-test permutations")
    p.add_argument("--bootstrap", type=int, default=2000, help="with --results: source-bootstrap resamples")
    # With --results, a profile is optional: given, the tasks' data are read as it reads them (M1, M2, M3, C2).
    p.set_defaults(func=cmd_analyze, profile=None)
    p = sub.add_parser("score", help="score an XTREME prediction folder like the official evaluate.py")
    _score_arguments(p)
    p.set_defaults(func=cmd_score)
    return parser


def _quiet_libraries() -> None:
    """Progress bars and load reports of transformers/hub would bury the stage log."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    progress.quiet_libraries()


def main(argv=None) -> int:
    _quiet_libraries()
    if hasattr(sys.stdout, "reconfigure"):  # each line as it is printed, also into a file or a pipe
        sys.stdout.reconfigure(line_buffering=True)
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("REPRO_DEBUG") == "1"
    spaced = _set_without_equals(argv)
    if spaced:
        print(f"error: {spaced}", file=sys.stderr)
        return 2
    args = build_parser().parse_args([a for a in argv if a != "--debug"])
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    except Exception as e:
        if debug:
            raise
        return _report(e)


def _set_without_equals(argv: list[str]) -> str | None:
    """`--set KEY VALUE` (a space for the =) would only get argparse's "unrecognized arguments"."""
    for i, arg in enumerate(argv[:-1]):
        if arg == "--set" and "=" not in argv[i + 1]:
            key, value = argv[i + 1], argv[i + 2] if i + 2 < len(argv) and not argv[i + 2].startswith("--") else "VALUE"
            return f"--set {key}: write KEY=VALUE in one argument, with = and no space: --set {key}={value}"
    return None


def _report(e: Exception) -> int:
    """One line on stderr for every failure; `--debug` (or REPRO_DEBUG=1) shows the traceback instead."""
    if isinstance(e, ReproError):
        print(f"error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    if isinstance(e, OSError):  # disk full, permissions...: the stage failed cleanly and will be redone
        print(f"error: {e.strerror or e} ({e.filename or 'write failed'}); the failed stage is not marked "
              "done: free the space or fix the path and run the same command again", file=sys.stderr)
        return 1
    print(f"error: unexpected {type(e).__name__}: {' '.join(str(e).split())[:500]} "
          "(nothing of the failed stage is marked done; run again with --debug for the traceback)", file=sys.stderr)
    return 1
