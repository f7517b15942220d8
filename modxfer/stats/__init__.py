"""Uncertainty for every number modxfer reports, in the style of ``scipy.stats``: functions compute, result objects
carry the estimate and give intervals and tests on request.

- ``estimate``: ``Estimate`` (a statistic with its bootstrap replicates and influence vectors; percentile
  intervals, analytic standard errors, p-values and minimum detectable effects), ``mean`` and ``ratio``.
- ``bootstrap``: the resampling plan (``Bootstrap``, ``paired_bootstrap``): paired over example ids, clustered over
  the items of parallel test sets (translations of one item are one item), seeds drawn first.
- ``correction``: Holm and Benjamini-Hochberg, and which tests can pass the correction at all (``testable``).
- ``similarity``: Spearman's rho over (intermediate, target) pairs and the family x similarity interaction, both
  with permutation p-values (exact when the orderings are few, adaptive otherwise).

Imports only downward: ``modxfer.scoring.outcomes`` (per-example sums and official metrics) and ``modxfer.errors``.
"""
from .bootstrap import Bootstrap, Cell, influence, paired_bootstrap
from .correction import (CORRECTION_NAMES, CORRECTIONS, adjust, benjamini_hochberg, corrected_alpha, holm,
                         testable)
from .estimate import (ALPHA, CONFIDENCE, MIN_PAIRS, N_PERMUTATIONS, N_RESAMPLES, POWER, SEED, ConfidenceInterval,
    Estimate, keyed_rng, influence_variance, lower_bound, mde_multiplier, mean, normal_pvalue, ratio)
from .similarity import (CorrelationResult, InteractionResult, rankdata, spearman_rows, correlation,
    family_interaction, permutation_pvalue)

__all__ = ["ALPHA", "CONFIDENCE", "MIN_PAIRS", "N_PERMUTATIONS", "N_RESAMPLES", "POWER", "SEED", "Bootstrap", "Cell",
           "ConfidenceInterval", "CorrelationResult", "CORRECTION_NAMES", "CORRECTIONS", "Estimate",
           "InteractionResult", "adjust", "benjamini_hochberg", "corrected_alpha", "correlation", "family_interaction",
           "holm", "influence", "influence_variance", "lower_bound", "mde_multiplier", "mean", "normal_pvalue", "paired_bootstrap",
           "permutation_pvalue", "ratio", "testable"]
