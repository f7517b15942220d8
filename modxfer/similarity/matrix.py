"""The result of a similarity measure: an (intermediates x targets) matrix with bootstrap replicates and a card."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import ModxferError
from .stats import ConfidenceInterval, percentile_interval, standard_error

from ..tasks.sources import QA_SOURCE, SAME_SOURCE, same_source  # noqa: F401  (the matrix marks same-source pairs)


@dataclass(frozen=True, eq=False)
class SimilarityMatrix:
    """``values[i, j]``: similarity of ``intermediates[i]`` and ``targets[j]`` under ``measure`` (higher: more alike).

    ``replicates`` (n_resamples x I x T) are the bootstrap over the sampled inputs; ``layers`` (L x I x T) holds
    per-layer values where the measure has them (CKA); ``card`` says how the matrix was made.
    """

    measure: str
    intermediates: tuple[str, ...]
    targets: tuple[str, ...]
    values: np.ndarray
    replicates: np.ndarray | None = field(default=None, repr=False)
    card: dict = field(default_factory=dict, repr=False)
    layers: np.ndarray | None = field(default=None, repr=False)
    lang: str | None = None

    def __post_init__(self):
        shape = (len(self.intermediates), len(self.targets))
        if np.shape(self.values) != shape:
            raise ValueError(f"values have shape {np.shape(self.values)}, expected {shape}")

    # ------------------------------------------------------------------ access
    def __getitem__(self, pair: tuple[str, str]) -> float:
        i, j = self._index(*pair)
        return float(self.values[i, j])

    def _index(self, intermediate: str, target: str) -> tuple[int, int]:
        try:
            return self.intermediates.index(intermediate), self.targets.index(target)
        except ValueError:
            raise ModxferError(f"pair ({intermediate}, {target}) is not in this {self.measure} matrix "
                               f"(intermediates: {', '.join(self.intermediates)}; targets: {', '.join(self.targets)})",
                               "compute the matrix with both tasks") from None

    @property
    def se(self) -> np.ndarray:
        """Bootstrap standard error per cell (zeros for deterministic measures such as ``format``)."""
        if self.replicates is None or len(self.replicates) < 2:
            return np.zeros_like(self.values, dtype=float)
        return standard_error(self.replicates)

    def confidence_interval(self, confidence_level: float = 0.95, method: str = "basic") -> ConfidenceInterval:
        """Bootstrap interval per cell (low and high arrays shaped like ``values``).

        ``basic`` (the default) reflects the percentiles around the estimate, 2 x value - quantile, clipped to the
        measure's range (``card["range"]``). Sampling noise pulls cosines of sample means towards 0 and inflates
        divergences, in the estimate as in every resample; the percentile interval then sits beside the estimate
        (it can miss it), while the basic interval corrects for the shift to first order. ``percentile`` is also
        available.
        """
        if method not in ("basic", "percentile"):
            raise ValueError(f"method must be 'basic' or 'percentile', got {method!r}")
        if self.replicates is None or len(self.replicates) < 2:
            return ConfidenceInterval(self.values.copy(), self.values.copy())
        low, high = percentile_interval(self.replicates, confidence_level)
        if method == "percentile":
            return ConfidenceInterval(low, high)
        lo_bound, hi_bound = self.card.get("range", (-np.inf, np.inf))
        return ConfidenceInterval(np.clip(2 * self.values - high, lo_bound, hi_bound),
                                  np.clip(2 * self.values - low, lo_bound, hi_bound))

    def same_source(self) -> np.ndarray:
        """Boolean mask: cells whose two tasks share a data source (see ``SAME_SOURCE``)."""
        return np.array([[same_source(a, b) for b in self.targets] for a in self.intermediates], dtype=bool)

    def ranking(self, target: str, *, exclude_same_source: bool = False) -> list[tuple[str, float]]:
        """Intermediates for ``target``, most similar first (ties keep the matrix order)."""
        if target not in self.targets:
            raise ModxferError(f"{target!r} is not a target of this {self.measure} matrix "
                               f"({', '.join(self.targets)})", "compute the matrix with that target")
        j = self.targets.index(target)
        pairs = [(a, float(self.values[i, j])) for i, a in enumerate(self.intermediates)
                 if a != target and not (exclude_same_source and same_source(a, target))]
        return sorted(pairs, key=lambda p: -p[1] if not math.isnan(p[1]) else math.inf)

    def to_pandas(self):
        """Long form: one row per pair with value, SE, 95% interval and the same-source flag."""
        import pandas as pd

        low, high = self.confidence_interval()
        se, mask = self.se, self.same_source()
        return pd.DataFrame([{"measure": self.measure, "intermediate": a, "target": b, "lang": self.lang,
                              "value": float(self.values[i, j]), "se": float(se[i, j]), "low": float(low[i, j]),
                              "high": float(high[i, j]), "same_source": bool(mask[i, j])}
                             for i, a in enumerate(self.intermediates) for j, b in enumerate(self.targets)])

    # ------------------------------------------------------------------ JSON
    def to_dict(self, *, replicates: bool = True) -> dict:
        out = {"measure": self.measure, "intermediates": list(self.intermediates), "targets": list(self.targets),
               "lang": self.lang, "values": self.values.tolist(), "se": self.se.tolist(),
               "same_source": self.same_source().tolist(), "card": self.card}
        if replicates and self.replicates is not None:
            out["replicates"] = np.asarray(self.replicates).tolist()
        if self.layers is not None:
            out["layers"] = np.asarray(self.layers).tolist()
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "SimilarityMatrix":
        def arr(x):
            return None if x is None else np.array(x, dtype=float)  # JSON null (NaN) reads back as NaN

        return cls(d["measure"], tuple(d["intermediates"]), tuple(d["targets"]), arr(d["values"]),
                   arr(d.get("replicates")), d.get("card", {}), arr(d.get("layers")), d.get("lang"))

    # ------------------------------------------------------------------ discrimination
    def separation(self, *, exclude_same_source: bool = False) -> dict | None:
        """The most and the least similar pair (a task with itself left out) and how far apart they are in units of
        the larger of their two bootstrap SEs (``ratio``; inf for a deterministic measure with distinct values)."""
        se, mask = self.se, self.same_source()
        cells = [(float(self.values[i, j]), float(se[i, j]), a, b)
                 for i, a in enumerate(self.intermediates) for j, b in enumerate(self.targets)
                 if a != b and np.isfinite(self.values[i, j]) and not (exclude_same_source and mask[i, j])]
        if len(cells) < 2:
            return None
        hi, lo = max(cells), min(cells)
        diff, noise = hi[0] - lo[0], max(hi[1], lo[1])
        ratio = diff / noise if noise > 0 else (math.inf if diff > 0 else math.nan)
        return {"max_pair": [hi[2], hi[3]], "max": hi[0], "max_se": hi[1], "min_pair": [lo[2], lo[3]], "min": lo[0],
                "min_se": lo[1], "difference": diff, "ratio": ratio}
