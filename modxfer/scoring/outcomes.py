"""Per-example outcomes: what each example contributed to a row's score, kept so the score can be recomputed exactly
on any resample of the examples (``modxfer.stats``) and compared example by example with another row.

Every official metric is a function of per-example sums, so an outcome record holds, per example id (in the order
the metric reads them), the quantities those sums run over:

  accuracy, retrieval   ``correct`` (0/1), plus the small-int ``prediction`` and ``reference`` (label, choice or
                        retrieved sentence index)
  seqeval               per sentence ``tp``, ``n_pred``, ``n_gold``: entity counts from seqeval's own default
                        (non-strict) extraction over the whole corpus, each entity counted in the sentence that holds
                        its last token. seqeval flattens the sentences with an "O" between them before extracting,
                        which is not always the same as extracting per sentence (a sentence opening with a one-letter
                        UPOS tag such as ``X`` continues the previous chunk's type), so the flattened extraction is
                        what is replayed here.
  squad, mlqa           per question ``em`` and ``f1`` in [0, 1] with the official normalisation (MLQA's for the
                        row's language); a question without a prediction scores 0, as in the official scripts

``rescore`` turns these back into the primary metric in percent with the official operation order, so the full
sample gives the row's score to the last bit; given a (B, n) array of resample indices (or multinomial counts) it
returns B scores at once. Records are plain JSON (lists of small ints and floats): safe to store and to load.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from . import metrics as M
from ..errors import DataError

FORMAT = 1
# Per metric kind: the per-example fields whose sums define it, in the column order of ``quantities``.
FIELDS = {"accuracy": ("correct",), "retrieval": ("correct",), "seqeval": ("tp", "n_pred", "n_gold"),
          "squad": ("em", "f1"), "mlqa": ("em", "f1"), "bucc": ("tp", "n_pred", "n_gold"), "map@20": ("ap",)}


def task_of(task):
    from ..tasks import get_task

    return get_task(task) if isinstance(task, str) else task


def collect(task, rows: Sequence[Mapping], preds: Any, refs: Any, lang: str | None = None) -> dict:
    """The outcome record of one evaluation cell: ``rows`` are the evaluated examples (each with an ``id``),
    ``preds``/``refs`` exactly what the task's metric was given (lists for classification, multiple choice,
    retrieval and tagging; {id: text} / {id: [gold texts]} for extractive QA)."""
    task = task_of(task)
    kind = task.metric
    base = {"format": FORMAT, "metric": kind, "lang": lang}
    if kind == "squad" or kind == "mlqa":
        return _with_items(task, {**base, **_qa(kind, preds, refs, lang)})
    ids = [str(r["id"]) for r in rows]
    preds, refs = M.paired(preds, refs)
    if len(ids) != len(preds):
        raise DataError(f"{len(ids)} evaluated examples but {len(preds)} predictions",
                        "pass the rows that were scored, in the order their predictions come")
    if kind == "seqeval":
        return _with_items(task, {**base, "ids": ids, **_entity_counts(preds, refs)})
    if kind == "bucc":
        # Per source sentence: its mined and gold partners; F1 over the corpus is a function of the three sums.
        return {**base, "ids": ids, "tp": [len(set(p) & set(r)) for p, r in zip(preds, refs)],
                "n_pred": [len(set(p)) for p in preds], "n_gold": [len(set(r)) for r in refs]}
    if kind == "map@20":
        return {**base, "ids": ids, "ap": [M.average_precision_at_k(set(r), list(p), 20) if r else 0.0
                                           for p, r in zip(preds, refs)]}
    if kind not in FIELDS:
        raise DataError(f"no per-example outcomes for metric kind {kind!r}", f"use one of: {', '.join(FIELDS)}")
    out = {**base, "ids": ids, "correct": [int(p == r) for p, r in zip(preds, refs)]}
    if all(_small_int(v) for v in (*preds, *refs)):
        out.update(prediction=[int(p) for p in preds], reference=[int(r) for r in refs])
    return _with_items(task, out)


def _with_items(task, record: dict) -> dict:
    """A parallel task's record names each example's item across languages (``Task.item_key``)."""
    if getattr(task, "parallel", None):
        record["items"] = [task.item_key(i) for i in record["ids"]]
    return record


def item_keys(task, outcomes: Mapping) -> list[str]:
    """Each example's cross-language item key: the record's own ``items``, or derived from its ids (records
    written before items were recorded); the ids themselves for a task whose languages hold different data."""
    if isinstance(outcomes.get("items"), list):
        return [str(k) for k in outcomes["items"]]
    task = task_of(task)
    return [task.item_key(i) for i in outcomes["ids"]]


def _small_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _entity_counts(preds: list, refs: list) -> dict:
    from seqeval.metrics.sequence_labeling import get_entities

    preds, refs = M.tag_sequences(preds, "predictions"), M.tag_sequences(refs, "references")
    for i, (p, r) in enumerate(zip(preds, refs)):
        if len(p) != len(r):
            raise DataError(f"sentence {i}: {len(p)} predicted tags but {len(r)} reference tags",
                            "predict exactly one tag per word, as for scoring")
    # Flattened offsets exactly as seqeval lays the corpus out: each sentence followed by one "O".
    starts = np.cumsum([0] + [len(s) + 1 for s in refs[:-1]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # prefix-less UPOS tags, as in metrics.seqeval_scores
        gold = set(get_entities(refs))
        pred = set(get_entities(preds))

    def per_sentence(entities) -> list[int]:
        counts = np.zeros(len(refs), dtype=np.int64)
        for _, _, end in entities:
            counts[np.searchsorted(starts, end, side="right") - 1] += 1
        return counts.tolist()
    return {"tp": per_sentence(gold & pred), "n_pred": per_sentence(pred), "n_gold": per_sentence(gold)}


def _qa(kind: str, preds: Any, refs: Any, lang: str | None) -> dict:
    preds, refs = M.qa_inputs(preds, refs)
    if kind == "mlqa":
        M.check_mlqa_lang(lang)
        normalize = lambda s: M.normalize_mlqa_answer(s, lang)
    else:
        normalize = M.normalize_squad_answer
    ids, em, f1 = [], [], []
    for qid, golds in refs.items():
        golds = list(golds)
        if not golds or not all(isinstance(g, str) for g in golds):
            raise DataError(f"references[{qid!r}] = {golds!r} needs at least one gold answer string",
                            "drop unanswerable questions or fix the reference file")
        ids.append(str(qid))
        if qid not in preds:
            em.append(0.0)
            f1.append(0.0)
            continue
        p = normalize(preds[qid])
        gs = [normalize(g) for g in golds]
        em.append(max(float(p == g) for g in gs))
        f1.append(max(M.token_f1(p.split(), g.split()) for g in gs))
    return {"ids": ids, "em": em, "f1": f1}


# ------------------------------------------------------------------------------------------------ reading back
def check(outcomes: Mapping) -> dict:
    """Validate a stored record (it is read back from a run database); returns it as a plain dict."""
    fix = "rerun the evaluation cell with this modxfer version"
    metric = outcomes.get("metric") if isinstance(outcomes, Mapping) else None
    if not isinstance(metric, str) or metric not in FIELDS:
        raise DataError("malformed per-example outcomes (no known metric kind)", fix)
    ids = outcomes.get("ids", [])
    if not isinstance(ids, list):
        raise DataError("malformed per-example outcomes: 'ids' is not a list", fix)
    n = len(ids)
    items = outcomes.get("items")
    if items is not None and (not isinstance(items, list) or len(items) != n or not all(isinstance(k, str) for k in items)):
        raise DataError(f"malformed per-example outcomes: 'items' is not a list of {n} strings", fix)
    for f in FIELDS[metric]:
        values = outcomes.get(f, [])
        if not isinstance(values, list) or len(values) != n:
            size = len(values) if isinstance(values, list) else "no list of"
            raise DataError(f"malformed per-example outcomes: {f!r} has {size} values for {n} ids", fix)
        if not all(_finite_number(v) for v in values):
            raise DataError(f"malformed per-example outcomes: {f!r} holds a value that is not a finite number", fix)
    return dict(outcomes)


def _finite_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def quantities(outcomes: Mapping) -> np.ndarray:
    """(n, k) float array of the per-example fields the metric sums, in ``FIELDS`` order."""
    return np.asarray([outcomes[f] for f in FIELDS[outcomes["metric"]]], dtype=np.float64).T.reshape(
        len(outcomes["ids"]), -1)


def from_sums(kind: str, sums: np.ndarray, n: int) -> np.ndarray:
    """The primary metric (percent) from summed quantities: ``sums`` is (..., k) in ``FIELDS[kind]`` order."""
    sums = np.asarray(sums, dtype=np.float64)
    if kind in ("accuracy", "retrieval"):
        return sums[..., 0] / n * 100  # metrics.accuracy's order: float(correct) / n * 100
    if kind in ("squad", "mlqa"):
        return 100.0 * sums[..., 1] / n
    if kind == "map@20":
        return 100.0 * sums[..., 0] / n
    tp, n_pred, n_gold = sums[..., 0], sums[..., 1], sums[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        # seqeval's micro average with zero_division=0: precision, recall, then 2PR / (P + R).
        precision = np.where(n_pred > 0, tp / np.where(n_pred > 0, n_pred, 1), 0.0)
        recall = np.where(n_gold > 0, tp / np.where(n_gold > 0, n_gold, 1), 0.0)
        denom = precision + recall
        f1 = 2 * precision * recall / np.where(denom == 0, 1.0, denom)
    return f1 * 100


def rescore(outcomes: Mapping, index: np.ndarray | None = None, *, counts: np.ndarray | None = None):
    """The official primary metric (percent) from a record: on the full sample (a float equal to the row's score),
    on each row of a (B, n) array of resample ``index``es, or with (B, n) multinomial ``counts`` (B floats)."""
    kind = outcomes["metric"]
    q = quantities(outcomes)
    n = q.shape[0]
    if n == 0:
        return math.nan if index is None and counts is None else np.full(len(index if counts is None else counts), np.nan)
    if index is None and counts is None:
        # Python's sum adds left to right from 0, as the official scripts accumulate: the same bits.
        return float(from_sums(kind, np.array([sum(col.tolist()) for col in q.T]), n))
    if counts is not None:
        return from_sums(kind, np.asarray(counts, dtype=np.float64) @ q, n)
    index = np.asarray(index)
    return from_sums(kind, q[index].sum(axis=1), index.shape[1])


def chance(task, n: int | None = None) -> float:
    """Score (percent) of guessing: 1/labels for classification, 1/choices for multiple choice, 1/n sentences for
    retrieval; 0 for tagging and QA, where F1 has no guessing rate. The bar a trained model must clear on its own
    validation data is ``competence.floor`` (for F1 metrics, the best trivial predictor on the references)."""
    task = task_of(task)
    if task.head == "classification" and task.labels:
        return 100.0 / len(task.labels)
    if task.head == "multiple_choice" and task.num_choices:
        return 100.0 / task.num_choices
    if task.head == "retrieval" and n:
        return 100.0 / n
    return 0.0


def align(records: Sequence[Mapping]) -> tuple[list[str], list[np.ndarray]]:
    """The example ids every record has (in the first record's order) and, per record, the positions of those ids
    in it: what pairs two cells example by example."""
    if not records:
        return [], []
    common = set(records[0]["ids"])
    for r in records[1:]:
        common &= set(r["ids"])
    ids = [i for i in records[0]["ids"] if i in common]
    out = []
    for r in records:
        pos = {x: k for k, x in enumerate(r["ids"])}
        if len(pos) != len(r["ids"]):
            raise DataError("per-example outcomes repeat an example id", "rerun the evaluation cell")
        out.append(np.fromiter((pos[i] for i in ids), dtype=np.int64, count=len(ids)))
    return ids, out


def subset(outcomes: Mapping, positions: np.ndarray) -> dict:
    """The record restricted to ``positions`` (e.g. from ``align``), in that order."""
    out = dict(outcomes)
    for f in ("ids", "items", "prediction", "reference", *FIELDS[outcomes["metric"]]):
        if f in outcomes:
            out[f] = [outcomes[f][int(k)] for k in positions]
    return out
