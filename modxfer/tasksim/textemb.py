"""TextEmb (Vu et al. 2020): the cosine of two tasks' mean sentence embeddings, raw or corrected for anisotropy.

Mean-pooled sentence embeddings share a large common direction c. With it, cos(c + a, c + b) is close to 1 for any
two tasks and rewards tasks whose text is typical rather than tasks that are alike; the ranking it gives is not that
of a and b. The corrected variants remove c before comparing:

  center  subtract the mean sentence embedding of the comparison (the mean of the task means, so a task with more
          sentences does not pull it), L2-normalise each sentence vector, average per task, subtract the mean of
          the task vectors, cosine. Adding one constant vector to every sentence embedding changes nothing.
  whiten  as ``center``, with the centred sentence vectors also whitened by the pooled covariance (ZCA, shrunk
          towards the identity so a few thousand sentences in a few hundred dimensions stay well conditioned).
  none    the raw TextEmb: cosine of the plain mean embeddings.

"The comparison" is every task in the matrix (intermediates and targets), so corrected values depend on which
tasks are compared; a matrix's card lists them. The bootstrap resamples each task's sentences independently and
recomputes everything downstream, centring included; the whitening transform is estimated once from the full
sample (re-estimating a 384x384 covariance per resample would cost more than it tells).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from .stats import rng_for, resample_weights

CORRECTIONS = ("center", "whiten", "none")
SHRINKAGE = 0.1  # weight of the identity (scaled to the mean eigenvalue) in the whitening covariance
CHUNK = 50       # replicates processed at once: bounds memory at CHUNK x sentences x hidden floats per task


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


def task_vectors(vectors: Mapping[str, np.ndarray], correction: str = "center",
                 weights: Mapping[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Each task's embedding (``(B, H)`` for B weightings of its sentences; one, all ones, by default).

    ``vectors`` maps task -> ``(n, H)`` sentence embeddings; ``weights`` task -> ``(B, n)`` multiplicities.
    """
    if correction not in CORRECTIONS:
        raise ValueError(f"unknown correction {correction!r}; use one of {CORRECTIONS}")
    vecs = {t: np.asarray(v, dtype=np.float64) for t, v in vectors.items()}
    w = weights or {t: np.ones((1, len(v))) for t, v in vecs.items()}
    means = {t: w[t] @ v / w[t].sum(1, keepdims=True) for t, v in vecs.items()}
    if correction == "none":
        return means
    if correction == "whiten":
        mu0 = np.mean([v.mean(0) for v in vecs.values()], axis=0)
        wh = _whitener(vecs, mu0)
        out = {t: w[t] @ _normalize((v - mu0) @ wh) / w[t].sum(1, keepdims=True) for t, v in vecs.items()}
    else:
        mu = np.mean(list(means.values()), axis=0)  # (B, H): each resample is centred on its own mean
        out = {t: np.einsum("bn,bnh->bh", w[t], _normalize(v[None] - mu[:, None])) / w[t].sum(1, keepdims=True)
               for t, v in vecs.items()}
    center = np.mean(list(out.values()), axis=0)
    return {t: x - center for t, x in out.items()}


def textemb_matrix(vectors: Mapping[str, np.ndarray], intermediates: Sequence[str], targets: Sequence[str], *,
                   correction: str = "center", n_resamples: int = 200,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray | None]:
    """(values ``(I, T)``, bootstrap replicates ``(n_resamples, I, T)``) of TextEmb over the given tasks.

    Every task in ``vectors`` is part of the comparison (the centring); pass exactly the tasks of the matrix.
    """
    missing = [t for t in (*intermediates, *targets) if t not in vectors]
    if missing:
        raise ValueError(f"no sentence vectors for {missing}")

    def matrix(tv):
        return _cosines(np.stack([tv[a] for a in intermediates], 1), np.stack([tv[b] for b in targets], 1))

    values = matrix(task_vectors(vectors, correction))[0]
    if n_resamples < 2:
        return values, None
    weights = {t: resample_weights(len(v), n_resamples, rng_for(seed, "textemb", t)) for t, v in vectors.items()}
    reps = [matrix(task_vectors(vectors, correction, {t: w[s:s + CHUNK] for t, w in weights.items()}))
            for s in range(0, n_resamples, CHUNK)]
    return values, np.concatenate(reps)
