"""Competence: did a trained artifact learn its own task? Scored on held-out English validation data.

A model has learned when the lower bound of its 95% CI lies above the task's *floor*: the best score a predictor
that learned nothing gets on the same validation references, scored with the same metric code as the model. Its
card records the verdict (``learned``), the floor and how it was computed (``floor``, ``floor_method``,
``floors``), and everything downstream (sweep status, report tables, findings) reads that flag instead of
re-deciding.

  classification, multiple choice   floor = the larger of chance (1/labels, 1/choices) and the majority-class
                                    rate of the validation references ("always say the most frequent label"): on an
                                    unbalanced task a model can beat guessing without beating that. Both are recorded
                                    (``chance``, ``majority``, ``beats_majority``).
  tagging (seqeval)                 floor = the best of scikit-learn's three dummy strategies applied per token:
                                    the majority tag on every token, tags drawn from the references' tag
                                    distribution, tags drawn uniformly from the tag set (the random ones averaged
                                    over seeded draws). All-"O" NER finds no entity and scores 0; with prefix-less
                                    UPOS tags seqeval reads a run of one tag as one chunk, so the majority tag
                                    scores almost nothing there and random tags set the floor.
  extractive QA (squad, mlqa F1)    floor = the best "first k words of the context" answer, k = 1..30 chosen on
                                    these references: a question-blind extractor's best fixed-position rule. Fitting
                                    k on the references makes the floor optimistic, so it errs towards "not learned".

Chance itself (``chance``) stays the guessing rate, 0 for F1 metrics; relative degradation divides by the room above
the same floor. Cards written before floors were recorded have no ``floor``, and cards written before the majority
class counted have ``learned`` judged against chance alone; ``floor_of``, ``learned`` and ``verdict`` read every
kind the same way (a record whose CI does not clear its recorded majority rate has not learned).
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from . import metrics, outcomes

N_RESAMPLES = 1000
CONFIDENCE = 0.95
RANDOM_DRAWS = 5  # seeded draws averaged per random tagging floor: a single draw's F1 varies by ~0.3 points
QA_MAX_WORDS = 30  # longest context prefix tried as a QA answer (XTREME's max answer length, in words here)


def assess(task, rows: list[dict], preds, refs, *, lang: str = "en", seed: int = 0,
           n_resamples: int = N_RESAMPLES) -> dict:
    """Validation score (percent) with a percentile bootstrap CI over examples, chance, the floor, and the verdict."""
    task = outcomes.task_of(task)
    record = outcomes.collect(task, rows, preds, refs, lang)
    score = outcomes.rescore(record)
    n = len(record["ids"])
    rng = np.random.default_rng([seed, 20260])
    boot = outcomes.rescore(record, rng.integers(0, n, size=(n_resamples, n))) if n else np.array([np.nan])
    alpha = (1 - CONFIDENCE) / 2
    low, high = (float(np.nanquantile(boot, alpha)), float(np.nanquantile(boot, 1 - alpha))) if n else (np.nan, np.nan)
    chance = outcomes.chance(task, n)
    bar = floor(task, rows, refs, lang=lang, seed=seed) if n else {"floor": chance, "floor_method": "chance"}
    majority = _majority(task, refs)
    if majority is not None and majority > bar["floor"]:
        bar = {"floor": majority, "floor_method": f"majority class: always the most frequent validation label "
                                                   f"({majority:.2f}% of these references; chance {chance:.2f}%)"}
    out = {"metric": metrics.primary(task.metric), "score": round(score, 2), "ci": [round(low, 2), round(high, 2)],
           "confidence": CONFIDENCE, "method": f"percentile bootstrap over examples, B={n_resamples}, seed={seed}",
           "n": n, "chance": round(chance, 2), "floor": round(bar["floor"], 2), "floor_method": bar["floor_method"],
           "learned": bool(n) and low > bar["floor"]}
    if "floors" in bar:
        out["floors"] = {k: round(v, 2) for k, v in bar["floors"].items()}
    if majority is not None:
        out["majority"] = round(majority, 2)
        out["beats_majority"] = bool(n) and low > majority
    return out


def floor(task, rows: list[dict], refs, *, lang: str = "en", seed: int = 0) -> dict:
    """The score (percent) a model must beat to count as learned, on these references: ``floor``, a sentence
    saying how it was computed (``floor_method``) and, where several trivial predictors compete, each one's score
    (``floors``)."""
    task = outcomes.task_of(task)
    if task.head == "tagging":
        return _tagging_floor(task, rows, refs, seed)
    if task.head == "extractive_qa":
        return _qa_floor(task, rows, refs, lang)
    chance = outcomes.chance(task, len(rows))
    unit = {"classification": "labels", "multiple_choice": "choices"}.get(task.head, "candidates")
    return {"floor": chance, "floor_method": f"chance: one over the number of {unit}"}


def _score(task, rows, preds, refs, lang) -> float:
    return outcomes.rescore(outcomes.collect(task, rows, preds, refs, lang))


def _tagging_floor(task, rows, refs, seed: int) -> dict:
    refs = [list(s) for s in refs]
    counts = Counter(t for s in refs for t in s)
    if not counts:
        return {"floor": 0.0, "floor_method": "no tokens to score"}
    majority = min(counts, key=lambda t: (-counts[t], t))  # ties by name: the same floor on every machine
    seen = sorted(counts)
    prior = np.array([counts[t] for t in seen], dtype=np.float64) / sum(counts.values())
    tagset = sorted(set(task.labels or ()) | set(seen))
    cuts = np.cumsum([len(s) for s in refs])[:-1]
    rng = np.random.default_rng([seed, 20261])

    def drawn(tags, p) -> float:
        scores = []
        for _ in range(RANDOM_DRAWS):
            flat = np.asarray(tags, dtype=object)[rng.choice(len(tags), size=int(sum(counts.values())), p=p)]
            scores.append(_score(task, rows, [list(s) for s in np.split(flat, cuts)], refs, "en"))
        return float(np.mean(scores))

    floors = {"majority": _score(task, rows, [[majority] * len(s) for s in refs], refs, "en"),
              "stratified": drawn(seen, prior), "uniform": drawn(tagset, None)}
    best = max(floors, key=floors.get)
    what = {"majority": f"the majority tag {majority!r} on every token",
            "stratified": f"tags drawn from the references' tag distribution (mean of {RANDOM_DRAWS} seeded draws)",
            "uniform": f"tags drawn uniformly from the {len(tagset)} tags (mean of {RANDOM_DRAWS} seeded draws)"}[best]
    return {"floor": floors[best], "floors": floors,
            "floor_method": f"best trivial tagger on these references: {what}; seqeval F1 as for the model "
                            f"(majority {floors['majority']:.2f}, stratified {floors['stratified']:.2f}, "
                            f"uniform {floors['uniform']:.2f})"}


def _qa_floor(task, rows, refs, lang: str) -> dict:
    words = {r["id"]: str(r.get("context", "")).split() for r in rows}
    by_k = {k: _score(task, rows, {q: " ".join(words[q][:k]) for q in refs if q in words}, refs, lang)
            for k in range(1, QA_MAX_WORDS + 1)}
    k = max(by_k, key=lambda j: (by_k[j], -j))
    return {"floor": by_k[k], "floors": {"empty answer": 0.0, f"first {k} words": by_k[k]},
            "floor_method": f"best question-blind answer on these references: the first k words of the context, "
                            f"k={k} chosen among 1..{QA_MAX_WORDS}; official {task.metric} F1 as for the model"}


def _majority(task, refs) -> float | None:
    """Accuracy of always predicting the most frequent reference (classification and multiple choice only)."""
    if task.head not in ("classification", "multiple_choice") or not refs:
        return None
    return 100.0 * Counter(refs).most_common(1)[0][1] / len(refs)


def floor_of(comp: dict | None) -> tuple[float, str] | None:
    """(floor, how it was computed) from a card's competence record; a record written before floors has only
    chance, which is its floor, or the majority rate where it recorded a larger one. None without a record."""
    if not comp:
        return None
    if "floor" in comp:
        bar, how = float(comp["floor"]), str(comp.get("floor_method", ""))
    else:
        bar, how = float(comp.get("chance", float("nan"))), "chance (recorded before floors)"
    majority = comp.get("majority")
    if isinstance(majority, (int, float)) and not isinstance(majority, bool) and majority > bar:
        return float(majority), f"majority class ({majority:.2f}%; recorded beside an older floor of {bar:.2f})"
    return bar, how


def learned(comp: dict | None) -> bool | None:
    """Whether a competence record says its model learned: its ``learned`` flag, and its CI above the recorded
    majority-class rate too (records written before the majority class counted were judged against chance only).
    None without a usable record."""
    if not isinstance(comp, dict) or not isinstance(comp.get("learned"), bool):
        return None
    return comp["learned"] and comp.get("beats_majority") is not False


def verdict(card: dict) -> str:
    """'learned', 'near chance' or 'unknown' (cards written before competence was recorded). An F1 record written
    before floors was judged against 0; its flag is kept, as `sweep status` and the report keep it, and
    :func:`floor_of` says the floor was chance: retrain with ``--force`` to check it against the trivial predictor."""
    ok = learned(card.get("competence"))
    return "unknown" if ok is None else "learned" if ok else "near chance"
