"""Accent stripping for Latin, Greek and Cyrillic: what users do when typing without a layout.

Only marks on a Latin/Greek/Cyrillic base are dropped. Indic vowel signs and viramas, Thai
vowels and tone marks, Hebrew points and Arabic letters are part of the spelling in those
scripts, so they are left alone. Letters in these scripts that are written with a diacritic
but do not decompose (ł, ø, đ, ħ) are folded to their base as well. Cyrillic й and ё are
stripped like any other accented letter (и, е), as Russian text without ё routinely is.
"""
from __future__ import annotations

import random
import unicodedata

from .registry import Perturbation, rate_param, register
from .rng import choose
from .scripts import graphemes, script_of_grapheme

STRIP_SCRIPTS = frozenset({"Latin", "Greek", "Cyrillic"})
_STROKED = {"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "đ": "d", "Đ": "D", "ħ": "h", "Ħ": "H", "ŧ": "t",
            "Ŧ": "T", "ƀ": "b", "ɨ": "i", "ʉ": "u"}


def strip(g: str) -> str:
    nfd = unicodedata.normalize("NFD", g)
    kept = "".join(ch for ch in nfd if unicodedata.category(ch) != "Mn")
    kept = "".join(_STROKED.get(ch, ch) for ch in kept)
    return unicodedata.normalize("NFC", kept)


def eligible(g: str) -> bool:
    return script_of_grapheme(g) in STRIP_SCRIPTS and strip(g) != unicodedata.normalize("NFC", g)


@register
class Diacritics(Perturbation):
    name = "diacritics"
    summary = "strips accents from `rate` of the accented Latin/Greek/Cyrillic letters (1.0 = all)"
    params = {"rate": rate_param("fraction of accented letters stripped")}
    primary = "rate"
    within_token = True

    def apply(self, text: str, rng: random.Random, lang: str | None) -> str:
        gs = graphemes(text)
        for i in choose(rng, [i for i, g in enumerate(gs) if eligible(g)], self.rate):
            gs[i] = strip(gs[i])
        return "".join(gs)
