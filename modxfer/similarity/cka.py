"""Linear CKA (Kornblith et al. 2019) between the representations two task-adapted models give the same sentences.

CKA(X, Y) = ||Yc' Xc||_F^2 / (||Xc' Xc||_F ||Yc' Yc||_F) for column-centred X (n x d1) and Y (n x d2); computed
from n x n Gram matrices so that a bootstrap over the probe sentences is an index into them. It is invariant to
orthogonal transforms and isotropic scaling of either side, and 1 for identical representations.

Per layer, on the mean-pooled output of each encoder layer; "overall" is the mean over layers. The bootstrap
resamples probe sentences, the same draw for every model compared on one probe set (a paired bootstrap).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from .stats import rng_for, resample_indices


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA of two representations of the same n items (rows)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"CKA compares representations of the same items: {x.shape[0]} != {y.shape[0]} rows")
    x = x - x.mean(0)
    y = y - y.mean(0)
    denom = np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)
    return float(np.linalg.norm(y.T @ x) ** 2 / denom) if denom > 0 else float("nan")


def _centered(k: np.ndarray) -> np.ndarray:
    """Double-centre Gram matrices over their last two axes."""
    return k - k.mean(-1, keepdims=True) - k.mean(-2, keepdims=True) + k.mean((-1, -2), keepdims=True)


def _cka_from_centered(kc: np.ndarray, lc: np.ndarray) -> np.ndarray:
    hsic = (kc * lc).sum((-1, -2))
    with np.errstate(all="ignore"):
        return hsic / np.sqrt((kc * kc).sum((-1, -2)) * (lc * lc).sum((-1, -2)))


def grams(reps: np.ndarray) -> np.ndarray:
    """``(L, n, H)`` layer representations -> ``(L, n, n)`` Gram matrices."""
    return np.einsum("lnh,lmh->lnm", reps, reps)


def cka_matrix(reps: Mapping[tuple[str, str], np.ndarray], intermediates: Sequence[str], targets: Sequence[str],
               probes: Mapping[str, str], *, n_resamples: int = 100,
               seed: int = 0) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """(overall values ``(I, T)``, replicates ``(n_resamples, I, T)``, per-layer values ``(L, I, T)``).

    ``reps[(model_task, probe_set)]`` are ``(L, n, H)`` representations; ``probes[target]`` names the probe set
    a target's column is computed on (the target's own model is ``reps[(target, probes[target])]``).
    """
    n_layers = next(iter(reps.values())).shape[0]
    layers = np.full((n_layers, len(intermediates), len(targets)), np.nan)
    reps_out = np.full((max(n_resamples, 0), len(intermediates), len(targets)), np.nan)
    for j, b in enumerate(targets):
        probe = probes[b]
        g = {m: grams(reps[(m, probe)]) for m in dict.fromkeys((*intermediates, b))}
        ref = _centered(g[b])
        for i, a in enumerate(intermediates):
            layers[:, i, j] = _cka_from_centered(_centered(g[a]), ref)
        if n_resamples < 2:
            continue
        idx = resample_indices(g[b].shape[-1], n_resamples, rng_for(seed, "cka", b, probe))
        for r, ix in enumerate(idx):
            ref_r = _centered(g[b][:, ix][:, :, ix])
            for i, a in enumerate(intermediates):
                reps_out[r, i, j] = np.nanmean(_cka_from_centered(_centered(g[a][:, ix][:, :, ix]), ref_r))
    values = np.nanmean(layers, axis=0)
    return values, (reps_out if n_resamples >= 2 else None), layers
