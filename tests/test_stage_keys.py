"""The stage keys of every shipped profile (and of variants that switch on the inputs keyed only when
set) are the recorded ones: a refactor of the configuration must not re-run anybody's stages.
Regenerate the record (tests/stage_keys.py) only for a change that is meant to re-run stages."""
import json

import pytest

from stage_keys import FIXTURE, record


@pytest.fixture(scope="module")
def recomputed(tmp_path_factory):
    return record(tmp_path_factory.mktemp("stage-keys"))


RECORDED = json.loads(FIXTURE.read_text())


@pytest.mark.parametrize("case", sorted(RECORDED))
def test_stage_keys_are_the_recorded_ones(case, recomputed):
    if case not in recomputed:
        pytest.skip(f"{case}: its data folder is not on this machine")
    got, want = recomputed[case], RECORDED[case]
    assert sorted(got) == sorted(want), "stages appeared or vanished"
    changed = sorted(s for s in want if got[s] != want[s])
    assert not changed, f"{len(changed)} stage keys changed, e.g. {changed[:5]}"
