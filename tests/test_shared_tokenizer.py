"""load_tokenizer shares one parsed tokenizer between encoder folders whose tokenizer files are
byte-identical (every stage saves the same ones), and loads anew when a file differs."""
import shutil

from repro.modeling import TINY_MODEL, load_tokenizer


def test_identical_tokenizer_files_share_one_load_and_a_change_loads_anew(tmp_path):
    a, b, c = (shutil.copytree(TINY_MODEL, tmp_path / n) for n in "abc")
    assert load_tokenizer(a) is load_tokenizer(b)
    config = (c / "tokenizer_config.json").read_text()
    (c / "tokenizer_config.json").write_text(config.replace('"model_max_length": 128', '"model_max_length": 77'))
    other = load_tokenizer(c)
    assert other is not load_tokenizer(a) and other.model_max_length == 77
    assert load_tokenizer(a)("a b c")["input_ids"] == other("a b c")["input_ids"]
