"""Bootstrap helpers shared by the similarity measures and the selection metrics (scipy.stats conventions)."""

from __future__ import annotations

import zlib
from typing import NamedTuple

import numpy as np


class ConfidenceInterval(NamedTuple):
    low: float | np.ndarray
    high: float | np.ndarray


def rng_for(seed: int, *salts: str) -> np.random.Generator:
    """A generator that depends only on the seed and the salts (a task name, a target), never on call order:
    the resamples of one task are the same whichever other tasks it is compared with."""
    return np.random.default_rng([int(seed), *(zlib.crc32(s.encode("utf-8")) for s in salts)])


def resample_indices(n: int, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """``(n_resamples, n)`` indices drawn with replacement (the ordinary nonparametric bootstrap)."""
    return rng.integers(0, n, size=(n_resamples, n))


def resample_weights(n: int, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """``(n_resamples, n)`` multiplicities of each item in a resample: the same draws as ``resample_indices``,
    counted, so a resampled mean is one matrix product."""
    idx = resample_indices(n, n_resamples, rng)
    w = np.zeros((n_resamples, n))
    np.add.at(w, (np.arange(n_resamples)[:, None], idx), 1.0)
    return w


def percentile_interval(replicates: np.ndarray, confidence_level: float = 0.95, axis: int = 0) -> ConfidenceInterval:
    """Percentile interval over ``axis`` (numpy's default linear interpolation); NaN replicates (undefined
    statistics) are ignored, and a column with none defined gives NaN."""
    if not 0 < confidence_level < 1:
        raise ValueError(f"confidence_level must be in (0, 1), got {confidence_level}")
    alpha = (1 - confidence_level) / 2
    r = np.moveaxis(np.asarray(replicates, dtype=float), axis, 0)
    if not np.isnan(r).any():
        low, high = np.quantile(r, [alpha, 1 - alpha], axis=0)
        return ConfidenceInterval(low, high)
    # np.nanquantile loops over columns in Python (apply_along_axis): sorting once puts NaN last, so each column's
    # defined values are its first n entries and the quantile is an interpolation between two of them.
    s = np.sort(r, axis=0)
    n = (~np.isnan(r)).sum(0)

    def q(p):
        pos = p * np.maximum(n - 1, 0)
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, np.maximum(n - 1, 0))
        a = np.take_along_axis(s, lo[None], 0)[0]
        b = np.take_along_axis(s, hi[None], 0)[0]
        with np.errstate(invalid="ignore"):
            return np.where(n > 0, a + (b - a) * (pos - lo), np.nan)
    low, high = q(alpha), q(1 - alpha)
    return ConfidenceInterval(low[()] if low.ndim == 0 else low, high[()] if high.ndim == 0 else high)


def standard_error(replicates: np.ndarray, axis: int = 0) -> np.ndarray:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanstd(replicates, axis=axis, ddof=1)
