"""Lexical overlap: how alike two tasks' subword frequency distributions are under the backbone's tokenizer.

``js``: 1 - the Jensen-Shannon divergence (base 2, so in [0, 1]; 1 for identical distributions).
``jaccard``: weighted Jaccard, sum(min(p, q)) / sum(max(p, q)) over subword probabilities.
Special tokens are left out (every input has them). The bootstrap resamples each task's sentences.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from .stats import rng_for, resample_weights

KINDS = ("js", "jaccard")
MAX_TOKENS = 512  # per input; lexical overlap reads whole inputs, not only what fits the encoder's window
CHUNK = 50


def token_counts(texts: Sequence[str], tokenizer):
    """Sparse ``(n_texts, vocab)`` subword counts, special tokens excluded."""
    from scipy import sparse

    ids = tokenizer(list(texts), add_special_tokens=False, truncation=True, max_length=MAX_TOKENS)["input_ids"]
    rows = np.repeat(np.arange(len(ids)), [len(x) for x in ids])
    cols = np.fromiter((i for x in ids for i in x), dtype=np.int64, count=int(sum(len(x) for x in ids)))
    vocab = max(len(tokenizer), int(cols.max()) + 1 if len(cols) else 1)
    return sparse.csr_matrix((np.ones(len(cols)), (rows, cols)), shape=(len(ids), vocab))


def _similarity(p: np.ndarray, q: np.ndarray, kind: str) -> np.ndarray:
    """p, q: (B, V) probability rows -> (B,) similarities."""
    if kind == "jaccard":
        return np.minimum(p, q).sum(1) / np.maximum(p, q).sum(1)
    from scipy.special import xlogy

    m = (p + q) / 2
    kl_p = (xlogy(p, p) - xlogy(p, m)).sum(1)
    kl_q = (xlogy(q, q) - xlogy(q, m)).sum(1)
    return 1.0 - np.clip((kl_p + kl_q) / (2 * np.log(2)), 0.0, 1.0)


def _distributions(counts, weights: np.ndarray, used: np.ndarray) -> np.ndarray:
    c = counts[:, used]
    totals = np.asarray(c.T @ weights.T).T  # sparse (V, n) @ dense (n, B): never densifies the counts
    s = totals.sum(1, keepdims=True)
    return totals / np.where(s > 0, s, 1.0)


def lexical_matrix(counts: Mapping[str, object], intermediates: Sequence[str], targets: Sequence[str], *,
                   kind: str = "js", n_resamples: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray | None]:
    """(values ``(I, T)``, bootstrap replicates ``(n_resamples, I, T)``) from per-task sparse token counts."""
    if kind not in KINDS:
        raise ValueError(f"unknown lexical similarity {kind!r}; use one of {KINDS}")
    tasks = list(dict.fromkeys((*intermediates, *targets)))
    used = np.unique(np.concatenate([counts[t].nonzero()[1] for t in tasks]))

    def matrix(weights: Mapping[str, np.ndarray]) -> np.ndarray:
        dist = {t: _distributions(counts[t], weights[t], used) for t in tasks}
        return np.stack([np.stack([_similarity(dist[a], dist[b], kind) for b in targets], -1)
                         for a in intermediates], 1)

    values = matrix({t: np.ones((1, counts[t].shape[0])) for t in tasks})[0]
    if n_resamples < 2:
        return values, None
    weights = {t: resample_weights(counts[t].shape[0], n_resamples, rng_for(seed, "lexical", t)) for t in tasks}
    reps = [matrix({t: w[s:s + CHUNK] for t, w in weights.items()}) for s in range(0, n_resamples, CHUNK)]
    return values, np.concatenate(reps)
