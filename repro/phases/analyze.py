"""Phase `analyze` (after `aggregate`): the research question — does task similarity between the
intermediate and the target task predict the gain, and does semantic distance act differently on
PAWS-X? Each measure is a cached stage keyed like every other stage:

  analyze/lexical          M1 vocabulary overlap (+ weighted), C2 overlap/label correlation, B1 sizes
  analyze/embeddings       M2 centred TextEmb (last and a mid layer), M3 Fisher TaskEmb (b) — θ0 only
  analyze/logme-<encoder>  LogME of each labelled target's labels on that encoder's features, and the
                           cross-lingual alignment margin A (for ΔA): one stage per encoder
  analyze/cka              M5 ΔCKA towards the baseline target-tuned encoder (only with analysis.cka_probes > 0)
  analyze/planted          the known-answer check on the planted-distance world (only with analysis.planted)
  analyze/report           gains from the aggregate table + all measures -> report.md, analysis.json, PNGs;
                           the gains' CIs from the target cells' predictions (paired bootstrap)

Features are computed from the encoder stages' outputs (kept by the intermediate phase) and only the
resulting numbers are stored. The target-tuned models are deleted after prediction, so for M5 the
baseline target cells keep their probe features (keep_cka_features) while the model exists.
`publish` copies the report stage's outputs to <run-dir>/analysis/.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from repro.analysis import core, examples, known_answer, ladder, measures as ms, report
from repro.analysis.tables import gains_of
from repro.atomic import fsync_dir, sha256_text, write_json
from repro.engine import MANIFEST, Stage, stage_dir
from repro.heads import get_head
from repro.modeling import load_encoder, load_tokenizer, pick_device
from repro.phases.common import examples_path, head_settings, prepared_languages, read_examples, set_seed
from repro.phases.planted import planted_stage
from repro.retrieval import load_embeddings, resolve_layer, save_embeddings
from repro.settings.analysis import Analysis
from repro.settings.declare import as_table
from repro.settings.phases import Target
from repro.settings.run import Run
from repro.tasks import get_task

PUBLISHED = "analysis"  # <run-dir>/analysis/: where users (and issue 11) look for the report


@dataclass(frozen=True)
class AnalyzeSettings:
    """What the analyze phase reads of the profile (the plan builds it)."""
    analysis: Analysis   # [analysis]
    run: Run             # seeding, threads and device of [run]; its first seed picks the encoders analysed
    target: Target       # the targets, their featurisation settings (LogME) and [target.defaults] (planted)
    split: str           # aggregate.split: the split the gains come from


def publish(run_dir: Path, report: Stage) -> Path:
    """Copies the done report stage's outputs to <run-dir>/analysis/ and returns its report.md. The
    stage directory stays the cached truth; the copy is rebuilt whole beside it and renamed into place,
    so a reader sees the old set or the new one, never a mix (at worst, for an instant, no directory)."""
    run_dir, src = Path(run_dir), stage_dir(run_dir, report)
    final, tmp, old = run_dir / PUBLISHED, run_dir / f".{PUBLISHED}.tmp", run_dir / f".{PUBLISHED}.old"
    for leftover in (tmp, old):  # of a publish that was killed half-way
        shutil.rmtree(leftover, ignore_errors=True)
    tmp.mkdir(parents=True)
    for f in sorted(src.iterdir()):
        if f.is_file() and f.name != MANIFEST:
            shutil.copy2(f, tmp / f.name)
    write_json(tmp / "published_from.json", {"stage": report.id, "key": report.key,
                                             "dir": str(src.relative_to(run_dir))})
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    fsync_dir(run_dir)
    shutil.rmtree(old, ignore_errors=True)
    return final / "report.md"


def english_sample(prep, task_name: str, n: int, seed: int) -> list[dict]:
    """A seeded sample of a task's English input: its training split, or for the retrieval targets the
    English side of their dev sentences."""
    task = get_task(task_name)
    if task.train_language in prepared_languages(prep, "train"):
        examples = read_examples(examples_path(prep, "train", task.train_language))
    else:
        sentences = []
        for lang in prepared_languages(prep, "dev"):
            for ex in read_examples(examples_path(prep, "dev", lang)):
                sentences += ex.get("english") or []
        examples = [{"text_a": s} for s in dict.fromkeys(sentences)]
    return ms.sample(examples, n, seed)


CKA_FILE = "cka_features.npy"


def cka_probes(prep, n: int, seed: int) -> list[dict]:
    """P_t of M5 (the probe set of the CKA measure): up to n dev inputs of the target, the same number from each of its
    languages (zero-shot transfer is about the evaluation languages), seeded."""
    langs = prepared_languages(prep, "dev")
    per = max(1, n // max(1, len(langs)))
    probes = [ex for lang in langs for ex in ms.sample(read_examples(examples_path(prep, "dev", lang)), per, seed)]
    return probes[:n]


def probe_features(encoder, tok, probes: list[dict], a: Analysis, device) -> np.ndarray:
    """(n, H) top-layer mean-pooled features of the probes (fine-tuning moves the top layers most)."""
    top = encoder.config.num_hidden_layers
    seqs = ms.encode_inputs(probes, tok, a.max_seq_length)
    return ms.pooled_features(encoder, seqs, tok.pad_token_id, [top], a.batch_size, device)[top]


def keep_cka_features(out: Path, encoder, tok, prep, a: Analysis, device) -> None:
    """Called by a baseline target cell while its model exists (it is deleted after prediction): the
    target-tuned encoder's probe features, float16, all that M5 needs of it."""
    save_embeddings(out / CKA_FILE, probe_features(encoder, tok, cka_probes(prep, a.cka_probes, a.seed), a, device))


def cka_stage(st: AnalyzeSettings, encoders: dict[str, Stage], baseline_cells: dict[str, Stage], prepared: dict) -> Stage:
    """M5 ΔCKA[s, t] = CKA(H_θs, H_θt_base) − CKA(H_θ0, H_θt_base) on target t's probes (CKA: Kornblith et
    al. 2019, arXiv 1905.00414), with θt_base the baseline target-tuned encoder whose features its target
    stage kept."""
    a = st.analysis

    def run(ctx):
        out = {}
        feats = {}
        probes = {t: cka_probes(ctx.dep(prepared[t].id), a.cka_probes, a.seed) for t in baseline_cells}
        for name, enc in encoders.items():
            model, tok, device, _ = _open_encoder(st, ctx.dep(enc.id) / "encoder")
            feats[name] = {t: probe_features(model, tok, probes[t], a, device) for t in baseline_cells}
        for t, cell in baseline_cells.items():
            y = load_embeddings(ctx.dep(cell.id) / CKA_FILE).astype(np.float32)
            base = ms.linear_cka(feats["baseline"][t], y)
            for name in encoders:
                if name != "baseline":
                    out.setdefault(name, {})[t] = ms.linear_cka(feats[name][t], y) - base
        write_json(ctx.out / "cka.json", {"M5": out, "probes": a.cka_probes})

    key = {"analysis": {k: getattr(a, k) for k in ("cka_probes", "seed", "max_seq_length")}}
    deps = [*encoders.values(), *baseline_cells.values(), *(prepared[t] for t in baseline_cells)]
    return Stage("analyze", "cka", key, run, deps,
                 describe=f"M5 ΔCKA on {a.cka_probes} dev probes of {len(baseline_cells)} targets")


def _open_encoder(st: AnalyzeSettings, enc_dir):
    """(model, tokenizer, device, (last layer, mid layer)) of an encoder stage's output, seeded."""
    a = st.analysis
    set_seed(a.seed, st.run.deterministic, st.run.num_threads)
    device = pick_device(st.run.device)
    model, tok = load_encoder(enc_dir).to(device), load_tokenizer(enc_dir)
    n = model.config.num_hidden_layers
    return model, tok, device, (n, resolve_layer(n, a.mid_layer, a.reference_num_layers))


def lexical_stage(a: Analysis, pretrained: Stage, prepared: dict, tasks: list[str]) -> Stage:

    def run(ctx):
        tok = load_tokenizer(ctx.dep(pretrained.id) / "encoder")
        counts, c2, sizes = {}, {}, {}
        for t in tasks:
            prep = ctx.dep(prepared[t].id)
            sample = english_sample(prep, t, a.sample_size, a.seed)
            counts[t] = ms.token_counts([x for ex in sample for x in ms.example_texts(ex)], tok)
            pos = ladder.positive_label(t)
            if pos and sample and "label" in sample[0]:
                c2[t] = ms.point_biserial_overlap(sample, pos)
            info = json.loads((prep / "info.json").read_text())
            sizes[t] = info.get("counts", {}).get(f"train-{get_task(t).train_language}")
        jac = {s: {t: ms.jaccard(set(counts[s]), set(counts[t])) for t in tasks} for s in tasks}
        wjac = {s: {t: ms.weighted_jaccard(counts[s], counts[t]) for t in tasks} for s in tasks}
        write_json(ctx.out / "lexical.json", {"M1": jac, "M1_weighted": wjac, "C2": c2, "train_sizes": sizes,
                                              "sample_size": a.sample_size})

    key = {"tasks": tasks, "sample_size": a.sample_size, "seed": a.seed}
    return Stage("analyze", "lexical", key, run, [pretrained, *(prepared[t] for t in tasks)],
                 versions=("tokenizers", "transformers"),
                 describe=f"M1 vocabulary overlap, C2, B1 on {a.sample_size} English examples per task")


def embeddings_stage(st: AnalyzeSettings, pretrained: Stage, prepared: dict, tasks: list[str]) -> Stage:
    a = st.analysis

    def run(ctx):
        model, tok, device, (last, mid) = _open_encoder(st, ctx.dep(pretrained.id) / "encoder")
        means, fisher, dataset_of = {last: {}, mid: {}}, {}, {}
        for t in tasks:
            sample = english_sample(ctx.dep(prepared[t].id), t, a.sample_size, a.seed)
            seqs = ms.encode_inputs(sample, tok, a.max_seq_length)
            ident = sha256_text(json.dumps(seqs))  # XNLI/XQuAD/MLQA may reuse MNLI/SQuAD: one dataset
            dataset_of[t] = ident
            if ident not in means[last]:
                pooled = ms.pooled_features(model, seqs, tok.pad_token_id, [last, mid], a.batch_size, device)
                for layer in (last, mid):
                    means[layer][ident] = pooled[layer].mean(axis=0)
            labels = [ex.get("label") for ex in sample]
            if get_task(t).head == "classification" and all(x is not None for x in labels) and len(set(labels)) > 1:
                fisher[t] = ms.fisher_embedding(model, seqs, np.asarray(labels), tok.pad_token_id,
                                                a.fisher_head_steps, batch_size=a.batch_size, seed=a.seed,
                                                device=device)
        out = {}
        for name, layer in (("M2", last), ("M2_mid", mid)):
            cos = ms.centred_cosines(means[layer])  # centred over the distinct datasets, each once
            out[name] = {s: {t: cos[(dataset_of[s], dataset_of[t])] for t in tasks} for s in tasks}
        cosf = lambda u, v: float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v)))
        out["M3"] = {s: {t: cosf(fisher[s], fisher[t]) for t in fisher} for s in fisher}
        out["layers"] = {"last": last, "mid": mid}
        out["distinct_datasets"] = len(means[last])
        write_json(ctx.out / "embeddings.json", out)

    key = {"tasks": tasks, "analysis": {k: getattr(a, k) for k in ("sample_size", "seed", "mid_layer", "reference_num_layers",
                                                            "max_seq_length", "fisher_head_steps")}}
    return Stage("analyze", "embeddings", key, run, [pretrained, *(prepared[t] for t in tasks)],
                 describe="M2 centred TextEmb (last + mid layer), M3 Fisher TaskEmb (b) from the pretrained encoder")


def logme_stage(st: AnalyzeSettings, enc_name: str, encoder: Stage, prepared: dict, targets: list[str]) -> Stage:
    a = st.analysis
    labelled = [t for t in targets if get_task(t).head_impl.trainable]  # retrieval targets have no labels
    parallel = next((t for t in targets if get_task(t).parallel_dev and t in prepared), None)

    def run(ctx):
        model, tok, device, (last, mid) = _open_encoder(st, ctx.dep(encoder.id) / "encoder")
        out = {"logme": {}, "logme_mid": {}, "alignment": None, "layers": {"last": last, "mid": mid}}
        for t in labelled:
            task, prep = get_task(t), ctx.dep(prepared[t].id)
            sample = english_sample(prep, t, a.sample_size, a.seed)
            s = st.target.settings(t)
            feats = get_head(task.head).featurize(task, sample, tok, s, train=True)
            xy = ms.logme_inputs(model, feats, task.head, tok.pad_token_id, [last, mid], a.token_cap, a.seed,
                                 a.batch_size, device)
            for name, layer in (("logme", last), ("logme_mid", mid)):
                x, y = xy[layer]
                out[name][t] = ms.logme(x, y) if len(np.unique(y)) > 1 else None
        if parallel:
            prep = ctx.dep(prepared[parallel].id)
            langs = prepared_languages(prep, "dev")
            sets = {lang: [ex["text_a"] for ex in read_examples(examples_path(prep, "dev", lang))] for lang in langs}
            if "en" in sets:
                n = min(len(sets["en"]), a.sample_size)
                emb = {lang: ms.pooled_features(model, ms.encode_inputs([{"text_a": x} for x in v[:n]], tok,
                                                                        a.max_seq_length),
                                                tok.pad_token_id, [mid], a.batch_size, device)[mid]
                       for lang, v in sets.items() if len(v) >= n}
                margins = [ms.alignment_margin(emb["en"], e) for lang, e in emb.items() if lang != "en"]
                out["alignment"] = float(np.mean(margins)) if margins else None
                out["alignment_set"] = parallel
        write_json(ctx.out / "logme.json", out)

    key = {"targets": labelled, "parallel": parallel,
           "analysis": {k: getattr(a, k) for k in ("sample_size", "seed", "mid_layer", "reference_num_layers", "token_cap",
                                          "max_seq_length")},
           # only what featurisation reads (a learning rate changes no feature)
           "target_settings": {t: head_settings(st.target.settings(t), get_task(t)) for t in labelled}}
    deps = [encoder, *(prepared[t] for t in labelled)]
    if parallel and parallel not in labelled:
        deps.append(prepared[parallel])
    return Stage("analyze", f"logme-{enc_name}", key, run, deps,
                 describe=f"LogME of {len(labelled)} targets' labels and the alignment margin on {enc_name}'s features")


def _gain_cis(ctx, cells: dict, split: str, sources, targets, b: int, seed: int) -> dict:
    """{source: {target: [lo, hi] | None}}: paired bootstrap over the evaluation examples within language
    (repro.analysis.examples) from the kept predictions and gold; None where the metric does not
    decompose per example or a cell is missing."""
    out = {}
    for s in sources:
        out[s] = {}
        for t in targets:
            task = get_task(t)
            seeds = sorted(k[2] for k in cells if k[:2] == (s, t) and (("baseline", t, k[2]) in cells))
            if not examples.supported(task) or not seeds:
                out[s][t] = None
                continue
            pred = lambda enc, sd: ctx.dep(cells[(enc, t, sd)].deps[0].id) / "predictions" / split / t
            labels = ctx.dep(cells[("baseline", t, seeds[0])].id) / "labels" / split / t
            pairs = [(pred(s, sd), pred("baseline", sd)) for sd in seeds]
            out[s][t] = examples.gain_ci(task, pairs, labels, b, seed) if labels.is_dir() else None
    return out


def report_stage(st: AnalyzeSettings, aggregate: Stage, lexical: Stage, embeddings: Stage, logme: dict[str, Stage],
                 cells: dict | None = None, cka: Stage | None = None, planted: Stage | None = None) -> Stage:
    """cells: {(encoder, target, seed): evaluate stage} whose predictions (its target stage) and gold
    give the gains' per-example CIs; planted: the known-answer stage, whose result joins the report."""
    a = st.analysis
    cells = cells or {}

    def run(ctx):
        results = json.loads((ctx.dep(aggregate.id) / "results.json").read_text())
        split, gain, sources, targets, rel = gains_of(results, st.split)
        lex = json.loads((ctx.dep(lexical.id) / "lexical.json").read_text())
        emb = json.loads((ctx.dep(embeddings.id) / "embeddings.json").read_text())
        lm = {name: json.loads((ctx.dep(stage.id) / "logme.json").read_text()) for name, stage in logme.items()}
        m5 = json.loads((ctx.dep(cka.id) / "cka.json").read_text())["M5"] if cka else {}
        g = core.matrix(gain, sources, targets)
        m4, m4_mid = {}, {}
        base = lm.get("baseline")
        for s in sources:
            m4[s], m4_mid[s] = {}, {}
            for t in targets:
                if base is None or s not in lm:
                    continue
                if get_task(t).fit_measure == "alignment":  # ΔA: the natural predictor for retrieval
                    va, vb = lm[s].get("alignment"), base.get("alignment")
                    m4[s][t] = m4_mid[s][t] = None if va is None or vb is None else va - vb
                    continue
                for name, out in (("logme", m4), ("logme_mid", m4_mid)):
                    va, vb = lm[s][name].get(t), base[name].get(t)
                    out[s][t] = None if va is None or vb is None else va - vb
        measures = {"M1": core.subtable(lex["M1"], sources, targets),
                    "M2": core.subtable(emb["M2"], sources, targets),
                    "M3": core.subtable(emb["M3"], sources, targets),
                    "M4": m4, "M5": core.subtable(m5, sources, targets),
                    "D0": core.d0_table(sources, targets),
                    "B1": core.b1_table(sources, targets, lex["train_sizes"]),
                    "B2": core.b2_table(np.where(core.self_mask(sources, targets), np.nan, g), sources, targets)}
        c2 = lex["C2"]
        notes = ["M3 is defined here for classification tasks only (a frozen-encoder linear head on pooled states). "
                 + (f"M5 (exploratory): top-layer linear CKA on {a.cka_probes} dev probes per labelled target, "
                    "from the features the baseline target cells kept." if cka else
                    "M5 skipped: it needs the baseline target-tuned encoders' probe features, kept by the target "
                    "phase only when analysis.cka_probes > 0."),
                 "C2 overlap/label correlation r (English training sample): "
                 + (", ".join(f"{k} {v:+.2f}" for k, v in c2.items() if v is not None) or "no pair task") + ".",
                 "B1 uses the loaders' training counts of this run (after any cap).",
                 f"Sensitivity variants in analysis.json: M1_weighted, M2_mid (layer {emb['layers']['mid']}), "
                 "M4_mid."]
        missing = results.get("not_evaluated") or {}
        if missing:
            notes.append("Not evaluated (the task knows these languages; the data had no file for them): "
                         + "; ".join(f"{t}: {', '.join(v)}" for t, v in missing.items()) + ".")
        if results["data_source"] == "synthetic":
            notes.insert(0, "Synthetic smoke world and tiny model: these numbers test the machinery; they say "
                            "nothing about X-STILTs.")
        cis = _gain_cis(ctx, cells, split, sources, targets, a.bootstrap, a.seed)
        result = core.analyse(gain, measures, sources, targets, split, permutations=a.permutations,
                              bootstrap=a.bootstrap, seed=a.seed, seeds=len(results["seeds"]),
                              reliability=rel, notes=notes, gain_ci=cis)
        # Encoders with gains that are no source of the analysis (the multi-task encoder: no single task to
        # measure a similarity from): their gains and CIs are reported beside the sources', never analysed.
        table = results["splits"][split]["gain"]
        others = [e for e in table if e not in sources]
        other_cis = _gain_cis(ctx, cells, split, others, targets, a.bootstrap, a.seed)
        result["other_encoders"] = {e: {"gain": {t: table[e][t]["mean"] if t in table[e] else None for t in targets},
                                        "gain_ci": other_cis[e]} for e in others}
        result["variants"] = {"M1_weighted": core.subtable(lex["M1_weighted"], sources, targets),
                              "M2_mid": core.subtable(emb["M2_mid"], sources, targets),
                              "M4_mid": m4_mid, "C2": c2}
        if planted:
            k = json.loads((ctx.dep(planted.id) / "planted.json").read_text())
            result["planted"] = known_answer.analyse(k["distances"], k["gains"], k["measures"],
                                                     baseline=k["baseline"], details=k["details"])
        report.write(result, ctx.out, results["provenance"]["note"])
        return {"verdicts": result["verdicts"]}

    key = {k: getattr(a, k) for k in ("permutations", "bootstrap", "seed")}
    key["split"] = st.split
    used = [ev for (enc, t, _), ev in cells.items() if examples.supported(get_task(t))]  # sources and others
    deps = [aggregate, lexical, embeddings, *logme.values(), *used, *(ev.deps[0] for ev in used),
            *([cka] if cka else []), *([planted] if planted else [])]
    return Stage("analyze", "report", key, run, list({d.id: d for d in deps}.values()),
                 versions=("numpy", "scipy", "matplotlib"),
                 describe="similarity vs gain: report.md, analysis.json, plots")


def ladder_sources(encoders) -> list[str]:
    """The encoders that are sources of the analysis: single intermediate tasks the ladder knows (not the
    baseline, not the multi-task encoder), in the given order."""
    return list(dict.fromkeys(e for e in encoders if e != "baseline" and ladder.train_size(e)))


def analyze_stages(st: AnalyzeSettings, aggregate: Stage, pretrained: Stage, prepared: dict,
                   encoders: dict[str, Stage], evaluations: dict | None = None) -> list[Stage]:
    """encoders: {'baseline': pretrained stage, <intermediate task>: its stage (first seed)};
    evaluations: {(encoder, target, seed): evaluate stage} (for the gains' per-example CIs)."""
    targets = list(st.target.tasks)
    sources = ladder_sources(encoders)
    tasks = list(dict.fromkeys(sources + targets))
    lex = lexical_stage(st.analysis, pretrained, prepared, tasks)
    emb = embeddings_stage(st, pretrained, prepared, tasks)
    lm = {name: logme_stage(st, name, enc, prepared, targets) for name, enc in encoders.items()
          if name == "baseline" or name in sources}
    first = st.run.seeds[0]
    baseline_cells = {t: ev.deps[0] for (enc, t, sd), ev in (evaluations or {}).items()
                      if enc == "baseline" and sd == first and get_task(t).head_impl.trainable}
    cka = None
    if st.analysis.cka_probes > 0 and "baseline" in encoders and baseline_cells:
        cka = cka_stage(st, {n: enc for n, enc in encoders.items() if n == "baseline" or n in sources},
                        baseline_cells, prepared)
    known = (planted_stage(st.analysis, st.run, as_table(st.target.defaults), pretrained) if st.analysis.planted
             else None)
    return [lex, emb, *lm.values(), *([cka] if cka else []), *([known] if known else []),
            report_stage(st, aggregate, lex, emb, lm, evaluations, cka, known)]
