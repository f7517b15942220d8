"""What enters the report's family of tests, and how the report marks what does not: same-source pairs, models that
did not learn, noise that changed nothing, models near chance, correlations that cannot reach significance, and the
MDE at the corrected level. Synthetic per-example outcomes with known accuracies (paired through a shared latent
difficulty per example), B = 200 to stay fast."""
import math

import numpy as np
import pandas as pd
import pytest

from modxfer.stats import hypotheses as H
from modxfer import stats as S
from modxfer.analysis import analyse
from outcome_rows import XNLI_SIMS, outcome_rows as _rows, xnli_rows as _xnli

B = 200


@pytest.fixture(scope="module")
def six_pairs():
    return analyse(_xnli(), XNLI_SIMS, n_resamples=B)


def test_same_source_pairs_are_marked_and_correlations_are_tested_with_and_without_them(six_pairs):
    a = six_pairs
    gains = a.table[(a.table["measure"] == "gain") & (a.table["level"] == "zero-shot")].set_index("composition")
    assert gains.loc["mnli>xnli", "same_source"] and not gains.loc["qqp>xnli", "same_source"]
    c = a.correlations.set_index(["task", "measure", "noise", "same_source"])
    with_, without = c.loc[("xnli", "gain", "clean", "with")], c.loc[("xnli", "gain", "clean", "without")]
    assert with_["n_pairs"] == 6 and without["n_pairs"] == 5 and "mnli>xnli" not in without["pairs"]
    assert with_["same_source_pairs"] == without["same_source_pairs"] == "mnli>xnli"
    # Both subsets are hypotheses: each has a corrected p-value, or is listed as one that could never pass (5 pairs
    # in one target: 5! orderings, smallest p 2/120, above alpha/m for this family).
    t = a.tests[(a.tests["kind"] == "correlation") & (a.tests["noise"] == "clean")]
    assert set(t["same_source"]) == {"with", "without"}
    assert (t["p_adjusted"].notna() | t["excluded"].str.startswith("cannot pass the correction", na=False)).all()
    assert t.set_index("same_source").loc["without", "excluded"].startswith("cannot pass the correction")
    assert any("same-source ‡ pairs left out" in w for w in t["what"])
    inter = a.interactions
    assert set(inter.loc[inter["measure"] == "gain", "same_source"]) == {"with", "without"}


def test_models_that_did_not_learn_are_left_out_of_correlations_and_interactions():
    a = analyse(_xnli(competence={"snli>xnli": "not learned"}), XNLI_SIMS, n_resamples=B)
    c = a.correlations.set_index(["task", "measure", "noise", "same_source"]).loc[("xnli", "gain", "clean", "with")]
    assert c["n_pairs"] == 5 and "snli>xnli" not in c["pairs"] and c["not_learned"] == "snli>xnli"
    i = a.interactions.set_index(["task", "measure", "noise", "same_source"]).loc[("xnli", "gain", "clean", "with")]
    assert i["not_learned"] == "snli>xnli"


def test_noise_that_changed_nothing_is_not_tested_for_robustness_either():
    acc = {"xnli": {"clean": 0.55, "homoglyph:0.1": None}, "mnli>xnli": {"clean": 0.7, "homoglyph:0.1": None}}
    a = analyse(_rows(acc, rates={"homoglyph:0.1": 0.0}), {("mnli", "xnli"): 0.9}, n_resamples=B)
    rg = a.table[(a.table["measure"] == "robustness_gain") & (a.table["level"] == "zero-shot")].iloc[0]
    assert rg["changed_nothing"] and rg["estimate"] == 0.0 and rg["se"] == 0.0
    assert math.isnan(rg["mde"])  # an SE of 0 says nothing about power: no MDE, not "0.0"
    t = a.tests.set_index("what")
    assert t.loc["mnli>xnli vs xnli: robustness gain under homoglyph:0.1", "excluded"] == H.CHANGED_NOTHING
    assert t.loc["xnli: degradation under homoglyph:0.1", "excluded"] == H.CHANGED_NOTHING
    assert pd.isna(t.loc["mnli>xnli vs xnli: clean gain", "excluded"])
    assert a.settings["tests"] == 1  # only the clean gain counts in Holm's m


def test_comparisons_with_a_model_near_chance_are_not_tested_for_degradation():
    rows = _xnli(extra={"csqa>xnli": {"clean": 1 / 3, "typo:0.1": 0.3}})
    a = analyse(rows, {**XNLI_SIMS, ("csqa", "xnli"): 0.1}, n_resamples=B)
    score = a.table[(a.table["measure"] == "score") & (a.table["noise"] == "clean") & (a.table["level"] == "zero-shot")]
    assert score.set_index("composition").loc["csqa>xnli", "near_chance"]
    t = a.tests.set_index("what")
    assert t.loc["csqa>xnli vs xnli: robustness gain under typo:0.1", "excluded"].startswith("csqa>xnli is near chance")
    assert t.loc["csqa>xnli: degradation under typo:0.1", "excluded"].startswith("csqa>xnli is near chance")
    assert pd.isna(t.loc["csqa>xnli vs xnli: clean gain", "excluded"])  # a gain from chance is still a gain
    rg = a.table[(a.table["measure"] == "robustness_gain") & (a.table["composition"] == "csqa>xnli")]
    assert rg["near_chance"].all()


def test_mde_is_reported_at_the_corrected_level_too(six_pairs):
    a = six_pairs
    m = a.settings["tests"]
    assert m == int(a.tests["p_adjusted"].notna().sum())
    assert a.settings["mde_alpha_corrected"] == pytest.approx(0.05 / m)
    r = a.tests[a.tests["kind"] == "gain"].iloc[0]
    assert r["mde"] == pytest.approx(S.mde_multiplier(0.05) * r["se"])
    assert r["mde_corrected"] == pytest.approx(S.mde_multiplier(0.05 / m) * r["se"]) and r["mde_corrected"] > r["mde"]


def test_a_correlation_that_cannot_reach_significance_is_not_counted():
    # Pooled over two targets with 3 and 2 pairs: 3! x 2! = 12 orderings, so p >= 2/12 whatever the data.
    sims = {("anli", "xnli"): 0.8, ("qqp", "xnli"): 0.5, ("siqa", "xnli"): 0.3, ("qqp", "xcopa"): 0.4,
            ("siqa", "xcopa"): 0.7}
    rows = _rows({"xnli": {"clean": 0.55}, **{f"{i}>xnli": {"clean": 0.6} for i in ("anli", "qqp", "siqa")}})
    rows += _rows({"xcopa": {"clean": 0.6}, **{f"{i}>xcopa": {"clean": 0.62} for i in ("qqp", "siqa")}},
                  task="xcopa", langs=("id", "et"))
    a = analyse(rows, sims, n_resamples=B)
    c = a.correlations.set_index("task").loc["all targets"]
    assert c["n_pairs"] == 5 and c["min_pvalue"] == pytest.approx(2 / 12)
    t = a.tests[a.tests["kind"] == "correlation"]
    assert t["p_adjusted"].isna().all()
    assert t["excluded"].str.startswith("too few pairs").sum() == 2  # the per-target ones: 3 and 2 pairs
    pooled = t[t["what"].str.contains("5 pairs")].iloc[0]
    assert pooled["excluded"].startswith("cannot pass the correction: smallest attainable p 0.167")
    # Every test left in the family can pass it: its smallest attainable p is below alpha/m.
    kept = a.tests[a.tests["p_adjusted"].notna()]
    assert (kept["min_pvalue"] < 0.05 / len(kept)).all()


def test_smallest_attainable_permutation_pvalue():
    x = [0.9, 0.5, 0.1, 0.8, 0.4]
    assert S.correlation(x, [3, 2, 1, 5, 4], groups=list("aaabb")).min_pvalue == pytest.approx(2 / 12)
    assert S.correlation(x + [0.2], [1, 2, 3, 4, 5, 6]).min_pvalue == pytest.approx(2 / 720)
    exact = S.correlation(np.arange(9.0), np.arange(9.0))  # 9! = 362,880 orderings: enumerated
    assert exact.exact and exact.min_pvalue == pytest.approx(2 / 362_880)
    big = S.correlation(np.arange(11.0), np.arange(11.0), n_permutations=999, adaptive=False)  # 11! > 1e6: sampled
    assert not big.exact and big.min_pvalue == pytest.approx(1 / 1000)


def test_tests_that_cannot_pass_are_dropped_until_every_remaining_one_can():
    # alpha 0.05: {0.001, 0.03, 0.03} cannot all stay (0.03 >= 0.05/3 and >= 0.05/2); alone, 0.001 < 0.05.
    assert S.testable([0.001, 0.03, 0.03], 0.05).tolist() == [True, False, False]
    # Dropping the hopeless raises the threshold for the rest: 0.012 < 0.05/4 once the 0.2s are out.
    assert S.testable([0.0, 0.0, 0.012, 0.0, 0.2, 0.2], 0.05).tolist() == [True, True, True, True, False, False]
    # Ties are never split, and NaN is not a test.
    assert S.testable([0.02, 0.02, float("nan")], 0.05).tolist() == [True, True, False]
    assert S.testable([0.03, 0.03], 0.05).tolist() == [False, False]


def test_the_cannot_pass_message_states_a_true_threshold_with_ties():
    import pandas as pd

    from modxfer.stats.hypotheses import build

    # Ten tests that can pass and five tied at 1/288: the five cannot join (15 tests: alpha/15 = 0.0033 < 0.0035).
    corr = pd.DataFrame([{"task": f"t{i}", "kind": "stack", "measure": "gain", "noise": "clean", "same_source": "none",
                          "n_pairs": 6, "rho": 0.5, "low": 0.0, "high": 1.0, "pvalue": 0.5,
                          "min_pvalue": 0.0 if i < 10 else 1 / 288, "pvalue_mc_error": 0.0, "reason": None}
                         for i in range(15)])
    empty = pd.DataFrame(columns=["task", "kind", "measure", "noise", "same_source", "statistic", "low", "high",
                                  "pvalue", "min_pvalue", "pvalue_mc_error", "languages", "reason", "contrast"])
    t = build(pd.DataFrame(columns=["level", "measure"]), corr, empty, "holm", 0.05)
    dropped = t[t["excluded"].notna()]
    assert len(dropped) == 5 and t["p_adjusted"].notna().sum() == 10
    assert all(e.startswith("cannot pass the correction: smallest attainable p 0.00347 >= alpha/15 = 0.00333")
               for e in dropped["excluded"])


def test_estimates_without_variation_have_no_mde():
    e = S.Estimate(0.0, np.zeros(100))
    assert e.standard_error == 0.0 and math.isnan(e.minimum_detectable_effect())
    assert pd.isna(S.Estimate(1.0).minimum_detectable_effect())
