"""Settings that are not text-only noise: `clean` (the reference) and `adversarial` (needs a model)."""
from __future__ import annotations

import random

from ..errors import ModxferError
from .registry import Param, Perturbation, register


@register
class Clean(Perturbation):
    name = "clean"
    summary = "no perturbation (the reference every degradation is measured from)"
    within_token = True

    def apply(self, text: str, rng: random.Random, lang: str | None) -> str:
        return text


@register
class Adversarial(Perturbation):
    """Parsed and validated here; the attack is run by the evaluation, which holds the model."""

    name = "adversarial"
    summary = ("model-in-the-loop greedy attack: at most `budget` edits per example, each chosen to lower the gold "
               "answer's probability; unit=chars edits one character (typo, keyboard, homoglyph), unit=words one word "
               "(drop, duplicate, swap, translate, misspell); search=random applies `budget` random edits of the same "
               "kinds instead, the control the attack is measured against")
    params = {"budget": Param(int, None, check=lambda v: v >= 0, expect="a whole number >= 0",
                              doc="maximum number of edits per example"),
              "unit": Param(str, "chars", choices=("chars", "words"), doc="what one edit changes"),
              "search": Param(str, "greedy", choices=("greedy", "random"),
                              doc="greedy: model-guided; random: the same edits at random (the control)")}
    primary = "budget"
    model_dependent = True

    def apply(self, text: str, rng: random.Random, lang: str | None) -> str:
        raise ModxferError(
            f"adversarial:budget={self.budget} needs the model under attack and cannot perturb text on its own",
            "run it through the evaluation (which supplies the model), not modxfer.noise.perturb_text")
