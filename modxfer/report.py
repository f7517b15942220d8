"""Tables for people: robustness summaries (``modxfer.noise.robustness.summarize``) as rich tables.

The analysis that relates degradation to task similarity per language family builds on the same summaries.
"""
from __future__ import annotations

import math

from .errors import ConfigError

LEVELS = ("family", "script", "all")


def degradation_table(summary: dict, level: str = "family", *, relative: bool = False, title: str | None = None):
    """One table per task: (composition,) noise setting down, groups of languages (family or script) across, mean
    degradation from clean in cells.

    Absolute degradation is in points of the task's metric (positive = the noise hurt); relative is a percentage
    of the clean score. Attack settings add their success rate in brackets.
    """
    from rich.table import Table

    if level not in LEVELS:
        raise ConfigError(f"unknown grouping level {level!r}", f"use one of: {', '.join(LEVELS)}")
    recs = [g for g in summary["groups"] if g["kind"] == "noise" and g["level"] in (level, "all")]
    value = "rel_degradation" if relative else "abs_degradation"
    tables = []
    for task in dict.fromkeys(g["task"] for g in recs):
        part = [g for g in recs if g["task"] == task]
        comps = list(dict.fromkeys(g["composition"] for g in part))
        groups = sorted({g["group"] for g in part if g["level"] == level}) + ["all"]
        settings = list(dict.fromkeys(g["setting"] for g in part))
        cell = {(g["composition"], g["setting"], g["group"]): g for g in part}
        unit = "% of clean" if relative else "points"
        t = Table(title=title or f"{task}: degradation from clean by {level} ({unit}; \\[attack success rate])")
        if len(comps) > 1:
            t.add_column("composition", no_wrap=True)
        t.add_column("noise", no_wrap=True)
        for grp in groups:
            n = max((g["languages"] for g in part if g["group"] == grp), default=0)
            t.add_column(f"{grp} ({n})", justify="right", style="bold" if grp == "all" else None)
        for comp in comps:
            for s in settings:
                if not any((comp, s, grp) in cell for grp in groups):
                    continue
                row = [_fmt(cell.get((comp, s, grp)), value, relative) for grp in groups]
                t.add_row(*([comp] if len(comps) > 1 else []), s, *row)
            if len(comps) > 1:
                t.add_section()
        tables.append(t)
    return tables


def _fmt(rec: dict | None, value: str, relative: bool) -> str:
    if rec is None or math.isnan(rec[value]):
        return "-"
    v = 100.0 * rec[value] if relative else rec[value]
    rate = rec.get("attack_success_rate", math.nan)
    return f"{v:.1f}" + ("" if math.isnan(rate) else f" [{rate:.0f}%]")
