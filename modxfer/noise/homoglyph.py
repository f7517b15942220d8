"""Homoglyph swaps: visually (near-)identical characters, usually from another script.

This is the one perturbation that changes script on purpose: it probes whether a model reads
pixels-level-identical text the same way. NFKC folds fullwidth forms and CJK compatibility
ideographs back, so those are not used: a tokenizer would undo them. Scripts without
confusables in the table (Han, Thai, Hangul...) come out unchanged.
"""
from __future__ import annotations

import random
import unicodedata

from .registry import Perturbation, rate_param, register
from .rng import choose
from .scripts import NUKTA_RE, graphemes

# Pairs from Unicode's confusables data (UTS #39) that render identically in common fonts.
_GROUPS = (
    "aаɑ", "AΑА", "BΒВ", "cс", "CϹС", "eе", "EΕЕ", "HΗН", "iіι", "IΙІӀ", "jј", "JЈ", "KΚК", "MΜМ",
    "NΝ", "oοо", "OΟО", "pрρ", "PΡР", "sѕ", "SЅ", "TΤТ", "xх", "XΧХ", "yу", "YΥҮ", "ZΖ", "vν",
    "hһ", "dԁ", "qԛ", "wԝ", "ɡg", "ӏl",
    # Arabic-script letters that Arabic, Persian and Urdu encode differently but render alike.
    "\u064a\u06cc", "\u0649\u06cc", "\u0643\u06a9", "\u0647\u06c1", "\u0647\u06d5",
)
CONFUSABLES: dict[str, tuple[str, ...]] = {}
for _group in _GROUPS:
    for _ch in _group:
        CONFUSABLES[_ch] = tuple(sorted(set(CONFUSABLES.get(_ch, ())) | (set(_group) - {_ch})))


def swap(g: str, rng: random.Random) -> str | None:
    """A look-alike of grapheme g, or None if it has none."""
    nfc = unicodedata.normalize("NFC", g)
    if len(nfc) == 1 and nfc in CONFUSABLES:
        return rng.choice(CONFUSABLES[nfc])
    nfd = unicodedata.normalize("NFD", g)
    if NUKTA_RE.search(nfd):
        # Brahmic nukta letters (क़ ड़ ফ়...) written without the dot: the everyday look-alike.
        return unicodedata.normalize("NFC", NUKTA_RE.sub("", nfd))
    return None


def eligible(g: str) -> bool:
    nfc = unicodedata.normalize("NFC", g)
    return (len(nfc) == 1 and nfc in CONFUSABLES) or bool(NUKTA_RE.search(unicodedata.normalize("NFD", g)))


@register
class Homoglyph(Perturbation):
    name = "homoglyph"
    summary = ("swaps `rate` of the characters that have a look-alike (Latin/Cyrillic/Greek, "
               "Arabic/Persian yeh-kaf-heh, Brahmic nukta-less forms); changes script by design")
    params = {"rate": rate_param("fraction of characters with a look-alike that are swapped")}
    primary = "rate"
    within_token = True

    def apply(self, text: str, rng: random.Random, lang: str | None) -> str:
        gs = graphemes(text)
        chosen = choose(rng, [i for i, g in enumerate(gs) if eligible(g)], self.rate)
        for i in chosen:
            gs[i] = swap(gs[i], rng) or gs[i]
        return "".join(gs)
