"""Segmentation noise: spaces removed or inserted between graphemes.

Candidates are every whitespace run (removable) and every boundary between two adjacent
non-space graphemes (insertable); `rate` is the fraction of candidates changed. In scripts
written without spaces (zh, ja, th) nearly all candidates are insertions at grapheme
boundaries, which is the segmentation noise those languages actually see. Insertions never
split a grapheme, so combining marks and vowel signs stay on their base.
"""
from __future__ import annotations

import random

from .registry import Param, Perturbation, rate_param, register
from .rng import choose
from .scripts import graphemes


@register
class Whitespace(Perturbation):
    name = "whitespace"
    summary = "removes whitespace runs / inserts spaces between graphemes at `rate` of the candidate positions"
    params = {"rate": rate_param("fraction of candidate positions changed"),
              "mode": Param(str, "both", choices=("both", "remove", "insert"), doc="which edits are allowed")}
    primary = "rate"

    def apply(self, text: str, rng: random.Random, lang: str | None) -> str:
        gs = graphemes(text)
        candidates = []
        for i, g in enumerate(gs):
            space = g.isspace()
            if space and self.mode != "insert" and (i == 0 or not gs[i - 1].isspace()):
                candidates.append(("remove", i))
            if not space and self.mode != "remove" and i + 1 < len(gs) and not gs[i + 1].isspace():
                candidates.append(("insert", i))
        out = list(gs)
        for op, i in choose(rng, candidates, self.rate):
            if op == "insert":
                out[i] += " "
            else:
                j = i
                while j < len(gs) and gs[j].isspace():
                    out[j] = ""
                    j += 1
        return "".join(out)
