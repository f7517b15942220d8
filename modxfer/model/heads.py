"""The prediction heads modxfer puts on an adapter model, one per head type (``add_head``), and the sentence-level
ones that read the mean of the last hidden states (``MEAN_POOLED_HEADS``, ``mean_pool``), registered on every adapter
model modxfer builds: the host's, fully fine-tuned encoders, and the meta-device copies that check stored weights."""
from __future__ import annotations

import torch

from ..tasks import Task


def mean_pool(hidden_states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean over the positions where ``attention_mask`` is 1 (E5 pooling: <s> and </s> included)."""
    mask = attention_mask.unsqueeze(-1).to(hidden_states.dtype)
    return (hidden_states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)


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
