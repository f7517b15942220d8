"""The perturbation registry: each perturbation declares its parameters so specs can be validated."""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Callable, ClassVar


@dataclass(frozen=True)
class Param:
    kind: type
    default: Any = None
    choices: tuple | None = None
    check: Callable[[Any], bool] | None = None
    expect: str = ""  # how a valid value looks, for error messages
    doc: str = ""


def rate_param(doc: str) -> Param:
    return Param(float, None, check=lambda v: 0.0 <= v <= 1.0, expect="a number in [0, 1]", doc=doc)


class Perturbation:
    """One kind of noise. Subclasses set the class attributes and implement apply()."""

    name: ClassVar[str]
    summary: ClassVar[str]
    params: ClassVar[dict[str, Param]] = {}
    primary: ClassVar[str | None] = None  # the parameter `name:VALUE` sets
    # Noise that stays inside one word (safe per tagging token, never merges or splits tokens).
    within_token: ClassVar[bool] = False
    # Noise that needs the model under attack, so it cannot run from text alone.
    model_dependent: ClassVar[bool] = False

    def __init__(self, **params: Any):
        for key, param in self.params.items():
            setattr(self, key, params.get(key, param.default))

    def apply(self, text: str, rng: random.Random, lang: str | None) -> str:
        raise NotImplementedError

    def describe(self, lang: str | None = None) -> str:
        return self.summary


PERTURBATIONS: dict[str, type[Perturbation]] = {}


def register(cls: type[Perturbation]) -> type[Perturbation]:
    PERTURBATIONS[cls.name] = cls
    return cls
