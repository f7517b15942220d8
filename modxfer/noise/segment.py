"""Word segmentation for word-level noise: whitespace, plus graphemes as words in unspaced scripts.

A text is words interleaved with separators: seps[0] w[0] seps[1] ... w[n-1] seps[n], so any
reordering or deletion of words can be written back without losing the original spacing.
Han, kana, Thai, Lao, Khmer and Myanmar graphemes each count as a word; this over-segments
multi-character words but needs no dictionary and behaves the same in every language. One
refinement: Thai and Lao write some vowels as separate graphemes before (เ แ โ ใ ไ) or after
(ะ า ำ) their consonant, and a bare vowel is not a unit anyone drops or moves, so those attach
to their consonant (Thai character clusters) before graphemes are used as words.
"""
from __future__ import annotations

import regex

from .scripts import GRAPHEME_RE, NO_SPACE_SCRIPTS, script_of_grapheme

_RUN_RE = regex.compile(r"\s+|\S+")
_CONTENT_RE = regex.compile(r"[\p{L}\p{N}]")
_LEADING_VOWEL_RE = regex.compile(r"\p{Logical_Order_Exception}")
_TRAILING_VOWELS = frozenset("\u0e30\u0e32\u0e33\u0e45\u0eb0\u0eb2\u0eb3")


def units(run: str) -> list[str]:
    """Graphemes of a non-space run, with Thai/Lao leading and trailing vowels attached."""
    out: list[str] = []
    lead = ""
    for g in GRAPHEME_RE.findall(run):
        if _LEADING_VOWEL_RE.match(g) and len(g) == 1:
            lead += g
        elif lead:
            out.append(lead + g)
            lead = ""
        elif g[0] in _TRAILING_VOWELS and out and script_of_grapheme(out[-1]) == script_of_grapheme(g):
            out[-1] += g
        else:
            out.append(g)
    if lead:
        out.append(lead)
    return out


def is_unspaced(word: str) -> bool:
    return script_of_grapheme(word) in NO_SPACE_SCRIPTS


def segment_words(text: str) -> tuple[list[str], list[str]]:
    words: list[str] = []
    seps: list[str] = [""]
    for run in _RUN_RE.findall(text):
        if run.isspace():
            seps[-1] += run
            continue
        pending = ""
        for g in units(run):
            if script_of_grapheme(g) in NO_SPACE_SCRIPTS:
                if pending:
                    words.append(pending)
                    seps.append("")
                    pending = ""
                words.append(g)
                seps.append("")
            else:
                pending += g
        if pending:
            words.append(pending)
            seps.append("")
    return words, seps


def join_words(words: list[str], seps: list[str]) -> str:
    return seps[0] + "".join(w + s for w, s in zip(words, seps[1:]))


def has_content(word: str) -> bool:
    """Words that word-level noise may target: with a letter or digit (not bare punctuation)."""
    return bool(_CONTENT_RE.search(word))
