"""TaskEmb (Vu et al. 2020): the diagonal empirical Fisher information of a task's loss, compared by cosine.

For a model trained on the task (its target-only adapter and head on the frozen backbone), each example of a fixed
sample of English training inputs contributes the squared gradient of its loss (gold labels: the *empirical*
Fisher) with respect to

  adapter  the adapter's parameters: the same shapes for every task with the same adapter config, and initialised
           from the same seed, so position i means the same thing in two tasks' vectors;
  layers   each encoder layer's output, summed over tokens (Vu et al.'s layer-output features): the backbone's
           own coordinates, shared by all tasks.

The heads are left out of the comparison: their shapes differ between tasks (3 NLI labels, 7 NER tags, QA spans).
Each component is L2-normalised and the similarity of two tasks is the mean of the components' cosines (the cosine
of the concatenated normalised components). Fisher values are squares, so similarities lie in [0, 1].

The bootstrap resamples blocks of examples (``BLOCKS`` equal blocks of the hash-ranked, hence exchangeable,
sample): keeping one summed vector per block instead of one per example bounds memory at BLOCKS x parameters,
and every cosine is computed from BLOCKS x BLOCKS Gram matrices.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import torch

from .stats import rng_for, resample_weights

BLOCKS = 16
COMPONENTS = ("adapter", "layers")


@dataclass(frozen=True, eq=False)
class FisherBlocks:
    """Per-block sums of per-example squared gradients, per component (``(blocks, dims)`` float64 arrays)."""

    task: str
    blocks: dict[str, np.ndarray] = field(repr=False)
    examples: int = 0

    @property
    def diagonal(self) -> dict[str, np.ndarray]:
        """The diagonal empirical Fisher per component: the mean over examples."""
        return {c: b.sum(0) / max(self.examples, 1) for c, b in self.blocks.items()}


def _adapter_parameters(model, name: str) -> list[tuple[str, torch.nn.Parameter]]:
    """The adapter's parameters under names with the adapter's own name taken out, sorted: aligned across tasks."""
    out = [(n.replace(f".{name}.", ".{adapter}."), p) for n, p in model.named_parameters()
           if f".{name}." in n and not n.startswith("heads.")]
    return sorted(out, key=lambda x: x[0])


def fisher_blocks(model, head: str, task, rows: list[dict], tokenizer, *, max_length: int = 128,
                  blocks: int = BLOCKS) -> FisherBlocks:
    """Squared per-example loss gradients of ``model`` (``head`` active) on ``rows``, summed per block."""
    from ..model.batching import collate
    from ..model.features import featurize

    feats = featurize(task, rows, tokenizer, max_length, train=True)
    params = _adapter_parameters(model, head)
    if not params:
        raise ValueError(f"model has no parameters of adapter {head!r}")
    tensors = [p for _, p in params]
    flags = [p.requires_grad for p in tensors]
    n_blocks = max(1, min(blocks, len(feats)))
    sums: dict[str, np.ndarray] = {}
    device = tensors[0].device
    was_training = model.training
    model.eval()  # no dropout: the Fisher of the model as it predicts
    # The backbone is frozen, so layer outputs below the first adapter would not be part of the graph: make the
    # embeddings' output a leaf that requires grad, and every layer's output gets a gradient.
    hook = model.base_model.embeddings.register_forward_hook(lambda m, i, o: o.detach().requires_grad_(True))
    try:
        for p in tensors:
            p.requires_grad_(True)
        for i, f in enumerate(feats):
            batch = {k: v.to(device) for k, v in collate([f], tokenizer.pad_token_id).items()}
            out = model(**batch, head=head, output_hidden_states=True)
            hidden = list(out.hidden_states[1:]) if out.hidden_states is not None else []
            grads = torch.autograd.grad(out.loss, tensors + hidden, allow_unused=True)
            pg = torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1)
                            for g, p in zip(grads[:len(tensors)], tensors)])
            parts = {"adapter": pg.double().pow(2)}
            if hidden:
                # sum over choices and tokens, then square: the Fisher of each layer's output features
                parts["layers"] = torch.cat([g.sum(dim=tuple(range(g.dim() - 1))) for g in grads[len(tensors):]
                                             if g is not None]).double().pow(2)
            b = i * n_blocks // len(feats)
            for c, v in parts.items():
                sums.setdefault(c, np.zeros((n_blocks, v.numel())))[b] += v.detach().cpu().numpy()
    finally:
        hook.remove()
        for p, flag in zip(tensors, flags):
            p.requires_grad_(flag)
        model.train(was_training)
    return FisherBlocks(task.name, sums, len(feats))


def _component_cosines(grams: dict[tuple[str, str], np.ndarray], wa: np.ndarray, wb: np.ndarray,
                       a: str, b: str) -> np.ndarray:
    dot = np.einsum("bi,ij,bj->b", wa, grams[(a, b)], wb)
    na = np.einsum("bi,ij,bj->b", wa, grams[(a, a)], wa)
    nb = np.einsum("bi,ij,bj->b", wb, grams[(b, b)], wb)
    with np.errstate(all="ignore"):
        return dot / np.sqrt(na * nb)


def taskemb_matrix(fisher: Mapping[str, FisherBlocks], intermediates: Sequence[str], targets: Sequence[str], *,
                   n_resamples: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray | None]:
    """(values ``(I, T)``, block-bootstrap replicates ``(n_resamples, I, T)``) of TaskEmb cosines."""
    tasks = list(dict.fromkeys((*intermediates, *targets)))
    comps = [c for c in COMPONENTS if all(c in fisher[t].blocks for t in tasks)]
    for c in comps:
        dims = {fisher[t].blocks[c].shape[1] for t in tasks}
        if len(dims) > 1:
            raise ValueError(f"TaskEmb {c} vectors differ in size across tasks ({sorted(dims)}): "
                             "train every task with the same adapter config and backbone")
    needed = {(a, b) for a in intermediates for b in targets} | {(t, t) for t in tasks}
    grams = {c: {(a, b): fisher[a].blocks[c] @ fisher[b].blocks[c].T for a, b in needed} for c in comps}

    def matrix(weights: Mapping[str, np.ndarray]) -> np.ndarray:
        return np.stack([np.stack([np.mean([_component_cosines(grams[c], weights[a], weights[b], a, b)
                                            for c in comps], axis=0) for b in targets], -1)
                         for a in intermediates], 1)

    values = matrix({t: np.ones((1, len(fisher[t].blocks[comps[0]]))) for t in tasks})[0]
    if n_resamples < 2:
        return values, None
    weights = {t: resample_weights(len(fisher[t].blocks[comps[0]]), n_resamples, rng_for(seed, "taskemb", t))
               for t in tasks}
    return values, matrix(weights)
