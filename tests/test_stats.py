"""modxfer.stats on synthetic per-example outcomes with known truth: coverage, exact zeros, error control under
the null, interval width against n; plus the pieces (multiplicity, correlation, interaction) by hand.

The simulations call the same functions the report uses (paired_bootstrap, Estimate, adjust) with the default
B=1000 resamples; each is seeded, so a run is reproducible. With 400 repetitions a binomial proportion has a
standard error of about 1.1 points, which the tolerances below (93-97% coverage, <= 5% false positives) allow for.
"""
import math

import numpy as np
import pytest

from modxfer.scoring import outcomes as O
from modxfer import stats as S
from modxfer.errors import ConfigError, DataError

REPS = 400


def _acc(correct, ids=None):
    correct = np.asarray(correct, dtype=int)
    return {"metric": "accuracy", "ids": ids or [f"e{i}" for i in range(len(correct))], "correct": correct.tolist()}


def _paired_draw(gen, n, pa, pb):
    """Correct/incorrect for two models on the same n examples: half of B's outcomes share A's difficulty."""
    u, v, w = gen.random(n), gen.random(n), gen.random(n)
    return u < pa, np.where(v < 0.5, u < pb, w < pb)


def test_ci_of_a_paired_gain_covers_the_truth_95_percent_of_the_time():
    gen = np.random.default_rng(2024)
    probs = {"de": (0.60, 0.50), "hi": (0.45, 0.42)}
    truth = 100 * np.mean([pa - pb for pa, pb in probs.values()])
    covered = 0
    for rep in range(REPS):
        a, b = {}, {}
        for lang, (pa, pb) in probs.items():
            ca, cb = _paired_draw(gen, 300, pa, pb)
            a[lang], b[lang] = _acc(ca), _acc(cb)
        low, high = S.paired_bootstrap(a, b, rng=rep).confidence_interval()
        covered += low <= truth <= high
    assert 0.93 <= covered / REPS <= 0.97, covered / REPS


def test_ci_of_corpus_level_f1_covers_the_population_f1():
    # Entity counts per sentence; the population F1 is 2 E[tp] / (E[n_pred] + E[n_gold]) (corpus-level).
    gen = np.random.default_rng(7)
    n, lam, recall, extra = 250, 2.0, 0.7, 0.5
    truth = 100 * 2 * lam * recall / (lam * recall + lam * extra + lam)
    covered = 0
    for rep in range(REPS):
        gold = gen.poisson(lam, n)
        tp = gen.binomial(gold, recall)
        pred = tp + gen.poisson(lam * extra, n)
        rec = {"metric": "seqeval", "ids": [f"s{i}" for i in range(n)], "tp": tp.tolist(), "n_pred": pred.tolist(),
               "n_gold": gold.tolist()}
        low, high = S.paired_bootstrap({"de": rec}, rng=rep).confidence_interval()
        covered += low <= truth <= high
    assert 0.93 <= covered / REPS <= 0.97, covered / REPS


@pytest.mark.parametrize("kind", ["accuracy", "seqeval", "squad"])
def test_identical_predictions_give_exactly_zero(kind):
    gen = np.random.default_rng(0)
    n = 50
    rec = {"accuracy": _acc(gen.random(n) < 0.5),
           "seqeval": {"metric": "seqeval", "ids": list(map(str, range(n))), "tp": [1] * n, "n_pred": [2] * n,
                       "n_gold": gen.integers(1, 4, n).tolist()},
           "squad": {"metric": "squad", "ids": list(map(str, range(n))), "em": [0.0, 1.0] * (n // 2),
                     "f1": gen.random(n).tolist()}}[kind]
    d = S.paired_bootstrap({"de": {0: rec, 1: rec}, "zh": rec}, {"de": {0: dict(rec), 1: dict(rec)}, "zh": dict(rec)})
    assert d.statistic == 0.0 and tuple(d.confidence_interval()) == (0.0, 0.0) and d.pvalue == 1.0
    assert np.all(d.bootstrap_distribution == 0.0)


def test_corrected_false_positive_rate_under_the_null_is_at_most_5_percent():
    # A null study as the report sees it: 8 compositions and their shared baseline on 3 languages, every one with
    # the same accuracy; each gain is a paired difference of language means, then the p-values are corrected.
    gen = np.random.default_rng(99)
    langs, n, comps = ("de", "hi", "zh"), 200, 8
    rates = {"holm": 0, "bh": 0}
    for rep in range(REPS):
        bs = S.Bootstrap(rng=rep)
        gains = [[] for _ in range(comps)]
        for lang in langs:
            u = gen.random(n)
            recs = [_acc(u < 0.55)] + [_acc(np.where(gen.random(n) < 0.5, u < 0.55, gen.random(n) < 0.55))
                                       for _ in range(comps)]
            reps = bs.replicates(lang, recs)  # base and models: the same example draws
            base = bs.over_seeds({0: reps[0]}, n)
            for g, r in zip(gains, reps[1:]):
                g.append(bs.over_seeds({0: r}, n) - base)
        p = [S.mean(g).pvalue for g in gains]
        for method in rates:
            rates[method] += bool(np.any(S.adjust(p, method) < S.ALPHA))
    assert rates["holm"] / REPS <= 0.05 and rates["bh"] / REPS <= 0.05, rates


def test_ci_width_shrinks_as_one_over_sqrt_n():
    gen = np.random.default_rng(5)
    widths = []
    for n in (100, 400, 1600):
        w = []
        for rep in range(5):
            ca, cb = _paired_draw(gen, n, 0.6, 0.5)
            low, high = S.paired_bootstrap({"de": _acc(ca)}, {"de": _acc(cb)}, rng=rep).confidence_interval()
            w.append(high - low)
        widths.append(np.mean(w))
    assert widths[0] / widths[1] == pytest.approx(2.0, rel=0.15) and widths[1] / widths[2] == pytest.approx(2.0, rel=0.15)


def test_resampling_is_paired_seeded_and_recomputes_the_metric():
    bs = S.Bootstrap(200, rng=3)
    ids = [f"e{i}" for i in range(30)]
    assert np.array_equal(bs.indices("de", ids), S.Bootstrap(200, rng=3).indices("de", ids))  # seeded
    assert not np.array_equal(bs.indices("de", ids), bs.indices("hi", ids))  # strata drawn independently
    rec = _acc(np.arange(30) % 3 == 0, ids)
    (point, reps, infl), = bs.replicates("de", [rec])
    assert point == O.rescore(rec) and np.allclose(reps, O.rescore(rec, bs.indices("de", ids)))
    # The influence of an accuracy is each example's deviation from the mean, in points per example.
    assert np.allclose(infl, 100 * (np.asarray(rec["correct"]) - np.mean(rec["correct"])) / 30)
    with pytest.raises(DataError, match="not aligned"):
        bs.replicates("de", [rec, _acc(rec["correct"], ids[::-1])])
    with pytest.raises(ConfigError, match="n_resamples"):
        S.Bootstrap(1)


def test_differences_use_the_seeds_and_examples_both_sides_have():
    a = {"de": {0: _acc([1, 1, 0, 0], list("abcd")), 1: _acc([1, 1, 1, 0], list("abcd"))}}
    b = {"de": {0: _acc([1, 0, 0], list("bcd")), 2: _acc([0, 0, 0], list("bcd"))}}
    d = S.paired_bootstrap(a, b)
    # Only seed 0 and examples b, c, d: a scores 1/3, b scores 1/3.
    assert d.statistic == 0.0 and d.n_seeds == 1 and d.n == 3
    w = S.Bootstrap(500, rng=1).seed_weights([0, 1, 2])
    assert w.shape == (500, 3) and np.allclose(w.sum(1), 1.0) and len(np.unique(w[:, 0])) > 1


def test_estimate_arithmetic_ratio_and_mde():
    dist = np.random.default_rng(0).normal(2.0, 1.0, 1000)
    e = S.Estimate(2.0, dist, n=100, n_strata=1, n_seeds=1)
    assert e.standard_error == pytest.approx(1.0, rel=0.1)
    assert e.pvalue == pytest.approx(math.erfc(2.0 / e.standard_error / math.sqrt(2)))
    assert e.minimum_detectable_effect() == pytest.approx(2.8016 * e.standard_error, rel=1e-3)
    assert (e - e).statistic == 0.0 and tuple((e - e).confidence_interval()) == (0.0, 0.0)
    r = S.ratio(e, S.Estimate(0.0, np.zeros(1000)))
    assert math.isnan(r.statistic) and math.isnan(r.confidence_interval().low)  # no room above chance: undefined
    m = S.mean([e, e.shift(2.0)])
    assert m.statistic == 1.0 and m.n_strata == 2
    assert math.isnan(S.Estimate(1.0).pvalue) and math.isnan(S.Estimate(1.0).confidence_interval().high)


def test_holm_and_benjamini_hochberg_by_hand():
    p = [0.01, 0.04, 0.03, float("nan"), 0.005]
    assert np.allclose(S.holm(p)[[0, 1, 2, 4]], [0.03, 0.06, 0.06, 0.02])
    assert np.allclose(S.benjamini_hochberg(p)[[0, 1, 2, 4]], [0.02, 0.04, 0.04, 0.02])
    assert math.isnan(S.holm(p)[3])
    with pytest.raises(ConfigError, match="correction"):
        S.adjust(p, "bonferonni")


def test_correlation_needs_five_distinct_pairs_and_permutes_within_targets():
    x = [0.9, 0.5, 0.1]
    r = S.correlation(x, [3.0, 2.0, 1.0])
    assert r.statistic is None and r.reason == "too few pairs (3 < 5)"
    with pytest.raises(DataError, match="one point per pair"):
        S.correlation(x * 2, [1.0] * 6, pairs=[("mnli", "xnli")] * 6)
    x = [0.9, 0.5, 0.1, 0.8, 0.4, 0.2]
    y = [3.0, 2.0, 1.0, 6.0, 5.0, 4.0]
    r = S.correlation(x, y, groups=["xnli"] * 3 + ["xcopa"] * 3, y_replicates=np.tile(y, (200, 1)))
    # Within each target the order agrees perfectly; xcopa's higher measure is an offset, not correlation.
    assert r.statistic == pytest.approx(1.0)
    # 3! x 3! = 36 within-target orderings, enumerated: the observed one and its exact reverse are as extreme.
    assert r.exact and r.permutations == 36 and r.pvalue == pytest.approx(2 / 36)
    assert S.correlation(x, y).statistic < 0.5  # pooled without strata, the offset swamps it
    low, high = r.confidence_interval()
    assert low <= r.statistic <= high


def test_family_interaction_is_on_the_rank_correlation_scale_and_needs_a_family_with_two_languages():
    x = np.tile([0.1, 0.5, 0.9, 0.3], 6)
    lang = np.repeat(["de", "hi", "nl", "zh", "my", "tr"], 4)
    fam = {"de": "IE", "hi": "IE", "nl": "IE", "zh": "ST", "my": "ST", "tr": "Turkic"}
    sign = {"de": 1, "hi": 1, "nl": 1, "zh": -1, "my": -1, "tr": -1}
    y = np.array([sign[l] * xi * 1e7 for l, xi in zip(lang, x)])  # huge raw slopes: the scale must not show them
    r = S.family_interaction(x, y, lang, fam)
    assert r.family_rho == {"IE": pytest.approx(1.0), "ST": pytest.approx(-1.0), "Turkic": pytest.approx(-1.0)}
    # The estimate is a signed contrast: IE (3 languages) minus ST (2), the two families with the most languages.
    assert r.contrast == "IE - ST" and r.statistic == pytest.approx(2.0) and r.low <= r.statistic <= r.high <= 2.0
    assert r.spread == pytest.approx(2.0)
    # 6!/(3! 2! 1!) = 60 distinct labellings, enumerated: p counts the observed one once among them.
    assert r.exact and r.permutations == 60 and 0 < r.pvalue <= 1 and r.min_pvalue >= 1 / 60
    single = S.family_interaction(x, y, lang, {l: l for l in sign})
    assert single.statistic is None and "every family has one language" in single.reason


def test_permutation_p_counts_the_observed_ordering_once():
    # Perfect agreement over 14 points in two targets: 7! x 7! orderings are too many to enumerate, so N are
    # sampled and p = (1 + #as extreme) / (1 + N): the identity is not among the N, and no random ordering of 7 and 7
    # is as extreme here (that takes the identity or the reverse in both), so p is exactly 1 / (1 + N). Counting
    # the identity among the N as well gave 2 / (1 + N).
    x = np.arange(14.0)
    r = S.correlation(x, x, groups=[0] * 7 + [1] * 7, n_permutations=9999, adaptive=False)
    assert not r.exact and r.permutations == 9999
    assert r.pvalue == 1 / 10000 and r.min_pvalue == 1 / 10000
    # Adaptive: a small p draws more permutations and reports its Monte Carlo error.
    a = S.correlation(x, x, groups=[0] * 7 + [1] * 7)
    assert a.permutations > 9999 and a.pvalue_mc_error < a.pvalue and a.min_pvalue < 1e-5
    # 6! x 6! = 518,400 orderings are enumerated (exact: no Monte Carlo error at all).
    e = S.correlation(np.arange(12.0), np.arange(12.0), groups=[0] * 6 + [1] * 6)
    assert e.exact and e.permutations == 518_400 and e.pvalue_mc_error == 0.0 and e.pvalue == pytest.approx(2 / 518_400)


def test_interaction_contrast_is_centred_on_zero_when_families_do_not_differ():
    # Per-language measures unrelated to family: the contrast's interval covers 0 in most runs (a spread would not:
    # it is never negative and its interval excludes 0 almost always).
    gen = np.random.default_rng(8)
    x = np.tile(np.linspace(0, 1, 6), 7)
    lang = np.repeat(["de", "nl", "hi", "ar", "he", "tr", "zh"], 6)
    fam = {"de": "IE", "nl": "IE", "hi": "IE", "ar": "AA", "he": "AA", "tr": "Turkic", "zh": "ST"}
    covered = 0
    for rep in range(60):
        y = x + gen.normal(0, 0.6, len(x))
        reps = y + gen.normal(0, 0.3, (200, len(x)))
        r = S.family_interaction(x, y, lang, fam, rng=rep, n_resamples=200, y_replicates=reps)
        covered += r.low <= 0 <= r.high
    assert covered / 60 >= 0.85


def test_ranks_average_ties_like_scipy():
    ranks = S.rankdata(np.array([[3.0, 1.0, 3.0, 2.0], [5.0, 5.0, 5.0, 5.0]]))
    assert ranks.tolist() == [[3.5, 1.0, 3.5, 2.0], [2.5, 2.5, 2.5, 2.5]]
    assert np.isnan(S.spearman_rows(np.array([[1.0, 2.0, 3.0]]), np.array([[4.0, 4.0, 4.0]]))[0])
