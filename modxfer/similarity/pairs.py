"""Similarity for the (intermediate, target) pairs a run uses: what the report and a results bundle relate results
to (one path for `modxfer report`, `sweep export` and the selection section)."""
from __future__ import annotations

import math
from typing import Iterable

from ..composition import Composition

def similarity_matrices(tasks: Iterable[tuple[str, str]], backbone, examples: int | None = None, data_dir=None,
                        measures: Iterable[str] = ("textemb",)) -> dict:
    """{measure: SimilarityMatrix} over the given (intermediate, target) pairs whose tasks both have training inputs
    (empty when none do): what a report relates results to, whether it reads a run or a results bundle.

    Computed by :func:`modxfer.similarity.compute`, the path ``modxfer similarity`` and ``modxfer select`` take: the
    corrected TextEmb is centred on a fixed reference set, so each pair's value is the one those commands give,
    however few tasks the run has.

    Raises:
        DataError: a reference task's data is missing (the message names the tasks and how to fetch them).
    """
    from . import measures as Sim
    from ..tasks import get_task

    trainable = [(a, b) for a, b in dict.fromkeys(tasks)
                 if "train" in get_task(a).splits and "train" in get_task(b).splits]
    if not trainable:
        return {}
    settings = Sim.MeasureSettings(examples=examples) if examples else Sim.MeasureSettings()
    inters = list(dict.fromkeys(a for a, _ in trainable))
    targets = list(dict.fromkeys(b for _, b in trainable))
    return {m: Sim.compute(m, inters, targets, base=backbone, settings=settings, data_dir=data_dir) for m in measures}


def pair_similarity(tasks: Iterable[tuple[str, str]], matrix) -> dict:
    """{(intermediate, target): value} read from ``matrix``; NaN for a pair it does not hold (a target without
    training inputs, e.g. retrieval), which is kept and marked, not dropped."""
    from ..errors import ModxferError

    out = {}
    for pair in dict.fromkeys(tasks):
        try:
            out[pair] = float(matrix[pair]) if matrix is not None else math.nan
        except ModxferError:
            out[pair] = math.nan
    return out


def similarity_for(tasks: Iterable[tuple[str, str]], backbone, examples: int | None = None, data_dir=None) -> dict:
    """{(intermediate, target): similarity} for the given pairs: the anisotropy-corrected TextEmb (Vu et al. 2020,
    centred on the fixed reference set of ``modxfer.similarity.reference``, so a pair's value does not depend on the
    other pairs asked for; the raw cosine sits near 1 for every pair and cannot tell tasks apart)."""
    pairs = list(dict.fromkeys(tasks))
    return pair_similarity(pairs, similarity_matrices(pairs, backbone, examples, data_dir).get("textemb"))


def pairs_in(rows) -> list[tuple[str, str]]:
    """The (intermediate, target) pairs used by the compositions among ``rows``."""
    import pandas as pd

    df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    out = []
    for c in dict.fromkeys(df["composition"]):
        comp = Composition.parse(c)
        out += [(i, comp.target) for i in comp.intermediates]
    return list(dict.fromkeys(out))
