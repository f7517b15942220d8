"""Batched prediction with whatever composition is active: label ids, tag sequences, QA answers, or embeddings."""

from __future__ import annotations

import torch

from . import precision as prec
from .backbone import mean_pool
from .batching import collate, eval_batches
from .features import featurize, length
from .forward import Forward
from .modeling import best_span, decode
from ..tasks import Task


def references(task: Task, rows: list[dict]):
    if task.head in ("classification", "multiple_choice"):
        return [int(r["label"]) for r in rows]
    if task.head == "tagging":
        return [list(r["tags"]) for r in rows]
    if task.head == "extractive_qa":
        return {r["id"]: list(r["answers"]["text"]) for r in rows}
    raise ValueError(task.head)


@torch.no_grad()
def predict(model, task: Task, rows: list[dict], head: str | None, *, tokenizer, precision: str = "fp32",
            batch_size: int = 64, max_length: int = 128, features: list[dict] | None = None, device: str = "cpu",
            forward: Forward | None = None):
    """Predictions in row order, in the form ``metrics.score`` takes for the task's metric.

    ``model`` is a standalone model or the host (``modxfer.model.host.Host``); ``forward`` says how inputs reach it (with a
    trunk, the host's upper layers read cached lower-layer states)."""
    feats = features if features is not None else featurize(task, rows, tokenizer, max_length)
    fwd = forward if forward is not None else Forward.plain(tokenizer.pad_token_id, precision, device)
    prepared = fwd.prepare(feats)
    out: list = [None] * len(feats)
    for idx in eval_batches([length(f) for f in feats], batch_size):
        res = fwd(model, fwd.batch(prepared, idx), head)
        for i, p in zip(idx, decode(task, res, [feats[i] for i in idx])):
            out[i] = p
    if task.head == "extractive_qa":
        return best_span(feats, out, rows)
    return out


@torch.no_grad()
def embed(model, texts: list[str], *, tokenizer, layer: int = -1, precision: str = "fp32", batch_size: int = 64,
          max_length: int = 128, device: str = "cpu") -> torch.Tensor:
    """Mean-pooled hidden states of ``layer`` with the active adapters, float32, in input order."""
    from .host import Host

    if isinstance(model, Host):
        model = model.model
    ids = tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]
    model.eval()
    out = None
    for idx in eval_batches([len(x) for x in ids], batch_size):
        batch = collate([{"input_ids": ids[i]} for i in idx], tokenizer.pad_token_id)
        batch = {k: v.to(device) for k, v in batch.items()}
        with prec.autocast(precision, device):
            # The encoder's own output, whatever head is active: retrieval reads hidden states, not predictions.
            res = model.base_model(**batch, output_hidden_states=True) if hasattr(model, "heads") else \
                model(**batch, output_hidden_states=True)
        hidden = res.hidden_states[layer]
        pooled = mean_pool(hidden.float(), batch["attention_mask"]).cpu()
        if out is None:
            out = torch.empty(len(ids), pooled.shape[-1])
        out[idx] = pooled
    return out


def retrieval_predictions(src: torch.Tensor, tgt: torch.Tensor) -> list[int]:
    """Cosine nearest neighbour of each source vector among the targets."""
    src = torch.nn.functional.normalize(src, dim=-1)
    tgt = torch.nn.functional.normalize(tgt, dim=-1)
    return (src @ tgt.T).argmax(-1).tolist()
