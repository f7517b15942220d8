"""Similarity statistics over (intermediate, target) pairs, in the style of ``scipy.stats``: Spearman's rho with
one point per pair (a permutation p-value, exact when the orderings are few, its smallest attainable value, and a
bootstrap interval), and the family x similarity interaction with language as the unit, on the scale of rank
correlations. Import them from ``modxfer.stats``.

Permutation p-values are (1 + #{permuted statistics as extreme}) / (1 + N) for N sampled permutations (the observed
ordering counted once), or the exact share over every ordering when there are at most ``EXACT_ORDERINGS``
(``EXACT_LABELLINGS`` for family labellings). A sampled p-value has Monte Carlo error; where it is small enough to
matter for a corrected threshold (below ``ADAPTIVE_BELOW``), more permutations are drawn until ``ADAPTIVE_HITS`` are as
extreme (about 5% relative error) or ``MAX_PERMUTATIONS`` are spent, and the result reports its Monte Carlo standard
error; ``hypotheses`` flags a test whose p is within three such errors of its corrected threshold.
"""
from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from ..errors import DataError
from .estimate import CONFIDENCE, MIN_PAIRS, N_PERMUTATIONS, SEED, ConfidenceInterval, Estimate, keyed_rng

ADAPTIVE_BELOW = 0.01
ADAPTIVE_HITS = 400      # about 5% relative Monte Carlo error on a small p
MAX_PERMUTATIONS = 1_999_999
EXACT_ORDERINGS = 1_000_000  # enumerated in chunks, when there are at most this many (correlations)
EXACT_LABELLINGS = 200_000   # distinct family labellings enumerated (interactions; built in Python, so fewer)
_CHUNK = 50_000


# ------------------------------------------------------------------------------------------ correlation
def rankdata(v: np.ndarray) -> np.ndarray:
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


def spearman_rows(x: np.ndarray, y: np.ndarray, blocks: Sequence[np.ndarray] | None = None) -> np.ndarray:
    """Spearman's rho of each row pair of (R, n) arrays; NaN where either row is constant. With ``blocks``
    (column indices of each group), values are ranked and centred within their group first, so the statistic
    measures association within groups (a target's offset in the measure does not count as correlation)."""
    blocks = blocks if blocks is not None else [np.arange(np.shape(x)[-1])]
    rx = _centred_ranks(np.asarray(x, dtype=np.float64), blocks)
    ry = _centred_ranks(np.asarray(y, dtype=np.float64), blocks)
    den = np.sqrt((rx * rx).sum(-1) * (ry * ry).sum(-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (rx * ry).sum(-1) / np.where(den > 0, den, 1.0), np.nan)


def _centred_ranks(v: np.ndarray, blocks: Sequence[np.ndarray]) -> np.ndarray:
    """Ranks along the last axis taken within each block of columns, centred on the block's mean rank."""
    out = np.empty(v.shape, dtype=np.float64)
    for cols in blocks:
        r = rankdata(v[..., cols])
        out[..., cols] = r - r.mean(-1, keepdims=True)
    return out


@dataclass(frozen=True, eq=False)
class CorrelationResult:
    """Spearman's rho over distinct (intermediate, target) pairs; ``statistic`` is None (with ``reason``) when the
    data cannot support one, e.g. fewer than ``MIN_PAIRS`` pairs.

    ``min_pvalue`` is the smallest p-value the permutation test could give with these pairs and groups, whatever
    the data: with few orderings (blocks of 3 and 2 pairs have 3! x 2! = 12) it can exceed alpha, and such a test
    can never be significant -- counting it in a multiple-comparison family only costs the others power. For a
    sampled test it is 1 / (1 + the most permutations the test may draw). ``pvalue_mc_error`` is the Monte Carlo
    standard error of a sampled p (0 for an exact one)."""

    statistic: float | None
    pvalue: float | None
    n: int
    reason: str | None = None
    permutations: int = 0
    exact: bool = False
    bootstrap_distribution: np.ndarray | None = field(default=None, repr=False)
    min_pvalue: float | None = None
    pvalue_mc_error: float | None = None

    def confidence_interval(self, confidence_level: float = CONFIDENCE) -> ConfidenceInterval:
        if self.statistic is None:
            return ConfidenceInterval(math.nan, math.nan)
        return Estimate(self.statistic, self.bootstrap_distribution).confidence_interval(confidence_level)

    def to_dict(self) -> dict:
        low, high = self.confidence_interval()
        return {"rho": self.statistic, "low": low, "high": high, "pvalue": self.pvalue, "n_pairs": self.n,
                "reason": self.reason, "permutations": self.permutations, "exact": self.exact,
                "min_pvalue": self.min_pvalue, "pvalue_mc_error": self.pvalue_mc_error}


def _exact_group_permutations(groups: np.ndarray, limit: int):
    """Every within-group permutation of positions (identity included once), as (<= _CHUNK, n) arrays; None when
    there are more than ``limit``."""
    members = [np.flatnonzero(groups == g) for g in dict.fromkeys(groups.tolist())]
    if math.prod(math.factorial(len(m)) for m in members) > limit:
        return None

    def chunks():
        rows = []
        for combo in itertools.product(*(itertools.permutations(m.tolist()) for m in members)):
            perm = np.arange(len(groups))
            for m, p in zip(members, combo):
                perm[m] = p
            rows.append(perm)
            if len(rows) == _CHUNK:
                yield np.array(rows)
                rows = []
        if rows:
            yield np.array(rows)
    return chunks()


def _sampled_group_permutations(groups: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    members = [np.flatnonzero(groups == g) for g in dict.fromkeys(groups.tolist())]
    perms = np.tile(np.arange(len(groups)), (count, 1))
    for m in members:
        perms[:, m] = rng.permuted(np.tile(m, (count, 1)), axis=1)
    return perms


def permutation_pvalue(observed: float, null_of, exact_null: np.ndarray | None, rng: np.random.Generator,
                       n_permutations: int, adaptive: bool = True) -> tuple[float, int, float, float]:
    """(p, permutations, Monte Carlo SE, smallest attainable p) for a statistic where larger is more extreme.

    ``exact_null`` holds the statistic under every ordering (the identity among them): p is the exact share.
    Otherwise ``null_of(count, rng)`` draws ``count`` statistics under random orderings; see the module docstring
    for the sampled p and when more are drawn."""
    tol = 1e-12 * max(1.0, abs(observed))
    if exact_null is not None:
        finite = exact_null[np.isfinite(exact_null)]
        hits = int(np.sum(finite >= observed - tol))
        top = float(np.sum(finite >= finite.max() - tol)) if finite.size else 1.0
        return hits / len(exact_null), len(exact_null), 0.0, top / len(exact_null)
    drawn, hits = 0, 0
    cap = MAX_PERMUTATIONS if adaptive else n_permutations
    while True:
        batch = min(n_permutations if drawn == 0 else max(n_permutations, drawn), cap - drawn)
        for k in range(0, batch, _CHUNK):  # bounded memory: a chunk of orderings at a time
            hits += int(np.sum(null_of(min(_CHUNK, batch - k), rng) >= observed - tol))
        drawn += batch
        p = (1 + hits) / (1 + drawn)
        if drawn >= cap or hits >= ADAPTIVE_HITS or p > ADAPTIVE_BELOW:
            break
    return p, drawn, math.sqrt(p * (1 - p) / (1 + drawn)), 1.0 / (1 + cap)


def correlation(x: Sequence[float], y: Sequence[float], *, pairs: Sequence | None = None,
                groups: Sequence | None = None, y_replicates: np.ndarray | None = None,
                n_permutations: int = N_PERMUTATIONS, rng: int = SEED, min_pairs: int = MIN_PAIRS,
                adaptive: bool = True) -> CorrelationResult:
    """Spearman's rho between similarity ``x`` and a measure ``y``, one point per (intermediate, target) pair.

    ``pairs`` names each point (a repeated pair is an error: pseudo-replication). ``groups`` (e.g. the target
    task) makes it a stratified rho: ranks are taken and centred within each group, the permutation null shuffles
    within groups, and the bootstrap resamples pairs within groups. ``y_replicates`` (B, n) are bootstrap
    replicates of ``y``; the interval resamples pairs and, with them, uses replicate b of y in resample b.
    ``adaptive`` draws more permutations for small sampled p-values (module docstring).
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
    gen = keyed_rng(rng, "correlation", n)
    blocks = [np.flatnonzero(g == v) for v in dict.fromkeys(g.tolist())]
    stat = float(spearman_rows(x[None], y[None], blocks)[0])
    # Permuting y within groups permutes its within-group centred ranks: rank once, then each null rho is a dot.
    rx, ry = _centred_ranks(x, blocks), _centred_ranks(y, blocks)
    den = math.sqrt(float(rx @ rx) * float(ry @ ry))
    exact = _exact_group_permutations(g, max(n_permutations, EXACT_ORDERINGS))

    def null_of(count, gen_):
        return np.abs(ry[_sampled_group_permutations(g, count, gen_)] @ rx) / den
    exact_null = None if exact is None else np.concatenate([np.abs(ry[c] @ rx) / den for c in exact])
    pvalue, used, mc, min_p = permutation_pvalue(abs(stat), null_of, exact_null, gen, n_permutations, adaptive)
    dist = None
    if y_replicates is not None:
        reps = np.asarray(y_replicates, dtype=np.float64)[:, keep]
        idx = np.empty(reps.shape, dtype=np.int64)  # pairs resampled within their group: blocks keep their places
        for cols in blocks:
            idx[:, cols] = gen.choice(cols, (len(reps), len(cols)))
        dist = spearman_rows(x[idx], np.take_along_axis(reps, idx, axis=1), blocks)
    return CorrelationResult(stat, float(pvalue), n, None, used, exact is not None, dist, min_p, mc)


# ------------------------------------------------------------------------------------------ interaction
@dataclass(frozen=True, eq=False)
class InteractionResult:
    """Does the similarity-outcome relation differ between language families? Per language, Spearman's rho between
    similarity and the measure over that language's pairs; ``family_rho`` the mean rho per family (a scale a reader
    can judge: -1..1). ``statistic`` is a signed contrast, the difference of mean rhos between the two families with
    the most languages (``contrast`` names them; ties by name), with a bootstrap interval that carries both the
    languages resampled within families and each language's own sampling error; under no family effect it is
    centred on 0, unlike a spread (largest minus smallest family mean, ``spread``, descriptive only: never
    negative). ``pvalue`` is the omnibus permutation test: the between-family sum of squares of the per-language
    rhos against family labels permuted across languages (language is the unit: its points move together)."""

    statistic: float | None
    pvalue: float | None
    n_languages: int
    n_families: int
    family_rho: dict = field(default_factory=dict)
    reason: str | None = None
    low: float | None = None
    high: float | None = None
    permutations: int = 0
    exact: bool = False
    min_pvalue: float | None = None
    pvalue_mc_error: float | None = None
    family_languages: dict = field(default_factory=dict)
    contrast: str | None = None
    spread: float | None = None

    def to_dict(self) -> dict:
        return {"statistic": self.statistic, "contrast": self.contrast, "spread": self.spread, "low": self.low,
                "high": self.high, "pvalue": self.pvalue,
                "languages": self.n_languages, "families": self.n_families, "family_rho": self.family_rho,
                "family_languages": self.family_languages, "reason": self.reason, "permutations": self.permutations,
                "exact": self.exact, "min_pvalue": self.min_pvalue, "pvalue_mc_error": self.pvalue_mc_error}


def _multiset_permutations(codes: Sequence[int], limit: int) -> np.ndarray | None:
    """Every distinct arrangement of the labels (the observed one included once); None when more than ``limit``."""
    counts = np.bincount(np.asarray(codes))
    total = math.factorial(len(codes)) // math.prod(math.factorial(int(c)) for c in counts)
    if total > limit:
        return None
    out, cur, left = [], [], counts.copy()

    def walk():
        if len(cur) == len(codes):
            out.append(list(cur))
            return
        for c in range(len(left)):
            if left[c]:
                left[c] -= 1
                cur.append(c)
                walk()
                cur.pop()
                left[c] += 1
    walk()
    return np.array(out)


def family_interaction(x: Sequence[float], y: Sequence[float], language: Sequence[str], family: Mapping[str, str],
                       *, n_permutations: int = N_PERMUTATIONS, rng: int = SEED, n_resamples: int = 1000,
                       adaptive: bool = True, y_replicates: np.ndarray | None = None) -> InteractionResult:
    """Family x similarity on the rank-correlation scale; see ``InteractionResult``. Languages with fewer than three
    pairs, or whose similarity or measure does not vary, have no rho and are left out.

    ``y_replicates`` (B, n), bootstrap replicates of ``y`` (test items resampled): the interval then carries each
    language's own sampling error too (replicate b of every point in resample b), not only the spread of languages
    within families, which is none for a family of one language."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    lang = np.asarray(language)
    rhos = {}
    for l in dict.fromkeys(lang.tolist()):
        m = (lang == l) & np.isfinite(x) & np.isfinite(y)
        if m.sum() >= 3 and np.unique(x[m]).size >= 2 and np.unique(y[m]).size >= 2:
            rhos[l] = float(spearman_rows(x[m][None], y[m][None])[0])
    langs = list(rhos)
    fams = np.array([family[l] for l in langs])
    members = {f: [l for l, g in zip(langs, fams) if g == f] for f in dict.fromkeys(fams.tolist())}
    per_family = {f: float(np.mean([rhos[l] for l in ls])) for f, ls in members.items()}
    base = dict(statistic=None, pvalue=None, n_languages=len(langs), n_families=len(per_family),
                family_rho=per_family, family_languages={f: len(ls) for f, ls in members.items()})
    if len(per_family) < 2:
        return InteractionResult(**base, reason="fewer than two language families with a rank correlation")
    if all(len(ls) == 1 for ls in members.values()):
        return InteractionResult(**base, reason="every family has one language: family and language cannot be told "
                                                "apart")
    b = np.array([rhos[l] for l in langs])
    codes = np.unique(fams, return_inverse=True)[1]

    def between(labels: np.ndarray) -> np.ndarray:  # (P, L) family codes -> (P,) between-family sum of squares
        onehot = labels[..., None] == np.arange(codes.max() + 1)
        size = onehot.sum(-2)
        means = (onehot * b[:, None]).sum(-2) / np.maximum(size, 1)
        return (size * (means - b.mean()) ** 2).sum(-1)
    gen = keyed_rng(rng, "interaction", len(langs))
    observed = float(between(codes[None])[0])
    exact = _multiset_permutations(codes.tolist(), max(n_permutations, EXACT_LABELLINGS))
    exact_null = None if exact is None else between(exact)

    def null_of(count, gen_):
        return between(gen_.permuted(np.tile(codes, (count, 1)), axis=1))
    p, used, mc, min_p = permutation_pvalue(observed, null_of, exact_null, gen, n_permutations, adaptive)
    spread = max(per_family.values()) - min(per_family.values())
    first, second = sorted(members, key=lambda f: (-len(members[f]), f))[:2]
    contrast = per_family[first] - per_family[second]
    # Replicates of each language's rho: from the measure's own replicates where given, else the rho itself.
    if y_replicates is not None:
        yr = np.asarray(y_replicates, dtype=np.float64)
        n_resamples = len(yr)
        lang_reps = {}
        for l in langs:
            m = (lang == l) & np.isfinite(x) & np.isfinite(y)
            lang_reps[l] = spearman_rows(np.broadcast_to(x[m], (n_resamples, int(m.sum()))), yr[:, m])
    else:
        lang_reps = {l: np.full(n_resamples, rhos[l]) for l in langs}
    fam_means = []
    with warnings.catch_warnings():  # a replicate where a language's measure does not vary has no rho (NaN)
        warnings.simplefilter("ignore", RuntimeWarning)
        for ls in members.values():  # languages resampled within their family, each with its own replicate
            r = np.stack([lang_reps[l] for l in ls], axis=1)
            pick = gen.integers(0, len(ls), (n_resamples, len(ls)))
            fam_means.append(np.nanmean(np.take_along_axis(r, pick, axis=1), axis=1))
        fam_means = np.stack(fam_means, axis=1)
    order = list(members)
    reps = fam_means[:, order.index(first)] - fam_means[:, order.index(second)]
    low, high = Estimate(contrast, reps).confidence_interval()
    return InteractionResult(**{**base, "statistic": float(contrast), "pvalue": float(p)}, low=low, high=high,
                             permutations=used, exact=exact is not None, min_pvalue=min_p, pvalue_mc_error=mc,
                             contrast=f"{first} - {second}", spread=float(spread))
