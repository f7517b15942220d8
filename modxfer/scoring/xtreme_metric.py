"""modxfer's XTREME metrics as a Hugging Face ``evaluate`` module, for pipelines built on ``evaluate``.

This file is a local metric script: ``evaluate.load`` reads it from disk (no Hub access), and each configuration is
a task name (or a metric kind) whose official XTREME metric ``modxfer.scoring.metrics`` computes::

    import evaluate
    from modxfer import xtreme_metric

    panx = evaluate.load(xtreme_metric.__file__, "panx")        # or: xtreme_metric.load("panx")
    panx.add_batch(predictions=[["B-PER", "O"]], references=[["B-PER", "O"]])
    panx.compute()                                             # {'f1': 100.0, 'precision': 100.0, 'recall': 100.0}

Inputs per metric kind (one item per example, so batches and distributed evaluation work as for any module):

- ``accuracy``, ``retrieval``: label / choice / sentence indices.
- ``seqeval``: tag sequences.
- ``squad``, ``mlqa``: ``{"id", "prediction_text"}`` and ``{"id", "answers": {"text", "answer_start"}}`` (the
  ``squad`` module's format); MLQA also takes ``lang=`` in ``compute``.
- ``bucc``: per source sentence ``{"id", "partners": [target ids]}``, mined and gold.
- ``map@20``: ranked candidate ids and gold ids per query.

Values are percent, as modxfer and XTREME's ``evaluate.py`` report them.
"""

from __future__ import annotations

import datasets
import evaluate

from modxfer.scoring import metrics

_STR = datasets.Value("string")
_IDS = datasets.Sequence(_STR)
_QA = (datasets.Features({"predictions": {"id": _STR, "prediction_text": _STR},
                          "references": {"id": _STR, "answers": datasets.Sequence(
                              {"text": _STR, "answer_start": datasets.Value("int32")})}}))
FEATURES = {
    "accuracy": datasets.Features({"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}),
    "retrieval": datasets.Features({"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}),
    "seqeval": datasets.Features({"predictions": _IDS, "references": _IDS}),
    "squad": _QA,
    "mlqa": _QA,
    "bucc": datasets.Features({"predictions": {"id": _STR, "partners": _IDS}, "references": {"id": _STR, "partners": _IDS}}),
    "map@20": datasets.Features({"predictions": _IDS, "references": _IDS}),
}


def _kind(config_name: str) -> str:
    if config_name in metrics.METRIC_KINDS:
        return config_name
    from modxfer.tasks import get_task

    return get_task(config_name).metric  # an unknown name raises UnknownTaskError with the task list


def _answers(a) -> list[str]:
    return list(a["text"]) if isinstance(a, dict) else [x["text"] for x in a]


class XtremeMetric(evaluate.Metric):
    """One XTREME metric, chosen by ``config_name`` (a task such as ``panx`` or a metric kind such as ``seqeval``)."""

    def _info(self) -> evaluate.MetricInfo:
        kind = _kind(self.config_name)
        return evaluate.MetricInfo(
            description=f"XTREME's official {kind} metric for {self.config_name}, computed by modxfer.scoring.metrics",
            citation="Hu et al. 2020, XTREME; Ruder et al. 2021, XTREME-R",
            inputs_description=__doc__, features=FEATURES[kind],
            reference_urls=["https://github.com/google-research/xtreme/blob/master/evaluate.py"])

    def _compute(self, predictions, references, lang: str | None = None):
        kind = _kind(self.config_name)
        if kind in ("squad", "mlqa"):
            preds = {p["id"]: p["prediction_text"] for p in predictions}
            refs = {r["id"]: _answers(r["answers"]) for r in references}
            return metrics.score_kind(kind, preds, refs, lang=lang)
        if kind == "bucc":
            pairs = lambda items: [(it["id"], t) for it in items for t in it["partners"]]  # noqa: E731
            return metrics.score_kind(kind, pairs(predictions), pairs(references))
        return metrics.score_kind(kind, predictions, references, lang=lang)


def load(name: str, **kwargs) -> evaluate.EvaluationModule:
    """``evaluate.load`` of this module for a task or metric kind (kwargs go to ``evaluate.load``)."""
    return evaluate.load(__file__, name, **kwargs)
