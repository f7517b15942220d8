"""Competence: did a trained artifact learn its own task? Scored on held-out English validation data.

A model whose 95% CI includes chance is flagged (``learned: false``) in its card, and everything downstream (sweep
status, report tables, findings) reads that flag instead of re-deciding. Chance is the task's guessing rate
(1/labels, 1/choices, 0 for F1 metrics); the best constant prediction (the majority class) is recorded beside it,
because on an unbalanced task a model can beat guessing without beating "always say the majority label".
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from . import metrics, outcomes

N_RESAMPLES = 1000
CONFIDENCE = 0.95


def assess(task, rows: list[dict], preds, refs, *, lang: str = "en", seed: int = 0,
           n_resamples: int = N_RESAMPLES) -> dict:
    """Validation score (percent) with a percentile bootstrap CI over examples, chance, and the verdict."""
    record = outcomes.collect(task, rows, preds, refs, lang)
    score = outcomes.rescore(record)
    n = len(record["ids"])
    rng = np.random.default_rng([seed, 20260])
    boot = outcomes.rescore(record, rng.integers(0, n, size=(n_resamples, n))) if n else np.array([np.nan])
    alpha = (1 - CONFIDENCE) / 2
    low, high = (float(np.nanquantile(boot, alpha)), float(np.nanquantile(boot, 1 - alpha))) if n else (np.nan, np.nan)
    chance = outcomes.chance(task, n)
    majority = _majority(task, refs)
    learned = bool(n) and low > chance
    out = {"metric": metrics.primary(task.metric), "score": round(score, 2), "ci": [round(low, 2), round(high, 2)],
           "confidence": CONFIDENCE, "method": f"percentile bootstrap over examples, B={n_resamples}, seed={seed}",
           "n": n, "chance": round(chance, 2), "learned": learned}
    if majority is not None:
        out["majority"] = round(majority, 2)
        out["beats_majority"] = bool(n) and low > majority
    return out


def _majority(task, refs) -> float | None:
    """Accuracy of always predicting the most frequent reference (classification and multiple choice only)."""
    if task.head not in ("classification", "multiple_choice") or not refs:
        return None
    return 100.0 * Counter(refs).most_common(1)[0][1] / len(refs)


def verdict(card: dict) -> str:
    """'learned', 'near chance' or 'unknown' (cards written before competence was recorded)."""
    comp = card.get("competence")
    if not comp:
        return "unknown"
    return "learned" if comp.get("learned") else "near chance"
