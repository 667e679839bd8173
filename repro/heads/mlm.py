"""Masked language modelling, as an extra task of the intermediate phase: the paper's alternative of
continuing multilingual MLM during intermediate-task training (jiant's `mlm_simple` task: a plain-text
file, one example per line; metric perplexity).

Masking follows BERT/RoBERTa (Devlin et al. 2019, section 3.1): of each line's non-special positions
max(1, round(15%)) are chosen (the count rule of BERT's create_pretraining_data.py, so every line trains
something); a chosen position becomes <mask> with probability 0.8, a random ordinary token with 0.1, and
stays itself with 0.1; the loss is taken on chosen positions only. jiant masks each batch on the fly
(jiant/tasks/lib/templates/mlm.py); here the masks are drawn once, at featurisation, from a generator
seeded with the stage's seed (static masking, as the original BERT). A run killed and resumed therefore
trains on exactly the same masked inputs: the training checkpoint records positions in the data order,
and the masks are a pure function of (text, tokenizer, seed).
"""
from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from transformers import AutoModelForMaskedLM

from repro import progress
from repro.attention import attention_kernels
from repro.heads.base import Head

MLM_PROBABILITY = 0.15
MASK, RANDOM = 0.8, 0.1  # of the chosen positions; the remaining 0.1 keep their token


class MLMHead(Head):
    model_class = AutoModelForMaskedLM

    def num_labels(self, task):
        return None

    def featurize(self, task, examples, tokenizer, settings, train):
        enc = tokenizer([ex["text"] for ex in examples], truncation=True, max_length=settings["max_seq_length"])
        special = set(tokenizer.all_special_ids)
        ordinary = torch.tensor([i for i in range(len(tokenizer)) if i not in special])
        g = torch.Generator().manual_seed(int(settings["mlm_seed"]))
        feats = []
        for i, ids in enumerate(enc["input_ids"]):
            candidates = [k for k, t in enumerate(ids) if t not in special]
            if not candidates:  # nothing to predict (cannot happen for non-blank text; kept safe)
                continue
            n = max(1, round(len(candidates) * MLM_PROBABILITY))
            chosen = torch.randperm(len(candidates), generator=g)[:n].tolist()
            action = torch.rand(n, generator=g).tolist()
            replacement = ordinary[torch.randint(len(ordinary), (n,), generator=g)].tolist()
            masked, labels = list(ids), [-100] * len(ids)
            for c, a, r in zip(chosen, action, replacement):
                pos = candidates[c]
                labels[pos] = ids[pos]
                if a < MASK:
                    masked[pos] = tokenizer.mask_token_id
                elif a < MASK + RANDOM:
                    masked[pos] = r
            feats.append({"input_ids": masked, "labels": labels, "example": i})
        return feats

    def collate(self, features, pad_id):
        batch = super().collate(features, pad_id)
        longest = batch["input_ids"].shape[1]
        batch["labels"] = torch.tensor([f["labels"] + [-100] * (longest - len(f["labels"])) for f in features])
        return batch

    def predict(self, task, model, examples, features, settings, pad_id, device, lang="en"):
        """Per line: summed negative log-likelihood of its masked tokens, their count, and how many the
        model restores exactly."""
        out = {}
        model.eval()
        with torch.inference_mode(), attention_kernels(device), progress.bar(len(features), "predict", unit="line") as bar:
            for i in range(0, len(features), settings["eval_batch_size"]):
                chunk = features[i:i + settings["eval_batch_size"]]
                batch = {k: v.to(device) for k, v in self.collate(chunk, pad_id).items()}
                logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.float()
                labels = batch["labels"]
                nll = F.cross_entropy(logits.transpose(1, 2), labels, ignore_index=-100, reduction="none")
                chosen = labels != -100
                correct = (logits.argmax(-1) == labels) & chosen
                for j, f in enumerate(chunk):
                    out[examples[f["example"]]["id"]] = {"nll": float(nll[j][chosen[j]].sum()),
                                                         "n": int(chosen[j].sum()), "correct": int(correct[j].sum())}
                bar.update(len(chunk))
        return out

    def score(self, task, examples, predictions):
        rows = [predictions[ex["id"]] for ex in examples if ex["id"] in predictions]
        n = sum(r["n"] for r in rows)
        if not n:
            return {"perplexity": float("nan"), "masked_accuracy": float("nan"), "masked_tokens": 0}
        return {"perplexity": math.exp(sum(r["nll"] for r in rows) / n),
                "masked_accuracy": 100 * sum(r["correct"] for r in rows) / n, "masked_tokens": n}


def attach_to_encoder(head_model, pretrained: str | None = None, revision: str = "main") -> str:
    """Makes a head model built around the shared encoder a proper MLM head: ties the output projection to
    the shared encoder's input embeddings again (XLM-R ties them; after MultiHeadModel.build swapped the
    encoder in, the decoder still points at the discarded copy's embeddings) and, when the pretrained
    checkpoint has one, starts from its own LM head instead of a random one (continuing MLM means
    continuing with the pretrained head). Returns "pretrained" or "new"."""
    source = "new"
    if pretrained is not None:
        kwargs = {} if Path(pretrained).is_dir() else {"revision": revision}
        reference, info = AutoModelForMaskedLM.from_pretrained(pretrained, output_loading_info=True,
                                                               use_safetensors=True, **kwargs)
        if not any(k.startswith("lm_head.") for k in info.get("missing_keys", [])):
            head_state = {k: v for k, v in reference.lm_head.state_dict().items() if not k.startswith("decoder.")}
            head_model.lm_head.load_state_dict(head_state, strict=False)
            source = "pretrained"
        del reference
    head_model.tie_weights()
    return source
