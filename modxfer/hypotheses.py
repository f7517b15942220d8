"""The family of tests behind a report's findings: one p-value per hypothesis, what is kept out of the family and
why, the multiple-comparison correction, and the minimum detectable effects at the nominal and corrected levels.

Kept out (listed with the reason, never counted in the correction's m, since a test that cannot tell anything only
costs the others power):

- comparisons involving a model that did not learn (its validation CI does not clear its floor);
- degradations and robustness gains under noise that changed nothing (realised rate 0 in every language);
- degradations of a model, and robustness gains between models, where a side is near chance on clean zero-shot
  data (its CI includes chance): it has no room left to lose, so an absolute degradation says nothing and a
  robustness gain against it compares a drop with no possible drop. Their relative degradation is undefined too;
- correlations with too few pairs, and interactions without two families of which one has several languages;
- every test whose smallest attainable p-value (a permutation test's, given its orderings) is at or above its
  corrected threshold alpha/m, m being the tests that remain (``stats.testable``): it could never pass, and counting
  it only lowers the threshold for the others;
- anything without per-example outcomes (no bootstrap, no p-value).

p-values of gains, degradations and robustness gains use the analytic standard error (``stats.estimate``): they have
no Monte Carlo error. Permutation p-values of correlations and interactions are exact when the orderings are few and
otherwise carry their Monte Carlo SE (``pvalue_mc_error``).

The MDE is reported at alpha (two-sided, 80% power) and at alpha/m, the level the correction's first step applies
to the smallest p-value (Holm's, and Benjamini-Hochberg's too): the effect a comparison would need to be found with
80% power after correction. alpha/m is conservative for the later steps of both procedures.
"""
from __future__ import annotations

import math

import numpy as np

from . import stats as S

TESTED = ("gain", "degradation", "robustness_gain")
NOT_LEARNED = "a model in this comparison did not learn (validation CI does not clear its floor)"
CHANGED_NOTHING = "the noise changed nothing (realised rate 0)"
NEAR_CHANCE = ("{sides} near chance on clean zero-shot data (CI includes chance): no room above chance to lose, "
               "so its absolute degradation says nothing")
NO_OUTCOMES = "no per-example outcomes: no test"
COLUMNS = ["kind", "task", "what", "composition", "noise", "same_source", "estimate", "low", "high", "se", "pvalue",
           "pvalue_mc_error", "min_pvalue", "mde", "mde_corrected", "languages", "excluded"]
CANNOT_PASS = ("cannot pass the correction: smallest attainable p {min_p:.3g} >= alpha/(m+1) = {level:.3g}, the "
               "threshold it would face among the m = {m} tests that can")


def _truthy(v) -> bool:
    return v is True or v is np.True_ or (isinstance(v, (int, float, np.number)) and not isinstance(v, bool)
                                          and v == v and bool(v))


def near_chance_models(table) -> set[tuple[str, str]]:
    """(task, composition) whose clean zero-shot score's CI includes chance."""
    if table.empty or "near_chance" not in table:
        return set()
    zs = table[(table["measure"] == "score") & (table["noise"] == "clean") & (table["level"] == "zero-shot")]
    return {(r.task, r.composition) for r in zs.itertuples() if _truthy(r.near_chance)}


def _excluded(r, near: set) -> str | None:
    if r.competence == "not learned" or r.baseline_competence == "not learned":
        return NOT_LEARNED
    if r.measure in ("degradation", "robustness_gain") and _truthy(getattr(r, "changed_nothing", False)):
        return CHANGED_NOTHING
    if r.measure in ("degradation", "robustness_gain"):
        sides = [s for s in (r.composition, r.baseline if r.measure == "robustness_gain" else None)
                 if s and (r.task, s) in near]
        if sides:
            return NEAR_CHANCE.format(sides=" and ".join(sides) + (" is" if len(sides) == 1 else " are"))
    if not math.isfinite(r.pvalue):
        return NO_OUTCOMES
    return None


def _subset_text(subset) -> str:
    return {"with": ", same-source ‡ pairs included", "without": ", same-source ‡ pairs left out"}.get(subset, "")


def build(table, corr, inter, correction: str, alpha: float):
    """Every hypothesis the report could state, one p-value each, corrected together (see the module docstring)."""
    import pandas as pd

    out = []
    near = near_chance_models(table)
    zs = table[(table["level"] == "zero-shot") & table["measure"].isin(TESTED)] if not table.empty else table
    for r in zs.itertuples():
        what = {"gain": f"{r.composition} vs {r.baseline}: clean gain",
                "degradation": f"{r.composition}: degradation under {r.noise}",
                "robustness_gain": f"{r.composition} vs {r.baseline}: robustness gain under {r.noise}"}[r.measure]
        out.append({"kind": r.measure, "task": r.task, "what": what, "composition": r.composition, "noise": r.noise,
                    "same_source": "with" if _truthy(getattr(r, "same_source", False)) else "none",
                    "estimate": r.estimate, "low": r.low, "high": r.high, "se": r.se, "pvalue": r.pvalue,
                    "pvalue_mc_error": 0.0, "min_pvalue": 0.0,  # analytic: any p down to 0 is attainable
                    "mde": r.mde, "mde_corrected": math.nan, "languages": r.languages,
                    "excluded": _excluded(r, near)})
    for r in corr.itertuples():
        out.append({"kind": "correlation", "task": r.task, "what": f"similarity vs {r.measure} ({r.kind}"
                    + (f", {r.noise}" if r.noise != "clean" else "") + f", {r.n_pairs} pairs"
                    + _subset_text(r.same_source) + ")", "composition": None, "noise": r.noise,
                    "same_source": r.same_source, "estimate": r.rho, "low": r.low, "high": r.high, "se": math.nan,
                    "pvalue": _num(r.pvalue), "pvalue_mc_error": _num(r.pvalue_mc_error),
                    "min_pvalue": _num(r.min_pvalue), "mde": math.nan,
                    "mde_corrected": math.nan, "languages": None, "excluded": r.reason})
    for r in inter.itertuples():
        out.append({"kind": "interaction", "task": r.task, "what": f"family x similarity on {r.measure} "
                    f"({r.kind}, {r.noise}{_subset_text(r.same_source)}): spread of the families' mean rank "
                    "correlations", "composition": None, "noise": r.noise,
                    "same_source": r.same_source, "estimate": r.statistic, "low": _num(r.low), "high": _num(r.high),
                    "se": math.nan, "pvalue": _num(r.pvalue), "pvalue_mc_error": _num(r.pvalue_mc_error),
                    "min_pvalue": _num(r.min_pvalue), "mde": math.nan,
                    "mde_corrected": math.nan, "languages": r.languages, "excluded": r.reason})
    tests = pd.DataFrame(out, columns=COLUMNS)
    for col in ("estimate", "pvalue", "min_pvalue", "pvalue_mc_error"):
        tests[col] = tests[col].astype(float)
    candidate = (tests["excluded"].isna() & np.isfinite(tests["pvalue"])).to_numpy()
    mins = np.where(candidate, tests["min_pvalue"].fillna(0.0).to_numpy(), np.nan)
    can_pass = S.testable(mins, alpha)
    m = int(can_pass.sum())
    for i in np.flatnonzero(candidate & ~can_pass):
        tests.at[i, "excluded"] = CANNOT_PASS.format(min_p=mins[i], level=corrected_alpha(alpha, m + 1), m=m)
    tested = tests["excluded"].isna() & np.isfinite(tests["pvalue"])
    adj = np.full(len(tests), np.nan)
    adj[tested.to_numpy()] = S.adjust(tests.loc[tested, "pvalue"].to_numpy(), correction)
    tests["p_adjusted"] = adj
    tests["finding"] = tested & (tests["p_adjusted"] < alpha)
    m = int(tested.sum())
    level = corrected_alpha(alpha, m)
    se = tests["se"].astype(float).to_numpy()
    tests["mde_corrected"] = np.where(tested & (se > 0), S.mde_multiplier(level) * se, np.nan)
    return tests


corrected_alpha = S.corrected_alpha


def _num(v) -> float:
    return math.nan if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)

