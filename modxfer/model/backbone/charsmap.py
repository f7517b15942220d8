"""Build a SentencePiece ``precompiled_charsmap`` from a per-codepoint replacement map.

``tokenizers.normalizers.Precompiled`` is the only serialisable normalizer that applies an arbitrary
character table in one pass, and it reads SentencePiece's binary format: a little-endian u32 trie size,
a darts-clone double-array trie over the UTF-8 keys whose values are byte offsets, then the
NUL-terminated replacement strings. We write that format here.
"""

from __future__ import annotations

import collections
import struct
from collections.abc import Mapping, Sequence

# darts-clone unit layout: bits 0-7 label, bit 8 has-leaf, bit 9 offset-extension, bits 10-30 offset;
# a leaf (value) unit has bit 31 set so its label never equals a key byte.
_HAS_LEAF = 1 << 8
_LEAF_FLAG = 1 << 31
_MAX_OFFSET = 1 << 21


def build_precompiled_charsmap(mapping: Mapping[int, Sequence[int]]) -> bytes:
    """``mapping``: codepoint -> replacement codepoints (empty = delete). U+0000 cannot be a key."""
    pool = bytearray()
    values: dict[bytes, int] = {}
    pooled: dict[str, int] = {}
    for cp in sorted(mapping):
        if cp == 0:
            continue  # the trie walk stops at a NUL byte
        out = "".join(map(chr, mapping[cp]))
        if out not in pooled:
            pooled[out] = len(pool)
            pool += out.encode("utf-8") + b"\0"
        values[chr(cp).encode("utf-8")] = pooled[out]
    trie = _build_double_array(values)
    return struct.pack("<I", 4 * len(trie)) + struct.pack(f"<{len(trie)}I", *trie) + bytes(pool)


def _build_double_array(values: dict[bytes, int]) -> list[int]:
    # nested dict trie; the key None marks "a value ends here"
    root: dict = {}
    for key, value in values.items():
        node = root
        for b in key:
            node = node.setdefault(b, {})
        node[None] = value

    units = [0]
    used = bytearray(1)  # position taken
    used[0] = 1
    bases: set[int] = set()

    def ensure(n: int) -> None:
        if n > len(units):
            units.extend([0] * (n - len(units)))
            used.extend(bytes(n - len(used)))

    # breadth-first: place each node's children at base ^ label (label 0 = its value unit)
    queue = collections.deque([(0, root)])
    next_free = 1
    while queue:
        pos, node = queue.popleft()
        labels = [0 if k is None else k for k in node]
        # try bases that put the first label on a free slot (darts-clone's search), nearest first
        free = next_free
        while True:
            base = free ^ labels[0]
            ensure(max(free, base) + 256)
            if base not in bases and all(not used[base ^ lab] and base ^ lab != 0 for lab in labels):
                break
            free = used.find(0, free + 1)
            if free < 0:
                free = len(used)
        bases.add(base)
        offset = pos ^ base
        if offset >= _MAX_OFFSET:
            raise ValueError("charsmap trie too large for a short darts offset")
        units[pos] |= offset << 10
        for k, child in node.items():
            child_pos = base ^ (0 if k is None else k)
            used[child_pos] = 1
            if k is None:
                units[child_pos] = _LEAF_FLAG | child
            else:
                units[child_pos] = k | (_HAS_LEAF if None in child else 0)
                queue.append((child_pos, child))
        next_free = used.find(0, next_free)
        if next_free < 0:
            next_free = len(used)
    # no trimming: every base keeps base ^ byte inside the array, so a failed walk never reads past it
    return units
