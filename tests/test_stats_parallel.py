"""Simulation tests of modxfer.stats on the design the studies have: parallel test sets (the same 120 items translated
into 8 zero-shot languages, as XNLI's), where an item's outcomes correlate across languages.

Outcomes come from a latent per (item, language): sqrt(r) u_item + sqrt(1 - r) v_item,lang, standard normal, so a
model with threshold q is right with probability Phi(q) exactly, and the truth of every gain, degradation and
robustness gain is known. r = 0.7 and two models correlated 0.5 give a cross-language correlation of per-item gains of
about 0.3-0.5 (measured below, as the design requires). 400 repetitions: a binomial proportion's SE is about 1.1 points, which the 93-97%
coverage band allows for.
"""
import math
from statistics import NormalDist

import numpy as np
import pytest

from modxfer import stats as S

REPS = 400
N_ITEMS = 120
LANGS = ("ar", "es", "hi", "ru", "sw", "th", "tr", "zh")
R = 0.7
PHI = NormalDist().cdf


def _latents(gen, c=0.5):
    """Latents of two models on the same items: each standard normal, correlated c with the other at the item
    and at the (item, language) level (so they pair partly, and their difference keeps an item component)."""
    shape = (N_ITEMS, len(LANGS))
    u, w = gen.standard_normal((N_ITEMS, 1)), gen.standard_normal((N_ITEMS, 1))
    v, v2 = gen.standard_normal(shape), gen.standard_normal(shape)
    a = math.sqrt(R) * u + math.sqrt(1 - R) * v
    b = math.sqrt(R) * (c * u + math.sqrt(1 - c * c) * w) + math.sqrt(1 - R) * (c * v + math.sqrt(1 - c * c) * v2)
    return a, b


def _rec(correct, lang):
    # ids as the evaluator writes them; items as a parallel task's records carry them
    return {"metric": "accuracy", "ids": [f"xnli/dev-{lang}.tsv:{i}" for i in range(N_ITEMS)],
            "items": [f"xnli/dev-*.tsv:{i}" for i in range(N_ITEMS)], "correct": correct.astype(int).tolist()}


def _side(correct):
    return {lang: _rec(correct[:, j], lang) for j, lang in enumerate(LANGS)}


def _cluster_side(side):
    """Records keyed by item: what modxfer.analysis hands the bootstrap for a parallel task."""
    return {lang: {**r, "ids": r["items"]} for lang, r in side.items()}


SPACES = {lang: "xnli:items" for lang in LANGS}
QA = np.linspace(0.1, 0.5, len(LANGS))            # model A (with the intermediate): 54-69% per language
QB = QA - 0.15                                     # the baseline: about 5 points lower


def _gain_draw(gen):
    lat_a, lat_b = _latents(gen)
    return lat_a < QA, lat_b < QB


def test_the_simulated_design_has_the_cross_language_item_correlation_of_translated_test_sets():
    gen = np.random.default_rng(11)
    corrs = []
    for _ in range(40):
        a, b = _gain_draw(gen)
        d = a.astype(float) - b
        c = np.corrcoef(d.T)
        corrs.append(c[np.triu_indices(len(LANGS), 1)].mean())
    assert 0.3 <= float(np.mean(corrs)) <= 0.5


def test_gain_over_parallel_languages_covers_the_truth_and_independent_strata_do_not():
    gen = np.random.default_rng(2025)
    truth = 100 * np.mean([PHI(qa) - PHI(qb) for qa, qb in zip(QA, QB)])
    covered = normal = naive = 0
    for rep in range(REPS):
        a, b = _gain_draw(gen)
        est = S.paired_bootstrap(_cluster_side(_side(a)), _cluster_side(_side(b)), rng=rep, spaces=SPACES)
        low, high = est.confidence_interval()
        covered += low <= truth <= high
        z = 1.959964 * est.standard_error
        normal += est.statistic - z <= truth <= est.statistic + z
        if rep < 150:  # the old plan, each language its own stratum: intervals too narrow
            lo, hi = S.paired_bootstrap(_side(a), _side(b), rng=rep, n_resamples=400).confidence_interval()
            naive += lo <= truth <= hi
    assert 0.93 <= covered / REPS <= 0.97, covered / REPS
    assert 0.93 <= normal / REPS <= 0.97, normal / REPS
    assert naive / 150 < 0.88, naive / 150


def test_robustness_gain_over_parallel_languages_covers_the_truth():
    gen = np.random.default_rng(77)
    da, db = 0.25, 0.45  # the noise shifts each model's threshold: B loses more
    truth = 100 * np.mean([(PHI(qb) - PHI(qb - db)) - (PHI(qa) - PHI(qa - da)) for qa, qb in zip(QA, QB)])
    covered = normal = 0
    for rep in range(REPS):
        lat, lat_b = _latents(gen)
        # The noise perturbs each example a little (rescaled to unit variance) and lowers each model's threshold.
        noisy = gen.standard_normal(lat.shape) * 0.3
        s = math.sqrt(1 + 0.09)
        a_clean, a_noisy = lat < QA, (lat + noisy) / s < QA - da
        b_clean, b_noisy = lat_b < QB, (lat_b + noisy) / s < QB - db
        side = lambda m: _cluster_side(_side(m))  # noqa: E731
        bs = S.Bootstrap(S.N_RESAMPLES, rep)
        deg_a = S.paired_bootstrap(side(a_clean), side(a_noisy), bootstrap=bs, spaces=SPACES)
        deg_b = S.paired_bootstrap(side(b_clean), side(b_noisy), bootstrap=bs, spaces=SPACES)
        rg = deg_b - deg_a
        low, high = rg.confidence_interval()
        covered += low <= truth <= high
        z = 1.959964 * rg.standard_error
        normal += rg.statistic - z <= truth <= rg.statistic + z
    assert 0.93 <= covered / REPS <= 0.97, covered / REPS
    assert 0.93 <= normal / REPS <= 0.97, normal / REPS


def test_corrected_false_positives_under_the_null_on_parallel_languages_are_at_most_5_percent():
    # Eight compositions and their shared baseline, all equally accurate, on the same translated items: each gain's
    # p-value (analytic, item-clustered), then Holm over the eight. Any finding is a false positive.
    gen = np.random.default_rng(5)
    false = 0
    for rep in range(REPS):
        ps = []
        lat, _ = _latents(gen)
        base = _cluster_side(_side(lat < QA))
        for _ in range(8):
            u, w = gen.standard_normal((N_ITEMS, 1)), gen.standard_normal(lat.shape)
            other = (math.sqrt(0.5) * lat + math.sqrt(0.5) * (math.sqrt(R) * u + math.sqrt(1 - R) * w)) < QA
            ps.append(S.paired_bootstrap(_cluster_side(_side(other)), base, rng=rep, n_resamples=50,
                                         spaces=SPACES).pvalue)
        false += bool((S.holm(ps) < 0.05).any())
    assert false / REPS <= 0.05, false / REPS


def test_identical_predictions_on_parallel_languages_give_exactly_zero():
    gen = np.random.default_rng(0)
    a, _ = _gain_draw(gen)
    side = _cluster_side(_side(a))
    d = S.paired_bootstrap(side, {k: dict(v) for k, v in side.items()}, spaces=SPACES)
    assert d.statistic == 0.0 and tuple(d.confidence_interval()) == (0.0, 0.0)
    assert d.standard_error == 0.0 and d.pvalue == 1.0


def test_analytic_standard_error_is_the_item_clustered_one_and_does_not_depend_on_the_seed():
    gen = np.random.default_rng(3)
    a, b = _gain_draw(gen)
    d = 100 * (a.astype(float) - b).mean(axis=1)  # per item, the gain averaged over languages
    direct = float(np.std(d, ddof=1) / math.sqrt(N_ITEMS))
    ests = [S.paired_bootstrap(_cluster_side(_side(a)), _cluster_side(_side(b)), rng=s, spaces=SPACES)
            for s in range(3)]
    assert all(e.standard_error == pytest.approx(direct, rel=1e-9) for e in ests)
    assert len({e.pvalue for e in ests}) == 1
    # The bootstrap's own SD agrees with it up to Monte Carlo error (B = 1000: about 2.2% relative).
    assert ests[0].bootstrap_standard_error == pytest.approx(direct, rel=0.1)


def test_analyse_draws_the_items_of_a_parallel_task_once_even_when_its_languages_hold_different_ones():
    # Two zero-shot languages of a line-parallel task: ar holds items 0-99, es items 50-149 (as MLQA's languages hold
    # different questions). Each language keeps all its items; one draw over the 150 serves both.
    import pandas as pd

    from modxfer.analysis import analyse

    gen = np.random.default_rng(4)
    held = {"ar": range(0, 100), "es": range(50, 150)}
    truth = {c: gen.random(150) < p for c, p in (("xnli", 0.55), ("mnli>xnli", 0.6))}
    rows = []
    for comp, correct in truth.items():
        for lang, items in held.items():
            c = [int(correct[i] ^ (gen.random() < 0.1)) for i in items]
            rec = {"metric": "accuracy", "ids": [f"xnli/dev-{lang}.tsv:{i}" for i in items], "correct": c}
            rows.append({"task": "xnli", "composition": comp, "lang": lang, "noise": "clean", "seed": 0,
                         "score": 100 * np.mean(c), "n": len(c), "competence": "learned", "outcomes": rec})
    a = analyse(pd.DataFrame(rows), {("mnli", "xnli"): 0.5}, n_resamples=200)
    assert a.settings["item_spaces"]["xnli"] == {"languages": ["ar", "es"], "items": 150, "shared": 50}
    assert any("hold different items" in n for n in a.notes)
    t = a.table
    for lang in held:  # per language: its own 100 items, nothing dropped
        score = t[(t["measure"] == "score") & (t["level"] == "language") & (t["group"] == lang)
                  & (t["composition"] == "mnli>xnli")].iloc[0]
        assert score["n"] == 100
    # The zero-shot gain's SE, computed directly: per item, the sum over the languages holding it of each language's
    # centred difference / (its item count x 2 languages); n/(n-1) x sum of squares over the 150 items.
    d = {lang: np.array([r["outcomes"]["correct"] for r in rows if r["lang"] == lang and r["composition"] == c],
                        dtype=float) for lang in held for c in ["mnli>xnli"]}
    base = {lang: np.array([r["outcomes"]["correct"] for r in rows if r["lang"] == lang and r["composition"] == "xnli"],
                           dtype=float) for lang in held}
    u = np.zeros(150)
    for lang, items in held.items():
        diff = 100 * (d[lang][0] - base[lang][0])
        u[list(items)] += (diff - diff.mean()) / len(items) / 2
    direct = math.sqrt(150 / 149 * float(u @ u))
    gain = a.table[(a.table["measure"] == "gain") & (a.table["level"] == "zero-shot")].iloc[0]
    assert gain["se"] == pytest.approx(direct, rel=1e-9)


def test_with_several_seeds_the_p_value_counts_the_seeds_degrees_of_freedom():
    # Null: two models whose accuracy moves with the training seed (3 seeds) far more than test items move it. The
    # seed component has 2 degrees of freedom, not 119: with t(119) a test at 0.05 rejected about 20% of the time.
    gen = np.random.default_rng(21)
    n, rejected, reps, dfs = 120, 0, 300, []
    for rep in range(reps):
        a, b = {}, {}
        for s in range(3):
            pa, pb = 0.6 + gen.normal(0, 0.06), 0.6 + gen.normal(0, 0.06)
            latent = gen.random(n)
            a[s] = {"metric": "accuracy", "ids": [str(i) for i in range(n)], "correct": (latent < pa).astype(int).tolist()}
            b[s] = {"metric": "accuracy", "ids": [str(i) for i in range(n)], "correct": (latent < pb).astype(int).tolist()}
        est = S.paired_bootstrap({"de": a}, {"de": b}, rng=rep, n_resamples=20)
        dfs.append(est.degrees_of_freedom)
        rejected += est.pvalue < 0.05
    assert np.median(dfs) < 10  # the seeds' few degrees, not the items' 119
    assert rejected / reps <= 0.08, rejected / reps
