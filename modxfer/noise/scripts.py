"""Unicode script detection and per-script letter alphabets, derived from the Unicode database.

The noise package keeps its own script logic (rather than leaning on modxfer.languages) so it
can classify single graphemes, which is what keeps substitutions inside the text's own script.
"""
from __future__ import annotations

import random
import unicodedata
from collections import Counter
from functools import lru_cache

import regex

# Scripts of the XTREME-R languages plus their close neighbours; anything else is "Other".
SCRIPTS = (
    "Latin", "Cyrillic", "Greek", "Armenian", "Georgian", "Hebrew", "Arabic", "Syriac", "Thaana",
    "Devanagari", "Bengali", "Gurmukhi", "Gujarati", "Oriya", "Tamil", "Telugu", "Kannada",
    "Malayalam", "Sinhala", "Thai", "Lao", "Tibetan", "Myanmar", "Khmer", "Hangul", "Hiragana",
    "Katakana", "Han", "Bopomofo", "Ethiopic", "Mongolian", "Tifinagh", "Cherokee",
    "Canadian_Aboriginal", "Javanese", "Balinese", "Sundanese", "Common", "Inherited",
)
_SCRIPT_RE = regex.compile("|".join(f"(?P<{s}>\\p{{Script={s}}})" for s in SCRIPTS))

# Scripts written without spaces between words: their graphemes act as words.
NO_SPACE_SCRIPTS = frozenset({"Han", "Hiragana", "Katakana", "Thai", "Lao", "Khmer", "Myanmar"})
CASED_SCRIPTS = frozenset({"Latin", "Cyrillic", "Greek", "Armenian"})
NEUTRAL = frozenset({"Common", "Inherited", "Other"})

GRAPHEME_RE = regex.compile(r"\X")
LETTER_RE = regex.compile(r"\p{L}")

# The everyday alphabet of scripts whose Unicode repertoire is dominated by letters a typist of
# the language would never produce (IPA and Vietnamese in Latin, Old Church Slavonic in Cyrillic,
# presentation forms in Arabic, CJK extensions in Han). Letters of the same script that occur in
# the text itself are added at run time, so e.g. Vietnamese or Urdu typos can still produce them.
_CORE_RANGES = {
    "Latin": ((0x41, 0x5A), (0x61, 0x7A)),
    "Cyrillic": ((0x410, 0x44F),),
    "Greek": ((0x391, 0x3A9), (0x3B1, 0x3C9)),
    "Arabic": ((0x621, 0x64A),),
    "Hebrew": ((0x5D0, 0x5EA),),
    "Han": ((0x4E00, 0x9FFF),),
    "Hiragana": ((0x3041, 0x3096),),
    "Katakana": ((0x30A1, 0x30FA),),
}
_INSC = ("Consonant", "Vowel_Independent", "Vowel_Dependent")
_INSC_RE = regex.compile("|".join(f"(?P<{v}>\\p{{InSC={v}}})" for v in _INSC))
NUKTA_RE = regex.compile(r"\p{InSC=Nukta}")


@lru_cache(maxsize=None)
def script_of_char(ch: str) -> str:
    m = _SCRIPT_RE.match(ch)
    return m.lastgroup if m else "Other"


def script_of_grapheme(g: str) -> str:
    """Script of the first character that has one: combining marks inherit their base's."""
    fallback = "Other"
    for ch in g:
        s = script_of_char(ch)
        if s not in NEUTRAL:
            return s
        if fallback == "Other":
            fallback = s
    return fallback


def dominant_script(text: str) -> str | None:
    counts = Counter(script_of_char(ch) for ch in LETTER_RE.findall(text))
    for s in NEUTRAL:
        counts.pop(s, None)
    return counts.most_common(1)[0][0] if counts else None


def letter_scripts(text: str) -> set[str]:
    return {script_of_char(ch) for ch in LETTER_RE.findall(text)} - NEUTRAL


def graphemes(text: str) -> list[str]:
    return GRAPHEME_RE.findall(text)


def is_letter_grapheme(g: str) -> bool:
    """Typo targets: graphemes that start with a letter (not digits, spaces, punctuation, emoji)."""
    return bool(g) and unicodedata.category(g[0]).startswith("L")


@lru_cache(maxsize=None)
def letter_class(ch: str) -> tuple[str, str, str]:
    """(script, syllabic role, case): a replacement must share all three to stay well-formed.

    The Indic syllabic category keeps a consonant that carries vowel signs or a virama from being
    swapped for an independent vowel (which cannot carry them); case keeps 'Moscow' from
    becoming 'MOscow'-style noise that a keyboard slip would not produce.
    """
    m = _INSC_RE.match(ch)
    role = m.lastgroup if m else "Other"
    case = "U" if ch.isupper() else "L" if ch.islower() else "-"
    return script_of_char(ch), role, case


def _is_everyday_letter(ch: str) -> bool:
    # Lm (tatweel, length marks) and NFKC-unstable forms (presentation forms, fullwidth,
    # compatibility ideographs) are typographic variants, not letters anyone types by mistake.
    return unicodedata.category(ch) in ("Lu", "Ll", "Lo") and unicodedata.normalize("NFKC", ch) == ch


@lru_cache(maxsize=None)
def alphabet(script: str) -> tuple[str, ...]:
    """Everyday letters of a script, computed once per script from the Unicode database."""
    if script in _CORE_RANGES:
        chars = (chr(c) for lo, hi in _CORE_RANGES[script] for c in range(lo, hi + 1))
    else:
        chars = (chr(c) for c in range(0x10000) if not 0xD800 <= c < 0xE000)
    return tuple(ch for ch in chars if script_of_char(ch) == script and _is_everyday_letter(ch))


@lru_cache(maxsize=None)
def _pools(script: str) -> dict[tuple[str, str, str], tuple[tuple[str, ...], frozenset[str]]]:
    pools: dict[tuple[str, str, str], list[str]] = {}
    for ch in alphabet(script):
        pools.setdefault(letter_class(ch), []).append(ch)
    return {k: (tuple(v), frozenset(v)) for k, v in pools.items()}


def pick_replacement(base: str, extra: frozenset[str], rng: random.Random) -> str | None:
    """A letter other than `base` with the same script, role and case, or None if there is none.

    Candidates are the script's everyday alphabet plus the text's own letters (`extra`) of that
    class. Drawn by index with rejection of `base`, because the Han pool has ~21k letters and
    building a fresh candidate list per edit would dominate the run time.
    """
    cls = letter_class(base)
    core, core_set = _pools(cls[0]).get(cls, ((), frozenset()))
    added = sorted(ch for ch in extra if ch not in core_set and letter_class(ch) == cls)
    n = len(core) + len(added)
    if n == 0 or (n == 1 and (core or added)[0] == base):
        return None
    while True:
        i = rng.randrange(n)
        ch = core[i] if i < len(core) else added[i - len(core)]
        if ch != base:
            return ch
