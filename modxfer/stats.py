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
between language families, with languages as the unit a permutation of family labels moves. Both live in
``modxfer.stats_similarity`` and are importable from here.
"""
from __future__ import annotations

import functools
import hashlib
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


def mde_multiplier(alpha: float = ALPHA, power: float = POWER) -> float:
    """z_{1-alpha/2} + z_power: the minimum detectable effect of a two-sided test, in standard errors."""
    return _z(1 - alpha / 2) + _z(power)


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
        """Smallest true effect a two-sided test at ``alpha`` detects with probability ``power`` at this SE.

        NaN when the SE is 0: every replicate is equal (e.g. noise that changed no example), so the bootstrap says
        nothing about the power of a test there; "0 points" would read as "any effect is detectable"."""
        se = self.standard_error
        return math.nan if se == 0.0 else mde_multiplier(alpha, power) * se

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


# The similarity statistics build on the types above: importable from here as one statistics API, loaded on first
# use (PEP 562) so that importing either module first works.
_SIMILARITY = ("CorrelationResult", "InteractionResult", "correlation", "slope_interaction", "_rankdata",
               "_spearman_rows")


def __getattr__(name: str):
    if name in _SIMILARITY:
        from . import stats_similarity

        return getattr(stats_similarity, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
