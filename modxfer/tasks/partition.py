"""Deterministic, documented partitions of files that serve two roles.

An item (a row index, an article title) goes to a part by the rank of its BLAKE2b hash under a fixed salt, so the
split depends only on the item key and the salt, never on file order in memory, the machine or a random state.
"""

from __future__ import annotations

import hashlib
from typing import Hashable, Sequence


def _rank_key(salt: str, key: Hashable) -> bytes:
    return hashlib.blake2b(f"{salt}|{key}".encode("utf-8"), digest_size=16).digest()


def split_keys(keys: Sequence[Hashable], salt: str, fractions: dict[str, float]) -> dict[str, set]:
    """Split ``keys`` into named parts of the given fractions (summing to 1), by hash rank.

    The last part takes the remainder, so every key lands in exactly one part.
    """
    total = sum(fractions.values())
    if abs(total - 1.0) > 1e-9:
        raise ValueError(f"fractions must sum to 1, got {total}")
    ordered = sorted(dict.fromkeys(keys), key=lambda k: _rank_key(salt, k))
    parts, start = {}, 0
    names = list(fractions)
    for i, name in enumerate(names):
        end = len(ordered) if i == len(names) - 1 else start + round(fractions[name] * len(ordered))
        parts[name] = set(ordered[start:end])
        start = end
    return parts
