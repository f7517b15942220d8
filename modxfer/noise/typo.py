"""Character typos (insert, delete, substitute, transpose) on graphemes, within the text's script.

Working on extended grapheme clusters keeps combining accents, Indic vowel signs and viramas
attached to their base: a substitution swaps the base letter and keeps its marks ("कि" -> "गि"),
a deletion or transposition moves whole clusters. Replacement letters come from the same
script, syllabic role and case (see scripts.pick_replacement), so the output stays in the
input's script; Hangul syllables change one jamo rather than the whole block.
"""
from __future__ import annotations

import random

from . import hangul
from .registry import Perturbation, rate_param, register
from .rng import choose
from .scripts import graphemes, is_letter_grapheme, pick_replacement

OPS = ("insert", "delete", "substitute", "transpose")


def own_letters(gs: list[str]) -> frozenset[str]:
    return frozenset(g[0] for g in gs if is_letter_grapheme(g))


def substitute_grapheme(g: str, rng: random.Random, extra: frozenset[str]) -> str | None:
    """A different grapheme of the same script and role, keeping g's combining marks."""
    base = g[0]
    if hangul.is_syllable(base):
        return hangul.script_substitute(base, rng) + g[1:]
    new = pick_replacement(base, extra, rng)
    return new + g[1:] if new else None


def new_letter(g: str, rng: random.Random, extra: frozenset[str]) -> str | None:
    """A bare letter to insert next to g: same script and role as g's base."""
    if hangul.is_syllable(g[0]):
        return hangul.random_syllable(rng)
    return pick_replacement(g[0], extra, rng)


@register
class Typo(Perturbation):
    name = "typo"
    summary = ("character typos (insert/delete/substitute/transpose, equally likely) on `rate` of the "
               "letter graphemes; new letters come from the text's own script")
    params = {"rate": rate_param("fraction of letter graphemes edited")}
    primary = "rate"
    within_token = True

    def apply(self, text: str, rng: random.Random, lang: str | None) -> str:
        gs = graphemes(text)
        targets = [i for i, g in enumerate(gs) if is_letter_grapheme(g)]
        chosen = choose(rng, targets, self.rate)
        if not chosen:
            return text
        extra = own_letters(gs)
        chosen_set = set(chosen)
        out = list(gs)
        for i in chosen:
            op = rng.choice(OPS)
            if op == "delete" and len(targets) <= 1:
                op = "substitute"  # never delete the only letter: tagging tokens must stay non-empty
            if op == "transpose":
                j = i + 1
                # Only swap with an untouched, different letter, so every edit is one visible change.
                if j < len(gs) and j not in chosen_set and is_letter_grapheme(gs[j]) and gs[j] != gs[i] \
                        and out[j] == gs[j]:
                    out[i], out[j] = gs[j], gs[i]
                    chosen_set.add(j)
                    continue
                op = "substitute"
            if op == "delete":
                out[i] = ""
            elif op == "insert":
                new = new_letter(gs[i], rng, extra)
                if new is not None:
                    out[i] = out[i] + new if rng.random() < 0.5 else new + out[i]
            else:
                new = substitute_grapheme(gs[i], rng, extra)
                if new is not None:
                    out[i] = new
        return "".join(out)
