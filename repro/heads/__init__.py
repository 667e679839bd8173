"""Heads: how examples of one shape become features, which transformers model head trains on them,
how its outputs become predictions, and how predictions and gold are written in XTREME's layout."""
from __future__ import annotations

from repro.heads.base import Head
from repro.heads.classification import ClassificationHead
from repro.heads.mlm import MLMHead
from repro.heads.multiple_choice import MultipleChoiceHead
from repro.heads.retrieval import RetrievalHead
from repro.heads.span_qa import SpanQAHead
from repro.heads.tagging import TaggingHead

HEADS: dict[str, Head] = {
    "classification": ClassificationHead(),
    "tagging": TaggingHead(),
    "multiple_choice": MultipleChoiceHead(),
    "span_qa": SpanQAHead(),
    "mlm": MLMHead(),
    "retrieval": RetrievalHead(),
}


def get_head(name: str) -> Head:
    if name not in HEADS:
        raise KeyError(f"no head {name!r}; known: {', '.join(HEADS)}")
    return HEADS[name]
