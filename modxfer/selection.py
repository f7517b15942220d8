"""Which intermediate task should I train for my target? Ranking by similarity, scored as Poth et al. (2021) do.

For each target, each outcome and each similarity measure, the intermediates are ranked by their similarity to the
target and the ranking is scored against what was measured:

  NDCG@k    DCG@k / ideal DCG@k with relevance = the measured outcome and the standard log2 discount,
            DCG@k = sum over ranks i <= k of rel_i / log2(i + 1). Outcomes can be negative (an intermediate that
            hurts), so relevance is the outcome minus the smallest outcome among the candidates: the worst
            candidate has relevance 0 (as Poth et al. shift scores to a non-negative range). NDCG is then the same
            for gains and for the scores they are differences of. Undefined (NaN) when all outcomes are equal.
  Regret@k  (best outcome - best outcome among the top k) / O_max x 100, where O_max is the best composition's
            *score* at that setting (Poth et al.'s O_max), not the best outcome: for clean gain the best clean
            score, for the noisy score itself, for robustness gain the best noisy score. The numerator is in points
            either way. Issue 10 words the denominator as the best outcome; for gains that is near 0 or negative,
            where a percentage of it is unstable or undefined, so Poth's definition is kept and every label says
            "% of the best composition's score".

Ties in a measure are broken at random, and both metrics return their exact expectation over the tie-breaks; a
random ranking is the all-tied case, so ``random_*`` is exact, not sampled. The oracle has NDCG 1 and regret 0.
With C candidates, Regret@k for k >= C is 0 for every ranking and NDCG@k for k > C repeats NDCG@C, so the tables
give them as undefined (NaN, with the reason) instead of a number that cannot tell measures apart (``vacuous``).

Outcomes (``outcomes``), per (target, intermediate, language), seeds averaged; compositions with one intermediate
(``a>t`` stacks by default, ``full:a>t`` with ``kind="full"``) against their baseline without it:

  clean_gain       clean score - the baseline's clean score
  noisy_score      the score under noise, mean over the noise settings
  robustness_gain  the baseline's degradation (clean - noisy) minus the composition's, mean over noise settings

A composition is left out when it or its baseline did not learn (the row's ``competence``, read from the trained
models' cards: their validation CI does not clear its floor); ``excluded`` lists them and the reason.

Scopes: a target averaged over its languages, per language family, per language, and the mean over targets.
Intervals: bootstrap replicate b resamples the scope's languages and, where they exist, also takes replicate b of
every outcome (the paired per-example bootstrap of ``modxfer.analysis``) and of every similarity value (the
measure's bootstrap over its sampled inputs); without them those are held fixed, and the evaluation's ``notes``
say so. Correlations: see :mod:`modxfer.tasksim.correlating`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from .errors import ConfigError, DataError
from .tasksim.matrix import SimilarityMatrix
from .tasksim.ranking import expected_metrics
from .tasksim.stats import ConfidenceInterval
from .report_format import SAME_SOURCE as SAME_SOURCE_MARK  # the report's one mark for a same-source pair

OUTCOMES = ("clean_gain", "noisy_score", "robustness_gain")
KS = (1, 3)
PSEUDO = ("random", "oracle")  # reference rankings reported next to the measures
NOT_LEARNED = "not learned"

__all__ = ["OUTCOMES", "SAME_SOURCE_MARK", "ndcg_at_k", "regret_at_k", "random_ndcg_at_k", "random_regret_at_k",
           "vacuous", "outcomes", "excluded", "evaluate", "SelectionEvaluation", "select", "Selection", "agreement",
           "report_section", "ConfidenceInterval"]


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
    from .composition import Composition

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

    from . import languages as L

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


# ------------------------------------------------------------------------------------------ evaluation
@dataclass(frozen=True)
class SelectionEvaluation:
    """``table``: one row per (measure, outcome, target, scope, same-source, k) with NDCG@k and Regret@k, their
    percentile intervals, the reason where one is undefined (``ndcg_note``, ``regret_note``), the number of
    candidates and what the interval resampled; ``correlations``: Spearman and Kendall per (measure, outcome,
    target or 'all', same-source). ``excluded``: compositions left out (a model did not learn); ``notes``: what
    the intervals could not include."""

    table: object = field(repr=False)
    correlations: object = field(repr=False)
    confidence_level: float = 0.95
    n_resamples: int = 0
    excluded: tuple = ()
    notes: tuple = ()

    def summary(self, outcome: str, *, same_source: str = "with", scope: str = "all"):
        """The mean-over-targets rows for one outcome: measure x k, with intervals."""
        t = self.table
        sel = t[(t["outcome"] == outcome) & (t["same_source"] == same_source) & (t["target"] == "mean")
                & (t["scope"] == scope)]
        return sel.reset_index(drop=True)

    def to_dict(self) -> dict:
        from .tasksim.selecting import records as _records

        return {"confidence_level": self.confidence_level, "n_resamples": self.n_resamples,
                "excluded": list(self.excluded), "notes": list(self.notes),
                "table": _records(self.table), "correlations": _records(self.correlations)}


def evaluate(results, matrices: Mapping[str, SimilarityMatrix] | SimilarityMatrix, *, ks: Sequence[int] = KS,
             kind: str = "stack", noise: Sequence[str] | None = None, n_resamples: int = 1000, seed: int = 0,
             confidence_level: float = 0.95, include_english: bool = False, analysis=None) -> SelectionEvaluation:
    """Score every measure's ranking of the run's intermediates against the measured outcomes (module docstring).

    ``noise`` limits the noisy outcomes to those settings (default: every setting other than clean). ``analysis``
    (a ``modxfer.analysis.Analysis`` of the same rows) supplies the outcomes' bootstrap replicates; by default they
    are computed from the rows' per-example ``outcomes`` when the rows have them; ``False`` resamples languages only.

    Raises:
        DataError: no rows, or no single-intermediate composition with its baseline among them.
        ConfigError: no matrices, or a composition kind without single intermediates.
    """
    from .tasksim.correlating import correlation_table
    from .tasksim.replicates import outcome_replicates
    from .tasksim.selecting import selection_table

    if isinstance(matrices, SimilarityMatrix):
        matrices = {matrices.measure: matrices}
    if not matrices:
        raise ConfigError("no similarity matrices to evaluate", "compute at least one with modxfer.similarity.compute")
    outs = outcomes(results, kind=kind, noise=noise, include_english=include_english)
    skipped = tuple(excluded(results, kind=kind))
    if outs.empty:
        why = f" ({len(skipped)} left out because a model did not learn)" if skipped else ""
        raise DataError(f"no {kind} composition with a single intermediate and its baseline among the results{why}",
                        "include a>t compositions (kind stack) and the target-only baseline t in the sweep, with "
                        "models that learned")
    reps, notes = outcome_replicates(results, outs, analysis, noise_settings(results, noise), n_resamples, seed)
    notes += [f"`{m}` has no bootstrap replicates: its values are held fixed in the intervals"
              for m, mat in matrices.items() if mat.replicates is None and m != "format"]  # format is exact
    table = selection_table(outs, matrices, ks, n_resamples, seed, confidence_level, reps)
    corr = correlation_table(outs, matrices, n_resamples, seed, confidence_level, reps)
    return SelectionEvaluation(table, corr, confidence_level, n_resamples, skipped, tuple(notes))


from .tasksim.choosing import Selection, select  # noqa: E402  (the one-call API lives with its helpers)
from .tasksim.correlating import agreement  # noqa: E402


def report_section(results, run_dir=None, out_dir=None, **kw) -> tuple[str, dict]:
    """The report section "which similarity predicts transfer, and which predicts robustness": markdown and the
    numbers behind it; heatmaps are written into ``out_dir`` (default ``RUN_DIR/report``). See
    :func:`modxfer.tasksim.report.report_section` for the options."""
    from .tasksim.report import report_section as impl

    return impl(results, run_dir, out_dir, **kw)
