"""BUCC 2018: mining translation pairs from comparable corpora (de fr ru zh, each against en), straight
from the encoder (no training); set-based F1 over (srcID, enID) pairs (google-research/xtreme
scripts/download_data.sh `download_bucc18`, evaluate.py `bucc_f1`; LASER tasks/bucc).

Local layout (XTREME): bucc2018/{xx}-en.{dev,test}.{xx} and {xx}-en.{dev,test}.en, one `ID TAB sentence`
per line, and {xx}-en.dev.gold with `srcID TAB enID` lines. Dev is BUCC's "sample" set, test its
"training" set; XTREME deletes the test gold, so {xx}-en.test.gold is read only if present.

The hub is refused (hub_refusal): its bucc18 configs lack the distractor sentences.

Procedure (XTREME's scripts/run_bucc2018.sh, after LASER's bucc.sh): mine each split with the ratio margin; on dev choose the
score threshold that maximises F1 against the dev gold; on test extract the pairs scoring at least the
*dev* threshold. Dev scores are therefore oracle scores (threshold tuned on the same gold).
"""
from __future__ import annotations

from pathlib import Path

from repro.atomic import write_text
from repro.errors import DataError, ReproError
from repro.readers import read_tsv
from repro.retrieval import bucc_extract, bucc_mine, bucc_optimize_threshold
from repro.scoring.metrics import bucc_f1
from repro.tasks.base import Task, register


def read_corpus(path: Path) -> tuple[list[str], list[str]]:
    """`ID TAB sentence` lines -> (ids, sentences); IDs must be unique, as gold and predictions name them."""
    ids, texts, first = [], [], {}
    for line, (sid, text) in read_tsv(path, (2,)):
        sid = sid.strip()
        if not sid:
            raise DataError(path, "empty sentence ID", line)
        if sid in first:
            raise DataError(path, f"duplicate sentence ID {sid!r} (first on line {first[sid]})", line)
        first[sid] = line
        ids.append(sid)
        texts.append(text)
    return ids, texts


def read_gold(path: Path, source_ids: list[str], english_ids: list[str]) -> list[list[str]]:
    """`srcID TAB enID` lines; an ID absent from its corpus could never be mined, so it is a data error."""
    src, en = set(source_ids), set(english_ids)
    pairs = []
    for line, (s, t) in read_tsv(path, (2,)):
        s, t = s.strip(), t.strip()
        if s not in src:
            raise DataError(path, f"source ID {s!r} is not in the source corpus", line)
        if t not in en:
            raise DataError(path, f"English ID {t!r} is not in the English corpus", line)
        pairs.append([s, t])
    return pairs


@register
class BUCC2018(Task):
    name = folder = "bucc2018"
    role, head, metric = "target", "retrieval", "f1"
    fit_measure = "alignment"  # M4 is ΔA: no labels to fit
    group, order = "retrieval", 8  # XTREME's task table
    languages = ("de", "fr", "ru", "zh")
    splits = ("dev", "test")
    required_splits = ("dev",)       # the dev split tunes the threshold that test applies
    retrieval_layer_key = "bucc_layer"
    count_checked = False            # predictions are a set of pairs, not one line per gold item
    hub_id = "google/xtreme"
    # google/xtreme's bucc18.* configs hold one gold pair per row: the comparable corpora's distractor
    # sentences are absent, so mining them would inflate F1 (huggingface.co/datasets/google/xtreme
    # commit 8c076cd2: one example per gold pair).
    hub_refusal = ("the hub copy (google/xtreme bucc18.*) holds only the gold pairs, without the comparable corpora's "
                   "distractor sentences, so its F1 is not BUCC's; use the LIMSI BUCC 2018 files as XTREME's "
                   "download_data.sh leaves them (bucc2018/<l>-en.{dev,test}.{<l>,en}, <l>-en.dev.gold)")

    def split_languages(self, split, languages):
        # Each language is paired with English; English itself is not a BUCC language.
        return [lang for lang in languages if lang != "en"] if split in self.splits else []

    def read_local(self, source, split, lang):
        d, stem = Path(source.root) / self.folder, f"{lang}-en.{split}"
        source_ids, source_texts = read_corpus(d / f"{stem}.{lang}")
        english_ids, english_texts = read_corpus(d / f"{stem}.en")
        gold_path = d / f"{stem}.gold"
        gold = None
        if split == "dev" or gold_path.is_file():  # dev gold is required: it tunes the threshold
            gold = read_gold(gold_path, source_ids, english_ids)
            if split == "dev" and not gold:
                raise DataError(gold_path, "no gold pairs; the dev gold tunes the mining threshold (LASER tasks/bucc/bucc.sh)")
        yield {"id": f"bucc2018-{split}-{lang}", "source_ids": source_ids, "source": source_texts,
               "english_ids": english_ids, "english": english_texts, "gold": gold}

    def local_languages(self, folder):
        found = {p.name.split("-", 1)[0] for p in folder.glob("*-en.dev.*") if p.suffix == "." + p.name.split("-", 1)[0]}
        return self.ordered(found)

    def cap_examples(self, examples, n):
        """Every gold sentence plus the first n other sentences of each side, in file order: a smaller
        comparable corpus with all of its parallel pairs (a denser one than BUCC's, so F1 is not BUCC's)."""
        (ex,) = examples
        if n <= 0 or not ex["gold"]:
            return examples
        in_gold = ({s for s, _ in ex["gold"]}, {t for _, t in ex["gold"]})
        sides = {}
        for side, keep in zip(("source", "english"), in_gold):
            others = iter(range(n))
            rows = [(i, t) for i, t in zip(ex[f"{side}_ids"], ex[side]) if i in keep or next(others, None) is not None]
            sides[f"{side}_ids"], sides[side] = [i for i, _ in rows], [t for _, t in rows]
        return [{**ex, **sides}]

    def read_hub(self, source, split, lang):
        raise ReproError(f"bucc2018: {self.hub_refusal}; set data.task.bucc2018.source = \"local\" and "
                         "data.task.bucc2018.dir")

    def file_metric(self, predictions, gold, lang):
        return bucc_f1(predictions, gold)

    def retrieve(self, examples, embed, settings, split, lang, state):
        """Mined pairs as prediction lines `srcID TAB enID`; the dev split sets the threshold for test."""

        (ex,) = examples
        candidates = bucc_mine(ex["source_ids"], ex["source"], embed(ex["source"]),
                               ex["english_ids"], ex["english"], embed(ex["english"]), k=settings["k"])
        thresholds = state.setdefault("thresholds", {})
        if split == "dev":
            gold = {tuple(pair) for pair in ex["gold"] or []}
            if not gold:
                raise ReproError(f"bucc2018 {lang}: the dev split has no gold pairs to tune the threshold on")
            threshold, f1, precision, recall = bucc_optimize_threshold(candidates, gold)
            thresholds[lang] = threshold
            # Tuned and measured on the same gold: an upper bound, never a test estimate.
            state.setdefault("oracle_dev", {})[lang] = {"f1": f1, "precision": precision, "recall": recall}
        elif lang in thresholds:
            threshold = thresholds[lang]
        else:
            raise ReproError(f"bucc2018 {lang}: no dev threshold; the dev split must be mined before {split}")
        return [f"{s}\t{t}" for s, t in bucc_extract(candidates, threshold)]

    def write_gold(self, path, examples) -> bool:
        (ex,) = examples
        if ex["gold"] is None:  # XTREME's test split: gold deleted, scored from the label folder if given
            return False
        write_text(path, "".join(f"{s}\t{t}\n" for s, t in ex["gold"]))
        return True
