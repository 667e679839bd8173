"""Every declared key (repro/settings) has a rule, and a value that breaks it is refused at load time
(so before any stage runs, also with --dry-run) with one line naming the key, the value and what is
allowed."""
import re

import pytest

from repro.cli import main
from repro.config import PROFILE_DIR, load_config
from repro.errors import ConfigError
from repro.settings.check import RULES
from repro.settings.profile import all_keys
from repro.settings.rules import Rule, show

KEYS = [k.path for k in all_keys()]
# A per-task key (data.task.*.dir) is tried in one task's table; the smoke profile trains and
# transfers every task, so any task name will do.
EXAMPLE_TASK = "xquad"


def test_every_declared_key_has_a_rule_and_a_meaning():
    for k in all_keys():
        assert isinstance(k.rule, Rule) and k.meaning.strip() and "\n" not in k.meaning, k.path
    assert set(RULES) == set(KEYS)


@pytest.mark.parametrize("key", KEYS)
def test_a_violating_value_is_refused_naming_key_and_value(key):
    bad = RULES[key].bad
    key = key.replace(".*.", f".{EXAMPLE_TASK}.")
    with pytest.raises(ConfigError) as e:
        load_config("smoke", [f"{key}={toml(bad)}"])
    message = str(e.value)
    assert key in message and "\n" not in message
    assert show(bad) in message or repr(bad) in message, message  # a wrong type: named by the type check


@pytest.mark.parametrize("override,allowed", [('data.task.ccg.source="s3"', "one of hub, local"),
                                              ("data.task.ccg.dir=3", "must be str")])
def test_a_per_task_data_source_is_checked(override, allowed):
    with pytest.raises(ConfigError, match=re.escape(allowed)) as e:
        load_config("smoke", [override])
    assert "data.task.ccg" in str(e.value)


def toml(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ",".join(toml(v) for v in value) + "]"
    return show(value)


# The values a new user mistyped (issue 15): each used to run stages first or be accepted silently.
ISSUE_CASES = {
    "intermediate.defaults.lr=-1": "a learning rate > 0",
    "intermediate.defaults.batch_size=0": "an integer ≥ 1",
    "intermediate.defaults.grad_accum=0": "an integer ≥ 1",
    "run.checkpoint_every=0": "an integer ≥ 1",
    'retrieval.pooling="max"': "one of mean, cls",
    "retrieval.bucc_k=0": "an integer ≥ 1",
    "retrieval.batch_size=0": "an integer ≥ 1",
    'run.device="tpu"': "a device torch names",
    "intermediate.defaults.epochs=-1": "> 0",
    "intermediate.defaults.warmup_proportion=2.0": "[0, 1]",
    'intermediate.sampling="foo"': "one of proportional, temperature",
    "target.defaults.doc_stride=0": "an integer ≥ 1",
    'aggregate.split="train"': "one of dev, test",
    # cross-field rules
    "run.seeds=[3,3]": "no repeats",
    "retrieval.layer=25": "0..24",
    "retrieval.bucc_layer=40": "0..24",
    "target.defaults.doc_stride=45": "max_seq_length - max_query_length - 4 = 44",
    "intermediate.task.squad.max_seq_length=200": "at most 128",
    "target.task.xnli.warmup_proportion=-0.5": "[0, 1]",
    "retrieval.max_seq_length=129": "at most 128",
    'target.splits=["test"]': "a split the target phase predicts",
    'data.source="local"': 'an existing directory when data.source = "local"',
    'synthetic.languages=["xa","xb"]': 'includes "en"',
}


@pytest.mark.parametrize("override", sorted(ISSUE_CASES))
def test_issue_values_fail_the_dry_run_with_one_line_and_exit_2(override, tmp_path, capsys):
    code = main(["reproduce", "--all", "--dry-run", "--run-dir", str(tmp_path / "run"), "--set", override])
    err = capsys.readouterr().err
    key = override.split("=")[0]
    assert code == 2, err
    assert re.fullmatch(r"error: [^\n]+\n", err), err
    assert key in err and ISSUE_CASES[override] in err, err
    assert "Traceback" not in err and not (tmp_path / "run").exists()


def test_a_cross_field_rule_names_the_per_task_key_it_came_from(capsys):
    with pytest.raises(ConfigError, match=r"^target\.task\.xquad\.doc_stride = 50 "):
        load_config("smoke", ["target.task.xquad.doc_stride=50"])
    # A stride that only span-QA tasks read is not held against a classification task.
    load_config("smoke", ["target.task.xnli.doc_stride=50"])


@pytest.mark.parametrize("profile", sorted(p.stem for p in PROFILE_DIR.glob("*.toml") if p.stem != "base"))
def test_every_shipped_profile_passes_its_rules(profile):
    assert load_config(profile)["profile"] == profile
