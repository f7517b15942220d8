"""The resampling plan behind every number of a report: a paired bootstrap over per-example outcomes
(``modxfer.scoring.outcomes``), clustered where test sets are translations of one another.

A *space* is what one draw resamples. For a task whose languages hold different data (UD-POS treebanks, PAN-X
sentences, Tatoeba pairs) each language is its own space, drawn independently. For a parallel task (XNLI, PAWS-X,
XCOPA, MLQA, XQuAD: item i of every language translates the same English item) the caller passes one space for the
task and the items' cross-language keys as ids (``Task.item_key``): one draw of items then serves every language,
so a mean over languages carries the correlation between translations of one item instead of treating 8 x 120
correlated outcomes as independent. Draws depend only on the space and its ids, so every cell evaluated on the same
items -- a composition and its baseline, clean and noisy text -- is resampled identically. With several seeds,
seeds are drawn first (the same draw for every comparison over the same seeds) and crossed with the item draws.
Each resample recomputes the official metric (``outcomes.from_sums``: corpus-level seqeval F1 stays corpus-level),
all at once as one matrix product of multinomial counts with per-example sums.

Beside the replicates, every cell gets its influence vector in its space (``estimate``), from which standard
errors and p-values are computed exactly, without Monte Carlo error.
"""
from __future__ import annotations

import hashlib
import math
from typing import Mapping, NamedTuple, Sequence

import numpy as np

from ..scoring import outcomes as O
from ..errors import ConfigError, DataError
from .estimate import N_RESAMPLES, SEED, Estimate, keyed_rng, mean

_CACHED_SPACES = 8


class Cell(NamedTuple):
    """One evaluated cell in one space: its full-sample score, B resampled scores, influence vector."""

    score: float
    replicates: np.ndarray
    influence: np.ndarray


def influence(kind: str, q: np.ndarray) -> np.ndarray:
    """Per-example first-order contributions u_i (summing to 0) of the metric ``kind`` computed from per-example
    quantities ``q`` (n, k), in points: the statistic moves by about sum_i (w_i - 1) u_i under resampling weights w."""
    n = len(q)
    if n == 0:
        return np.zeros(0)
    m = q.mean(axis=0)
    if kind in ("accuracy", "retrieval", "map@20"):
        return 100.0 * (q[:, 0] - m[0]) / n
    if kind in ("squad", "mlqa"):
        return 100.0 * (q[:, 1] - m[1]) / n
    t, p, g = m  # corpus F1 = 2 tp / (n_pred + n_gold): linearise the ratio of means
    if p + g <= 0:
        return np.zeros(n)
    f = 2.0 * t / (p + g)
    return 200.0 / (p + g) * ((q[:, 0] - t) - f / 2.0 * ((q[:, 1] - p) + (q[:, 2] - g))) / n


class Bootstrap:
    """One resampling plan shared by every number of a report (see the module docstring).

    Item draws are keyed by (space, ids), seed draws by the tuple of seeds, both derived from ``rng``: the same
    items always get the same draws, whichever cell asks and in whatever order.
    """

    def __init__(self, n_resamples: int = N_RESAMPLES, rng: int = SEED):
        if isinstance(n_resamples, bool) or not isinstance(n_resamples, int) or n_resamples < 2:
            raise ConfigError(f"n_resamples={n_resamples!r} must be an integer >= 2", "use e.g. 1000")
        self.n_resamples = n_resamples
        self.rng = int(rng)
        self._counts: dict[tuple, np.ndarray] = {}
        self._weights: dict[tuple, np.ndarray] = {}

    def indices(self, space: str, ids: Sequence[str]) -> np.ndarray:
        """(B, n) positions of a with-replacement draw of the n items, one row per replicate."""
        digest = hashlib.sha256("\n".join(ids).encode("utf-8")).hexdigest()
        return keyed_rng(self.rng, "examples", space, digest).integers(0, len(ids), (self.n_resamples, len(ids)))

    def counts(self, space: str, ids: Sequence[str]) -> np.ndarray:
        """(B, n) how often each item is drawn in each replicate (the ``indices`` as multinomial counts)."""
        key = (space, tuple(ids))
        if key not in self._counts:
            n, b = len(ids), self.n_resamples
            flat = (self.indices(space, ids) + np.arange(b)[:, None] * n).ravel()
            if len(self._counts) >= _CACHED_SPACES:  # B x n floats each: keep the few in use, not a whole study
                self._counts.pop(next(iter(self._counts)))
            self._counts[key] = np.bincount(flat, minlength=b * n).reshape(b, n).astype(np.float64)
        return self._counts[key]

    def seed_weights(self, seeds: Sequence[int]) -> np.ndarray:
        """(B, S) weights: how often each seed is drawn in a with-replacement draw of the S seeds, divided by S."""
        key = tuple(sorted(int(s) for s in seeds))
        if key not in self._weights:
            s, b = len(key), self.n_resamples
            draws = keyed_rng(self.rng, "seeds", key).integers(0, s, (b, s)) if s > 1 else np.zeros((b, 1), int)
            flat = (draws + np.arange(b)[:, None] * s).ravel()
            self._weights[key] = np.bincount(flat, minlength=b * s).reshape(b, s) / s
        return self._weights[key]

    def replicates(self, space: str, records: Sequence[Mapping]) -> list[Cell]:
        """A ``Cell`` per record; the records must hold the same ids in the same order (``outcomes.align`` them
        first), and those ids are the whole space. One matrix product per metric kind."""
        ids = self._aligned(space, records)
        if ids is None:
            return []

        def sums(q):  # few columns (a two-sided comparison): gathering is cheaper than building the counts matrix
            if q.shape[1] <= 4:
                idx = self.indices(space, ids)
                return np.stack([q[:, j][idx].sum(axis=1) for j in range(q.shape[1])], axis=1)
            return self.counts(space, ids) @ q
        return self._cells(records, sums, len(ids), None, len(ids))

    def replicates_in(self, space: str, union_ids: Sequence[str], positions: np.ndarray,
                      records: Sequence[Mapping]) -> list[Cell]:
        """Cells of records (aligned among themselves) that hold only some of a space's items: the space is drawn
        over ``union_ids`` (e.g. every item any language of a parallel task has), and these records' items sit at
        ``positions`` of it. Each replicate scores the drawn items the records have (their number varies from one
        replicate to the next, as it does when languages of a translated test set hold different subsets); the
        influence is placed at the records' positions, zero elsewhere."""
        if self._aligned(space, records) is None:
            return []
        counts = self.counts(space, union_ids)[:, np.asarray(positions)]
        drawn = counts.sum(axis=1)
        drawn = np.where(drawn > 0, drawn, np.nan)  # a replicate that drew none of these items: undefined
        return self._cells(records, lambda q: counts @ q, drawn, np.asarray(positions), len(union_ids))

    def _aligned(self, space: str, records: Sequence[Mapping]) -> list[str] | None:
        if not records:
            return None
        ids = list(records[0]["ids"])
        for r in records[1:]:
            if list(r["ids"]) != ids:
                raise DataError(f"records of space {space!r} are not aligned by example id",
                                "align them with modxfer.scoring.outcomes.align before resampling")
        return ids

    @staticmethod
    def _cells(records, sums_of, n, positions, size: int) -> list[Cell]:
        out: list = [None] * len(records)
        by_kind: dict[str, list[int]] = {}
        for i, r in enumerate(records):
            by_kind.setdefault(r["metric"], []).append(i)
        for kind, members in by_kind.items():
            qs = [O.quantities(records[i]) for i in members]
            sums = sums_of(np.concatenate(qs, axis=1))
            k = qs[0].shape[1]
            for j, i in enumerate(members):
                infl = influence(kind, qs[j])
                if positions is not None:
                    placed = np.zeros(size)
                    placed[positions] = infl
                    infl = placed
                with np.errstate(invalid="ignore"):
                    reps = O.from_sums(kind, sums[:, j * k:(j + 1) * k], n)
                out[i] = Cell(O.rescore(records[i]), reps, infl)
        return out

    def over_seeds(self, per_seed: Mapping[int, Cell], space: str, n: int = 0) -> Estimate:
        """Average of per-seed cells of one space, with the seeds resampled first. The influence is the items'
        (averaged over seeds: every seed read the same items) plus a space for the seeds themselves."""
        seeds = sorted(per_seed)
        if not seeds:
            return Estimate(math.nan)
        w = self.seed_weights(seeds)
        reps = np.stack([per_seed[s].replicates for s in seeds], axis=1)
        scores = np.array([per_seed[s].score for s in seeds], dtype=np.float64)
        infl = {space: np.mean([per_seed[s].influence for s in seeds], axis=0)}
        if len(seeds) > 1:
            infl[f"seeds:{','.join(map(str, seeds))}"] = (scores - scores.mean()) / len(seeds)
        return Estimate(float(scores.mean()), (w * reps).sum(axis=1), n, 1, len(seeds), infl)


def _by_seed(side) -> dict[int, Mapping]:
    return dict(side) if isinstance(side, Mapping) and "metric" not in side else {0: side}


def paired_bootstrap(a: Mapping, b: Mapping | None = None, *, n_resamples: int = N_RESAMPLES, rng: int = SEED,
                     bootstrap: Bootstrap | None = None, spaces: Mapping[str, str] | None = None) -> Estimate:
    """Score of ``a`` (macro-averaged over strata), or the paired difference a - b, with bootstrap replicates.

    ``a`` and ``b`` map a stratum (language) to an outcome record, or to {seed: record}. A difference uses the
    strata and, within each, the seeds and example ids both sides have. ``spaces`` maps a stratum to its resampling
    space (default: its own): strata sharing a space must hold the same ids (cross-language item keys) and are
    drawn jointly; the strata's common ids are used.
    """
    bs = bootstrap or Bootstrap(n_resamples, rng)
    strata = [s for s in a if b is None or s in b]
    if not strata:
        raise DataError("the two sides share no stratum (language)", "compare cells evaluated on the same languages")
    space_of = {st: (spaces or {}).get(st, st) for st in strata}
    sides = {}
    for st in strata:
        sa, sb = _by_seed(a[st]), _by_seed(b[st]) if b is not None else None
        seeds = sorted(set(sa) & set(sb)) if sb is not None else sorted(sa)
        if not seeds:
            raise DataError(f"stratum {st!r}: the two sides share no seed", "evaluate both with the same seeds")
        sides[st] = (seeds, [sa[s] for s in seeds] + ([sb[s] for s in seeds] if sb is not None else []))
    per_stratum = []
    for space in dict.fromkeys(space_of.values()):
        members = [st for st in strata if space_of[st] == space]
        ids, _ = O.align([r for st in members for r in sides[st][1]])
        for st in members:
            seeds, recs = sides[st]
            _, pos = O.align([{"ids": ids}, *recs])
            reps = bs.replicates(space, [O.subset(r, p) for r, p in zip(recs, pos[1:])])
            est = bs.over_seeds(dict(zip(seeds, reps[:len(seeds)])), space, len(ids))
            if b is not None:
                est = est - bs.over_seeds(dict(zip(seeds, reps[len(seeds):])), space, len(ids))
            per_stratum.append(est)
    return mean(per_stratum)
