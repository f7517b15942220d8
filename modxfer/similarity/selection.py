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
say so. Correlations: see :mod:`modxfer.similarity.correlating`.
"""

from __future__ import annotations

from .choosing import Selection, select  # noqa: F401  (the one-call API)
from .correlating import agreement  # noqa: F401
from .evaluating import SelectionEvaluation, evaluate  # noqa: F401
from .ranks import (KS, NOT_LEARNED, OUTCOMES, PSEUDO, SAME_SOURCE_MARK, excluded, ndcg_at_k,  # noqa: F401
                    noise_settings, outcomes, random_ndcg_at_k, random_regret_at_k, regret_at_k, vacuous)
from .stats import ConfidenceInterval  # noqa: F401

__all__ = ["OUTCOMES", "SAME_SOURCE_MARK", "ndcg_at_k", "regret_at_k", "random_ndcg_at_k", "random_regret_at_k",
           "vacuous", "outcomes", "excluded", "evaluate", "SelectionEvaluation", "select", "Selection", "agreement",
           "report_section", "ConfidenceInterval"]


def report_section(results, run=None, out_dir=None, **kw) -> tuple[str, dict]:
    """The report section "which similarity predicts transfer, and which predicts robustness": markdown and the
    numbers behind it; heatmaps are written into ``out_dir`` (default ``RUN/report``). See
    :func:`modxfer.similarity.report.report_section` for the options."""
    from .report import report_section as impl

    return impl(results, run, out_dir, **kw)
