"""Robustness metrics: pure functions on scores, no models or data.

Conventions: scores are "higher is better" (accuracy, F1); degradation is clean - noisy, so a
positive number means the noise hurt. Relative degradation divides by the clean score; degradation above chance
divides by the room the model had above chance (clean - chance), so a model at chance, with nothing to lose, is not
read as robust. Uncertainty for these numbers comes from ``modxfer.analysis`` (bootstrap over examples).
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


def chance_relative_degradation(clean: float, noisy: float, chance: float) -> float:
    """(clean - noisy) / (clean - chance); NaN when the clean score is not above chance."""
    room = float(clean) - float(chance)
    return (float(clean) - float(noisy)) / room if room > 0 else math.nan


def _chance(task: str, n) -> float:
    from ..errors import ModxferError
    from ..scoring.outcomes import chance

    try:
        return chance(task, int(n) if n is not None and n == n else None)
    except ModxferError:
        return math.nan  # a task this modxfer does not know: no chance level, no chance-relative degradation


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


# ------------------------------------------------------------------------------ from evaluation rows
LEVELS = ("family", "script")


def curve_of(noise: str) -> tuple[str, float] | None:
    """("typo", 0.1) for "typo:0.1", ("adversarial:unit=words", 2) for "adversarial:2,unit=words"; None for clean
    and settings without a severity. Settings that share a curve name differ only in severity."""
    from .spec import PERTURBATIONS, parse_spec

    spec = parse_spec(noise)
    primary = PERTURBATIONS[spec.name].primary
    if primary is None:
        return None
    rest = str(spec).split(":", 1)[1].split(",")[1:]
    return spec.name + (":" + ",".join(rest) if rest else ""), float(spec.severity)


def summarize(rows, levels: Sequence[str] = LEVELS) -> dict[str, list[dict]]:
    """Robustness tables from evaluation rows (``EvalResult.rows``, sweep results or their dict records).

    Each row needs task, composition, lang, noise and score; ``attack_success_rate`` is read from its metrics
    (``metrics`` dict or a ``metrics.attack_success_rate`` column). Scores of repeated (task, composition, lang,
    noise) rows, e.g. several seeds, are averaged first. Returns lists of records:

      degradation  per language and noise setting: clean, score, absolute and relative degradation, chance level and
                   degradation relative to the room above chance, realised noise rate (share of characters the
                   noise changed, from rows' ``noise_rate``; NaN when not recorded), attack success rate
      curves       per language and perturbation: area under the degradation curve over its severities
                   (absolute and relative), when a clean row and at least one severity > 0 are present
      groups       the two above macro-averaged over the languages of each language family and script
                   (``level`` says which) and over all languages (level "all"); ``languages`` counts the languages
                   with a value
    """
    from .. import languages as L

    cells: dict[tuple, list[tuple[float, float]]] = defaultdict(list)
    noise_rate: dict[tuple, list[float]] = defaultdict(list)
    sizes: dict[tuple, int] = {}
    for r in rows:
        m = r.get("metrics") if isinstance(r.get("metrics"), Mapping) else {}
        rate = m.get("attack_success_rate", r.get("metrics.attack_success_rate", math.nan))
        rate = math.nan if rate is None else float(rate)
        score = math.nan if r["score"] is None else float(r["score"])  # a metric undefined on this data
        cells[(r["task"], r["composition"], r["lang"], r["noise"])].append((score, rate))
        changed = r.get("noise_rate")
        noise_rate[(r["task"], r["lang"], r["noise"])].append(math.nan if changed is None else float(changed))
        sizes[(r["task"], r["lang"])] = r.get("n")
    mean = {k: (sum(s for s, _ in v) / len(v), _nanmean([x for _, x in v])) for k, v in cells.items()}
    chance = {k: _chance(k[0], n) for k, n in sizes.items()}

    def info(lang: str) -> dict:
        lg = L.find(lang)  # a code the table lacks still gets its per-language numbers
        return {"family": lg.family if lg else "unknown", "script": lg.script if lg else "unknown"}

    degradation, curves = [], []
    points: dict[tuple, list[tuple[float, float]]] = defaultdict(list)
    for (task, comp, lang, noise), (score, rate) in mean.items():
        clean = mean.get((task, comp, lang, "clean"))
        if noise == "clean" or clean is None:
            continue
        degradation.append({"task": task, "composition": comp, "lang": lang, **info(lang), "noise": noise,
                            "clean": clean[0], "score": score,
                            "abs_degradation": absolute_degradation(clean[0], score),
                            "rel_degradation": relative_degradation(clean[0], score),
                            "chance": chance[(task, lang)],
                            "above_chance_degradation": chance_relative_degradation(clean[0], score, chance[(task, lang)]),
                            "noise_rate": _nanmean(noise_rate[(task, lang, noise)]), "attack_success_rate": rate})
        curve = curve_of(noise)
        if curve is not None:
            points[(task, comp, lang, curve[0])].append((curve[1], score))
    for (task, comp, lang, name), pts in points.items():
        if max(x for x, _ in pts) <= 0:
            continue
        clean = mean[(task, comp, lang, "clean")][0]
        xs, ys = zip(*sorted(pts))
        curves.append({"task": task, "composition": comp, "lang": lang, **info(lang), "perturbation": name,
                       "severities": list(xs), "auc": degradation_auc(xs, ys, clean=clean),
                       "rel_auc": degradation_auc(xs, ys, clean=clean, relative=True) if clean else math.nan})
    groups = []
    for level in (*levels, "all"):
        for records, what, values in ((degradation, "noise", ("abs_degradation", "rel_degradation",
                                                              "above_chance_degradation", "noise_rate",
                                                              "attack_success_rate")),
                                      (curves, "perturbation", ("auc", "rel_auc"))):
            by: dict[tuple, list[dict]] = defaultdict(list)
            for rec in records:
                by[(rec["task"], rec["composition"], rec[what], "all" if level == "all" else rec[level])].append(rec)
            for (task, comp, name, group), recs in by.items():
                key = "abs_degradation" if what == "noise" else "auc"
                # Languages with a value only: an undefined score is no language of the average.
                out = {"level": level, "group": group, "task": task, "composition": comp, "kind": what, "setting": name,
                       "languages": sum(1 for rec in recs if not math.isnan(rec[key]))}
                out.update({v: _nanmean([rec[v] for rec in recs]) for v in values})
                groups.append(out)
    return {"degradation": degradation, "curves": curves, "groups": groups}


def _nanmean(values: Sequence[float]) -> float:
    vals = [float(v) for v in values if not math.isnan(float(v))]
    return sum(vals) / len(vals) if vals else math.nan
