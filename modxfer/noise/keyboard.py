"""Keyboard-neighbour typos on real layouts, chosen by language or by the grapheme's script.

One keystroke slips to a physically adjacent key (or its shift slip on uncased boards). The
replacement must be the same kind of character as the original (letter for letter, vowel sign
for vowel sign) so InScript or Kedmanee slips do not produce orphaned marks. Hangul syllables
slip on one jamo and are recomposed. Languages without a layout fall back to script-level
substitution, warn once, and record it in describe().
"""
from __future__ import annotations

import random
import unicodedata
import warnings

from . import hangul
from .layouts import LANG_LAYOUT, LAYOUTS, layout_for, neighbours
from .registry import Param, Perturbation, rate_param, register
from .rng import choose
from .scripts import dominant_script, graphemes, is_letter_grapheme, script_of_grapheme
from .typo import own_letters, substitute_grapheme


class NoiseFallbackWarning(UserWarning):
    """A perturbation used a weaker fallback for this language (e.g. no keyboard layout)."""


_WARNED: set[str] = set()


def _warn_once(note: str) -> None:
    if note not in _WARNED:
        _WARNED.add(note)
        warnings.warn(note, NoiseFallbackWarning, stacklevel=4)


def _same_kind(a: str, b: str) -> bool:
    return unicodedata.category(a)[0] == unicodedata.category(b)[0]


def _recase(ch: str, upper: bool, layout: str) -> str:
    if not upper:
        return ch
    if layout == "turkish-q" and ch in "iı":
        return "İ" if ch == "i" else "I"
    return ch.upper()


def key_slip(g: str, layout: str, rng: random.Random) -> str | None:
    """g with one keystroke moved to a neighbouring key, or None if no key of g is on the board."""
    nb = neighbours(layout)
    if hangul.is_syllable(g[0]):
        parts = hangul.decompose(g[0])
        options = {slot: [n for n in nb.get(j, ()) if hangul.can_fill(slot, n)] for slot, j in enumerate(parts)}
        slots = [s for s, opts in options.items() if opts]
        if not slots:
            return None
        slot = rng.choice(slots)
        parts[slot] = rng.choice(options[slot])
        return hangul.compose(parts) + g[1:]
    cased = LAYOUTS[layout].cased
    for form in (unicodedata.normalize("NFC", g), unicodedata.normalize("NFD", g)):
        chars = list(form)
        options = {}
        for p, ch in enumerate(chars):
            key = ch.lower() if cased and ch.isupper() else ch
            if layout == "turkish-q" and ch in "İI":
                key = "i" if ch == "İ" else "ı"
            opts = [n for n in nb.get(key, ()) if _same_kind(n, ch)]
            if opts:
                options[p] = [_recase(n, cased and ch.isupper(), layout) for n in opts]
        if options:
            p = rng.choice(sorted(options))
            chars[p] = rng.choice(options[p])
            return unicodedata.normalize("NFC", "".join(chars))
    return None


@register
class Keyboard(Perturbation):
    name = "keyboard"
    summary = "keyboard-neighbour slips on `rate` of the letter graphemes, on the language's layout"
    params = {"rate": rate_param("fraction of letter graphemes hit by a key slip"),
              "layout": Param(str, None, choices=tuple(LAYOUTS), doc="force a layout for its script")}
    primary = "rate"
    within_token = True

    def __init__(self, **params):
        super().__init__(**params)
        self.notes: set[str] = set()

    def _layout(self, lang: str | None, script: str, dominant: bool) -> tuple[str | None, str | None]:
        if self.layout is not None and LAYOUTS[self.layout].script == script:
            return self.layout, None
        return layout_for(lang, script, dominant)

    def apply(self, text: str, rng: random.Random, lang: str | None) -> str:
        gs = graphemes(text)
        chosen = choose(rng, [i for i, g in enumerate(gs) if is_letter_grapheme(g)], self.rate)
        if not chosen:
            return text
        main = dominant_script(text)
        extra = own_letters(gs)
        out = list(gs)
        for i in chosen:
            script = script_of_grapheme(gs[i])
            layout, note = self._layout(lang, script, script == main)
            new = key_slip(gs[i], layout, rng) if layout else None
            if new is None and layout is None and note:
                self.notes.add(note)
                _warn_once(note)
            if new is None:
                new = substitute_grapheme(gs[i], rng, extra)
            if new is not None:
                out[i] = new
        return "".join(out)

    def describe(self, lang: str | None = None) -> str:
        parts = [self.summary]
        if self.layout:
            parts.append(f"layout forced to {self.layout} for {LAYOUTS[self.layout].script}")
        if lang is not None:
            name = LANG_LAYOUT.get(lang.lower().split("-")[0])
            parts.append(f"'{lang}' types on {name}" if name else
                         f"no keyboard layout for language '{lang}': falls back to script-level substitution")
        parts.extend(sorted(self.notes))
        return "; ".join(parts)
