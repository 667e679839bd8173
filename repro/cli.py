"""Command line: `python -m repro {reproduce,status,verify,score}` (also the `repro` console script)."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from repro.errors import ReproError

DEFAULT_RUN_DIR = "runs/{profile}"


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", default="smoke", help="profile name (smoke, smoke-grid, paper) or a .toml path")
    p.add_argument("--run-dir", default=None, help="where stages are written (default runs/<profile>)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config value, e.g. --set target.defaults.lr=2e-5 (repeatable)")


def _load(args):
    from repro.config import load_config
    from repro.plan import build_plan

    config = load_config(args.profile, args.overrides)
    run_dir = Path(args.run_dir or DEFAULT_RUN_DIR.format(profile=config["profile"]))
    return config, build_plan(config), run_dir


def cmd_reproduce(args) -> int:
    from repro.engine import RunLock, run_stages, topological

    if not args.all and not args.phase:
        raise ReproError("say what to run: --all, or --phase NAME")
    if config_offline := os.environ.get("REPRO_OFFLINE"):
        os.environ.setdefault("HF_HUB_OFFLINE", config_offline)
    config, plan, run_dir = _load(args)
    stages = plan.stages if args.all else plan.phase(args.phase)
    if not stages:
        raise ReproError(f"no stages in phase {args.phase!r}; phases: prepare, pretrained, intermediate, target, evaluate, aggregate")
    if args.dry_run:
        return _print_plan(config, topological(stages))
    started = time.time()
    with RunLock(run_dir, wait=args.wait):
        run_stages(run_dir, stages)
    print(f"done in {time.time() - started:.1f} s; run dir {run_dir}")
    from repro.engine import is_done, stage_dir
    if is_done(run_dir, plan.aggregate):
        d = stage_dir(run_dir, plan.aggregate)
        print(f"result tables: {d / 'results.md'} and {d / 'results.json'}")
        if args.all and not args.no_verify:
            from repro.verify import verify_run
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
    from repro.engine import stage_status, topological

    config, plan, run_dir = _load(args)
    rows = [stage_status(run_dir, s) for s in topological(plan.stages)]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'stage':<52} {'key':<13} {'state':<12} {'duration':>9}  finished")
    for r in rows:
        dur = f"{r['duration_s']:.1f}s" if r["duration_s"] is not None else ""
        fin = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r["finished"])) if r["finished"] else ""
        print(f"{r['stage']:<52} {r['key']:<13} {r['state']:<12} {dur:>9}  {fin}")
    counts = {}
    for r in rows:
        counts[r["state"]] = counts.get(r["state"], 0) + 1
    print(", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
    return 0


def cmd_plan(args) -> int:
    """The stage plan; with --estimate, device-hours per stage and for the grid (repro/estimate.py)."""
    from repro.engine import topological

    config, plan, run_dir = _load(args)
    if not args.estimate:
        return _print_plan(config, topological(plan.stages))
    from repro.estimate import estimate, print_estimate

    result = estimate(config, plan, run_dir if run_dir.is_dir() else None, args.calibration)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_estimate(result, config["profile"])
    return 0


def cmd_verify(args) -> int:
    from repro.verify import verify_run

    config, plan, run_dir = _load(args)
    return verify_run(run_dir, plan, config, args.expected)


def cmd_score(args) -> int:
    from repro.scoring import xtreme

    return xtreme.run(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="repro", description="X-STILTs reproduction (Phang et al. 2020) on XTREME")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("reproduce", help="run stages (skipping done ones)")
    _common(p)
    p.add_argument("--all", action="store_true", help="every stage of the profile")
    p.add_argument("--phase", help="one phase (and what it needs): prepare, pretrained, intermediate, target, evaluate, aggregate")
    p.add_argument("--dry-run", action="store_true", help="print the plan; download and train nothing")
    p.add_argument("--wait", action="store_true", help="wait for another run on this run dir instead of refusing")
    p.add_argument("--no-verify", action="store_true", help="skip the verification after --all")
    p.set_defaults(func=cmd_reproduce)
    p = sub.add_parser("status", help="table of stages: done / stale / pending / running")
    _common(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)
    p = sub.add_parser("plan", help="print the stage plan; --estimate: device-hours per stage and for the grid")
    _common(p)
    p.add_argument("--estimate", action="store_true", help="device-hours from token counts and a calibration")
    p.add_argument("--calibration", default=None, help="calibration.json written by tests/bench/gpu.py")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_plan)
    p = sub.add_parser("verify", help="check the results against expected figures (exit 0 / 1 / 2)")
    _common(p)
    p.add_argument("--expected", default=None, help="expected-figures file (default: the profile's verify.expected)")
    p.set_defaults(func=cmd_verify)
    p = sub.add_parser("score", help="score an XTREME prediction folder like the official evaluate.py")
    from repro.scoring import xtreme
    xtreme.add_arguments(p)
    p.set_defaults(func=cmd_score)
    return parser


def _quiet_libraries() -> None:
    """Progress bars and load reports of transformers/hub would bury the stage log."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main(argv=None) -> int:
    _quiet_libraries()
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ReproError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # disk full, permissions...: the stage failed cleanly and will be redone
        print(f"error: {e.strerror or e} ({e.filename or 'write failed'}); the failed stage is not marked "
              "done: free the space or fix the path and run the same command again", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; run the same command again to resume", file=sys.stderr)
        return 130
