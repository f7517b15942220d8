"""The family of tests behind a report's findings: one p-value per hypothesis, what is kept out of the family and
why, the multiple-comparison correction, and the minimum detectable effects at the nominal and corrected levels.

Kept out (listed with the reason, never counted in the correction's m, since a test that cannot tell anything only
costs the others power):

- comparisons involving a model that did not learn (its validation CI does not clear its floor);
- degradations and robustness gains under noise that changed nothing (realised rate 0 in every language);
- degradations of a model, and robustness gains between models, where a side is near its floor on clean zero-shot
  data (its analytic lower 95% bound does not clear the task's competence floor): it has no room left to lose, so an absolute degradation says nothing and a
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

from .. import stats as S

TESTED = ("gain", "degradation", "robustness_gain")
NOT_LEARNED = "a model in this comparison did not learn (validation CI does not clear its floor)"
CHANGED_NOTHING = "the noise changed nothing (realised rate 0)"
NEAR_CHANCE = ("{sides} near chance on clean zero-shot data (lower 95% bound not above the floor): no room above "
               "the floor to lose, "
               "so its absolute degradation says nothing")
NO_OUTCOMES = "no per-example outcomes: no test"
COLUMNS = ["kind", "task", "what", "composition", "noise", "same_source", "estimate", "low", "high", "se", "pvalue",
           "pvalue_mc_error", "min_pvalue", "mde", "mde_corrected", "languages", "excluded"]  # + p_adjusted, finding,
# mc_undecided (a sampled permutation p within three Monte Carlo SEs of its corrected threshold)
CANNOT_PASS = ("cannot pass the correction: smallest attainable p {min_p:.3g} >= alpha/{m} = {level:.3g}, the "
               "threshold of the smallest family that could hold it ({m} tests: those that can pass, and every one "
               "whose smallest p is at most its own)")


def _truthy(v) -> bool:
    return v is True or v is np.True_ or (isinstance(v, (int, float, np.number)) and not isinstance(v, bool)
                                          and v == v and bool(v))


def near_chance_models(table) -> set[tuple[str, str]]:
    """(task, composition) whose clean zero-shot score's lower bound does not clear the floor."""
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
                    f"({r.kind}, {r.noise}{_subset_text(r.same_source)})"
                    + (f"; estimate: mean rank correlation {r.contrast}" if isinstance(r.contrast, str) else ""),
                    "composition": None, "noise": r.noise,
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
    for i in np.flatnonzero(candidate & ~can_pass):
        # The smallest family it could be in: every candidate at or below its smallest p (a smaller family would
        # leave out one of those, which then has a better claim to be in it); ``testable`` is maximal, so it fails.
        m_i = int(np.sum(mins[candidate] <= mins[i]))
        tests.at[i, "excluded"] = CANNOT_PASS.format(min_p=mins[i], level=corrected_alpha(alpha, m_i), m=m_i)
    tested = tests["excluded"].isna() & np.isfinite(tests["pvalue"])
    adj = np.full(len(tests), np.nan)
    adj[tested.to_numpy()] = S.adjust(tests.loc[tested, "pvalue"].to_numpy(), correction)
    tests["p_adjusted"] = adj
    tests["finding"] = tested & (tests["p_adjusted"] < alpha)
    m = int(tested.sum())
    level = corrected_alpha(alpha, m)
    se = tests["se"].astype(float).to_numpy()
    tests["mde_corrected"] = np.where(tested & (se > 0), S.mde_multiplier(level) * se, np.nan)
    tests["mc_undecided"] = _mc_undecided(tests, tested.to_numpy(), correction, alpha)
    return tests


def _mc_undecided(tests, tested: np.ndarray, correction: str, alpha: float) -> np.ndarray:
    """Tests whose sampled permutation p lies within three Monte Carlo SEs of the threshold the correction applies
    to it (Holm: alpha / (m - rank + 1); Benjamini-Hochberg: rank x alpha / m): another seed could move them across
    it. Exact and analytic p-values never are."""
    out = np.zeros(len(tests), dtype=bool)
    idx = np.flatnonzero(tested)
    if not len(idx):
        return out
    p = tests["pvalue"].to_numpy()[idx]
    mc = np.nan_to_num(tests["pvalue_mc_error"].astype(float).to_numpy()[idx])
    m = len(idx)
    rank = np.empty(m, dtype=int)
    rank[np.argsort(p, kind="stable")] = np.arange(1, m + 1)
    thr = alpha / (m - rank + 1) if correction == "holm" else rank * alpha / m
    out[idx] = (mc > 0) & (np.abs(p - thr) < 3 * mc)
    return out


corrected_alpha = S.corrected_alpha


def _num(v) -> float:
    return math.nan if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)

