"""Task-adapted models for the model-based measures (TaskEmb, CKA): one target-only adapter + head per task.

Adapters are trained with :func:`modxfer.train` (or reused from the store: the same request trains once) and loaded
through :class:`modxfer.evaluation.Evaluator`, so the measures see exactly the models a sweep would build.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from ..model.backbone import mean_pool
from ..composition import Composition


class AdaptedModels:
    """``get(task)`` -> (model with the task's adapter and head active, head name, artifact)."""

    def __init__(self, settings, *, store=None, data_dir=None, progress: bool = False):
        from ..evaluation.evaluator import Evaluator

        self.settings, self.store, self.data_dir, self.progress = settings, store, data_dir, progress
        self.evaluator = Evaluator(settings.base, precision="fp32", store=store, data_dir=data_dir)

    @property
    def tokenizer(self):
        return self.evaluator.bb.tokenizer

    @property
    def backbone(self):
        return self.evaluator.bb

    def get(self, task: str):
        from ..training import train

        artifact = train(task, data_dir=self.data_dir, store=self.store, progress=self.progress,
                         **dataclasses.asdict(self.settings))
        comp = Composition(task)
        pieces = self.evaluator.artifacts_for(comp, self.settings)
        model, head = self.evaluator.model_for(comp, pieces)
        # The shared host (one backbone, many adapters) has the composition activated; the measures run its whole
        # encoder, never the cached-trunk path, since they need every layer's output.
        return getattr(model, "model", model), head, artifact


@torch.no_grad()
def layer_representations(model, texts: list[str], tokenizer, *, max_length: int = 128,
                          batch_size: int = 32) -> np.ndarray:
    """Mean-pooled hidden states of every encoder layer (1..L) with the active adapters: ``(L, n, H)`` float64.

    Runs the encoder without the head: a multiple-choice head cannot read single sentences.
    """
    model.eval()
    device = next(model.parameters()).device
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # similar lengths per batch: less padding
    out = None
    for s in range(0, len(order), batch_size):
        idx = order[s:s + batch_size]
        enc = tokenizer([texts[i] for i in idx], padding=True, truncation=True, max_length=max_length,
                        return_tensors="pt")
        mask = enc["attention_mask"].to(device)
        res = model.base_model(input_ids=enc["input_ids"].to(device), attention_mask=mask, output_hidden_states=True)
        pooled = torch.stack([mean_pool(h.float(), mask) for h in res.hidden_states[1:]]).cpu().double().numpy()
        if out is None:
            out = np.empty((pooled.shape[0], len(texts), pooled.shape[-1]))
        out[:, idx] = pooled
    return out


def frozen_representations(model, texts: list[str], tokenizer, *, max_length: int = 128) -> np.ndarray:
    """``layer_representations`` of the backbone alone: ``model`` with its adapters switched off for the call."""
    setup = model.active_adapters
    try:
        model.set_active_adapters(None)
        return layer_representations(model, texts, tokenizer, max_length=max_length)
    finally:
        model.set_active_adapters(setup)
