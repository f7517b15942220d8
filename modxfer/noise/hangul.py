"""Hangul syllable <-> jamo arithmetic (Unicode 3.12), in compatibility jamo so keyboards apply.

A syllable block is one grapheme but several keystrokes; typos on Korean happen on the jamo,
so both keyboard and script-level noise decompose, change one jamo and recompose.
"""
from __future__ import annotations

import random

LEADS = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
VOWELS = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ"
TAILS = ("",) + tuple("ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ")
_BASE, _LAST = 0xAC00, 0xD7A3
# Simple (single-key) jamo of each slot: compound vowels and tails are two keystrokes, and
# replacing one of them wholesale would be a two-key error.
SIMPLE_VOWELS = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅛㅜㅠㅡㅣ"
SIMPLE_TAILS = tuple(t for t in TAILS[1:] if t in LEADS)
SLOT_POOLS = {0: LEADS, 1: SIMPLE_VOWELS, 2: SIMPLE_TAILS}


def is_syllable(ch: str) -> bool:
    return len(ch) == 1 and _BASE <= ord(ch) <= _LAST


def decompose(ch: str) -> list[str]:
    """Syllable -> [lead, vowel] or [lead, vowel, tail] in compatibility jamo."""
    idx = ord(ch) - _BASE
    lead, rest = divmod(idx, 21 * 28)
    vowel, tail = divmod(rest, 28)
    out = [LEADS[lead], VOWELS[vowel]]
    if tail:
        out.append(TAILS[tail])
    return out


def compose(jamo: list[str]) -> str | None:
    """Inverse of decompose; None when a jamo cannot fill its slot (e.g. ㄸ as a tail)."""
    if len(jamo) not in (2, 3) or jamo[0] not in LEADS or jamo[1] not in VOWELS:
        return None
    tail = jamo[2] if len(jamo) == 3 else ""
    if tail not in TAILS:
        return None
    return chr(_BASE + (LEADS.index(jamo[0]) * 21 + VOWELS.index(jamo[1])) * 28 + TAILS.index(tail))


def can_fill(slot: int, jamo: str) -> bool:
    return jamo in (LEADS, VOWELS, TAILS[1:])[slot]


def script_substitute(ch: str, rng: random.Random) -> str:
    """Replace one simple jamo of a syllable with another of the same slot."""
    parts = decompose(ch)
    slots = [i for i, j in enumerate(parts) if j in SLOT_POOLS[i]]
    if not slots:
        slots = [0]
    slot = rng.choice(slots)
    pool = [j for j in SLOT_POOLS[slot] if j != parts[slot]]
    parts[slot] = rng.choice(pool)
    return compose(parts) or ch


def random_syllable(rng: random.Random) -> str:
    return compose([rng.choice(LEADS), rng.choice(SIMPLE_VOWELS)])
