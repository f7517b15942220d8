"""The core of selection: Poth et al.'s NDCG@k and Regret@k (exact over tie-breaks; ``random_*`` the all-tied
expectation), which tables cells are vacuous, and the measured outcomes a ranking is scored against (``outcomes``,
``excluded``). The definitions are in :mod:`modxfer.similarity.selection`.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ..errors import ConfigError, DataError
from .ranking import expected_metrics
from ..tasks.sources import MARK as SAME_SOURCE_MARK  # noqa: F401  (the one mark for a same-source pair)

OUTCOMES = ("clean_gain", "noisy_score", "robustness_gain")
KS = (1, 3)
PSEUDO = ("random", "oracle")  # reference rankings reported next to the measures
NOT_LEARNED = "not learned"

# ------------------------------------------------------------------------------------------ ranking metrics
def _ranking_iv(scores, outcomes, k) -> tuple[np.ndarray, np.ndarray, int]:
    s = np.asarray(scores, dtype=float).reshape(-1)
    o = np.asarray(outcomes, dtype=float).reshape(-1)
    if s.shape != o.shape:
        raise ValueError(f"scores and outcomes differ in length ({len(s)} != {len(o)})")
    if int(k) != k or k < 1:
        raise ValueError(f"k must be a positive integer, got {k}")
    return s, o, int(k)


def ndcg_at_k(scores: Sequence[float], outcomes: Sequence[float], k: int) -> float:
    """NDCG@k of ranking candidates by ``scores`` (descending) when their measured outcomes are ``outcomes``.
    A candidate without an outcome (NaN) is left out, one without a score ranked last; k is cut to the candidates."""
    s, o, k = _ranking_iv(scores, outcomes, k)
    return float(expected_metrics(s, o[None], [k])[0, 0, 0]) if len(o) else math.nan


def regret_at_k(scores: Sequence[float], outcomes: Sequence[float], k: int, *, scale: float | None = None) -> float:
    """Regret@k: (best outcome - best outcome among the top k) in percent of ``scale`` (Poth et al.'s O_max, the
    best composition's score; default: the best outcome itself). NaN when the scale is not positive."""
    s, o, k = _ranking_iv(scores, outcomes, k)
    sc = None if scale is None else [scale]
    return float(expected_metrics(s, o[None], [k], sc)[0, 0, 1]) if len(o) else math.nan


def random_ndcg_at_k(outcomes: Sequence[float], k: int) -> float:
    """Expected NDCG@k of a uniformly random ranking (exact)."""
    return ndcg_at_k(np.zeros(len(outcomes)), outcomes, k)


def random_regret_at_k(outcomes: Sequence[float], k: int, *, scale: float | None = None) -> float:
    """Expected Regret@k of a uniformly random ranking (exact)."""
    return regret_at_k(np.zeros(len(outcomes)), outcomes, k, scale=scale)


def vacuous(metric: str, k: int, candidates: int) -> str | None:
    """Why ``metric`` ("ndcg" or "regret") at k says nothing with this many candidates, or None when it does."""
    if metric == "regret" and k >= candidates:
        return f"k={k} >= {candidates} candidates: every ranking has Regret@{k} 0"
    if metric == "ndcg" and k > candidates:
        return f"k={k} > {candidates} candidates: NDCG@{k} repeats NDCG@{candidates}"
    return None


# ------------------------------------------------------------------------------------------ outcomes
def _frame(results):
    """Mean score per (task, composition, lang, noise), and each (task, composition)'s worst competence status."""
    import pandas as pd

    df = results.copy() if isinstance(results, pd.DataFrame) else pd.DataFrame(list(results or []))
    needed = {"task", "composition", "lang", "noise", "score"}
    if df.empty or not needed <= set(df.columns):
        raise DataError(f"no evaluation rows to select from (need columns {', '.join(sorted(needed))})",
                        "pass a sweep's results (modxfer.sweeps.load_results) with stack compositions and baselines")
    rank = {NOT_LEARNED: 2, "unknown": 1}
    competence = {}
    if "competence" in df.columns:  # rows from EvalResult carry none: nothing is known, nothing excluded
        for key, part in df.groupby(["task", "composition"], sort=False)["competence"]:
            competence[key] = max(part.fillna("unknown"), key=lambda s: rank.get(s, 0))
    df = df[df["score"].notna()]
    return df.groupby(["task", "composition", "lang", "noise"], sort=False)["score"].mean(), competence


def _single(comp_s: str, kind: str):
    """(composition, its baseline's name) for a single-intermediate composition of ``kind``; None otherwise."""
    from ..composition import Composition

    comp = Composition.parse(comp_s)
    if comp.kind != kind or len(comp.intermediates) != 1:
        return None
    return comp, str(Composition(comp.target, (), "full" if kind == "full" else "target"))


def _check_kind(kind: str) -> None:
    if kind not in ("stack", "full"):
        raise ConfigError(f"selection ranks single intermediates; kind {kind!r} is not one",
                          "use kind='stack' (a>t) or kind='full' (full:a>t)")


def excluded(results, *, kind: str = "stack") -> list[dict]:
    """The single-intermediate compositions ``outcomes`` leaves out because a model did not learn: target,
    intermediate, composition, baseline and the reason."""
    _check_kind(kind)
    return _excluded(_frame(results)[1], kind)


def _excluded(competence: dict, kind: str) -> list[dict]:
    out = []
    for (task, comp_s), status in competence.items():
        single = _single(comp_s, kind)
        if single is None:
            continue
        comp, base = single
        who = [w for w, st in (("the composition", status), (f"its baseline {base}", competence.get((task, base))))
               if st == NOT_LEARNED]
        if who:
            why = " and ".join(who) + " did not learn (validation CI does not clear its floor)"
            out.append({"target": task, "intermediate": comp.intermediates[0], "composition": comp_s,
                        "baseline": base, "reason": why})
    return out


def noise_settings(results, noise: Sequence[str] | None = None) -> list[str]:
    """The noisy settings the noisy outcomes average over: ``noise``, or every setting other than clean."""
    if noise is not None:
        return list(noise)
    return sorted({n for (*_, n) in _frame(results)[0].index if n != "clean"})


def outcomes(results, *, kind: str = "stack", noise: Sequence[str] | None = None, include_english: bool = False,
             learned_only: bool = True):
    """Long table: target, intermediate, composition, lang, family, outcome, value, level (the score behind it).
    English is left out unless ``include_english``: the intermediates and targets train on it, so it is not
    zero-shot transfer. With ``learned_only`` (default) compositions listed by ``excluded`` are left out."""
    import pandas as pd

    from .. import languages as L

    _check_kind(kind)
    score, competence = _frame(results)
    noisy_settings = list(noise) if noise is not None else sorted({n for (*_, n) in score.index if n != "clean"})
    skip = {(e["target"], e["composition"]) for e in _excluded(competence, kind)} if learned_only else set()
    out = []
    for (task, comp_s), part in score.groupby(level=[0, 1], sort=False):
        single = _single(comp_s, kind)
        if single is None or (task, comp_s) in skip:
            continue
        comp, base = single
        for lang in dict.fromkeys(part.index.get_level_values(2)):
            if not include_english and str(lang).lower().split("-")[0].split("_")[0] == "en":
                continue
            info = L.find(lang)
            row = {"target": task, "intermediate": comp.intermediates[0], "composition": comp_s, "lang": lang,
                   "family": info.family if info else "unknown"}
            for name, value, level in _lang_outcomes(score, task, comp_s, base, lang, noisy_settings):
                out.append({**row, "outcome": name, "value": value, "level": level})
    cols = ["target", "intermediate", "composition", "lang", "family", "outcome", "value", "level"]
    return pd.DataFrame(out, columns=cols)


def _lang_outcomes(score, task, comp, base, lang, noisy_settings):
    def get(c, n):
        v = score.get((task, c, lang, n))
        return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)

    clean, b_clean = get(comp, "clean"), get(base, "clean")
    if clean is not None and b_clean is not None:
        yield "clean_gain", clean - b_clean, clean
    noisy = [(n, get(comp, n), get(base, n)) for n in noisy_settings]
    own = [v for _, v, _ in noisy if v is not None]
    if own:
        yield "noisy_score", float(np.mean(own)), float(np.mean(own))
    if clean is not None and b_clean is not None:
        gains = [(b_clean - b) - (clean - v) for _, v, b in noisy if v is not None and b is not None]
        if gains:
            yield "robustness_gain", float(np.mean(gains)), float(np.mean(own))
