"""Correlation between a similarity measure and a measured outcome, with the unit of analysis of issue 9: one point
per (intermediate, target) pair, the outcome averaged over the target's languages, n = distinct pairs.

- Fewer than ``modxfer.stats.MIN_PAIRS`` pairs: no rho, "too few pairs" (a rank correlation of 4 points takes a
  handful of values and says nothing).
- Targets pooled: ranks are taken within each target (``groups``), so a target whose similarities and outcomes
  are all offset (XNLI accuracy next to PAN-X F1; every XNLI pair more lexically alike) adds no spurious rho.
- p: permutation within targets (exact when the permutations are few; ``modxfer.stats.correlation``). These are
  descriptive and uncorrected: they are not among the report's corrected tests. Kendall's tau (tau-b over the
  pairs within each target) is given with its interval only: its test would ask the same question again.
- Interval: replicate b resamples pairs within targets and takes replicate b of each pair's outcome (the
  per-example bootstrap) and of each similarity value (the measure's bootstrap), where they exist.
"""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np

from .matrix import SimilarityMatrix, same_source
from .replicates import cycle, similarity_replicates
from .stats import percentile_interval, rng_for

COLUMNS = ["measure", "outcome", "target", "same_source", "n", "spearman", "spearman_low", "spearman_high",
           "spearman_p", "p_exact", "kendall", "kendall_low", "kendall_high", "reason", "resampled"]


def _blocks(groups: np.ndarray) -> list[np.ndarray]:
    return [np.flatnonzero(groups == g) for g in dict.fromkeys(groups.tolist())]


def _kendall(x: np.ndarray, y: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Rows of (B, n): Kendall's tau-b over the pairs of points that belong to the same group."""
    same = (groups[:, None] == groups[None, :]) & np.triu(np.ones((len(groups),) * 2, dtype=bool), 1)
    sx = np.sign(x[:, :, None] - x[:, None, :]) * same
    sy = np.sign(y[:, :, None] - y[:, None, :]) * same
    with np.errstate(all="ignore"):
        den = np.sqrt((sx * sx).sum((-1, -2)) * (sy * sy).sum((-1, -2)))
        return np.where(den > 0, (sx * sy).sum((-1, -2)) / den, np.nan)


def _correlation(x, y, groups, x_reps, y_reps, n_resamples, rng, level) -> dict:
    from .. import stats as S

    res = S.correlation(x, y, groups=groups, rng=int(rng.integers(2**31)))
    out = {"n": res.n, "spearman": math.nan if res.statistic is None else res.statistic,
           "spearman_p": math.nan if res.pvalue is None else res.pvalue, "p_exact": bool(res.exact),
           "reason": res.reason}
    nan = {k: math.nan for k in ("spearman_low", "spearman_high", "kendall", "kendall_low", "kendall_high")}
    if res.statistic is None:
        return out | nan
    blocks = _blocks(groups)
    out["kendall"] = float(_kendall(x[None], y[None], groups)[0])
    if n_resamples < 2:
        return out | {k: math.nan for k in ("spearman_low", "spearman_high", "kendall_low", "kendall_high")}
    idx = np.empty((n_resamples, len(x)), dtype=np.int64)  # pairs drawn within their target: blocks keep places
    for cols in blocks:
        idx[:, cols] = rng.choice(cols, (n_resamples, len(cols)))
    xb = np.take_along_axis(x_reps if x_reps is not None else np.broadcast_to(x, idx.shape), idx, 1)
    yb = np.take_along_axis(y_reps if y_reps is not None else np.broadcast_to(y, idx.shape), idx, 1)
    ci_s = percentile_interval(S.spearman_rows(xb, yb, blocks), level)  # the statistic's own code
    ci_k = percentile_interval(_kendall(xb, yb, groups), level)
    return out | {"spearman_low": float(ci_s.low), "spearman_high": float(ci_s.high),
                  "kendall_low": float(ci_k.low), "kendall_high": float(ci_k.high)}


def _pair_points(outs, reps, n_resamples):
    """{(outcome, target, intermediate): (mean over languages, (B,) replicates or None)}."""
    out = {}
    for (o, t, a), part in outs.groupby(["outcome", "target", "intermediate"], sort=False):
        rows = [reps.get((o, t, a, lang)) for lang in part["lang"]]
        r = None
        if n_resamples >= 2 and any(p is not None for p in rows):
            r = np.mean([cycle(p[0], n_resamples) if p is not None else np.full(n_resamples, v)
                         for p, v in zip(rows, part["value"])], axis=0)
        out[(o, t, a)] = (float(part["value"].mean()), r)
    return out


def correlation_table(outs, matrices: Mapping[str, SimilarityMatrix], n_resamples: int, seed: int, level: float,
                      reps: dict | None = None):
    """Spearman and Kendall between each measure and each outcome, per target and over all targets (ranked within
    each target), with and without same-source pairs (module docstring)."""
    import pandas as pd

    avg = _pair_points(outs, reps or {}, n_resamples)
    rows = []
    for measure, m in matrices.items():
        for outcome in dict.fromkeys(outs["outcome"]):
            pts = [(t, a, v, r) for (o, t, a), (v, r) in avg.items()
                   if o == outcome and a in m.intermediates and t in m.targets and a != t]
            for ss in ("with", "without"):
                sel = [p for p in pts if not (ss == "without" and same_source(p[1], p[0]))]
                targets = list(dict.fromkeys(p[0] for p in sel))
                for scope in [*targets, *(["all"] if len(targets) > 1 else [])]:
                    rows.append({"measure": measure, "outcome": outcome, "target": scope, "same_source": ss,
                                 **_scope(m, [p for p in sel if scope in ("all", p[0])], n_resamples,
                                          rng_for(seed, "correlation", measure, outcome, ss, scope), level)})
    return pd.DataFrame(rows, columns=COLUMNS)


def _scope(m: SimilarityMatrix, sub, n_resamples, rng, level) -> dict:
    x = np.array([m[(a, t)] for t, a, _, _ in sub], dtype=float)
    y = np.array([v for _, _, v, _ in sub], dtype=float)
    groups = np.array([t for t, _, _, _ in sub])
    ok = np.isfinite(x) & np.isfinite(y)
    x_reps = y_reps = None
    if n_resamples >= 2 and sub:
        cols = [similarity_replicates(m, t, [a], n_resamples) for t, a, _, _ in sub]
        if all(c is not None for c in cols):
            x_reps = np.concatenate(cols, axis=1)[:, ok]
        if any(r is not None for *_, r in sub):
            y_reps = np.stack([r if r is not None else np.full(n_resamples, v) for _, _, v, r in sub], 1)[:, ok]
    what = ", ".join(["pairs within targets"] + (["examples"] if y_reps is not None else [])
                     + (["similarity inputs"] if x_reps is not None else []))
    return _correlation(x[ok], y[ok], groups[ok], x_reps, y_reps, n_resamples, rng, level) | {"resampled": what}


def agreement(matrices: Mapping[str, SimilarityMatrix], *, exclude_same_source: bool = False):
    """Spearman's rho between every two measures over the (intermediate, target) pairs both have (self pairs out)."""
    import pandas as pd
    from scipy.stats import spearmanr

    names = list(matrices)
    out = pd.DataFrame(np.nan, index=names, columns=names)
    for a in names:
        for b in names:
            ma, mb = matrices[a], matrices[b]
            pairs = [(i, t) for i in ma.intermediates for t in ma.targets
                     if i != t and i in mb.intermediates and t in mb.targets
                     and not (exclude_same_source and same_source(i, t))]
            x = np.array([ma[p] for p in pairs])
            y = np.array([mb[p] for p in pairs])
            ok = np.isfinite(x) & np.isfinite(y)
            if ok.sum() >= 3 and np.ptp(x[ok]) > 0 and np.ptp(y[ok]) > 0:
                out.loc[a, b] = float(spearmanr(x[ok], y[ok]).statistic)
    return out
