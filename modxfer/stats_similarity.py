"""Similarity statistics over (intermediate, target) pairs, in the style of ``scipy.stats``: Spearman's rho with
one point per pair (a permutation p-value, exact when the orderings are few, its smallest attainable value, and a
bootstrap interval), and the family x similarity slope interaction with language as the unit. Import them from
``modxfer.stats``.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from .errors import DataError
from .stats import CONFIDENCE, MIN_PAIRS, N_PERMUTATIONS, SEED, ConfidenceInterval, Estimate, _generator


# ------------------------------------------------------------------------------------------ correlation
def _rankdata(v: np.ndarray) -> np.ndarray:
    """Average ranks (1..n, ties share their mean rank) along the last axis, as scipy.stats.rankdata."""
    v = np.asarray(v, dtype=np.float64)
    flat = v.reshape(-1, v.shape[-1])
    rows, n = flat.shape
    order = np.argsort(flat, axis=-1, kind="stable")
    s = np.take_along_axis(flat, order, axis=-1)
    new_run = np.ones(s.shape, dtype=bool)
    new_run[:, 1:] = s[:, 1:] != s[:, :-1]
    run = np.cumsum(new_run, axis=-1) - 1 + np.arange(rows)[:, None] * n  # a global id per run of equal values
    pos = np.tile(np.arange(1, n + 1, dtype=np.float64), rows)
    mean_pos = np.bincount(run.ravel(), pos, rows * n) / np.maximum(np.bincount(run.ravel(), None, rows * n), 1)
    ranks = np.empty(flat.shape)
    np.put_along_axis(ranks, order, mean_pos[run], axis=-1)
    return ranks.reshape(v.shape)


def _spearman_rows(x: np.ndarray, y: np.ndarray, blocks: Sequence[np.ndarray] | None = None) -> np.ndarray:
    """Spearman's rho of each row pair of (R, n) arrays; NaN where either row is constant. With ``blocks``
    (column indices of each group), values are ranked and centred within their group first, so the statistic
    measures association within groups (a target's offset in the measure does not count as correlation)."""
    def centred_ranks(v):
        v = np.asarray(v, dtype=np.float64)
        out = np.empty(v.shape, dtype=np.float64)
        for cols in blocks if blocks is not None else [np.arange(v.shape[-1])]:
            r = _rankdata(v[..., cols])
            out[..., cols] = r - r.mean(-1, keepdims=True)
        return out
    rx, ry = centred_ranks(x), centred_ranks(y)
    den = np.sqrt((rx * rx).sum(-1) * (ry * ry).sum(-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (rx * ry).sum(-1) / np.where(den > 0, den, 1.0), np.nan)


@dataclass(frozen=True, eq=False)
class CorrelationResult:
    """Spearman's rho over distinct (intermediate, target) pairs; ``statistic`` is None (with ``reason``) when the
    data cannot support one, e.g. fewer than ``MIN_PAIRS`` pairs.

    ``min_pvalue`` is the smallest p-value the permutation test could give with these pairs and groups, whatever
    the data: with few orderings (blocks of 3 and 2 pairs have 3! x 2! = 12) it can exceed alpha, and such a test
    can never be significant -- counting it in a multiple-comparison family only costs the others power."""

    statistic: float | None
    pvalue: float | None
    n: int
    reason: str | None = None
    permutations: int = 0
    exact: bool = False
    bootstrap_distribution: np.ndarray | None = field(default=None, repr=False)
    min_pvalue: float | None = None

    def confidence_interval(self, confidence_level: float = CONFIDENCE) -> ConfidenceInterval:
        if self.statistic is None:
            return ConfidenceInterval(math.nan, math.nan)
        return Estimate(self.statistic, self.bootstrap_distribution).confidence_interval(confidence_level)

    def to_dict(self) -> dict:
        low, high = self.confidence_interval()
        return {"rho": self.statistic, "low": low, "high": high, "pvalue": self.pvalue, "n_pairs": self.n,
                "reason": self.reason, "permutations": self.permutations, "exact": self.exact,
                "min_pvalue": self.min_pvalue}


def _group_permutations(groups: np.ndarray, n_permutations: int, rng: np.random.Generator) -> tuple[np.ndarray, bool]:
    """(P, n) index arrays that permute positions within each group: all of them when there are at most
    ``n_permutations`` (exact test), else random ones with the identity first."""
    members = [np.flatnonzero(groups == g) for g in dict.fromkeys(groups.tolist())]
    total = math.prod(math.factorial(len(m)) for m in members)
    n = len(groups)
    if total <= n_permutations:
        rows = []
        for combo in itertools.product(*(itertools.permutations(m.tolist()) for m in members)):
            perm = np.arange(n)
            for m, p in zip(members, combo):
                perm[m] = p
            rows.append(perm)
        return np.array(rows), True
    perms = np.tile(np.arange(n), (n_permutations + 1, 1))
    for m in members:
        perms[1:, m] = rng.permuted(np.tile(m, (n_permutations, 1)), axis=1)
    return perms, False


def correlation(x: Sequence[float], y: Sequence[float], *, pairs: Sequence | None = None,
                groups: Sequence | None = None, y_replicates: np.ndarray | None = None,
                n_permutations: int = N_PERMUTATIONS, rng: int = SEED, min_pairs: int = MIN_PAIRS) -> CorrelationResult:
    """Spearman's rho between similarity ``x`` and a measure ``y``, one point per (intermediate, target) pair.

    ``pairs`` names each point (a repeated pair is an error: pseudo-replication). ``groups`` (e.g. the target
    task) makes it a stratified rho: ranks are taken and centred within each group, the permutation null shuffles
    within groups, and the bootstrap resamples pairs within groups. ``y_replicates`` (B, n) are bootstrap
    replicates of ``y``; the interval resamples pairs and, with them, uses replicate b of y in resample b.
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise DataError(f"x and y need one value per pair; got shapes {x.shape} and {y.shape}", "pass 1-D arrays")
    if pairs is not None and len(set(map(tuple, map(np.atleast_1d, pairs)))) != len(pairs):
        raise DataError("a pair appears more than once among the correlation's points",
                        "average each (intermediate, target) pair over languages and seeds first: one point per pair")
    keep = np.isfinite(x) & np.isfinite(y)
    n = int(keep.sum())
    if n < min_pairs:
        return CorrelationResult(None, None, n, f"too few pairs ({n} < {min_pairs})")
    x, y = x[keep], y[keep]
    g = np.asarray(groups)[keep] if groups is not None else np.zeros(n, dtype=int)
    if np.unique(x).size < 2 or np.unique(y).size < 2:
        return CorrelationResult(None, None, n, "similarity or measure does not vary")
    gen = _generator(rng, "correlation", n)
    blocks = [np.flatnonzero(g == v) for v in dict.fromkeys(g.tolist())]
    stat = float(_spearman_rows(x[None], y[None], blocks)[0])
    perms, exact = _group_permutations(g, n_permutations, gen)
    null = _spearman_rows(np.broadcast_to(x, perms.shape), y[perms], blocks)
    hits = int(np.sum(np.abs(null) >= abs(stat) - 1e-12))
    pvalue = hits / len(perms) if exact else (hits + 1) / len(perms)  # perms include the identity
    # The most extreme ordering an exact null holds is as rare as a result can be; a sampled null stops at 1/P.
    finite = np.abs(null[np.isfinite(null)])
    min_p = (float(np.sum(finite >= finite.max() - 1e-12)) / len(perms) if exact and finite.size
             else 1.0 / len(perms))
    dist = None
    if y_replicates is not None:
        reps = np.asarray(y_replicates, dtype=np.float64)[:, keep]
        idx = np.empty(reps.shape, dtype=np.int64)  # pairs resampled within their group: blocks keep their places
        for cols in blocks:
            idx[:, cols] = gen.choice(cols, (len(reps), len(cols)))
        dist = _spearman_rows(x[idx], np.take_along_axis(reps, idx, axis=1), blocks)
    return CorrelationResult(stat, float(pvalue), n, None, len(perms), exact, dist, min_p)


# ------------------------------------------------------------------------------------------ interaction
@dataclass(frozen=True, eq=False)
class InteractionResult:
    """Does the similarity slope differ between language families? ``statistic`` is the between-family sum of
    squares of the per-language slopes; ``slopes`` the mean slope per family (measure points per unit of
    similarity)."""

    statistic: float | None
    pvalue: float | None
    n_languages: int
    n_families: int
    slopes: dict = field(default_factory=dict)
    reason: str | None = None

    def to_dict(self) -> dict:
        return {"statistic": self.statistic, "pvalue": self.pvalue, "languages": self.n_languages,
                "families": self.n_families, "slopes": self.slopes, "reason": self.reason}


def slope_interaction(x: Sequence[float], y: Sequence[float], language: Sequence[str], family: Mapping[str, str], *,
                      n_permutations: int = N_PERMUTATIONS, rng: int = SEED) -> InteractionResult:
    """Permutation test of family x similarity: per language, the OLS slope of ``y`` on ``x`` over its pairs;
    then the between-family sum of squares of those slopes, against family labels permuted across languages
    (language is the unit: its points move together)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    lang = np.asarray(language)
    slopes = {}
    for l in dict.fromkeys(lang.tolist()):
        m = (lang == l) & np.isfinite(x) & np.isfinite(y)
        if np.unique(x[m]).size >= 2:
            xm = x[m] - x[m].mean()
            slopes[l] = float((xm * (y[m] - y[m].mean())).sum() / (xm * xm).sum())
    langs = list(slopes)
    fams = np.array([family[l] for l in langs])
    per_family = {f: float(np.mean([slopes[l] for l, g in zip(langs, fams) if g == f])) for f in dict.fromkeys(fams.tolist())}
    base = InteractionResult(None, None, len(langs), len(per_family), per_family)
    if len(per_family) < 2:
        return InteractionResult(**{**base.__dict__, "reason": "fewer than two language families with a slope"})
    if all(np.sum(fams == f) == 1 for f in per_family):
        return InteractionResult(**{**base.__dict__, "reason": "every family has one language: family and language "
                                                               "cannot be told apart"})
    b = np.array([slopes[l] for l in langs])
    codes = np.unique(fams, return_inverse=True)[1]

    def between(labels: np.ndarray) -> np.ndarray:  # (P, L) family codes -> (P,) between-family sum of squares
        onehot = labels[..., None] == np.arange(codes.max() + 1)
        size = onehot.sum(-2)
        means = (onehot * b[:, None]).sum(-2) / np.maximum(size, 1)
        return (size * (means - b.mean()) ** 2).sum(-1)
    gen = _generator(rng, "interaction", len(langs))
    perms = gen.permuted(np.tile(codes, (n_permutations, 1)), axis=1)
    stat = float(between(codes[None])[0])
    p = (1 + int(np.sum(between(perms) >= stat - 1e-12))) / (n_permutations + 1)
    return InteractionResult(stat, float(p), len(langs), len(per_family), per_family)
