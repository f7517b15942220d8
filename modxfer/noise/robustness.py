"""Robustness metrics: pure functions on scores, no models or data.

Conventions: scores are "higher is better" (accuracy, F1); degradation is clean - noisy, so a
positive number means the noise hurt. Relative degradation divides by the clean score.
"""
from __future__ import annotations

import math
from collections import defaultdict
from typing import Callable, Mapping, Sequence

from ..errors import ConfigError, UnknownLanguageError


def absolute_degradation(clean: float, noisy: float) -> float:
    return float(clean) - float(noisy)


def relative_degradation(clean: float, noisy: float) -> float:
    """(clean - noisy) / clean; NaN when the clean score is 0 (nothing left to lose)."""
    return (float(clean) - float(noisy)) / float(clean) if clean else math.nan


def degradation_auc(severities: Sequence[float], scores: Sequence[float], *, clean: float,
                    relative: bool = False) -> float:
    """Area under the degradation curve over severity, divided by the severity range.

    The curve is degradation(severity) with the point (0, 0) added when 0 is not among the
    severities (clean has no degradation). The trapezoid area divided by (max - min severity)
    is the mean degradation over the range: same units as the score (or a fraction with
    relative=True), comparable between perturbations whose severities span different ranges,
    and 0 for a model the noise does not touch.
    """
    if len(severities) != len(scores):
        raise ConfigError(f"{len(severities)} severities but {len(scores)} scores",
                          "give one score per severity")
    points = sorted(zip(map(float, severities), map(float, scores)))
    xs = [x for x, _ in points]
    if len(set(xs)) != len(xs):
        raise ConfigError(f"repeated severity in {xs}", "give each severity once")
    if any(x < 0 for x in xs):
        raise ConfigError(f"negative severity in {xs}", "severities are rates or budgets, >= 0")
    deg = relative_degradation if relative else absolute_degradation
    curve = [(x, deg(clean, s)) for x, s in points]
    if not xs or xs[0] > 0:
        curve.insert(0, (0.0, 0.0))
    if len(curve) < 2:
        raise ConfigError("a degradation curve needs at least one severity above 0",
                          "evaluate the perturbation at one or more severities > 0")
    area = sum((x1 - x0) * (y0 + y1) / 2.0 for (x0, y0), (x1, y1) in zip(curve, curve[1:]))
    return area / (curve[-1][0] - curve[0][0])


def attack_success_rate(clean_correct: Sequence[bool], attacked_correct: Sequence[bool]) -> float:
    """Fraction of the originally correct examples that the attack made wrong (NaN if none were)."""
    if len(clean_correct) != len(attacked_correct):
        raise ConfigError(f"{len(clean_correct)} clean outcomes but {len(attacked_correct)} attacked ones",
                          "give both per example, in the same order")
    originally = [bool(a) for a, _ in zip(clean_correct, attacked_correct) if a]
    flipped = sum(1 for a, b in zip(clean_correct, attacked_correct) if a and not b)
    return flipped / len(originally) if originally else math.nan


def aggregate_by_group(per_lang: Mapping[str, float], group_of: Mapping[str, str] | Callable[[str], str],
                       ) -> dict[str, float]:
    """Macro-average per group (language family, script...) of per-language values.

    Each language counts once whatever its test-set size, matching how XTREME-R averages
    languages. NaN values (undefined metrics) are left out of their group's mean.
    """
    groups: dict[str, list[float]] = defaultdict(list)
    for lang, value in per_lang.items():
        try:
            group = group_of(lang) if callable(group_of) else group_of[lang]
        except KeyError:
            raise UnknownLanguageError(f"language '{lang}' has no group in the mapping given",
                                       "add it to the language -> family/script mapping") from None
        if not math.isnan(float(value)):
            groups[group].append(float(value))
        else:
            groups.setdefault(group, [])
    return {g: (sum(v) / len(v) if v else math.nan) for g, v in sorted(groups.items())}
