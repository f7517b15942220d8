"""Scoring every measure's ranking against what a run measured (``evaluate``, ``SelectionEvaluation``): the table of
NDCG@k / Regret@k with intervals, and the correlations. See :mod:`modxfer.similarity.selection`."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

from ..errors import ConfigError, DataError
from .matrix import SimilarityMatrix
from .ranks import KS, excluded, noise_settings, outcomes


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
        from .selecting import records as _records

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
    from .correlating import correlation_table
    from .replicates import outcome_replicates
    from .selecting import selection_table

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
