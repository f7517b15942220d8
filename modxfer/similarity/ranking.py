"""NDCG@k and Regret@k of many rankings at once, each the exact expectation over random tie-breaks.

Row b of ``scores`` ranks the candidates whose outcomes are row b of ``outcomes``: a bootstrap replicate can carry
its own similarity values (the measure's replicate b) as well as its own outcomes, so nothing here assumes one
ranking for all rows. Everything is computed from pairwise comparisons, (B, C, C) booleans: C is the handful of
intermediates, so this is cheaper than any per-row loop.

A tie occupies a block of positions; each member is equally likely to sit at any of them. So a member's expected
discount is the mean discount over the block's positions (within k), and the best outcome among the top k is fixed
for blocks wholly inside the top k, while a block that straddles rank k contributes k - (ranks above it) members
drawn at random: the j-th smallest of its g members is the largest drawn with probability C(j, m-1) / C(g, m).
"""

from __future__ import annotations

import numpy as np

_TOL = 1e-12  # a loss this small (relative to the best outcome) is rounding in the tie expectation, not a loss


def _structure(scores: np.ndarray, ok: np.ndarray):
    """Per row and candidate: how many (valid) candidates score strictly higher, and how many tie with it."""
    s = np.where(np.isnan(scores), -np.inf, scores)  # no similarity: ranked last (tied with the other unscored)
    other = ok[:, None, :]
    above = ((s[:, None, :] > s[:, :, None]) & other).sum(-1)
    tie = ((s[:, None, :] == s[:, :, None]) & other).sum(-1)
    return s, above, tie


def expected_metrics(scores, outcomes, ks, scale=None) -> np.ndarray:
    """(B, len(ks), 2): expected NDCG@k and Regret@k (percent of ``scale``, default the best outcome) per row.

    ``scores`` is (C,) or (B, C), ``outcomes`` (B, C) with NaN for a candidate without an outcome in that row (it
    is left out of the row); ``scale`` is (B,) or None. k larger than a row's candidates is cut to their number.
    NDCG is NaN where all outcomes are equal, Regret NaN where the scale is not positive (and the loss is not 0).
    """
    o = np.atleast_2d(np.asarray(outcomes, dtype=float))
    b, c = o.shape
    s = np.broadcast_to(np.asarray(scores, dtype=float), (b, c))
    ok = ~np.isnan(o)
    n_ok = ok.sum(1)
    s, above, tie = _structure(s, ok)
    lo = np.where(ok, o, np.inf).min(1, keepdims=True)
    rel = np.where(ok, o - lo, 0.0)  # the worst candidate has relevance 0 (outcomes can be negative)
    best = np.where(ok, o, -np.inf).max(1)
    scale = best if scale is None else np.broadcast_to(np.asarray(scale, dtype=float), (b,))
    pos = np.arange(1, c + 1)
    disc_all = 1.0 / np.log2(pos + 1)
    ideal_order = -np.sort(-np.where(ok, rel, -np.inf), axis=1)  # valid relevances first, best first
    j = _order_in_tie(s, o, ok, tie)
    out = np.full((b, len(ks), 2), np.nan)
    for i, k in enumerate(ks):
        kk = np.minimum(int(k), n_ok)[:, None]  # (B, 1)
        disc = np.where(pos[None, :] <= kk, disc_all[None, :], 0.0)
        cum = np.concatenate([np.zeros((b, 1)), np.cumsum(disc, 1)], 1)
        rows = np.arange(b)[:, None]
        e_disc = (cum[rows, np.minimum(above + tie, c)] - cum[rows, above]) / np.maximum(tie, 1)
        dcg = (rel * e_disc * ok).sum(1)
        ideal = (np.where(np.isfinite(ideal_order), ideal_order, 0.0) * disc).sum(1)
        with np.errstate(all="ignore"):
            # at most 1: the two sums run in different orders, so a perfect ranking can land an ulp above
            out[:, i, 0] = np.where(ideal > 0, np.minimum(dcg / ideal, 1.0), np.nan)
        out[:, i, 1] = _regret(o, ok, above, tie, j, kk, best, scale)
    out[n_ok == 0] = np.nan
    return out


def _order_in_tie(s, o, ok, tie) -> np.ndarray:
    """Each candidate's place among the members of its tie, ordered by outcome then index (0 = smallest); only
    rows with a tie are compared (the others never straddle rank k)."""
    j = np.zeros(s.shape, dtype=int)
    rows = np.flatnonzero((tie > 1).any(1))
    if len(rows):
        s, o, ok = s[rows], o[rows], ok[rows]
        pos = np.arange(s.shape[1])
        same = (s[:, None, :] == s[:, :, None]) & ok[:, None, :]
        lower = (o[:, None, :] < o[:, :, None]) | ((o[:, None, :] == o[:, :, None]) & (pos[None, :] < pos[:, None]))
        j[rows] = (same & lower).sum(-1)
    return j


def _comb(n: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Binomial coefficients of small integers (0 where r < 0 or r > n)."""
    from scipy.special import comb

    return comb(n, r) if n.size else np.zeros(n.shape)


def _regret(o, ok, above, tie, j, kk, best, scale) -> np.ndarray:
    certain = ok & (above + tie <= kk)
    fixed = np.where(certain, o, -np.inf).max(1)
    straddle = ok & (above < kk) & (above + tie > kk)
    m = kk - above  # members of the straddling tie that make the top k
    p = np.zeros(o.shape)
    where = np.nonzero(straddle)
    if len(where[0]):
        p[where] = _comb(j[where], m[where] - 1) / _comb(tie[where], m[where])
    drawn = np.where(straddle, p * np.maximum(fixed[:, None], np.where(ok, o, 0.0)), 0.0).sum(1)
    top = np.where(straddle.any(1), drawn, fixed)
    with np.errstate(all="ignore"):  # a row without candidates: -inf - -inf, NaN, masked by the caller
        loss = best - top
        small = np.abs(loss) <= _TOL * np.maximum(1.0, np.abs(best))
        return np.where(small, 0.0, np.where(scale > 0, loss / scale * 100, np.nan))
