"""Length-grouped batches and dynamic padding: the second speed lever after bf16 (padding is wasted compute)."""

from __future__ import annotations

import numpy as np
import torch

MEGABATCH = 50  # batches per length-sorted pool while training: keeps order random but lengths similar


def train_batches(lengths: list[int], batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """Shuffle, sort by length within pools of ``MEGABATCH`` batches, then shuffle the batches."""
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(lengths))
    pool = batch_size * MEGABATCH
    batches = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start:start + pool], key=lambda i: -lengths[i])
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def micro_batches(batch: list[int], lengths: list[int], max_tokens: int | None) -> list[list[int]]:
    """``batch`` cut into the fewest near-equal consecutive parts whose padded size (examples x longest) is at most
    ``max_tokens``: a batch that fits stays whole. A training step's activation memory follows the padded tokens of
    one forward, so the few long batches run in parts whose weighted gradients add up to the whole batch's."""
    n = len(batch)
    if not max_tokens or n <= 1 or n * max(lengths[i] for i in batch) <= max_tokens:
        return [batch]
    for k in range(2, n + 1):
        parts = [list(p) for p in np.array_split(np.asarray(batch), k)]
        if max(len(p) * max(lengths[i] for i in p) for p in parts) <= max_tokens:
            break
    return [[int(i) for i in p] for p in parts]


def loss_units(feature: dict) -> int:
    """What the task's loss averages over: labelled tokens for tagging (-100 is ignored), else the example."""
    labels = feature.get("labels")
    if isinstance(labels, list):
        return sum(1 for label in labels if label != -100)
    return 0 if labels == -100 else 1


def eval_batches(lengths: list[int], batch_size: int, max_tokens: int | None = None) -> list[list[int]]:
    """Sorted by length so each batch pads to nearly its own length; optional token budget per batch."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches, cur = [], []
    for i in order:
        if cur and (len(cur) >= batch_size or (max_tokens and (len(cur) + 1) * lengths[cur[0]] > max_tokens)):
            batches.append(cur)
            cur = []
        cur.append(i)
    if cur:
        batches.append(cur)
    return batches


def pad(seqs: list[list[int]], value: int) -> torch.Tensor:
    width = max(len(s) for s in seqs)
    out = torch.full((len(seqs), width), value, dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = torch.tensor(s, dtype=torch.long)
    return out


def collate(features: list[dict], pad_id: int) -> dict[str, torch.Tensor]:
    """Pad ``input_ids`` (2-D, or 3-D for multiple choice) to the batch's longest sequence; stack labels."""
    batch: dict[str, torch.Tensor] = {}
    first = features[0]
    if isinstance(first["input_ids"][0], list):  # multiple choice: [n_choices, len]
        flat = [c for f in features for c in f["input_ids"]]
        ids = pad(flat, pad_id).view(len(features), len(first["input_ids"]), -1)
    else:
        ids = pad([f["input_ids"] for f in features], pad_id)
    batch["input_ids"] = ids
    batch["attention_mask"] = (ids != pad_id).long()
    if "labels" in first:
        if isinstance(first["labels"], list):
            batch["labels"] = pad([f["labels"] for f in features], -100)[:, : ids.shape[-1]]
        else:
            batch["labels"] = torch.tensor([f["labels"] for f in features], dtype=torch.long)
    for key in ("start_positions", "end_positions"):
        if key in first:
            batch[key] = torch.tensor([f[key] for f in features], dtype=torch.long)
    return batch
