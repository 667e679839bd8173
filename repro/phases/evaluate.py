"""Phase `evaluate`: score one target cell's predictions with the XTREME scorer (the same code that
`python -m repro score` runs on leaderboard folders), per split, against gold in XTREME's layout."""
from __future__ import annotations

import shutil

from repro.atomic import write_json
from repro.engine import Stage
from repro.phases.common import examples_path, prepared_languages, read_examples
from repro.scoring.xtreme import score_task
from repro.tasks import get_task


def evaluate_stage(splits: list[str], normalization: dict, target_stage: Stage, prepared: Stage, task_name: str) -> Stage:
    """splits: target.splits; normalization: the answer normalisation language of each language
    (normalization_languages)."""
    task = get_task(task_name)

    def run(ctx):
        prep, cell = ctx.dep(prepared.id), ctx.dep(target_stage.id)
        scores = {}
        for split in splits:
            pred_dir = cell / "predictions" / split
            if not (pred_dir / task_name).is_dir():
                continue
            gold_dir = ctx.out / "labels" / split
            langs = []
            for lang in prepared_languages(prep, split):
                gold = gold_dir / task_name / f"test-{lang}.{task.ext}"
                from_labels = split == "test" or (split == "dev" and task.dev_is_test)
                if from_labels and (prep / "test-labels" / gold.name).is_file():
                    gold.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(prep / "test-labels" / gold.name, gold)
                    langs.append(lang)
                elif task.write_gold(gold, read_examples(examples_path(prep, split, lang))):
                    langs.append(lang)
            if langs:  # a split without gold (e.g. XTREME test files) is predicted but not scored here
                scores[split] = score_task(task, str(pred_dir), str(gold_dir), languages=langs,
                                           normalization_language=normalization)
        write_json(ctx.out / "scores.json", scores)
        return {"scores": scores}

    return Stage("evaluate", target_stage.name, {"task": task_name, "splits": splits}, run,
                 [target_stage, prepared], versions=(), describe=f"score {target_stage.id} with the XTREME scorer")


def normalization_languages(data_source: str, synthetic_languages: list[str]) -> dict:
    """The smoke world's pseudo-languages have no answer normalisation of their own (MLQA's is per
    language): they are scored as English. Real language codes keep their own."""
    if data_source == "synthetic":
        return {lang: "en" for lang in synthetic_languages}
    return {}
