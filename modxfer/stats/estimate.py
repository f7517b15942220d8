"""``Estimate``: a statistic with two descriptions of its sampling error, carried through arithmetic together.

- ``bootstrap_distribution``: B replicates of the statistic under the resampling plan (``modxfer.stats.bootstrap``).
  Percentile intervals come from these.
- ``influence``: the statistic's first-order (delta-method) expansion in the sampled units, one vector per
  resampling space (a space is one independent draw: the items of a parallel task, shared by all its languages; one
  language's examples for a task whose languages hold different data; the seeds). The standard error, the p-value
  and the minimum detectable effect come from these, so they carry no Monte Carlo error: a finding cannot depend on
  the bootstrap's seed. For a mean of per-item outcomes (accuracy, QA F1, a gain, a mean over languages) the
  expansion is exact and the variance is the item-clustered one, n/(n-1) x sum of squared item deviations; for
  corpus-level F1 it is the usual ratio linearisation.

Arithmetic (difference, sum, mean, ratio, shift) is done replicate by replicate and influence by influence, so a
gain, a robustness gain or a family mean keeps its pairing: two cells on the same items share a space, and their
per-item contributions add before squaring.
"""
from __future__ import annotations

import functools
import hashlib
import math
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Mapping, NamedTuple, Sequence

import numpy as np

from ..errors import ConfigError

N_RESAMPLES = 1000
SEED = 0
CONFIDENCE = 0.95
ALPHA = 0.05
POWER = 0.8
MIN_PAIRS = 5
N_PERMUTATIONS = 9999
_UNDEFINED_SHARE = 0.025  # more undefined replicates than this (a ratio near chance): no interval

Influence = Mapping[str, np.ndarray]


class ConfidenceInterval(NamedTuple):
    low: float
    high: float


def keyed_rng(seed: int, *key) -> np.random.Generator:
    """A generator that depends only on the seed and the key (never on call order or Python's hash salt)."""
    digest = hashlib.sha256(repr((int(seed), *key)).encode("utf-8")).digest()
    return np.random.default_rng(np.frombuffer(digest[:16], dtype=np.uint32))


def _z(p: float) -> float:
    return NormalDist().inv_cdf(p)


def mde_multiplier(alpha: float = ALPHA, power: float = POWER) -> float:
    """z_{1-alpha/2} + z_power: the minimum detectable effect of a two-sided test, in standard errors."""
    return _z(1 - alpha / 2) + _z(power)


def normal_pvalue(statistic: float, se: float, df: float = math.inf) -> float:
    """Two-sided p for "the true value is 0": statistic / se against Student's t with ``df`` degrees of freedom
    (the normal distribution when infinite). With an item-clustered SE the small-sample reference is t with one
    fewer degree than the items (as cluster-robust inference uses): at 120 items it keeps the level at 5%, where
    the normal runs at about 5.3% (tests/test_stats_parallel.py)."""
    if math.isnan(se) or not math.isfinite(statistic):
        return math.nan
    if se == 0.0:  # no sampling variation at all: either nothing changed, or every unit changed the same way
        return 1.0 if statistic == 0 else 0.0
    if math.isinf(df):
        return math.erfc(abs(statistic) / se / math.sqrt(2.0))
    from scipy.stats import t

    return float(2.0 * t.sf(abs(statistic) / se, df))


def lower_bound(est: "Estimate", confidence_level: float = CONFIDENCE) -> float:
    """The analytic lower confidence bound, statistic - t x SE (no Monte Carlo error); the percentile bound for an
    estimate without influence vectors."""
    if est.influence is None:
        return est.confidence_interval(confidence_level).low
    se, df = est.standard_error, est.degrees_of_freedom
    if math.isnan(se):
        return math.nan
    if math.isinf(df):
        q = _z(1 - (1 - confidence_level) / 2)
    else:
        from scipy.stats import t

        q = float(t.ppf(1 - (1 - confidence_level) / 2, df))
    return est.statistic - q * se


def influence_variance(influence: Influence) -> float:
    """Variance from per-space influence vectors: each space independent, n/(n-1) x sum of squares within it (the
    jackknife's small-sample factor; a space of one unit says nothing about spread and makes the variance NaN)."""
    total = 0.0
    for u in influence.values():
        n = len(u)
        if n < 2:
            return math.nan
        total += n / (n - 1) * float(np.dot(u, u))
    return total


def _merge(a: Influence | None, b: Influence | None, wa: float, wb: float) -> dict | None:
    if a is None or b is None:
        return None
    out = {k: wa * v for k, v in a.items()}
    for k, v in b.items():
        if k in out:
            if out[k].shape != v.shape:  # the same space must hold the same units in the same order
                raise ValueError(f"influence space {k!r} differs in size ({out[k].shape} vs {v.shape})")
            out[k] = out[k] + wb * v
        else:
            out[k] = wb * v
    return out


@dataclass(frozen=True, eq=False)
class Estimate:
    """A statistic (points of the task's metric) with its bootstrap replicates and influence vectors; see the module
    docstring.

    ``n`` counts the examples behind it (per side, summed over strata), ``n_strata`` the strata (languages) and
    ``n_seeds`` the seeds averaged. Without replicates (outcomes were not kept) intervals and p-values are NaN.
    """

    statistic: float
    bootstrap_distribution: np.ndarray | None = field(default=None, repr=False)
    n: int = 0
    n_strata: int = 0
    n_seeds: int = 0
    influence: Influence | None = field(default=None, repr=False)

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
    def bootstrap_standard_error(self) -> float:
        """The replicates' standard deviation (Monte Carlo: it moves with the bootstrap's seed)."""
        d = self._defined
        return math.nan if d is None else float(np.std(d, ddof=1))

    @functools.cached_property
    def standard_error(self) -> float:
        """Analytic (influence) standard error where the estimate has influence vectors, else the bootstrap's."""
        if self.influence is None:
            return self.bootstrap_standard_error
        if not math.isfinite(self.statistic) or (self.bootstrap_distribution is not None and self._defined is None):
            return math.nan
        return math.sqrt(max(influence_variance(self.influence), 0.0))

    @property
    def analytic(self) -> bool:
        return self.influence is not None

    @property
    def degrees_of_freedom(self) -> float:
        """Welch-Satterthwaite degrees of freedom over the independent spaces (each of n units contributes its
        variance with n - 1 degrees): items dominate with one seed; with several seeds carrying most of the
        variance, the seeds' S - 1 degrees do. Infinite for an estimate without influence vectors (its p-value is
        then the normal approximation)."""
        if not self.influence:
            return math.inf
        parts = [(len(u) / (len(u) - 1) * float(np.dot(u, u)), len(u) - 1) for u in self.influence.values()
                 if len(u) > 1]
        total = sum(v for v, _ in parts)
        if not parts or total <= 0:
            return math.inf
        return total ** 2 / sum(v * v / d for v, d in parts)

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

    def interval_mc_error(self, confidence_level: float = CONFIDENCE) -> float:
        """Monte Carlo standard error of a percentile bound (normal approximation of the replicates' density):
        how far a bound may move with another bootstrap seed. 0 where the replicates do not vary."""
        se, b = self.bootstrap_standard_error, len(self._defined) if self._defined is not None else 0
        if not b or math.isnan(se):
            return math.nan
        q = (1 - confidence_level) / 2
        return se * math.sqrt(q * (1 - q) / b) / (math.exp(-_z(q) ** 2 / 2) / math.sqrt(2 * math.pi))

    @property
    def pvalue(self) -> float:
        """Two-sided p-value for "the true value is 0" (normal approximation with the standard error)."""
        if self.bootstrap_distribution is None and self.influence is None:
            return math.nan
        return normal_pvalue(self.statistic, self.standard_error, self.degrees_of_freedom)

    def minimum_detectable_effect(self, alpha: float = ALPHA, power: float = POWER) -> float:
        """Smallest true effect a two-sided test at ``alpha`` detects with probability ``power`` at this SE.

        NaN when the SE is 0: every replicate is equal (e.g. noise that changed no example), so the data say nothing
        about the power of a test there; "0 points" would read as "any effect is detectable"."""
        se = self.standard_error
        return math.nan if se == 0.0 else mde_multiplier(alpha, power) * se

    # Replicate-by-replicate arithmetic: the pairing survives differences, sums and scaling.
    def _combine(self, other: "Estimate", op, wa: float, wb: float) -> "Estimate":
        a, b = self.bootstrap_distribution, other.bootstrap_distribution
        dist = None if a is None or b is None else op(a, b)
        return Estimate(float(op(np.float64(self.statistic), np.float64(other.statistic))), dist,
                        min(self.n, other.n), min(self.n_strata, other.n_strata), min(self.n_seeds, other.n_seeds),
                        _merge(self.influence, other.influence, wa, wb))

    def __sub__(self, other: "Estimate") -> "Estimate":
        return self._combine(other, np.subtract, 1.0, -1.0)

    def __add__(self, other: "Estimate") -> "Estimate":
        return self._combine(other, np.add, 1.0, 1.0)

    def shift(self, value: float) -> "Estimate":
        """The estimate minus a constant (e.g. a chance level)."""
        d = self.bootstrap_distribution
        return Estimate(self.statistic - value, None if d is None else d - value, self.n, self.n_strata,
                        self.n_seeds, self.influence)

    def to_dict(self, confidence_level: float = CONFIDENCE) -> dict:
        low, high = self.confidence_interval(confidence_level)
        return {"estimate": self.statistic, "low": low, "high": high, "se": self.standard_error,
                "se_method": "analytic" if self.analytic else "bootstrap", "pvalue": self.pvalue,
                "mde": self.minimum_detectable_effect(), "n": self.n, "strata": self.n_strata, "seeds": self.n_seeds,
                "n_resamples": self.n_resamples, "interval_mc_error": self.interval_mc_error(confidence_level)}


def mean(estimates: Sequence[Estimate]) -> Estimate:
    """Unweighted mean (e.g. over the languages of a family, each counting once as in XTREME). Estimates that share
    an influence space (languages of a parallel task) keep their correlation: their item contributions add."""
    if not estimates:
        return Estimate(math.nan)
    dists = [e.bootstrap_distribution for e in estimates]
    dist = None if any(d is None for d in dists) else np.mean(np.stack(dists), axis=0)
    k = len(estimates)
    infl = estimates[0].influence
    infl = None if infl is None else {s: v / k for s, v in infl.items()}
    for e in estimates[1:]:
        infl = _merge(infl, e.influence, 1.0, 1.0 / k)
    return Estimate(float(np.mean([e.statistic for e in estimates])), dist, sum(e.n for e in estimates),
                    sum(e.n_strata for e in estimates), min(e.n_seeds for e in estimates), infl)


def ratio(num: Estimate, den: Estimate) -> Estimate:
    """num / den replicate by replicate; undefined (NaN) wherever den <= 0 (e.g. a model at or below chance)."""
    def div(a, b):
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        return np.where(b > 0, a / np.where(b > 0, b, 1.0), np.nan)
    out = num._combine(den, div, 1.0, 0.0)
    infl = None
    if num.influence is not None and den.influence is not None and den.statistic > 0:
        r = out.statistic  # delta method: d(a/b) = (da - r db) / b
        infl = _merge(num.influence, den.influence, 1.0 / den.statistic, -r / den.statistic)
    return Estimate(float(out.statistic), out.bootstrap_distribution, out.n, out.n_strata, out.n_seeds, infl)
