"""TextEmb (Vu et al. 2020): the cosine of two tasks' mean sentence embeddings, raw or corrected for anisotropy.

Mean-pooled sentence embeddings share a large common direction c. With it, cos(c + a, c + b) is close to 1 for any
two tasks and rewards tasks whose text is typical rather than tasks that are alike; the ranking it gives is not that
of a and b. The corrected variants remove c before comparing:

  center  subtract the reference's mean sentence embedding (the mean of the reference tasks' means, so a task with
          more sentences does not pull it), L2-normalise each sentence vector, average per task, subtract the mean
          of the reference tasks' vectors (made the same way), cosine. Adding one constant vector to every sentence
          embedding changes nothing.
  whiten  as ``center``, with the centred sentence vectors also whitened by the reference's pooled covariance (ZCA,
          shrunk towards the identity so a few thousand sentences in a few hundred dimensions stay well conditioned).
  none    the raw TextEmb: cosine of the plain mean embeddings; no reference.

The **reference** (both centring steps, and the whitening) is a fixed set of tasks (``modxfer.similarity.reference``),
not the tasks compared: centring over the tasks compared made a pair's value depend on its company (two tasks
centre to +v and -v, cosine -1 whatever they are). With a fixed reference a task's vector depends only on its own
sentences, and a pair's value only on the pair.

The bootstrap resamples each compared task's sentences (weights drawn from the seed and the task's name, so the
same whatever else is compared) and recomputes its vector; the reference's centre and whitening are **held fixed**:
they are part of the measure's definition, a recorded origin and metric, not a sample of the pair. Intervals are
therefore the sampling uncertainty of the pair's inputs given that reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from .stats import rng_for, resample_weights

CORRECTIONS = ("center", "whiten", "none")
SHRINKAGE = 0.1  # weight of the identity (scaled to the mean eigenvalue) in the whitening covariance


def _normalize(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(n > 0, n, 1.0)


def _cosines(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """rows (B, I, H), cols (B, T, H) -> (B, I, T) cosines."""
    return np.einsum("bih,bth->bit", _normalize(rows), _normalize(cols))


def _whitener(vectors: Mapping[str, np.ndarray], mu: np.ndarray) -> np.ndarray:
    z = np.concatenate([v - mu for v in vectors.values()])
    cov = z.T @ z / len(z)
    d = cov.shape[0]
    cov = (1 - SHRINKAGE) * cov + SHRINKAGE * np.trace(cov) / d * np.eye(d)
    vals, vecs = np.linalg.eigh(cov)
    return (vecs / np.sqrt(np.clip(vals, 1e-12, None))) @ vecs.T


@dataclass(frozen=True, eq=False)
class Frame:
    """What the reference fixes: the sentence-level mean ``mu``, the whitening transform (None for ``center``) and
    the centre of the reference tasks' vectors."""

    correction: str
    mu: np.ndarray
    whitener: np.ndarray | None
    centre: np.ndarray

    def sentences(self, v: np.ndarray) -> np.ndarray:
        """``(n, H)`` sentence embeddings -> the unit vectors a task vector averages."""
        z = np.asarray(v, dtype=np.float64) - self.mu
        return _normalize(z @ self.whitener if self.whitener is not None else z)


def reference_frame(reference: Mapping[str, np.ndarray], correction: str = "center") -> Frame:
    """The frame fixed by ``reference`` (task -> ``(n, H)`` sentence embeddings) for a corrected TextEmb."""
    if correction not in ("center", "whiten"):
        raise ValueError(f"only the corrected TextEmb has a reference frame, not {correction!r}")
    if not reference:
        raise ValueError("the reference holds no tasks")
    ref = {t: np.asarray(v, dtype=np.float64) for t, v in reference.items()}
    mu = np.mean([v.mean(0) for v in ref.values()], axis=0)
    wh = _whitener(ref, mu) if correction == "whiten" else None
    frame = Frame(correction, mu, wh, np.zeros_like(mu))
    centre = np.mean([frame.sentences(v).mean(0) for v in ref.values()], axis=0)
    return Frame(correction, mu, wh, centre)


def task_vectors(vectors: Mapping[str, np.ndarray], correction: str = "center",
                 weights: Mapping[str, np.ndarray] | None = None, *,
                 reference: Mapping[str, np.ndarray] | Frame | None = None) -> dict[str, np.ndarray]:
    """Each task's embedding (``(B, H)`` for B weightings of its sentences; one, all ones, by default).

    ``vectors`` maps task -> ``(n, H)`` sentence embeddings; ``weights`` task -> ``(B, n)`` multiplicities;
    ``reference`` (task -> sentence embeddings, or its :func:`reference_frame`) is required for the corrected
    variants and is never resampled.
    """
    if correction not in CORRECTIONS:
        raise ValueError(f"unknown correction {correction!r}; use one of {CORRECTIONS}")
    vecs = {t: np.asarray(v, dtype=np.float64) for t, v in vectors.items()}
    w = weights or {t: np.ones((1, len(v))) for t, v in vecs.items()}
    if correction == "none":
        return {t: w[t] @ v / w[t].sum(1, keepdims=True) for t, v in vecs.items()}
    if reference is None:
        raise ValueError(f"the {correction!r} TextEmb needs a reference: the fixed set of tasks it is centred on")
    frame = reference if isinstance(reference, Frame) else reference_frame(reference, correction)
    if frame.correction != correction:
        raise ValueError(f"a {frame.correction!r} frame cannot correct {correction!r}")
    return {t: w[t] @ frame.sentences(v) / w[t].sum(1, keepdims=True) - frame.centre for t, v in vecs.items()}


def textemb_matrix(vectors: Mapping[str, np.ndarray], intermediates: Sequence[str], targets: Sequence[str], *,
                   correction: str = "center", reference: Mapping[str, np.ndarray] | None = None,
                   n_resamples: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray | None]:
    """(values ``(I, T)``, bootstrap replicates ``(n_resamples, I, T)``) of TextEmb over the given tasks.

    ``reference``: task -> sentence embeddings of the fixed reference set (required unless ``correction`` is
    "none"); it may share tasks with ``vectors``. A pair's values and replicates depend only on the two tasks'
    vectors, the reference and the seed.
    """
    missing = [t for t in (*intermediates, *targets) if t not in vectors]
    if missing:
        raise ValueError(f"no sentence vectors for {missing}")
    tasks = list(dict.fromkeys((*intermediates, *targets)))
    vecs = {t: vectors[t] for t in tasks}
    frame = reference_frame(reference, correction) if correction != "none" and reference is not None else reference

    def matrix(tv):
        return _cosines(np.stack([tv[a] for a in intermediates], 1), np.stack([tv[b] for b in targets], 1))

    values = matrix(task_vectors(vecs, correction, reference=frame))[0]
    if n_resamples < 2:
        return values, None
    weights = {t: resample_weights(len(v), n_resamples, rng_for(seed, "textemb", t)) for t, v in vecs.items()}
    return values, matrix(task_vectors(vecs, correction, weights, reference=frame))
