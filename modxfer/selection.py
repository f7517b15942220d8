"""Which intermediate task should I train for my target? Ranking by similarity, scored as Poth et al. (2021) do.

For each target, each outcome and each similarity measure, the intermediates are ranked by their similarity to the
target and the ranking is scored against what was measured:

  NDCG@k    DCG@k / ideal DCG@k with relevance = the measured outcome and the standard log2 discount,
            DCG@k = sum over ranks i <= k of rel_i / log2(i + 1). Outcomes can be negative (an intermediate that
            hurts), so relevance is the outcome minus the smallest outcome among the candidates: the worst
            candidate has relevance 0 (as Poth et al. shift scores to a non-negative range). NDCG is then the same
            for gains and for the scores they are differences of. Undefined (NaN) when all outcomes are equal.
  Regret@k  (best outcome - best outcome among the top k) / scale x 100: how much is lost by training only the
            k intermediates the measure ranks first. The scale is the best *score* at that setting (Poth et al.'s
            O_max): for clean gain the best clean score, for the noisy score itself, for robustness gain the best
            noisy score; the numerator is in points either way.

Ties in a measure are broken at random, and both metrics return their exact expectation over the tie-breaks; a
random ranking is the all-tied case, so ``random_*`` is exact, not sampled. The oracle has NDCG 1 and regret 0.

Outcomes (``outcomes``), per (target, intermediate, language), seeds averaged; compositions with one intermediate
(``a>t`` stacks by default, ``full:a>t`` with ``kind="full"``) against their baseline without it:

  clean_gain       clean score - the baseline's clean score
  noisy_score      the score under noise, mean over the noise settings
  robustness_gain  the baseline's degradation (clean - noisy) minus the composition's, mean over noise settings

Scopes: a target averaged over its languages (bootstrap CIs by resampling languages), per language family (the
same, within the family), per language (no interval: one language), and the mean over targets (each target's
languages resampled independently). Correlations (Spearman, Kendall) take one point per (intermediate, target)
pair, the outcome averaged over the target's languages, with a bootstrap over pairs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from .errors import ConfigError, DataError
from .tasksim.matrix import SimilarityMatrix
from .tasksim.stats import ConfidenceInterval

OUTCOMES = ("clean_gain", "noisy_score", "robustness_gain")
KS = (1, 3)
PSEUDO = ("random", "oracle")  # reference rankings reported next to the measures

__all__ = ["OUTCOMES", "ndcg_at_k", "regret_at_k", "random_ndcg_at_k", "random_regret_at_k", "outcomes", "evaluate",
           "SelectionEvaluation", "select", "Selection", "agreement", "report_section", "ConfidenceInterval"]


# ------------------------------------------------------------------------------------------ ranking metrics
def _ranking_iv(scores, outcomes, k) -> tuple[np.ndarray, np.ndarray, int]:
    s = np.asarray(scores, dtype=float).reshape(-1)
    o = np.asarray(outcomes, dtype=float).reshape(-1)
    if s.shape != o.shape:
        raise ValueError(f"scores and outcomes differ in length ({len(s)} != {len(o)})")
    if int(k) != k or k < 1:
        raise ValueError(f"k must be a positive integer, got {k}")
    keep = ~np.isnan(o)  # a candidate without a measured outcome cannot be scored
    s, o = s[keep], o[keep]
    s = np.where(np.isnan(s), -np.inf, s)  # no similarity: ranked last
    return s, o, min(int(k), len(o))


def _tie_groups(s: np.ndarray) -> list[np.ndarray]:
    """Candidate indices grouped by equal score, best group first."""
    return [np.flatnonzero(s == v) for v in np.unique(s)[::-1]]


def _max_draw_probabilities(g: int, m: int) -> np.ndarray:
    """P(the largest of m items drawn without replacement from g sorted ones is the j-th smallest), j = 0..g-1."""
    total = math.comb(g, m)
    return np.array([math.comb(j, m - 1) / total if j >= m - 1 else 0.0 for j in range(g)])


class _Ranking:
    """One ranking (scores, ties broken at random) scored against many outcome vectors at once: ``(B, C)`` arrays
    of outcomes give ``(B,)`` metrics, each the exact expectation over the tie-breaks."""

    def __init__(self, scores: np.ndarray):
        self.groups = _tie_groups(np.where(np.isnan(scores), -np.inf, scores))

    def ndcg(self, o: np.ndarray, k: int) -> np.ndarray:
        k = min(k, o.shape[1])
        rel = o - o.min(1, keepdims=True)
        disc = 1.0 / np.log2(np.arange(2, k + 2))
        ideal = -np.sort(-rel, axis=1)[:, :k] @ disc
        dcg, pos = np.zeros(len(o)), 0
        for g in self.groups:
            take = min(len(g), k - pos)
            if take <= 0:
                break
            dcg += rel[:, g].mean(1) * disc[pos:pos + take].sum()  # expected gain of a random order within a tie
            pos += len(g)
        with np.errstate(all="ignore"):
            return np.where(ideal > 0, dcg / ideal, np.nan)  # all outcomes equal: no ranking beats another

    def regret(self, o: np.ndarray, k: int, scale: np.ndarray | None = None) -> np.ndarray:
        best = o.max(1)
        fixed, pos = np.full(len(o), -np.inf), 0
        for g in self.groups:
            if pos + len(g) <= k:
                fixed = np.maximum(fixed, o[:, g].max(1))
                pos += len(g)
                continue
            if k > pos:  # the tie straddling rank k contributes k - pos of its members, drawn at random
                probs = _max_draw_probabilities(len(g), k - pos)
                fixed = (np.maximum(fixed[:, None], np.sort(o[:, g], axis=1)) * probs).sum(1)
            break
        loss = best - fixed
        scale = best if scale is None else np.broadcast_to(np.asarray(scale, dtype=float), best.shape)
        with np.errstate(all="ignore"):
            return np.where(loss == 0, 0.0, np.where(scale > 0, loss / scale * 100, np.nan))


def ndcg_at_k(scores: Sequence[float], outcomes: Sequence[float], k: int) -> float:
    """NDCG@k of ranking candidates by ``scores`` (descending) when their measured outcomes are ``outcomes``."""
    s, o, k = _ranking_iv(scores, outcomes, k)
    return float(_Ranking(s).ndcg(o[None], k)[0]) if len(o) else math.nan


def regret_at_k(scores: Sequence[float], outcomes: Sequence[float], k: int, *, scale: float | None = None) -> float:
    """Regret@k in percent of ``scale`` (default: the best outcome); NaN when the scale is not positive."""
    s, o, k = _ranking_iv(scores, outcomes, k)
    return float(_Ranking(s).regret(o[None], k, None if scale is None else [scale])[0]) if len(o) else math.nan


def random_ndcg_at_k(outcomes: Sequence[float], k: int) -> float:
    """Expected NDCG@k of a uniformly random ranking (exact)."""
    return ndcg_at_k(np.zeros(len(outcomes)), outcomes, k)


def random_regret_at_k(outcomes: Sequence[float], k: int, *, scale: float | None = None) -> float:
    """Expected Regret@k of a uniformly random ranking (exact)."""
    return regret_at_k(np.zeros(len(outcomes)), outcomes, k, scale=scale)


# ------------------------------------------------------------------------------------------ outcomes
def _frame(results):
    import pandas as pd

    df = results.copy() if isinstance(results, pd.DataFrame) else pd.DataFrame(list(results or []))
    needed = {"task", "composition", "lang", "noise", "score"}
    if df.empty or not needed <= set(df.columns):
        raise DataError(f"no evaluation rows to select from (need columns {', '.join(sorted(needed))})",
                        "pass a sweep's results (modxfer.sweeps.load_results) with stack compositions and baselines")
    df = df[df["score"].notna()]
    return df.groupby(["task", "composition", "lang", "noise"], sort=False)["score"].mean()


def outcomes(results, *, kind: str = "stack", noise: Sequence[str] | None = None, include_english: bool = False):
    """Long table: target, intermediate, composition, lang, family, outcome, value, level (the score behind it).
    English is left out unless ``include_english``: the intermediates and targets train on it, so it is not
    zero-shot transfer."""
    import pandas as pd

    from . import languages as L
    from .composition import Composition

    if kind not in ("stack", "full"):
        raise ConfigError(f"selection ranks single intermediates; kind {kind!r} is not one",
                          "use kind='stack' (a>t) or kind='full' (full:a>t)")
    score = _frame(results)
    noisy_settings = list(noise) if noise is not None else sorted({n for (*_, n) in score.index if n != "clean"})
    out = []
    for (task, comp_s), part in score.groupby(level=[0, 1], sort=False):
        comp = Composition.parse(comp_s)
        if comp.kind != kind or len(comp.intermediates) != 1:
            continue
        base = str(Composition(comp.target, (), "full" if kind == "full" else "target"))
        family = {}
        for lang in dict.fromkeys(part.index.get_level_values(2)):
            if not include_english and str(lang).lower().split("-")[0].split("_")[0] == "en":
                continue
            info = L.find(lang)
            family[lang] = info.family if info else "unknown"
            row = {"target": task, "intermediate": comp.intermediates[0], "composition": comp_s, "lang": lang,
                   "family": family[lang]}
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
    percentile intervals and the random-ranking expectation; ``correlations``: Spearman and Kendall per
    (measure, outcome, target or 'all', same-source)."""

    table: object = field(repr=False)
    correlations: object = field(repr=False)
    confidence_level: float = 0.95
    n_resamples: int = 0

    def summary(self, outcome: str, *, same_source: str = "with", scope: str = "all"):
        """The mean-over-targets rows for one outcome: measure x k, with intervals."""
        t = self.table
        sel = t[(t["outcome"] == outcome) & (t["same_source"] == same_source) & (t["target"] == "mean")
                & (t["scope"] == scope)]
        return sel.reset_index(drop=True)

    def to_dict(self) -> dict:
        from .tasksim.selecting import records as _records

        return {"confidence_level": self.confidence_level, "n_resamples": self.n_resamples,
                "table": _records(self.table), "correlations": _records(self.correlations)}


def evaluate(results, matrices: Mapping[str, SimilarityMatrix] | SimilarityMatrix, *, ks: Sequence[int] = KS,
             kind: str = "stack", noise: Sequence[str] | None = None, n_resamples: int = 1000, seed: int = 0,
             confidence_level: float = 0.95, include_english: bool = False) -> SelectionEvaluation:
    """Score every measure's ranking of the run's intermediates against the measured outcomes (module docstring).

    ``noise`` limits the noisy outcomes to those settings (default: every setting other than clean).

    Raises:
        DataError: no rows, or no single-intermediate composition with its baseline among them.
        ConfigError: no matrices, or a composition kind without single intermediates.
    """
    from .tasksim.selecting import correlation_table, selection_table

    if isinstance(matrices, SimilarityMatrix):
        matrices = {matrices.measure: matrices}
    if not matrices:
        raise ConfigError("no similarity matrices to evaluate", "compute at least one with modxfer.similarity.compute")
    outs = outcomes(results, kind=kind, noise=noise, include_english=include_english)
    if outs.empty:
        raise DataError(f"no {kind} composition with a single intermediate and its baseline among the results",
                        "include a>t compositions (kind stack) and the target-only baseline t in the sweep")
    table = selection_table(outs, matrices, ks, n_resamples, seed, confidence_level)
    corr = correlation_table(outs, matrices, n_resamples, seed, confidence_level)
    return SelectionEvaluation(table, corr, confidence_level, n_resamples)


from .tasksim.selecting import Selection, agreement, select  # noqa: E402  (the one-call API lives with its helpers)


def report_section(results, run_dir=None, out_dir=None, **kw) -> tuple[str, dict]:
    """The report section "which similarity predicts transfer, and which predicts robustness": markdown and the
    numbers behind it; heatmaps are written into ``out_dir`` (default ``RUN_DIR/report``). See
    :func:`modxfer.tasksim.report.report_section` for the options."""
    from .tasksim.report import report_section as impl

    return impl(results, run_dir, out_dir, **kw)
