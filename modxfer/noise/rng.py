"""Per-example random streams that do not depend on batch order, process or machine.

Python's hash() is salted per process (PYTHONHASHSEED), so it cannot key a stream that
must be reproducible across workers; blake2b over a canonical string can.
"""
from __future__ import annotations

import hashlib
import random


def stream_key(seed: int, example_id: object, field: str, spec: str) -> int:
    payload = f"{seed}|{example_id}|{field}|{spec}".encode("utf-8")
    return int.from_bytes(hashlib.blake2b(payload, digest_size=8).digest(), "big")


def stable_rng(seed: int, example_id: object, field: str, spec: str) -> random.Random:
    return random.Random(stream_key(seed, example_id, field, spec))


def sample_count(rng: random.Random, n: int, rate: float) -> int:
    """How many of n candidates to perturb: rate*n with stochastic rounding.

    Stochastic rounding keeps the expectation exactly rate*n (so rates below 1/n still
    perturb short texts sometimes) while a fixed count per text keeps the variance far
    below independent Bernoulli draws.
    """
    if n <= 0 or rate <= 0.0:
        return 0
    expected = rate * n
    k = int(expected)
    if rng.random() < expected - k:
        k += 1
    return min(k, n)


def choose(rng: random.Random, candidates: list, rate: float) -> list:
    k = sample_count(rng, len(candidates), rate)
    return sorted(rng.sample(candidates, k)) if k else []
