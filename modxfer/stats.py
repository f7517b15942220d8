"""Uncertainty for every number modxfer reports, in the style of ``scipy.stats``: functions compute, result objects
carry the estimate and give intervals and tests on request.

Resampling (``Bootstrap``): a paired, stratified bootstrap over per-example outcomes (``modxfer.outcomes``).
Examples are drawn with replacement within each stratum (a task's language), and the draws depend only on the
stratum and its example ids, so every cell evaluated on the same examples -- a composition and its baseline, clean
and noisy text -- is resampled identically: differences between them are paired. When there are several seeds,
seeds are drawn first (the same draw for every comparison over the same seeds) and crossed with the example draws.
Each resample recomputes the official metric (``outcomes.rescore``: corpus-level seqeval F1 stays corpus-level),
all of them at once as one matrix product of multinomial counts with per-example sums.

Results (``Estimate``): the statistic on the full sample plus its B bootstrap replicates. Arithmetic between
estimates (difference, mean over languages, ratio) is done replicate by replicate, so a gain, a degradation, a
robustness gain or a family average carries a paired distribution too. Intervals are percentile intervals; the
two-sided p-value against 0 is the normal approximation with the bootstrap standard error (a count of replicates
cannot go below 1/(B+1), which Holm's alpha/m needs for more than a few dozen comparisons); the minimum detectable
effect is (z_{1-alpha/2} + z_power) x SE.

Multiplicity: ``holm`` (family-wise error) and ``benjamini_hochberg`` (false discovery rate) adjusted p-values.
Similarity: ``correlation`` over one point per (intermediate, target) pair, with a permutation p-value (exact
when the permutations are few) and a bootstrap interval; ``slope_interaction`` asks whether the slope differs
between language families, with languages as the unit a permutation of family labels moves.
"""
from __future__ import annotations

import functools
import hashlib
import itertools
import math
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Mapping, NamedTuple, Sequence

import numpy as np

from . import outcomes as O
from .errors import ConfigError, DataError

N_RESAMPLES = 1000
SEED = 0
CONFIDENCE = 0.95
ALPHA = 0.05
POWER = 0.8
MIN_PAIRS = 5
N_PERMUTATIONS = 9999
_CACHED_STRATA = 8
_UNDEFINED_SHARE = 0.025  # more undefined replicates than this (a ratio near chance): no interval


class ConfidenceInterval(NamedTuple):
    low: float
    high: float


def _generator(seed: int, *key) -> np.random.Generator:
    """A generator that depends only on the seed and the key (never on call order or Python's hash salt)."""
    digest = hashlib.sha256(repr((int(seed), *key)).encode("utf-8")).digest()
    return np.random.default_rng(np.frombuffer(digest[:16], dtype=np.uint32))


def _z(p: float) -> float:
    return NormalDist().inv_cdf(p)


# --------------------------------------------------------------------------------------------- results
@dataclass(frozen=True, eq=False)
class Estimate:
    """A statistic (points of the task's metric) with its bootstrap replicates; see the module docstring.

    ``n`` counts the examples behind it (per side, summed over strata), ``n_strata`` the strata (languages) and
    ``n_seeds`` the seeds averaged. Without replicates (outcomes were not kept) intervals and p-values are NaN.
    """

    statistic: float
    bootstrap_distribution: np.ndarray | None = field(default=None, repr=False)
    n: int = 0
    n_strata: int = 0
    n_seeds: int = 0

    @property
    def n_resamples(self) -> int:
        return 0 if self.bootstrap_distribution is None else len(self.bootstrap_distribution)

    @functools.cached_property
    def _defined(self) -> np.ndarray | None:
        """The defined replicates, or None when there are too few of them to say anything."""
        d = self.bootstrap_distribution
        if d is None or not math.isfinite(self.statistic):
            return None
        ok = d[np.isfinite(d)]
        return ok if len(ok) >= (1 - _UNDEFINED_SHARE) * len(d) and len(ok) > 1 else None

    @functools.cached_property
    def standard_error(self) -> float:
        d = self._defined
        return math.nan if d is None else float(np.std(d, ddof=1))

    def confidence_interval(self, confidence_level: float = CONFIDENCE) -> ConfidenceInterval:
        """Percentile interval of the replicates; NaN without replicates or when too many are undefined."""
        if not 0 < confidence_level < 1:
            raise ConfigError(f"confidence level {confidence_level} is not between 0 and 1", "use e.g. 0.95")
        d = self._defined
        if d is None:
            return ConfidenceInterval(math.nan, math.nan)
        tail = (1 - confidence_level) / 2
        low, high = np.quantile(d, [tail, 1 - tail])
        return ConfidenceInterval(float(low), float(high))

    @property
    def pvalue(self) -> float:
        """Two-sided p-value for "the true value is 0" (normal approximation with the bootstrap SE)."""
        se = self.standard_error
        if math.isnan(se):
            return math.nan
        if se == 0.0:  # every replicate equal: no variation at all, or an effect on every single example
            return 1.0 if self.statistic == 0 else 1.0 / (self.n_resamples + 1)
        return math.erfc(abs(self.statistic) / se / math.sqrt(2.0))

    def minimum_detectable_effect(self, alpha: float = ALPHA, power: float = POWER) -> float:
        """Smallest true effect a two-sided test at ``alpha`` detects with probability ``power`` at this SE."""
        return (_z(1 - alpha / 2) + _z(power)) * self.standard_error

    # Replicate-by-replicate arithmetic: the pairing survives differences, sums and scaling.
    def _combine(self, other: "Estimate", op) -> "Estimate":
        a, b = self.bootstrap_distribution, other.bootstrap_distribution
        dist = None if a is None or b is None else op(a, b)
        return Estimate(float(op(np.float64(self.statistic), np.float64(other.statistic))), dist,
                        min(self.n, other.n), min(self.n_strata, other.n_strata), min(self.n_seeds, other.n_seeds))

    def __sub__(self, other: "Estimate") -> "Estimate":
        return self._combine(other, np.subtract)

    def __add__(self, other: "Estimate") -> "Estimate":
        return self._combine(other, np.add)

    def shift(self, value: float) -> "Estimate":
        """The estimate minus a constant (e.g. a chance level)."""
        d = self.bootstrap_distribution
        return Estimate(self.statistic - value, None if d is None else d - value, self.n, self.n_strata, self.n_seeds)

    def to_dict(self, confidence_level: float = CONFIDENCE) -> dict:
        low, high = self.confidence_interval(confidence_level)
        return {"estimate": self.statistic, "low": low, "high": high, "se": self.standard_error,
                "pvalue": self.pvalue, "mde": self.minimum_detectable_effect(), "n": self.n,
                "strata": self.n_strata, "seeds": self.n_seeds}


def mean(estimates: Sequence[Estimate]) -> Estimate:
    """Unweighted mean (e.g. over the languages of a family, each counting once as in XTREME)."""
    if not estimates:
        return Estimate(math.nan)
    dists = [e.bootstrap_distribution for e in estimates]
    dist = None if any(d is None for d in dists) else np.mean(np.stack(dists), axis=0)
    return Estimate(float(np.mean([e.statistic for e in estimates])), dist, sum(e.n for e in estimates),
                    sum(e.n_strata for e in estimates), min(e.n_seeds for e in estimates))


def ratio(num: Estimate, den: Estimate) -> Estimate:
    """num / den replicate by replicate; undefined (NaN) wherever den <= 0 (e.g. a model at or below chance)."""
    def div(a, b):
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        return np.where(b > 0, a / np.where(b > 0, b, 1.0), np.nan)
    out = num._combine(den, div)
    return Estimate(float(out.statistic), out.bootstrap_distribution, out.n, out.n_strata, out.n_seeds)


# ------------------------------------------------------------------------------------------ resampling
class Bootstrap:
    """One resampling plan shared by every number of a report (see the module docstring).

    Example draws are keyed by (stratum, example ids), seed draws by the tuple of seeds, both derived from
    ``rng``: the same examples always get the same draws, whichever cell asks and in whatever order.
    """

    def __init__(self, n_resamples: int = N_RESAMPLES, rng: int = SEED):
        if isinstance(n_resamples, bool) or not isinstance(n_resamples, int) or n_resamples < 2:
            raise ConfigError(f"n_resamples={n_resamples!r} must be an integer >= 2", "use e.g. 1000")
        self.n_resamples = n_resamples
        self.rng = int(rng)
        self._counts: dict[tuple, np.ndarray] = {}
        self._weights: dict[tuple, np.ndarray] = {}

    def indices(self, stratum: str, ids: Sequence[str]) -> np.ndarray:
        """(B, n) positions of a with-replacement draw of the n examples, one row per replicate."""
        digest = hashlib.sha256("\n".join(ids).encode("utf-8")).hexdigest()
        return _generator(self.rng, "examples", stratum, digest).integers(0, len(ids), (self.n_resamples, len(ids)))

    def counts(self, stratum: str, ids: Sequence[str]) -> np.ndarray:
        """(B, n) how often each example is drawn in each replicate (the ``indices`` as multinomial counts)."""
        key = (stratum, tuple(ids))
        if key not in self._counts:
            n, b = len(ids), self.n_resamples
            flat = (self.indices(stratum, ids) + np.arange(b)[:, None] * n).ravel()
            if len(self._counts) >= _CACHED_STRATA:  # B x n floats each: keep the few in use, not a whole study
                self._counts.pop(next(iter(self._counts)))
            self._counts[key] = np.bincount(flat, minlength=b * n).reshape(b, n).astype(np.float64)
        return self._counts[key]

    def seed_weights(self, seeds: Sequence[int]) -> np.ndarray:
        """(B, S) weights: how often each seed is drawn in a with-replacement draw of the S seeds, divided by S."""
        key = tuple(sorted(int(s) for s in seeds))
        if key not in self._weights:
            s, b = len(key), self.n_resamples
            draws = _generator(self.rng, "seeds", key).integers(0, s, (b, s)) if s > 1 else np.zeros((b, 1), int)
            flat = (draws + np.arange(b)[:, None] * s).ravel()
            self._weights[key] = np.bincount(flat, minlength=b * s).reshape(b, s) / s
        return self._weights[key]

    def replicates(self, stratum: str, records: Sequence[Mapping]) -> list[tuple[float, np.ndarray]]:
        """(full-sample score, B resampled scores) per record; the records must hold the same ids in the same
        order (``outcomes.align`` them first). One matrix product per metric kind."""
        if not records:
            return []
        ids = list(records[0]["ids"])
        for r in records[1:]:
            if list(r["ids"]) != ids:
                raise DataError(f"records of stratum {stratum!r} are not aligned by example id",
                                "align them with modxfer.outcomes.align before resampling")
        out: list = [None] * len(records)
        by_kind: dict[str, list[int]] = {}
        for i, r in enumerate(records):
            by_kind.setdefault(r["metric"], []).append(i)
        for kind, members in by_kind.items():
            qs = [O.quantities(records[i]) for i in members]
            q = np.concatenate(qs, axis=1)
            # Few columns (a two-sided comparison): gathering is cheaper than building the counts matrix.
            if q.shape[1] <= 4:
                idx = self.indices(stratum, ids)
                sums = np.stack([q[:, j][idx].sum(axis=1) for j in range(q.shape[1])], axis=1)
            else:
                sums = self.counts(stratum, ids) @ q
            k = qs[0].shape[1]
            for j, i in enumerate(members):
                out[i] = (O.rescore(records[i]), O.from_sums(kind, sums[:, j * k:(j + 1) * k], len(ids)))
        return out

    def over_seeds(self, per_seed: Mapping[int, tuple[float, np.ndarray]], n: int = 0) -> Estimate:
        """Average of per-seed (score, replicates) with the seeds resampled first."""
        seeds = sorted(per_seed)
        if not seeds:
            return Estimate(math.nan)
        w = self.seed_weights(seeds)
        reps = np.stack([per_seed[s][1] for s in seeds], axis=1)
        return Estimate(float(np.mean([per_seed[s][0] for s in seeds])), (w * reps).sum(axis=1), n, 1, len(seeds))


def _by_seed(side) -> dict[int, Mapping]:
    return dict(side) if isinstance(side, Mapping) and "metric" not in side else {0: side}


def paired_bootstrap(a: Mapping, b: Mapping | None = None, *, n_resamples: int = N_RESAMPLES, rng: int = SEED,
                     bootstrap: Bootstrap | None = None) -> Estimate:
    """Score of ``a`` (macro-averaged over strata), or the paired difference a - b, with bootstrap replicates.

    ``a`` and ``b`` map a stratum (language) to an outcome record, or to {seed: record}. A difference uses the
    strata and, within each, the seeds and example ids both sides have.
    """
    bs = bootstrap or Bootstrap(n_resamples, rng)
    strata = [s for s in a if b is None or s in b]
    if not strata:
        raise DataError("the two sides share no stratum (language)", "compare cells evaluated on the same languages")
    per_stratum = []
    for st in strata:
        sa, sb = _by_seed(a[st]), _by_seed(b[st]) if b is not None else None
        seeds = sorted(set(sa) & set(sb)) if sb is not None else sorted(sa)
        if not seeds:
            raise DataError(f"stratum {st!r}: the two sides share no seed", "evaluate both with the same seeds")
        recs = [sa[s] for s in seeds] + ([sb[s] for s in seeds] if sb is not None else [])
        ids, pos = O.align(recs)
        reps = bs.replicates(st, [O.subset(r, p) for r, p in zip(recs, pos)])
        est = bs.over_seeds(dict(zip(seeds, reps[:len(seeds)])), len(ids))
        if sb is not None:
            est = est - bs.over_seeds(dict(zip(seeds, reps[len(seeds):])), len(ids))
        per_stratum.append(est)
    return mean(per_stratum)


# ---------------------------------------------------------------------------------------- multiplicity
def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error rate); NaN entries are not tests and stay NaN."""
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    m = len(ok)
    if m:
        order = ok[np.argsort(p[ok], kind="stable")]
        adj = np.maximum.accumulate((m - np.arange(m)) * p[order])
        out[order] = np.minimum(adj, 1.0)
    return out


def benjamini_hochberg(pvalues: Sequence[float]) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (false discovery rate); NaN entries stay NaN."""
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    m = len(ok)
    if m:
        order = ok[np.argsort(p[ok], kind="stable")]
        adj = p[order] * m / np.arange(1, m + 1)
        out[order] = np.minimum(np.minimum.accumulate(adj[::-1])[::-1], 1.0)
    return out


CORRECTIONS = {"holm": holm, "bh": benjamini_hochberg}
CORRECTION_NAMES = {"holm": "Holm (family-wise error rate)", "bh": "Benjamini-Hochberg (false discovery rate)"}


def adjust(pvalues: Sequence[float], method: str = "holm") -> np.ndarray:
    if method not in CORRECTIONS:
        raise ConfigError(f"unknown multiple-comparison correction {method!r}", f"use one of: {', '.join(CORRECTIONS)}")
    return CORRECTIONS[method](pvalues)


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
    data cannot support one, e.g. fewer than ``MIN_PAIRS`` pairs."""

    statistic: float | None
    pvalue: float | None
    n: int
    reason: str | None = None
    permutations: int = 0
    exact: bool = False
    bootstrap_distribution: np.ndarray | None = field(default=None, repr=False)

    def confidence_interval(self, confidence_level: float = CONFIDENCE) -> ConfidenceInterval:
        if self.statistic is None:
            return ConfidenceInterval(math.nan, math.nan)
        return Estimate(self.statistic, self.bootstrap_distribution).confidence_interval(confidence_level)

    def to_dict(self) -> dict:
        low, high = self.confidence_interval()
        return {"rho": self.statistic, "low": low, "high": high, "pvalue": self.pvalue, "n_pairs": self.n,
                "reason": self.reason, "permutations": self.permutations, "exact": self.exact}


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
    dist = None
    if y_replicates is not None:
        reps = np.asarray(y_replicates, dtype=np.float64)[:, keep]
        idx = np.empty(reps.shape, dtype=np.int64)  # pairs resampled within their group: blocks keep their places
        for cols in blocks:
            idx[:, cols] = gen.choice(cols, (len(reps), len(cols)))
        dist = _spearman_rows(x[idx], np.take_along_axis(reps, idx, axis=1), blocks)
    return CorrelationResult(stat, float(pvalue), n, None, len(perms), exact, dist)


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
