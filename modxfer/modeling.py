"""The adapter model around a backbone: heads per head type, and decoding outputs into predictions.

Adapter compositions share one model per process (``modxfer.host``); a fully fine-tuned encoder gets a fresh model.
"""

from __future__ import annotations

import logging
from functools import lru_cache


from .backbone import Backbone, load_backbone, mean_pool
from .tasks import Task

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

    Adapter compositions share the process's host instead (``modxfer.host``); nothing keeps a template copy."""
    from .host import load_model

    return load_model(bb.path)


def _mean_pooled(cls):
    """A sentence-level head reading the mean of the last hidden states instead of the first token's.

    E5-style encoders are trained to be mean-pooled; their first-token state carries little of the sentence, and a
    frozen encoder cannot learn to put it there. Measured on MNLI (512 examples, 2 epochs): see benchmarks/README.md.
    """

    class MeanPooled(cls):
        def forward(self, outputs, cls_output=None, attention_mask=None, return_dict=False, **kwargs):
            if cls_output is None:
                hidden = outputs[0]
                mask = attention_mask if attention_mask is not None else hidden.new_ones(hidden.shape[:2])
                cls_output = mean_pool(hidden, mask.view(hidden.shape[:2]))
            return super().forward(outputs, cls_output=cls_output, attention_mask=attention_mask,
                                   return_dict=return_dict, **kwargs)

    MeanPooled.__name__ = f"MeanPooled{cls.__name__}"
    return MeanPooled


def _heads():
    from adapters.heads import ClassificationHead, MultipleChoiceHead

    return {"mean_classification": _mean_pooled(ClassificationHead),
            "mean_multiple_choice": _mean_pooled(MultipleChoiceHead)}


MEAN_POOLED_HEADS = _heads()


def add_head(model, task: Task, name: str) -> None:
    if task.head == "classification":
        model.add_custom_head("mean_classification", name, num_labels=len(task.labels),
                              id2label=dict(enumerate(task.labels)))
    elif task.head == "multiple_choice":
        model.add_custom_head("mean_multiple_choice", name, num_choices=task.num_choices)
    elif task.head == "tagging":
        model.add_tagging_head(name, num_labels=len(task.labels), id2label=dict(enumerate(task.labels)))
    elif task.head == "extractive_qa":
        model.add_qa_head(name)
    else:
        raise ValueError(f"task {task.name} ({task.head}) has no trainable head")


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
