"""base.toml and docs/configuration.md are generated from the declarations in repro/settings: they say
exactly what the declarations say (regenerate with `python -m repro.settings.render`)."""
import tomllib

from repro.settings.profile import defaults
from repro.settings.render import BASE_TOML, DOCS_PAGE, base_toml, docs_page

REGENERATE = "stale: regenerate with `python -m repro.settings.render`"


def test_base_toml_is_generated_from_the_declarations():
    assert BASE_TOML.read_text(encoding="utf-8") == base_toml(), f"repro/profiles/base.toml is {REGENERATE}"
    assert tomllib.loads(base_toml()) == defaults()


def test_the_configuration_page_is_generated_from_the_declarations():
    assert DOCS_PAGE.read_text(encoding="utf-8") == docs_page(), f"docs/configuration.md is {REGENERATE}"


def test_the_page_lists_every_key_with_its_default_and_rule():
    page = docs_page()
    for key in ("`lr` | `1e-05` | a learning rate > 0", "`squad_version` | `\"2.0\"` | one of 2.0, 1.1",
                "## `[target.task.NAME]`", "## `[executor.slurm]`", "`poll_s` | `15.0`"):
        assert key in page, key
