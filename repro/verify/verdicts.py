"""From a figure's computed value (or missing items) to its verdict: pass, FAIL or not computed."""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

from repro.verify.quantities import MAX_LISTED, NUMERIC, STRUCTURE, NotComputed, Run, all_scores


@dataclass
class Outcome:
    id: str
    check: str
    expected: str
    tolerance: str
    got: str
    verdict: str            # pass | FAIL | not computed
    confidence: str
    optional: bool
    reason: str = ""
    mean: float | None = None
    sd: float | None = None
    n: int | None = None
    per_seed: dict = field(default_factory=dict)


def in_bounds(x: float, lo: float | None, hi: float | None) -> bool:
    return math.isfinite(x) and (lo is None or x >= lo) and (hi is None or x <= hi)


def expected_text(fig: dict) -> tuple[str, str]:
    if fig["check"] == "value":
        tol = fig["tolerance"]
        rel = f" or {100 * tol['rel']:g}%" if "rel" in tol else ""
        return f"{fig['value']:+.2f}" if fig["definition"]["quantity"].endswith("gain") else f"{fig['value']:.2f}", \
            f"±{tol['abs']:g}{rel}"
    if fig["check"] == "range":
        r = fig["range"]
        return f"[{r.get('min', '-inf')}, {r.get('max', 'inf')}]", ""
    return "complete", ""


def numeric_verdict(fig: dict, mean: float) -> bool:
    if fig["check"] == "range":
        return in_bounds(mean, fig["range"].get("min"), fig["range"].get("max"))
    tol = fig["tolerance"]
    allowed = max(tol["abs"], tol.get("rel", 0.0) * abs(fig["value"]))
    return math.isfinite(mean) and abs(mean - fig["value"]) <= allowed + 1e-9


def evaluate_figure(run: Run, fig: dict) -> Outcome:
    expected, tolerance = expected_text(fig)
    out = Outcome(fig["id"], fig["check"], expected, tolerance, "–", "not computed",
                  fig["provenance"]["confidence"], fig.get("optional", False))
    d = fig["definition"]
    try:
        if d["quantity"] in STRUCTURE:
            _structure(out, STRUCTURE[d["quantity"]](run, d))
        elif d["quantity"] == "all_scores":
            _all_values(out, fig, all_scores(run, d))
        else:
            _numeric(out, fig, NUMERIC[d["quantity"]](run, d))
    except NotComputed as e:
        out.reason = str(e)
    return out


def _structure(out: Outcome, missing: list[str]) -> None:
    out.got = "complete" if not missing else f"{len(missing)} missing"
    out.verdict = "pass" if not missing else "FAIL"
    if missing:
        out.reason = "missing: " + ", ".join(missing[:MAX_LISTED]) + (" ..." if len(missing) > MAX_LISTED else "")


def _all_values(out: Outcome, fig: dict, values: list[float]) -> None:
    bad = [v for v in values if not in_bounds(v, fig["range"].get("min"), fig["range"].get("max"))]
    finite = [v for v in values if math.isfinite(v)]
    out.got = f"{min(finite):.2f}..{max(finite):.2f} ({len(values)} values)" if finite else f"{len(values)} non-finite"
    out.verdict = "pass" if not bad else "FAIL"
    if bad:
        out.reason = f"{len(bad)} of {len(values)} values out of range, e.g. {bad[0]!r}"


def _numeric(out: Outcome, fig: dict, per_seed: dict[str, float]) -> None:
    values = list(per_seed.values())
    out.mean, out.n, out.per_seed = statistics.fmean(values), len(values), per_seed
    out.sd = statistics.stdev(values) if len(values) > 1 else 0.0
    out.got = f"{out.mean:.2f} ± {out.sd:.2f} (n={out.n})"
    out.verdict = "pass" if numeric_verdict(fig, out.mean) else "FAIL"


def exit_code(outcomes: list[Outcome]) -> int:
    ok = all(o.verdict == "pass" or (o.verdict == "not computed" and o.optional) for o in outcomes)
    return 0 if ok else 1


def summary(outcomes: list[Outcome]) -> dict:
    count = lambda v: sum(o.verdict == v for o in outcomes)
    return {"figures": len(outcomes), "pass": count("pass"), "fail": count("FAIL"),
            "not_computed": count("not computed"),
            "not_computed_optional": sum(o.verdict == "not computed" and o.optional for o in outcomes),
            "exit_code": exit_code(outcomes)}
