"""The adapter model around a backbone: heads per head type, and decoding outputs into predictions.

Adapter compositions share one model per process (``modxfer.model.host``); a fully fine-tuned encoder gets a fresh model.
"""

from __future__ import annotations

import logging
from functools import lru_cache


from .backbone import Backbone, load_backbone
from ..tasks import Task

log = logging.getLogger(__name__)


class _NoIdleAdapterWarning(logging.Filter):
    """adapters warns "none are activated" from inside set_active_adapters itself, before the setup is active."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "none are activated" not in record.getMessage()


logging.getLogger("adapters.model_mixin").addFilter(_NoIdleAdapterWarning())


@lru_cache(maxsize=4)
def backbone(name: str) -> Backbone:
    return load_backbone(name)


def fresh_model(bb: Backbone):
    """A new adapter model of its own (loaded from disk, no adapters or heads): for fully fine-tuned encoders.

    Adapter compositions share the process's host instead (``modxfer.model.host``); nothing keeps a template copy."""
    from .host import load_model

    return load_model(bb.path)


from .heads import MEAN_POOLED_HEADS, add_head  # noqa: E402,F401  (re-exported: modeling is where callers look)


def decode(task: Task, out, features: list[dict]) -> list:
    """Turn one batch's outputs into per-feature predictions (label indices, tag lists, or QA logits)."""
    if task.head in ("classification", "multiple_choice"):
        return out.logits.float().argmax(-1).tolist()
    if task.head == "tagging":
        pred = out.logits.float().argmax(-1).tolist()
        res = []
        for p, f in zip(pred, features):
            # Each tag goes to its own word; words without a sub-word of their own (cut off by truncation, or
            # tokens the tokenizer drops) get the first label ("O" for NER) so sequences keep their length.
            tags = [task.labels[0]] * f["n_words"]
            for w, pos in zip(f.get("word_index", range(len(f["word_starts"]))), f["word_starts"]):
                tags[w] = task.labels[p[pos]]
            res.append(tags)
        return res
    if task.head == "extractive_qa":
        s, e = out.start_logits.float(), out.end_logits.float()
        return [(s[i, : len(f["input_ids"])].tolist(), e[i, : len(f["input_ids"])].tolist()) for i, f in enumerate(features)]
    raise ValueError(task.head)


def best_span(features: list[dict], logits: list[tuple[list, list]], rows: list[dict], n_best: int = 20,
              max_answer_length: int = 30) -> dict[str, str]:
    """SQuAD post-processing: the highest start+end score over all windows of each question."""
    best: dict[int, tuple[float, str]] = {}
    for f, (start, end) in zip(features, logits):
        offsets = f["offsets"]
        s_idx = sorted(range(len(start)), key=lambda i: -start[i])[:n_best]
        e_idx = sorted(range(len(end)), key=lambda i: -end[i])[:n_best]
        ctx = rows[f["example"]]["context"]
        for s in s_idx:
            for e in e_idx:
                if offsets[s] is None or offsets[e] is None or e < s or e - s + 1 > max_answer_length:
                    continue
                score = start[s] + end[e]
                if f["example"] not in best or score > best[f["example"]][0]:
                    best[f["example"]] = (score, ctx[offsets[s][0]: offsets[e][1]])
    return {rows[i]["id"]: best.get(i, (0.0, ""))[1] for i in range(len(rows))}
