"""The selection table behind :func:`modxfer.similarity.selection.evaluate`: NDCG@k and Regret@k per measure, outcome, target,
scope and same-source choice, with bootstrap intervals (see :mod:`modxfer.similarity.replicates` for what a replicate
resamples)."""

from __future__ import annotations

import math
import warnings
from typing import Mapping

import numpy as np

from .matrix import SimilarityMatrix, same_source
from .ranking import expected_metrics
from .replicates import cycle, similarity_replicates
from .stats import percentile_interval, rng_for

COLUMNS = ["measure", "outcome", "target", "scope_kind", "scope", "same_source", "k", "ndcg", "ndcg_low",
           "ndcg_high", "ndcg_note", "regret", "regret_low", "regret_high", "regret_note", "candidates", "languages",
           "targets", "resampled"]


def records(df) -> list[dict]:
    """DataFrame rows as JSON-ready dicts (NaN -> None)."""
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
            for r in df.to_dict("records")]


def _scores(measure: str, matrices: Mapping[str, SimilarityMatrix], target: str, cands: list[str]):
    """The measure's similarity of each candidate to ``target``; None where the matrix lacks the target."""
    if measure == "random":
        return np.zeros(len(cands))
    m = matrices[measure]
    if target not in m.targets:
        return None
    j = m.targets.index(target)
    return np.array([m.values[m.intermediates.index(a), j] if a in m.intermediates else np.nan for a in cands])


def _scopes(part) -> list[tuple[str, str, list[str]]]:
    langs = list(dict.fromkeys(part["lang"]))
    fam = dict(zip(part["lang"], part["family"]))
    families = sorted(set(fam.values()))
    return ([("languages", "all", langs)] + [("family", f, [l for l in langs if fam[l] == f]) for f in families]
            + [("lang", l, [l]) for l in langs])


def _means(V: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """(B, C): per replicate b, the candidates' mean over the languages ``idx[b]`` of ``V`` ((B or 1), C, L)."""
    b = np.arange(len(idx))[:, None, None] if len(V) > 1 else np.zeros((1, 1, 1), dtype=int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a candidate missing in every drawn language: NaN
        return np.nanmean(V[b, np.arange(V.shape[1])[None, :, None], idx[:, None, :]], axis=2)


def _scale(levels: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # rows without any level: NaN scale
        return np.nanmax(levels, axis=1)


class _Outcome:
    """One (outcome, target): point values and replicates as candidates x languages arrays."""

    def __init__(self, part, outcome, target, reps, n_resamples):
        V = part.pivot_table(index="intermediate", columns="lang", values="value", aggfunc="mean")
        L = part.pivot_table(index="intermediate", columns="lang", values="level", aggfunc="mean")
        L = L.loc[V.index, V.columns]
        self.cands, self.langs = list(V.index), list(V.columns)
        self.V, self.L = V.to_numpy(float), L.to_numpy(float)
        self.key, self.B = (outcome, target), n_resamples
        self.Vr = self.Lr = None
        found = [(c, l, reps[(outcome, target, a, lang)]) for c, a in enumerate(self.cands)
                 for l, lang in enumerate(self.langs) if (outcome, target, a, lang) in reps]
        if found and n_resamples >= 2:  # cells without replicates keep their point value in every replicate
            self.Vr = np.broadcast_to(self.V, (n_resamples, *self.V.shape)).copy()
            self.Lr = np.broadcast_to(self.L, (n_resamples, *self.L.shape)).copy()
            for c, l, (v, lv) in found:
                self.Vr[:, c, l], self.Lr[:, c, l] = cycle(v, n_resamples), cycle(lv, n_resamples)

    def arrays(self, cands, langs):
        """Points (C, L) and replicates (B, C, L) of values and levels; replicates None when none exist."""
        ci = [self.cands.index(a) for a in cands]
        li = [self.langs.index(lang) for lang in langs]
        grid = np.ix_(ci, li)
        if self.Vr is None:
            return self.V[grid], self.L[grid], None, None
        return self.V[grid], self.L[grid], self.Vr[:, ci][:, :, li], self.Lr[:, ci][:, :, li]


def selection_table(outs, matrices: Mapping[str, SimilarityMatrix], ks, n_resamples: int, seed: int, level: float,
                    reps: dict | None = None):
    import pandas as pd

    rows, by_target = [], {}
    B = max(int(n_resamples), 0)
    for (outcome, target), part in outs.groupby(["outcome", "target"], sort=False):
        if not any(target in m.targets for m in matrices.values()):
            continue  # no measure has this target (no training inputs): random and oracle alone would skew the means
        data = _Outcome(part, outcome, target, reps or {}, B)
        for ss in ("with", "without"):
            cands = [a for a in data.cands if a != target and not (ss == "without" and same_source(a, target))]
            if len(cands) >= 2:
                rows += _scored(data, matrices, cands, _scopes(part), ks, B, seed, ss, level, by_target)
    rows += _mean_rows(by_target, ks, level)
    return pd.DataFrame(rows, columns=COLUMNS)


def _scope_outcomes(data, cands, langs, B, rng):
    """Point outcomes (C,) and Regret scale; (B, C) replicated outcomes and (B,) scales (None when B < 2), and
    whether the outcomes' own replicates went into them."""
    V, Lv, Vr, Lr = data.arrays(cands, langs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a candidate without any value here: NaN
        point_o, point_s = np.nanmean(V, 1), _scale(np.nanmean(Lv, 1)[None])[0]
    if B < 2:
        return point_o, point_s, None, None, False
    idx = rng.integers(0, len(langs), size=(B, len(langs)))
    return (point_o, point_s, _means(Vr if Vr is not None else V[None], idx),
            _scale(_means(Lr if Lr is not None else Lv[None], idx)), Vr is not None)


def _scored(data, matrices, cands, scopes, ks, B, seed, ss, level, by_target) -> list[dict]:
    """Every measure (and random, oracle) in every scope of one (outcome, target, same-source choice), all rankings
    scored in one call: (scopes x measures x replicates) rows of candidates."""
    from .ranks import PSEUDO

    outcome, target = data.key
    sims = {m: similarity_replicates(matrices[m], target, cands, B) if B >= 2 else None for m in matrices}
    measures = [m for m in [*matrices, *PSEUDO] if m == "oracle" or _scores(m, matrices, target, cands) is not None]
    pts_s, pts_o, pts_sc, bs_s, bs_o, bs_sc, keys = [], [], [], [], [], [], []
    for kind, scope, langs in scopes:
        rng = rng_for(seed, "languages", outcome, target, ss, scope)
        po, ps, ro, rs, with_reps = _scope_outcomes(data, cands, langs, B, rng)
        for m in measures:
            scores = po if m == "oracle" else _scores(m, matrices, target, cands)
            sim_r = sims.get(m)
            # one language, no replicates of anything: nothing to resample, no interval (as before replicates)
            boot = ro is not None and (len(langs) >= 2 or with_reps or sim_r is not None)
            pts_s.append(scores), pts_o.append(po), pts_sc.append(ps)
            if boot:
                fixed = np.broadcast_to(scores, ro.shape)
                bs_s.append(ro if m == "oracle" else (sim_r if sim_r is not None else fixed))
                bs_o.append(ro), bs_sc.append(rs)
            what = _resampled(len(langs), with_reps, sim_r is not None) if boot else "none"
            keys.append((kind, scope, len(langs), m, boot, what))
    points = expected_metrics(np.stack(pts_s), np.stack(pts_o), ks, np.array(pts_sc))
    boots = (expected_metrics(np.concatenate(bs_s), np.concatenate(bs_o), ks, np.concatenate(bs_sc)).reshape(
        len(bs_s), B, len(ks), 2) if bs_s else None)
    cis = percentile_interval(boots, level, axis=1) if boots is not None else None
    rows, b = [], 0
    for (kind, scope, n_langs, m, has_boot, what), point, po in zip(keys, points, pts_o):
        n_cands = int(np.isfinite(po).sum())
        notes = _vacuous(ks, n_cands)
        boot, ci = (boots[b], (cis.low[b], cis.high[b])) if has_boot else (None, None)
        b += has_boot
        point, boot = _blank(point, boot, notes)
        ci = None if ci is None else tuple(_blank(c, None, notes)[0] for c in ci)
        by_target[(m, outcome, ss, kind, scope, target)] = (point, boot, notes, what)
        rows += _rows(m, outcome, target, ss, kind, scope, ks, point, ci, notes, n_cands, n_langs, 1, what)
    return rows


def _resampled(n_langs: int, outcomes: bool, similarity: bool) -> str:
    parts = (["languages"] if n_langs >= 2 else []) + (["examples"] if outcomes else []) + (
        ["similarity inputs"] if similarity else [])
    return ", ".join(parts) or "none"


def _vacuous(ks, n_cands) -> list[tuple[str | None, str | None]]:
    from .ranks import vacuous

    return [(vacuous("ndcg", k, n_cands), vacuous("regret", k, n_cands)) for k in ks]


def _blank(point, boot, notes):
    """NaN where the metric is vacuous at k (``notes``), in the point and in every replicate."""
    mask = np.array([[n is not None for n in pair] for pair in notes])
    if mask.any():
        point = np.where(mask, np.nan, point)
        boot = None if boot is None else np.where(mask[None], np.nan, boot)
    return point, boot


def _rows(measure, outcome, target, ss, kind, scope, ks, point, ci, notes, n_cands, n_langs, n_targets, resampled):
    """One row per k; ``ci`` is (low, high) arrays shaped like ``point`` (len(ks), 2), or None."""
    nan = np.full(point.shape, np.nan)
    low, high = ci if ci is not None else (nan, nan)
    return [{"measure": measure, "outcome": outcome, "target": target, "scope_kind": kind, "scope": scope,
             "same_source": ss, "k": k, "ndcg": point[i, 0], "ndcg_low": low[i, 0], "ndcg_high": high[i, 0],
             "ndcg_note": notes[i][0], "regret": point[i, 1], "regret_low": low[i, 1], "regret_high": high[i, 1],
             "regret_note": notes[i][1], "candidates": n_cands, "languages": n_langs, "targets": n_targets,
             "resampled": resampled} for i, k in enumerate(ks)]


def _mean_rows(by_target, ks, level):
    """Mean over targets per (measure, outcome, same-source, scope); each target's replicates drawn apart. Where a
    metric is vacuous for one target the mean is undefined too: it would silently be a mean over fewer targets."""
    groups: dict[tuple, list] = {}
    for (measure, outcome, ss, kind, scope, target), entry in by_target.items():
        if kind != "lang":
            groups.setdefault((measure, outcome, ss, kind, scope), []).append((target, entry))
    rows = []
    for (measure, outcome, ss, kind, scope), items in groups.items():
        points = [e[0] for _, e in items]
        boots = [e[1] for _, e in items]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            point = np.nanmean(points, axis=0)
            boot = None
            if any(b is not None for b in boots):
                n = next(len(b) for b in boots if b is not None)
                boot = np.nanmean([b if b is not None else np.broadcast_to(p, (n, *p.shape))
                                   for p, b in zip(points, boots)], axis=0)
        notes = [tuple("; ".join(f"{t}: {e[2][i][j]}" for t, e in items if e[2][i][j]) or None for j in range(2))
                 for i in range(len(ks))]
        point, boot = _blank(point, boot, notes)
        what = "; ".join(f"{t}: {e[3]}" for t, e in items)
        ci = None if boot is None else percentile_interval(boot, level)
        rows += _rows(measure, outcome, "mean", ss, kind, scope, ks, point, ci, notes, math.nan, math.nan,
                      len(items), what)
    return rows
