"""The tables of the README's "Real transfer" section, printed from a finished run's own files.

    python scripts/real_transfer_tables.py runs/real-transfer            # print the markdown
    python scripts/real_transfer_tables.py runs/real-transfer --check README.md docs/real-transfer.md

Scores come from the aggregate stage's results.json (headline split), gains with their 95% CIs and the
verdicts from the analyze stage's analysis.json. --check exits 1 unless each given file quotes at least one
of these tables (found by its header row) and every row of each table it quotes appears verbatim, so the
documentation can be checked against the run it quotes (a run on another machine may differ in the last
digit: float sums depend on the CPU and thread count).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

# Display names of the encoders and targets, in the order the README uses.
NAMES = {"baseline": "baseline (e5-small)", "commonsenseqa": "CommonsenseQA", "cosmosqa": "Cosmos QA",
         "squad": "SQuAD-style", "sst2": "SST-2", "multitask": "multi-task",
         "pawsx": "PAWS-X", "udpos": "UD-POS", "panx": "PAN-X", "xquad": "XQuAD", "mlqa": "MLQA",
         "tydiqa": "TyDiQA", "xnli": "XNLI", "bucc2018": "BUCC zh", "tatoeba": "Tatoeba"}


def _name(key: str) -> str:
    return NAMES.get(key, key)


def _signed(x: float) -> str:
    return f"{x:+.2f}".replace("-", "−")


def find_files(run: Path) -> tuple[Path, Path | None]:
    """(results.json, analysis.json) of one run. With an analysis: the one published in RUN/analysis and the
    results table its report stage was made from (its manifest names the aggregate key). Without: the
    newest results.json (a run dir holds one per aggregate key)."""
    published = run / "analysis" / "published_from.json"
    if published.is_file():
        report = run / json.loads(published.read_text())["dir"]
        key = json.loads((report / "manifest.json").read_text())["deps"]["aggregate/results"]
        return run / "aggregate" / f"results-{key}" / "results.json", report / "analysis.json"
    found = sorted((run / "aggregate").glob("*/results.json"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise SystemExit(f"{run}/aggregate: no results.json (has the run finished?)")
    return found[-1], None


def _gain_row(name: str, gains: dict, cis: dict, targets: list[str]) -> str:
    """One gain-table row: each target's gain, with its 95% CI where there is one."""
    cells = []
    for t in targets:
        g, c = gains.get(t), cis.get(t)
        cells.append("–" if g is None else _signed(g) + (f" [{_signed(c[0])}, {_signed(c[1])}]" if c else ""))
    return f"| {name} | " + " | ".join(cells) + " |"


def tables(results: dict, analysis: dict | None) -> list[str]:
    split = results["headline_split"]
    data = results["splits"][split]
    targets = results["targets"]
    out = [f"Scores ({split}; QA: (EM+F1)/2)", "",
           "| encoder | " + " | ".join(_name(t) for t in targets) + " |", "|---" * (len(targets) + 1) + "|"]
    for enc in results["encoders"]:
        row = data["cells"].get(enc, {})
        out.append(f"| {_name(enc)} | " + " | ".join(f"{row[t]['mean']:.2f}" if t in row else "–" for t in targets) + " |")
    if analysis is not None:
        gain, ci = analysis.get("gain", {}), analysis.get("gain_ci", {})
        out += ["", f"Gain over the baseline ({split}, points; 95% CI: paired bootstrap over evaluation examples)", "",
                "| source | " + " | ".join(_name(t) for t in targets) + " |", "|---" * (len(targets) + 1) + "|"]
        for src in analysis.get("sources", []):
            out.append(_gain_row(_name(src), gain.get(src) or {}, ci.get(src) or {}, targets))
        for enc, other in analysis.get("other_encoders", {}).items():  # gains shown, not analysed
            out.append(_gain_row(f"{_name(enc)} (not a source of the analysis)", other["gain"], other["gain_ci"],
                                 targets))
    inter = results.get("intermediate_dev", {})
    if inter:
        out += ["", "Intermediate tasks: their own dev score", "", "| stage | metric | dev |", "|---|---|---|"]
        for name, e in sorted(inter.items()):
            stage = "/".join(_name(part) for part in name.split("/"))
            out.append(f"| {stage} | {e['metric']} | {e['mean']:.2f} |")
    if analysis is not None and analysis.get("verdicts"):
        out += ["", "Verdicts (analysis.json)", ""] + [f"- {v}" for v in analysis["verdicts"]]
    return out


def _split_tables(lines: list[str]) -> list[tuple[str, list[str]]]:
    """(header row, body rows) of each markdown table in `lines`."""
    out, header = [], None
    for line in lines:
        if not line.startswith("|"):
            header = None
        elif header is None:
            header = line
            out.append((line, []))
        elif not line.startswith("|---"):
            out[-1][1].append(line)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--check", nargs="+", type=Path, metavar="FILE",
                    help="exit 1 unless each FILE quotes a table and every row of the tables it quotes")
    args = ap.parse_args(argv)
    results_path, analysis_path = find_files(args.run_dir)
    analysis = json.loads(analysis_path.read_text()) if analysis_path else None
    lines = tables(json.loads(results_path.read_text()), analysis)
    if not args.check:
        print(f"<!-- {results_path}" + (f", {analysis_path}" if analysis_path else "") + " -->")
        print("\n".join(lines))
        return 0
    tables_ = _split_tables(lines)
    bad = 0
    for f in args.check:
        text = f.read_text()
        quoted = [(header, rows) for header, rows in tables_ if header in text]
        if not quoted:
            print(f"{f}: quotes none of the run's tables")
            bad += 1
            continue
        missing = [r for _, rows in quoted for r in rows if r not in text]
        for r in missing:
            print(f"{f}: row not found (from {results_path.parent.name}): {r}")
        bad += len(missing)
        if not missing:
            print(f"{f}: {len(quoted)} table(s), all {sum(len(rows) for _, rows in quoted)} rows match {results_path}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
