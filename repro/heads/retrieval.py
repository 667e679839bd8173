"""Retrieval (BUCC, Tatoeba): nothing is trained; the task's `retrieve` hook turns sentence embeddings
into prediction lines (repro/phases/retrieve.py), scored as one item per line."""
from __future__ import annotations

from repro.heads.base import Head


class RetrievalHead(Head):
    model_class = None  # scored straight from the encoder

    def featurize(self, task, examples, tokenizer, settings, train):
        raise TypeError(f"{task.name}: a retrieval task is not trained")
