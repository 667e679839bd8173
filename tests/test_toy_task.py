"""A target task is one module: a toy task registered from a module outside the package is planned,
trained, predicted, scored, aggregated and structure-checked with no other edit anywhere."""
import importlib.util
import json
from pathlib import Path

import pytest

from repro.config import load_config
from repro.engine import run_stages, stage_dir
from repro.plan import build_plan
from repro.scoring.xtreme import score_folders
from repro.tasks import REGISTRY, tasks_with_role
from repro.verify import verify_results

TOY_MODULE = Path(__file__).parent / "fixtures" / "toy_task" / "toy_sentiment.py"


@pytest.fixture
def toy_task():
    spec = importlib.util.spec_from_file_location("toy_sentiment", TOY_MODULE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # @register adds the task; nothing else is edited
    yield REGISTRY[module.NAME]
    del REGISTRY[module.NAME]
    from repro.synthetic.formats import WRITERS
    WRITERS.pop(module.NAME, None)


def structure_table() -> dict:
    definition = {"quantity": "all_cells_present", "encoder": None, "baseline": None, "encoders": "config",
                  "targets": "config", "split": "dev", "selection_split": None, "language": None,
                  "aggregation": "all", "qa_metric": "em_f1_mean", "metric": None}
    return {"profile": "toy", "description": "structure of a run with a task the package never heard of",
            "figures": [{"id": "toy_cells", "claim": "every configured cell is present", "check": "structure",
                         "definition": definition,
                         "provenance": {"source": "tests/test_toy_task.py", "confidence": "inferred",
                                        "note": "structure only"}}]}


def test_a_registered_module_is_the_whole_task(toy_task, tmp_path):
    assert toy_task in tasks_with_role("target")
    config = load_config("smoke", ["intermediate.tasks=[]", f'target.tasks=["{toy_task.name}", "xnli"]',
                                   "target.encoders=[]", "synthetic.train_size=48", "synthetic.eval_size=16",
                                   "target.defaults.epochs=1.0", 'synthetic.languages=["en", "xa"]'])
    plan = build_plan(config)
    ids = {s.id for s in plan.stages}
    assert {"prepare/toysent", "target/baseline__toysent-s1", "evaluate/baseline__toysent-s1"} <= ids
    run_stages(tmp_path, plan.stages)

    target_dir = stage_dir(tmp_path, next(s for s in plan.stages if s.id == "target/baseline__toysent-s1"))
    predictions = (target_dir / "predictions" / "dev" / "toysent" / "test-xa.tsv").read_text().split()
    assert len(predictions) == 16 and set(predictions) <= set(toy_task.labels)

    results_path = stage_dir(tmp_path, plan.aggregate) / "results.json"
    results = json.loads(results_path.read_text())
    assert results["targets"] == ["xnli", "toysent"]  # registry order: XTREME's tasks, then the newcomer
    cell = results["splits"]["dev"]["cells"]["baseline"]["toysent"]
    assert set(cell["languages"]) == {"en", "xa"} and 0 <= cell["mean"] <= 100
    assert results["splits"]["test"]["cells"]["baseline"]["toysent"]["n"] == 1  # gold from labels/

    # The folder scorer knows it too, and it is not part of the XTREME score (no group).
    evaluate_dir = stage_dir(tmp_path, next(s for s in plan.stages if s.id == "evaluate/baseline__toysent-s1"))
    scored = score_folders(str(target_dir / "predictions" / "dev"), str(evaluate_dir / "labels" / "dev"),
                           tasks_with_role("target"), languages={"toysent": ["en", "xa"]})
    assert scored["toysent"]["avg_metric"] == pytest.approx(cell["mean"])
    assert "all_task" not in scored

    expected = tmp_path / "toy-expected.json"
    expected.write_text(json.dumps(structure_table()))
    assert verify_results(results_path, expected, config, tmp_path / "verify.json") == 0
