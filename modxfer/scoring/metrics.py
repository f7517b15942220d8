"""Evaluation metrics that reproduce XTREME's official scores.

Each metric mirrors the script XTREME runs, so numbers are comparable with published results:

- ``accuracy`` and ``retrieval``: ``evaluate.py``'s ``accuracy`` (correct / n * 100).
- ``seqeval``: ``evaluate.py``'s ``f1`` -- seqeval ``f1/precision/recall_score`` in default (non-strict)
  mode, for PAN-X *and* UD-POS. UPOS tags carry no B-/I- prefix, so seqeval reads their first letter as
  the chunk tag and the rest as the type: a run of identical tags is one "entity", ``SCONJ``/``CCONJ``
  share the type ``CONJ``, and ``SYM``/``INTJ`` act as S-/I- tags. This is what XTREME measured; it is not
  token accuracy. (seqeval < 1.0, used in 2020, typed ``NOUN`` as ``NOUN``; scores can differ slightly.)
- ``squad``: SQuAD v1.1 ``evaluate-v1.1.py`` (XQuAD, TyDiQA-GoldP).
- ``mlqa``: MLQA ``mlqa_evaluation_v1.py`` with per-language articles and Chinese mixed segmentation.
- ``bucc``: ``evaluate.py``'s ``bucc_f1``: precision, recall and F1 of the mined pairs against the gold pairs, as
  sets (the threshold that selects the mined pairs is chosen in ``modxfer.evaluation.retrieval``, as ``utils_retrieve.py``).
- ``map@20``: mean average precision of the top 20 (``utils_lareqa.average_precision_at_k`` for LAReQA; with one gold
  entity per mention it equals ``utils_mewslix.mean_reciprocal_rank`` over the top 20, Mewsli-X's ``map@20``).

QA questions without a prediction score 0, as in both official scripts (which print a warning and move
on); here the count is logged as a warning. Predictions for ids
that are not in the references are an error: the official scripts would silently ignore them, which
hides id mismatches that make every score 0.
"""

from __future__ import annotations

import functools
import logging
import operator
import re
import string
import sys
import unicodedata
import warnings
from collections import Counter
from typing import Any, Callable, Iterable, Mapping, Sequence

from modxfer.errors import ConfigError, DataError, UnknownLanguageError

_log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------------
# shared validation


def _as_list(values: Any, what: str) -> list:
    if isinstance(values, (str, bytes, Mapping)):
        raise DataError(
            f"{what} must be a sequence of items, got {type(values).__name__}",
            "pass one item per example, e.g. a list",
        )
    try:
        out = list(values)
    except TypeError:
        raise DataError(
            f"{what} must be a sequence of items, got {type(values).__name__}",
            "pass one item per example, e.g. a list",
        ) from None
    if not out:
        raise DataError(f"{what} is empty", "score at least one example")
    return out


def paired(predictions: Any, references: Any) -> tuple[list, list]:
    preds = _as_list(predictions, "predictions")
    refs = _as_list(references, "references")
    if len(preds) != len(refs):
        raise DataError(
            f"{len(preds)} predictions but {len(refs)} references",
            "predict exactly one output per reference example, in the same order",
        )
    return preds, refs


# ---------------------------------------------------------------------------------------------------
# classification, multiple choice, retrieval


def accuracy(predictions: Any, references: Any, lang: str | None = None) -> dict[str, float]:
    preds, refs = paired(predictions, references)
    correct = sum(int(p == r) for p, r in zip(preds, refs))
    # Same operation order as XTREME's evaluate.py so values agree to the last bit.
    return {"accuracy": float(correct) / len(preds) * 100}


def _index(value: Any, what: str, position: int) -> int:
    if isinstance(value, bool):
        raise DataError(f"{what}[{position}] is a bool, not a sentence index", "pass integer indices")
    try:
        return operator.index(value)
    except TypeError:
        raise DataError(
            f"{what}[{position}] = {value!r} is not an integer sentence index",
            "pass integer indices (e.g. the argmax over candidate sentences)",
        ) from None


def retrieval_accuracy(predictions: Any, references: Any, lang: str | None = None) -> dict[str, float]:
    """Share of queries whose retrieved index is the gold index (Tatoeba), in percent."""
    preds, refs = paired(predictions, references)
    preds = [_index(v, "predictions", i) for i, v in enumerate(preds)]
    refs = [_index(v, "references", i) for i, v in enumerate(refs)]
    return accuracy(preds, refs)


def _pairs(values: Any, what: str, *, allow_empty: bool = False) -> set[tuple[str, str]]:
    items = list(values) if isinstance(values, (set, frozenset)) else _as_list(values, what) if not allow_empty \
        else list(values)
    out = set()
    for pair in items:
        if isinstance(pair, str):
            pair = pair.split("\t")  # XTREME's prediction files hold "source-id<TAB>target-id" lines
        pair = tuple(pair) if isinstance(pair, (tuple, list)) else (pair,)
        if len(pair) != 2 or not all(isinstance(x, str) and x for x in pair):
            raise DataError(f"{what} item {pair!r} is not a (source id, target id) pair",
                            "pass pairs of sentence ids, e.g. [('de-000001', 'en-000007')]")
        out.add(pair)
    return out


def bucc_f1(predictions: Any, references: Any, lang: str | None = None) -> dict[str, float]:
    """BUCC: F1, precision and recall (percent) of the mined sentence pairs against the gold pairs."""
    golds = _pairs(references, "references")
    if not golds:
        raise DataError("references hold no gold pair", "score a corpus pair with at least one gold pair")
    preds = _pairs(predictions, "predictions", allow_empty=True)  # mining may extract nothing: F1 0
    correct = len(golds & preds)
    if correct > 0:
        precision = correct / len(preds)
        recall = correct / len(golds)
        f1 = 2 * precision * recall / (precision + recall)
    else:
        precision = recall = f1 = 0
    return {"f1": f1 * 100, "precision": precision * 100, "recall": recall * 100}


def average_precision_at_k(targets: Any, ranked_predictions: Sequence, k: int | None = None) -> float:
    """LAReQA's AP@k: precision at each rank that holds a new gold item, summed, over min(#gold, k)."""
    if k:
        ranked_predictions = ranked_predictions[:k]
    score = hits = 0.0
    for i, pred in enumerate(ranked_predictions):
        if pred in targets and pred not in ranked_predictions[:i]:
            hits += 1.0
            score += hits / (i + 1.0)
    return score / (min(len(targets), k) if k else len(targets))


def map_at_k(predictions: Any, references: Any, lang: str | None = None, k: int = 20) -> dict[str, float]:
    """Mean AP@k in percent: ``predictions`` are ranked candidate ids per query, ``references`` the gold ids."""
    preds, refs = paired(predictions, references)
    total = 0.0
    for i, (ranked, gold) in enumerate(zip(preds, refs)):
        if isinstance(ranked, str) or isinstance(gold, str):
            raise DataError(f"query {i}: predictions and references must be lists of ids, not strings",
                            "pass e.g. predictions [['c3', 'c1', ...]] and references [['c1']]")
        gold = list(gold)
        if not gold:
            raise DataError(f"query {i} has no gold candidate", "drop queries without an answer in the pool")
        total += average_precision_at_k(set(gold), list(ranked), k)
    return {f"map@{k}": total / len(preds) * 100}


# ---------------------------------------------------------------------------------------------------
# sequence tagging


def tag_sequences(values: Any, what: str) -> list[list[str]]:
    seqs = _as_list(values, what)
    out = []
    for i, seq in enumerate(seqs):
        if isinstance(seq, str):
            raise DataError(
                f"{what}[{i}] is a string, not a sequence of tags",
                "pass one list of tags per sentence, e.g. [['B-PER', 'O'], ['NOUN', 'VERB']]",
            )
        seq = list(seq)
        for j, tag in enumerate(seq):
            if not isinstance(tag, str) or not tag:
                raise DataError(
                    f"{what}[{i}][{j}] = {tag!r} is not a tag string",
                    "map label ids to tag names (e.g. with the task's label list) before scoring",
                )
        out.append(seq)
    return out


def seqeval_scores(predictions: Any, references: Any, lang: str | None = None) -> dict[str, float]:
    """Chunk-level micro F1/precision/recall of seqeval's default mode, in percent."""
    from seqeval.metrics import f1_score, precision_score, recall_score

    preds = tag_sequences(predictions, "predictions")
    refs = tag_sequences(references, "references")
    if len(preds) != len(refs):
        raise DataError(
            f"{len(preds)} predicted sentences but {len(refs)} reference sentences",
            "predict one tag sequence per reference sentence, in the same order",
        )
    for i, (p, r) in enumerate(zip(preds, refs)):
        if len(p) != len(r):
            raise DataError(
                f"sentence {i}: {len(p)} predicted tags but {len(r)} reference tags",
                "predict exactly one tag per word (first sub-token of each word), without truncation",
            )
    with warnings.catch_warnings():
        # seqeval warns once per prefix-less tag ("NOUN seems not to be NE tag"); UPOS is prefix-less by
        # design. zero_division=0 gives the same 0.0 as XTREME's default "warn", without the warning.
        warnings.simplefilter("ignore", UserWarning)
        f1 = f1_score(refs, preds, zero_division=0)
        precision = precision_score(refs, preds, zero_division=0)
        recall = recall_score(refs, preds, zero_division=0)
    return {"f1": float(f1) * 100, "precision": float(precision) * 100, "recall": float(recall) * 100}


# ---------------------------------------------------------------------------------------------------
# extractive QA: SQuAD v1.1

_SQUAD_PUNCT = set(string.punctuation)


def normalize_squad_answer(s: str) -> str:
    """SQuAD v1.1: lower, drop ASCII punctuation, drop English articles, collapse whitespace."""
    s = s.lower()
    s = "".join(ch for ch in s if ch not in _SQUAD_PUNCT)
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def token_f1(prediction_tokens: list[str], gold_tokens: list[str]) -> float:
    common = Counter(prediction_tokens) & Counter(gold_tokens)
    num_same = sum(common.values())
    # Also covers empty normalised answers: they score F1 0 even when EM is 1 ("the" vs "a").
    if num_same == 0:
        return 0.0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(gold_tokens)
    return (2 * precision * recall) / (precision + recall)


def qa_inputs(predictions: Any, references: Any) -> tuple[Mapping, Mapping]:
    if not isinstance(predictions, Mapping) or not isinstance(references, Mapping):
        raise DataError(
            "QA scoring needs dicts: predictions {id: answer text}, references {id: [gold answers]}",
            "key both by question id",
        )
    if not references:
        raise DataError("references is empty", "score at least one question")
    extra = [qid for qid in predictions if qid not in references]
    if extra:
        shown = ", ".join(repr(q) for q in extra[:3]) + (" ..." if len(extra) > 3 else "")
        raise DataError(
            f"{len(extra)} prediction id(s) are not in the references: {shown}",
            "key predictions by the question ids of the evaluated file (same language/split)",
        )
    for qid, golds in references.items():
        # A Hugging Face answers dict would iterate over its keys and score against "text".
        if isinstance(golds, (str, Mapping)) or not isinstance(golds, Iterable):
            raise DataError(
                f"references[{qid!r}] must be a list of gold answer strings, got {type(golds).__name__}",
                "pass the answer texts, e.g. {id: ['answer']} or {id: example['answers']['text']}",
            )
    for qid, answer in predictions.items():
        if not isinstance(answer, str):
            raise DataError(
                f"predictions[{qid!r}] = {answer!r} is not answer text",
                "predict the answer span's text (an empty string for no answer)",
            )
    return predictions, references


def _qa_scores(predictions: Any, references: Any, normalize: Callable[[str], str]) -> dict[str, float]:
    preds, refs = qa_inputs(predictions, references)
    exact_match = f1 = 0.0
    unanswered = 0
    for qid, golds in refs.items():
        golds = list(golds)
        if not golds or not all(isinstance(g, str) for g in golds):
            raise DataError(
                f"references[{qid!r}] = {golds!r} needs at least one gold answer string",
                "drop unanswerable questions or fix the reference file",
            )
        if qid not in preds:
            unanswered += 1  # scores 0, as in the official scripts
            continue
        pred_norm = normalize(preds[qid])
        gold_norms = [normalize(g) for g in golds]
        exact_match += max(float(pred_norm == g) for g in gold_norms)
        f1 += max(token_f1(pred_norm.split(), g.split()) for g in gold_norms)
    total = len(refs)
    if unanswered:
        _log.warning("%d of %d questions have no prediction and score 0", unanswered, total)
    return {"exact_match": 100.0 * exact_match / total, "f1": 100.0 * f1 / total}


def squad_scores(predictions: Any, references: Any, lang: str | None = None) -> dict[str, float]:
    """SQuAD v1.1 exact match and token F1, max over gold answers, averaged over questions (percent)."""
    return _qa_scores(predictions, references, normalize_squad_answer)


# ---------------------------------------------------------------------------------------------------
# extractive QA: MLQA

MLQA_LANGS = ("en", "es", "hi", "vi", "de", "ar", "zh")
_WHITESPACE_LANGS = frozenset({"en", "es", "hi", "vi", "de", "ar"})
_ARTICLES = {
    "en": re.compile(r"\b(a|an|the)\b"),
    "es": re.compile(r"\b(un|una|unos|unas|el|la|los|las)\b"),
    "vi": re.compile(r"\b(của|là|cái|chiếc|những)\b"),
    "de": re.compile(r"\b(ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des)\b"),
    # Official pattern, kept verbatim: "\sال^" can never match, so every "ال" is removed, even
    # mid-word ("بالكتاب" -> "ب كتاب").
    "ar": re.compile(r"\sال^|ال"),
}
_CJK = re.compile(r"[\u4e00-\u9fa5]")  # the official (narrower than full CJK) range


@functools.cache
def _mlqa_punct() -> frozenset[str]:
    # ~1.1M code points: built on first use, not at import.
    return frozenset(
        chr(i) for i in range(sys.maxunicode) if unicodedata.category(chr(i)).startswith("P")
    ).union(string.punctuation)


def mixed_segmentation(text: str) -> list[str]:
    """MLQA's Chinese tokenisation: each CJK char and punctuation mark is a token, other runs split on
    whitespace."""
    punct = _mlqa_punct()
    segs: list[str] = []
    temp = ""
    for char in text:
        if _CJK.search(char) or char in punct:
            if temp:
                segs.extend(temp.split())
                temp = ""
            segs.append(char)
        else:
            temp += char
    if temp:
        segs.extend(temp.split())
    return segs


def check_mlqa_lang(lang: str | None) -> str:
    if lang not in MLQA_LANGS:
        got = "no language" if lang is None else f"language {lang!r}"
        raise UnknownLanguageError(
            f"MLQA scoring needs the answer language; got {got}",
            f"pass lang= one of {', '.join(MLQA_LANGS)} (the context language of the evaluated file)",
        )
    return lang


def normalize_mlqa_answer(s: str, lang: str) -> str:
    """MLQA: lower, drop Unicode punctuation, drop the language's articles, re-tokenise, join by spaces."""
    lang = check_mlqa_lang(lang)
    punct = _mlqa_punct()
    s = s.lower()
    s = "".join(ch for ch in s if ch not in punct)
    if lang in _ARTICLES:
        s = _ARTICLES[lang].sub(" ", s)
    tokens = s.split() if lang in _WHITESPACE_LANGS else mixed_segmentation(s)
    return " ".join(t for t in tokens if t.strip() != "")


def mlqa_scores(predictions: Any, references: Any, lang: str | None = None) -> dict[str, float]:
    """MLQA exact match and token F1 with language-aware normalisation (percent)."""
    lang = check_mlqa_lang(lang)
    return _qa_scores(predictions, references, lambda s: normalize_mlqa_answer(s, lang))


# ---------------------------------------------------------------------------------------------------
# registry

METRIC_KINDS: dict[str, Callable[..., dict[str, float]]] = {
    "accuracy": accuracy,
    "seqeval": seqeval_scores,
    "squad": squad_scores,
    "mlqa": mlqa_scores,
    "retrieval": retrieval_accuracy,
    "bucc": bucc_f1,
    "map@20": map_at_k,
}

_PRIMARY = {"accuracy": "accuracy", "seqeval": "f1", "squad": "f1", "mlqa": "f1", "retrieval": "accuracy", "bucc": "f1",
            "map@20": "map@20"}


def _check_kind(kind: str) -> str:
    if kind not in METRIC_KINDS:
        raise ConfigError(f"unknown metric kind {kind!r}", f"use one of: {', '.join(METRIC_KINDS)}")
    return kind


def primary(kind: str) -> str:
    """The headline value of a metric kind (what XTREME reports first: F1 for tagging and QA)."""
    return _PRIMARY[_check_kind(kind)]


def score_kind(kind: str, predictions: Any, references: Any, lang: str | None = None) -> dict[str, float]:
    return METRIC_KINDS[_check_kind(kind)](predictions, references, lang=lang)


def score(task_name: str, predictions: Any, references: Any, lang: str | None = None) -> dict[str, float]:
    """Score predictions with the metric of a registered task; values in percent."""
    # Imported here so metrics stays usable (and testable) without the task registry.
    from modxfer.tasks import get_task

    return score_kind(get_task(task_name).metric, predictions, references, lang=lang)


__all__: Sequence[str] = [
    "METRIC_KINDS",
    "MLQA_LANGS",
    "accuracy",
    "average_precision_at_k",
    "bucc_f1",
    "map_at_k",
    "mixed_segmentation",
    "mlqa_scores",
    "normalize_mlqa_answer",
    "normalize_squad_answer",
    "primary",
    "retrieval_accuracy",
    "score",
    "score_kind",
    "seqeval_scores",
    "squad_scores",
]
