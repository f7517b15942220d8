"""Multiplicity: Holm (family-wise error) and Benjamini-Hochberg (false discovery rate) adjusted p-values, and the
rule that keeps tests out of a family when they could never pass its correction."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import ConfigError


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


def corrected_alpha(alpha: float, m: int) -> float:
    """alpha/m: the level the correction's first step applies (Holm's and Benjamini-Hochberg's); a test whose
    smallest attainable p is at or above it can only pass at a later step, after a smaller p passed first."""
    return alpha / max(m, 1)


def testable(min_pvalues: Sequence[float], alpha: float) -> np.ndarray:
    """Which tests can pass the correction: the largest family in which every test's smallest attainable p is below
    alpha/m, m being that family's size (a test that could never pass only costs the others power). Found from the
    sorted smallest p-values: the largest k with p_(k) < alpha/k, never splitting tied values, so the answer does not
    depend on the order tests come in. NaN entries (no p-value at all) are not tests."""
    mins = np.asarray(min_pvalues, dtype=np.float64)
    ok = np.isfinite(mins)
    keep = np.zeros(mins.shape, dtype=bool)
    s = np.sort(mins[ok])
    for k in range(len(s), 0, -1):
        if s[k - 1] < alpha / k and (k == len(s) or s[k] > s[k - 1]):
            keep[ok] = mins[ok] <= s[k - 1]
            break
    return keep
