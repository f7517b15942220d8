"""The tables behind :func:`modxfer.selection.evaluate`, and the one-call ``select`` for one target."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from .matrix import SimilarityMatrix, same_source
from .stats import percentile_interval, rng_for


def records(df) -> list[dict]:
    """DataFrame rows as JSON-ready dicts (NaN -> None)."""
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
            for r in df.to_dict("records")]


def _scores(measure: str, matrices: Mapping[str, SimilarityMatrix], target: str, cands: list[str]):
    """The measure's similarity of each candidate to ``target``; None where the matrix lacks the target."""
    if measure == "random":
        return np.zeros(len(cands))
    if measure == "oracle":
        return None  # the outcomes themselves, set per resample
    m = matrices[measure]
    if target not in m.targets:
        return None
    j = m.targets.index(target)
    return np.array([m.values[m.intermediates.index(a), j] if a in m.intermediates else np.nan for a in cands])


def _metrics(scores, O: np.ndarray, levels: np.ndarray, ks) -> np.ndarray:
    """(B, len(ks), 2) NDCG@k and Regret@k of ``scores`` (None: the oracle) against outcome rows ``O`` (B, C)."""
    from ..selection import _Ranking, ndcg_at_k, regret_at_k

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # rows without any level: NaN scale
        scale = np.nanmax(levels, axis=1)
    if scores is None:  # the oracle ranks by the outcomes themselves: NDCG 1 (undefined if all equal), regret 0
        flat = np.nanmax(O, 1) == np.nanmin(O, 1)
        return np.stack([np.stack([np.where(flat, np.nan, 1.0), np.zeros(len(O))], -1) for _ in ks], 1)
    if np.isnan(O).any():  # a candidate without an outcome in some resample: score each row on its own
        return np.array([[(ndcg_at_k(scores, o, k), regret_at_k(scores, o, k, scale=sc)) for k in ks]
                         for o, sc in zip(O, scale)])
    r = _Ranking(np.asarray(scores, dtype=float))
    return np.stack([np.stack([r.ndcg(O, k), r.regret(O, k, scale)], -1) for k in ks], 1)


def _scope_rows(scores, V, Lv, ks, idx):
    """Point metrics and (B, len(ks), 2) replicates for one scope: V, Lv are candidates x languages."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a candidate missing in every resampled language: NaN
        point = _metrics(scores, np.nanmean(V, 1)[None], np.nanmean(Lv, 1)[None], ks)[0]
        if idx is None:
            return point, None
        return point, _metrics(scores, np.nanmean(V[:, idx], 2).T, np.nanmean(Lv[:, idx], 2).T, ks)


def _scopes(part) -> list[tuple[str, str, list[str]]]:
    langs = list(dict.fromkeys(part["lang"]))
    fam = dict(zip(part["lang"], part["family"]))
    families = sorted(set(fam.values()))
    return ([("languages", "all", langs)] + [("family", f, [l for l in langs if fam[l] == f]) for f in families]
            + [("lang", l, [l]) for l in langs])


def selection_table(outs, matrices: Mapping[str, SimilarityMatrix], ks, n_resamples: int, seed: int, level: float):
    import pandas as pd

    from ..selection import PSEUDO

    rows, reps_by = [], {}
    measures = [*matrices, *PSEUDO]
    for (outcome, target), part in outs.groupby(["outcome", "target"], sort=False):
        if not any(target in m.targets for m in matrices.values()):
            continue  # no measure has this target (no training inputs): random and oracle alone would skew the means
        V_all = part.pivot_table(index="intermediate", columns="lang", values="value", aggfunc="mean")
        L_all = part.pivot_table(index="intermediate", columns="lang", values="level", aggfunc="mean")
        for ss in ("with", "without"):
            cands = [a for a in V_all.index if a != target and not (ss == "without" and same_source(a, target))]
            if len(cands) < 2:
                continue
            for kind, scope, langs in _scopes(part):
                V, Lv = V_all.loc[cands, langs].to_numpy(float), L_all.loc[cands, langs].to_numpy(float)
                idx = None
                if len(langs) >= 2 and n_resamples >= 2:
                    rng = rng_for(seed, "languages", outcome, target, ss, scope)
                    idx = rng.integers(0, len(langs), size=(n_resamples, len(langs)))
                for measure in measures:
                    scores = _scores(measure, matrices, target, cands)
                    if scores is None and measure != "oracle":
                        continue
                    point, reps = _scope_rows(scores, V, Lv, ks, idx)
                    reps_by[(measure, outcome, ss, kind, scope, target)] = (point, reps)
                    rows += _rows(measure, outcome, target, ss, kind, scope, ks, point, reps, level,
                                  len(cands), len(langs))
    rows += _mean_rows(reps_by, ks, level, n_resamples)
    cols = ["measure", "outcome", "target", "scope_kind", "scope", "same_source", "k", "ndcg", "ndcg_low",
            "ndcg_high", "regret", "regret_low", "regret_high", "candidates", "languages", "targets"]
    return pd.DataFrame(rows, columns=cols)


def _rows(measure, outcome, target, ss, kind, scope, ks, point, reps, level, n_cands, n_langs, n_targets=1):
    ci = percentile_interval(reps, level) if reps is not None else None
    out = []
    for i, k in enumerate(ks):
        out.append({"measure": measure, "outcome": outcome, "target": target, "scope_kind": kind, "scope": scope,
                    "same_source": ss, "k": k, "ndcg": point[i, 0], "regret": point[i, 1],
                    "ndcg_low": ci.low[i, 0] if ci else math.nan, "ndcg_high": ci.high[i, 0] if ci else math.nan,
                    "regret_low": ci.low[i, 1] if ci else math.nan, "regret_high": ci.high[i, 1] if ci else math.nan,
                    "candidates": n_cands, "languages": n_langs, "targets": n_targets})
    return out


def _mean_rows(reps_by, ks, level, n_resamples):
    """Mean over targets per (measure, outcome, same-source, scope); each target's languages resampled apart."""
    groups: dict[tuple, list] = {}
    for (measure, outcome, ss, kind, scope, target), pr in reps_by.items():
        if kind != "lang":
            groups.setdefault((measure, outcome, ss, kind, scope), []).append(pr)
    rows = []
    for (measure, outcome, ss, kind, scope), prs in groups.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            point = np.nanmean([p for p, _ in prs], axis=0)
            any_reps = any(r is not None for _, r in prs)
            reps = (np.nanmean([r if r is not None else np.broadcast_to(p, (n_resamples, *p.shape))
                                for p, r in prs], axis=0) if any_reps else None)
        rows += _rows(measure, outcome, "mean", ss, kind, scope, ks, point, reps, level, math.nan, math.nan, len(prs))
    return rows


# ------------------------------------------------------------------------------------------ correlations
def _rank(x: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(x, axis=-1)


def _pearson_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    x = x - x.mean(-1, keepdims=True)
    y = y - y.mean(-1, keepdims=True)
    with np.errstate(all="ignore"):
        return (x * y).sum(-1) / np.sqrt((x * x).sum(-1) * (y * y).sum(-1))


def _kendall_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Kendall's tau-b per row (B, n), from all pairs at once."""
    sx = np.sign(x[..., :, None] - x[..., None, :])
    sy = np.sign(y[..., :, None] - y[..., None, :])
    with np.errstate(all="ignore"):
        return (sx * sy).sum((-1, -2)) / np.sqrt((sx * sx).sum((-1, -2)) * (sy * sy).sum((-1, -2)))


def _correlation(x, y, n_resamples, rng, level) -> dict:
    from scipy.stats import kendalltau, spearmanr

    n = len(x)
    out = {"n": n}
    if n < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return out | {k: math.nan for k in ("spearman", "spearman_p", "spearman_low", "spearman_high", "kendall",
                                            "kendall_p", "kendall_low", "kendall_high")}
    sp, kt = spearmanr(x, y), kendalltau(x, y)
    out |= {"spearman": float(sp.statistic), "spearman_p": float(sp.pvalue), "kendall": float(kt.statistic),
            "kendall_p": float(kt.pvalue)}
    if n_resamples >= 2:
        idx = rng.integers(0, n, size=(n_resamples, n))
        xb, yb = x[idx], y[idx]
        ci_s = percentile_interval(_pearson_rows(_rank(xb), _rank(yb)), level)
        ci_k = percentile_interval(_kendall_rows(xb, yb), level)
        out |= {"spearman_low": float(ci_s.low), "spearman_high": float(ci_s.high),
                "kendall_low": float(ci_k.low), "kendall_high": float(ci_k.high)}
    return out


def correlation_table(outs, matrices: Mapping[str, SimilarityMatrix], n_resamples: int, seed: int, level: float):
    """Spearman and Kendall between a measure and an outcome: one point per (intermediate, target) pair."""
    import pandas as pd

    avg = outs.groupby(["outcome", "target", "intermediate"], sort=False)["value"].mean()
    rows = []
    for measure, m in matrices.items():
        for outcome in dict.fromkeys(outs["outcome"]):
            pts = [(t, a, m[(a, t)], v) for (o, t, a), v in avg.items()
                   if o == outcome and a in m.intermediates and t in m.targets and a != t]
            for ss in ("with", "without"):
                sel = [p for p in pts if not (ss == "without" and same_source(p[1], p[0]))]
                for target in ["all", *dict.fromkeys(p[0] for p in sel)]:
                    sub = [p for p in sel if target == "all" or p[0] == target]
                    x = np.array([p[2] for p in sub], dtype=float)
                    y = np.array([p[3] for p in sub], dtype=float)
                    ok = np.isfinite(x) & np.isfinite(y)
                    rng = rng_for(seed, "correlation", measure, outcome, ss, target)
                    rows.append({"measure": measure, "outcome": outcome, "target": target, "same_source": ss,
                                 **_correlation(x[ok], y[ok], n_resamples, rng, level)})
    return pd.DataFrame(rows)


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


# ------------------------------------------------------------------------------------------ one target
@dataclass(frozen=True)
class Selection:
    """Intermediates ranked for one target by one measure; with a run, their measured outcomes and the ranking's
    NDCG@k / Regret@k (and a random ranking's) per outcome."""

    target: str
    measure: str
    lang: str | None
    ranking: tuple[dict, ...]
    scores: dict = field(default_factory=dict)
    matrix: SimilarityMatrix | None = field(default=None, repr=False)

    @property
    def best(self) -> str | None:
        return self.ranking[0]["intermediate"] if self.ranking else None

    def to_pandas(self):
        import pandas as pd

        return pd.DataFrame(list(self.ranking))


def select(target: str, *, by: str = "textemb", lang: str | None = None, run=None,
           intermediates: Sequence[str] | None = None, exclude_same_source: bool = False, kind: str = "stack",
           base=None, settings=None, data_dir=None, store=None, train=None, ks: Sequence[int] = (1, 3)) -> Selection:
    """Rank intermediates for ``target`` by similarity ``by``; with ``run`` (a sweep's folder), also what each
    measurably did for the target (in ``lang``, or averaged over the run's languages) and the ranking's regret.

    Raises:
        DataError: the run has no single-intermediate compositions for the target, or not in ``lang``.
        ConfigError, UnknownTaskError: bad measure or task names.
    """
    from .. import similarity as S
    from ..errors import DataError
    from ..selection import outcomes as outcome_table
    from ..tasks import get_task

    target = get_task(target).name
    outs, ctx = None, {}
    if run is not None:
        from .runinfo import run_context

        ctx = run_context(run)
        outs = outcome_table(ctx["results"], kind=kind, include_english=lang is not None)  # asked for by name
        outs = outs[outs["target"] == target]
        if outs.empty:
            raise DataError(f"run {run} has no {kind} composition with one intermediate for target {target!r}",
                            f"pick a target the run composes intermediates for ({_targets(ctx['results'])})")
        if lang is not None:
            if lang not in set(outs["lang"]):
                raise DataError(f"run {run} has no {target} results in language {lang!r}",
                                f"pick one of: {', '.join(sorted(set(outs['lang'])))}")
            outs = outs[outs["lang"] == lang]
    cands = list(intermediates) if intermediates else (
        list(dict.fromkeys(outs["intermediate"])) if outs is not None else _offline_intermediates(data_dir))
    cands = [get_task(a).name for a in cands if get_task(a).name != target]
    m = S.compute(by, cands, [target], base=base or ctx.get("base", "embedded"), settings=settings,
                  data_dir=data_dir or ctx.get("data_dir"), store=store or ctx.get("store"),
                  train=train or ctx.get("train"), lang=lang if by.startswith("cka") else None)
    return _selection(m, target, by, lang, outs, exclude_same_source, ks)


def _selection(m, target, by, lang, outs, exclude_same_source, ks) -> Selection:
    from ..selection import ndcg_at_k, random_ndcg_at_k, random_regret_at_k, regret_at_k

    low, high = m.confidence_interval()
    se = m.se
    j = m.targets.index(target)
    measured = (outs.groupby(["outcome", "intermediate"])[["value", "level"]].mean() if outs is not None else None)
    ranking = []
    for a, v in m.ranking(target, exclude_same_source=exclude_same_source):
        i = m.intermediates.index(a)
        row = {"intermediate": a, "similarity": v, "se": float(se[i, j]), "low": float(low[i, j]),
               "high": float(high[i, j]), "same_source": same_source(a, target)}
        if measured is not None:
            for o in ("clean_gain", "noisy_score", "robustness_gain"):
                row[o] = float(measured.loc[(o, a), "value"]) if (o, a) in measured.index else math.nan
        ranking.append(row)
    scores = {}
    if measured is not None:
        for o in dict.fromkeys(outs["outcome"]):
            sub = [r for r in ranking if not math.isnan(r[o])]
            if len(sub) < 2:
                continue
            s = np.array([r["similarity"] for r in sub])
            v = np.array([r[o] for r in sub])
            scale = float(np.nanmax([measured.loc[(o, r["intermediate"]), "level"] for r in sub]))
            scores[o] = {f"{name}@{k}": fn(k) for k in ks for name, fn in (
                ("ndcg", lambda k: ndcg_at_k(s, v, k)), ("regret", lambda k: regret_at_k(s, v, k, scale=scale)),
                ("random_ndcg", lambda k: random_ndcg_at_k(v, k)),
                ("random_regret", lambda k: random_regret_at_k(v, k, scale=scale)))}
    return Selection(target, by, lang, tuple(ranking), scores, m)


def _targets(results) -> str:
    import pandas as pd

    df = results if isinstance(results, pd.DataFrame) else pd.DataFrame(list(results))
    return ", ".join(sorted(set(df["task"]))) if "task" in df else "none"


def _offline_intermediates(data_dir) -> list[str]:
    from ..tasks import list_tasks

    return [t.name for t in list_tasks("intermediate") if "train" in t.splits and not t.needs_hub
            and t.available(data_dir)]
