"""Bootstrap replicates behind the selection intervals: the outcomes' (from ``modxfer.analysis``) and the similarity
matrices' (from each measure's bootstrap over its sampled inputs).

Resampling only languages would hold each language's outcome and each similarity value fixed, so two intermediates
whose gains differ by a fraction of their standard error would always rank the same way and NDCG@1 would read
"0.00 [0.00, 0.00]". Replicate b of the selection therefore also takes replicate b of every outcome and of every
similarity value. Within a (target, language) the analysis draws the same example ids for every composition and its
baseline, so the candidates' replicates are paired; a matrix's replicate b resamples every task's inputs at once,
so its cells are paired too.
"""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np

# Which analysis measure gives each selection outcome, and at which noise settings ("clean" or the noisy ones).
_SOURCE = {"clean_gain": ("gain", "clean"), "noisy_score": ("score", "noisy"),
           "robustness_gain": ("robustness_gain", "noisy")}
_LEVEL = {"clean_gain": "clean", "noisy_score": "noisy", "robustness_gain": "noisy"}


def _has_outcomes(results) -> bool:
    import pandas as pd

    df = results if isinstance(results, pd.DataFrame) else pd.DataFrame(list(results or []))
    return "outcomes" in df.columns and any(isinstance(o, Mapping) for o in df["outcomes"])


def outcome_replicates(results, outs, analysis, noisy: list[str], n_resamples: int, seed: int):
    """({(outcome, target, intermediate, lang): (value replicates, level replicates)}, notes).

    ``analysis``: an Analysis of ``results``; None computes one when the rows carry per-example outcomes; False
    asks for none. Replicates are recentred on the selection's own point values (a comparison in the analysis uses
    the seeds both sides have, which can move its estimate slightly): what is taken from the analysis is the spread.
    """
    if analysis is False:
        return {}, ["outcomes held fixed in the intervals (asked for: languages resampled only)"]
    if analysis is None:
        if not _has_outcomes(results):
            return {}, ["the rows carry no per-example outcomes (an older run or bundle): intervals resample "
                        "languages and similarity inputs only, each language's outcomes held fixed"]
        from ..analysis import analyse

        analysis = analyse(results, {}, n_resamples=max(int(n_resamples), 2), seed=seed, require_comparisons=False)
    out, missing = {}, 0
    for r in outs.itertuples(index=False):
        value = _estimate(analysis, r, _SOURCE[r.outcome], noisy)
        level = _estimate(analysis, r, ("score", _LEVEL[r.outcome]), noisy)
        v, lv = _centred(value, r.value), _centred(level, r.level)
        if v is None or lv is None:
            missing += 1
            continue
        out[(r.outcome, r.target, r.intermediate, r.lang)] = (v, lv)
    notes = [f"{missing} of {len(outs)} per-language outcomes have no bootstrap replicates (no per-example "
             "outcomes for them): held fixed in the intervals"] if missing else []
    return out, notes


def _estimate(analysis, r, source, noisy):
    from .. import stats as S

    measure, at = source
    settings = ["clean"] if at == "clean" else noisy
    ests = [analysis.estimate(measure, r.target, r.composition, n, "language", r.lang) for n in settings]
    ests = [e for e in ests if e is not None and math.isfinite(e.statistic)]
    if not ests:
        return None
    return ests[0] if len(ests) == 1 else S.mean(ests)


def _centred(est, point: float) -> np.ndarray | None:
    if est is None or est.bootstrap_distribution is None or not math.isfinite(point):
        return None
    return np.asarray(est.bootstrap_distribution, dtype=float) - est.statistic + point


def similarity_replicates(matrix, target: str, cands: list[str], n_resamples: int) -> np.ndarray | None:
    """(B, C) replicates of the candidates' similarity to ``target`` (replicate b mod the matrix's count, so every
    measure's replicate b comes from the same resample of the inputs); None without replicates."""
    reps = getattr(matrix, "replicates", None)
    if reps is None or len(reps) < 2 or target not in matrix.targets:
        return None
    j = matrix.targets.index(target)
    rows = np.asarray(reps, dtype=float)[np.arange(n_resamples) % len(reps), :, j]  # (B, I)
    idx = [matrix.intermediates.index(a) if a in matrix.intermediates else -1 for a in cands]
    return np.where(np.array(idx) >= 0, rows[:, np.maximum(idx, 0)], np.nan)


def cycle(reps: np.ndarray, n_resamples: int) -> np.ndarray:
    """The first ``n_resamples`` replicates, cycling when there are fewer (each is an independent draw)."""
    return reps[np.arange(n_resamples) % len(reps)]
