"""Phase `aggregate`: every evaluated cell -> result tables (JSON + markdown): per language, per task,
XTREME score (mean of the nine task scores; QA counts (EM+F1)/2), gains over the baseline, and each
intermediate task's own dev score. Several seeds give mean and sample sd."""
from __future__ import annotations

import json
import statistics
from dataclasses import dataclass

from repro.atomic import write_json, write_text
from repro.engine import Stage, package_versions
from repro.errors import ReproError
from repro.scoring.xtreme import by_language
from repro.settings.analysis import Retrieval
from repro.settings.declare import as_table
from repro.tasks import get_task, tasks_with_role

# Said in every results table of these data sources: what their numbers are not.
NOTES = {"synthetic": "synthetic smoke world: these numbers test the machinery, they are not a reproduction",
         "realtext": ("real encoder on real parallel text from Debian packages (retrieval only, no real task data): "
                      "these numbers are not a reproduction of the paper")}


def _stats(values: list[float]) -> dict:
    return {"mean": statistics.fmean(values), "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
            "n": len(values)}


@dataclass(frozen=True)
class About:
    """What the results tables say about the run besides its scores (the plan fills it from the profile)."""
    profile: str
    model: str                  # model.name
    data_source: str            # where the tasks' data were read (repro.plan.about)
    split: str                  # aggregate.split: the headline split
    retrieval: Retrieval        # cited as provenance of the retrieval scores
    reference_num_layers: int   # model.reference_num_layers: the depth retrieval's layers are given for


def build_results(about: About, cells: dict, intermediate: dict, not_evaluated: dict | None = None) -> dict:
    """cells[(encoder, target, seed)] = evaluate scores.json; intermediate[(name, seed)] = dev metrics;
    not_evaluated[target] = the languages its task knows that the data had no file for (prepare's info)."""
    encoders = sorted({e for e, _, _ in cells}, key=lambda e: (e != "baseline", e))
    known = [t.name for t in tasks_with_role("target")]
    unknown = sorted({c[1] for c in cells} - set(known))
    if unknown:  # a cell of a target the registry does not know would silently vanish from every table
        raise ReproError(f"aggregate: no registered target task {unknown[0]!r}")
    targets = [t for t in known if any(t == c[1] for c in cells)]
    xtreme_tasks = {t.name for t in tasks_with_role("target") if t.group}
    seeds = sorted({s for _, _, s in cells})
    splits = {}
    for split in ("dev", "test"):
        table, per_seed = {}, {}
        for (enc, tgt, seed), scores in cells.items():
            if split not in scores:
                continue
            sc = scores[split]
            per_seed.setdefault(enc, {}).setdefault(tgt, {})[seed] = sc["avg_metric"]
            langs = {lang: get_task(tgt).headline(m) for lang, m in by_language(sc).items()}
            cell = table.setdefault(enc, {}).setdefault(tgt, {"per_seed": {}, "languages_per_seed": {}})
            cell["per_seed"][str(seed)] = sc["avg_metric"]
            cell["languages_per_seed"][str(seed)] = langs
        if not table:
            continue
        for enc, row in table.items():
            for tgt, cell in row.items():
                cell.update(_stats(list(cell["per_seed"].values())))
                langs = sorted({lang for d in cell["languages_per_seed"].values() for lang in d})
                cell["languages"] = {lang: statistics.fmean(d[lang] for d in cell["languages_per_seed"].values() if lang in d)
                                     for lang in langs}
        xtreme = {}
        for enc in table:
            seed_scores = [statistics.fmean(per_seed[enc][t][s] for t in per_seed[enc]) for s in seeds
                           if all(s in per_seed[enc][t] for t in per_seed[enc])]
            complete = set(per_seed[enc]) >= xtreme_tasks
            xtreme[enc] = {**_stats(seed_scores), "complete": complete, "tasks": sorted(per_seed[enc])} if seed_scores else None
        gain = {}
        if "baseline" in per_seed:
            base = per_seed["baseline"]
            for enc in per_seed:
                if enc == "baseline":
                    continue
                g = {}
                for tgt in per_seed[enc]:
                    paired = [per_seed[enc][tgt][s] - base[tgt][s] for s in seeds
                              if s in per_seed[enc][tgt] and s in base.get(tgt, {})]
                    if paired:
                        g[tgt] = _stats(paired)
                gain[enc] = g
        splits[split] = {"cells": table, "xtreme": xtreme, "gain": gain}
    inter = {}
    for (name, seed), metrics in intermediate.items():
        for task, m in metrics.items():
            entry_name = name if name != "multitask" else f"multitask/{task}"
            entry = inter.setdefault(entry_name, {"task": task, "metric": m["headline"], "per_seed": {}})
            entry["per_seed"][str(seed)] = m[m["headline"]]
    for entry in inter.values():
        entry.update(_stats(list(entry["per_seed"].values())))
    r = about.retrieval
    return {
        "schema_version": 1, "profile": about.profile, "model": about.model,
        "data_source": about.data_source, "seeds": seeds, "encoders": encoders, "targets": targets,
        "headline_split": about.split, "splits": splits, "intermediate_dev": inter,
        **({"not_evaluated": {t: v for t, v in not_evaluated.items() if v}} if not_evaluated else {}),
        "provenance": {"retrieval": {"layer": r.layer, "bucc_layer": r.bucc_layer, "pooling": r.pooling,
                                     "reference_num_layers": about.reference_num_layers},
                       "versions": package_versions(),
                       "note": NOTES.get(about.data_source, "")},
    }


def markdown(results: dict) -> str:
    out = [f"# Results — profile `{results['profile']}`, model `{results['model']}`, seeds {results['seeds']}", ""]
    if results["provenance"]["note"]:
        out += [f"> {results['provenance']['note']}", ""]
    fmt = lambda c: "–" if c is None else (f"{c['mean']:.2f}" + (f" ± {c['sd']:.2f}" if c.get("n", 1) > 1 else ""))
    for split, data in results["splits"].items():
        tgts = results["targets"]
        out += [f"## {split}: task scores (QA: (EM+F1)/2)", "",
                "| encoder | " + " | ".join(tgts) + " | XTREME |", "|---" * (len(tgts) + 2) + "|"]
        for enc in results["encoders"]:
            row = data["cells"].get(enc, {})
            x = data["xtreme"].get(enc)
            xs = fmt(x) + ("" if x is None or x["complete"] else " (partial)")
            out.append(f"| {enc} | " + " | ".join(fmt(row.get(t)) for t in tgts) + f" | {xs} |")
        if data["gain"]:
            out += ["", f"## {split}: gain over the baseline", "", "| encoder | " + " | ".join(tgts) + " |",
                    "|---" * (len(tgts) + 1) + "|"]
            for enc, g in data["gain"].items():
                out.append(f"| {enc} | " + " | ".join(fmt(g.get(t)) for t in tgts) + " |")
        out += ["", f"## {split}: per language", ""]
        for t in tgts:
            langs = sorted({lang for enc in data["cells"] for lang in data["cells"][enc].get(t, {}).get("languages", {})})
            out += [f"### {t}", "", "| encoder | " + " | ".join(langs) + " |", "|---" * (len(langs) + 1) + "|"]
            for enc in results["encoders"]:
                ls = data["cells"].get(enc, {}).get(t, {}).get("languages", {})
                out.append(f"| {enc} | " + " | ".join(f"{ls[lang]:.1f}" if lang in ls else "–" for lang in langs) + " |")
            out.append("")
    missing = results.get("not_evaluated") or {}
    if missing:  # languages a target knows whose files the data lacked: listed, not an error
        out += ["## Not evaluated: no file in the data", ""]
        out += [f"- {t}: {', '.join(langs)}" for t, langs in missing.items()] + [""]
    if results["intermediate_dev"]:
        out += ["## Intermediate tasks: their own dev score", "", "| stage | metric | dev |", "|---|---|---|"]
        for name, e in sorted(results["intermediate_dev"].items()):
            out.append(f"| {name} | {e['metric']} | {fmt(e)} |")
    return "\n".join(out) + "\n"


def aggregate_stage(about: About, evaluations: dict, intermediates: dict, prepared: dict | None = None) -> Stage:
    """evaluations[(encoder, target, seed)] and intermediates[(name, seed)] are Stages; prepared[target]:
    the targets' prepare stages, whose info.json lists the languages without a file (not evaluated)."""
    prepared = prepared or {}

    def run(ctx):
        cells = {k: json.loads((ctx.dep(s.id) / "scores.json").read_text()) for k, s in evaluations.items()}
        inter = {k: ctx.dep_manifest(s.id)["dev_metrics"] for k, s in intermediates.items()}
        missing = {t: json.loads((ctx.dep(s.id) / "info.json").read_text()).get("not_evaluated", [])
                   for t, s in prepared.items()}
        results = build_results(about, cells, inter, missing)
        write_json(ctx.out / "results.json", results)
        write_text(ctx.out / "results.md", markdown(results))
        return {}

    deps = [*evaluations.values(), *intermediates.values(), *prepared.values()]
    inputs = {"split": about.split, "retrieval": as_table(about.retrieval), "profile": about.profile,
              "data_source": about.data_source}  # written into results.json: keyed, so a stale label reruns
    return Stage("aggregate", "results", inputs, run, deps, versions=(),
                 describe=f"tables over {len(evaluations)} cells and {len(intermediates)} intermediate stages")
