"""Selection held to the evidence rules of issue 9: models that did not learn are left out, intervals carry the
outcomes' and similarities' own uncertainty, k that cannot tell rankings apart is n/a, and correlations use one
point per pair, ranked within targets, with "too few pairs" below five."""

import math

import numpy as np
import pytest

from modxfer.scoring import outcomes as O
from modxfer.errors import DataError
from modxfer.similarity.selection import evaluate, excluded, outcomes, report_section, select
from modxfer.similarity.measures import SimilarityMatrix

LANGS = ("de", "ar", "ru")


def _row(comp, lang, noise, score, competence="learned", task="xnli", rec=None):
    r = {"task": task, "composition": comp, "lang": lang, "noise": noise, "seed": 0, "score": score,
         "competence": competence}
    return r if rec is None else {**r, "outcomes": rec, "n": len(rec["ids"])}


def _matrix(scores: dict, target="xnli", reps=None):
    names = list(scores)
    return SimilarityMatrix("m", tuple(names), (target,), np.array([[scores[a]] for a in names], float),
                            None if reps is None else np.asarray(reps, float)[:, :, None])


# ------------------------------------------------------------------------------------------ 1. competence
def _competence_rows(status: dict):
    out = []
    for lang in LANGS:
        out.append(_row("xnli", lang, "clean", 60, status.get("xnli", "learned")))
        for a, g in {"qqp": 6.0, "siqa": 1.0, "csqa": -2.0}.items():
            out.append(_row(f"{a}>xnli", lang, "clean", 60 + g, status.get(a, "learned")))
    return out


def test_a_model_that_did_not_learn_is_kept_out_of_selection_and_named():
    rows = _competence_rows({"qqp": "not learned"})  # the best gain, but from a model at chance
    assert set(outcomes(rows)["intermediate"]) == {"siqa", "csqa"}
    assert set(outcomes(rows, learned_only=False)["intermediate"]) == {"qqp", "siqa", "csqa"}
    (gone,) = excluded(rows)
    assert gone["composition"] == "qqp>xnli" and "the composition did not learn" in gone["reason"]
    m = _matrix({"qqp": 0.9, "siqa": 0.5, "csqa": 0.1})
    ev = evaluate(rows, m, n_resamples=20)
    assert [e["composition"] for e in ev.excluded] == ["qqp>xnli"]
    t = ev.table
    assert set(t[t["target"] == "xnli"]["candidates"]) == {2}  # qqp is not a candidate any more
    md, data = report_section(rows, None, None, matrices={"m": m}, n_resamples=20)
    assert "Left out of selection, because a model did not learn: `qqp>xnli`" in md
    assert data["selection"]["excluded"][0]["composition"] == "qqp>xnli"
    # a baseline that did not learn takes every comparison against it out
    rows = _competence_rows({"xnli": "not learned"})
    assert outcomes(rows).empty and len(excluded(rows)) == 3 and "its baseline xnli" in excluded(rows)[0]["reason"]
    with pytest.raises(DataError, match="3 left out because a model did not learn"):
        evaluate(rows, m)
    assert len(outcomes([{k: v for k, v in r.items() if k != "competence"} for r in rows])) == 9  # unknown: kept


def test_select_from_a_run_leaves_a_not_learned_composition_unscored(tmp_path, tiny_base, data_dir, monkeypatch):
    from synthetic import study_rows, write_store

    from modxfer.similarity.measures import MeasureSettings

    monkeypatch.setenv("MODXFER_CACHE", str(tmp_path / "cache"))
    rows = study_rows(n=20, tasks={"xnli": ("en", "de")}, noises=("clean",))
    run = write_store(tmp_path / "run", rows, learned={"train qqp>xnli seed=0": False})
    from modxfer.sweeps.runinfo import run_context

    sel = select("xnli", by="format", run=run_context(run), base=tiny_base, data_dir=data_dir,
                 settings=MeasureSettings(examples=16, n_resamples=0))
    qqp = next(r for r in sel.ranking if r["intermediate"] == "qqp")
    assert "did not learn" in qqp["excluded"] and math.isnan(qqp["clean_gain"])
    assert [e["composition"] for e in sel.excluded] == ["qqp>xnli"] and sel.candidates["clean_gain"] == 2
    # two scored candidates: Regret@1 is defined, @3 is not, and says why
    assert math.isnan(sel.scores["clean_gain"]["regret@3"])
    assert "2 candidates" in sel.undefined["clean_gain"]["regret@3"]
    assert math.isfinite(sel.scores["clean_gain"]["regret@1"])


# ------------------------------------------------------------------------------------------ 3. intervals
def _record(correct):
    n = len(correct)
    return O.collect("xnli", [{"id": f"x{i}"} for i in range(n)], list(correct), [1] * n)


def _noisy_rows(n=200):
    """Both languages hold the same examples and outcomes, so resampling languages changes nothing; qqp beats siqa
    by one example in 200 (well within noise), csqa is clearly worse."""
    base = (np.arange(n) % 5 < 3).astype(int)  # 60% correct

    def fixed(k, to):  # the first k examples that are not already `to`, set to `to`
        v = base.copy()
        v[np.flatnonzero(v != to)[:k]] = to
        return v
    comps = {"xnli": base, "qqp>xnli": fixed(3, 1), "siqa>xnli": fixed(2, 1), "csqa>xnli": fixed(30, 0)}
    return [_row(c, lang, "clean", O.rescore(_record(v)), rec=_record(v)) for lang in LANGS[:2]
            for c, v in comps.items()]


def test_intervals_carry_the_outcomes_own_bootstrap():
    rows = _noisy_rows()
    m = _matrix({"qqp": 0.5, "siqa": 0.9, "csqa": 0.1})  # siqa first: behind qqp by one example
    fixed = evaluate(rows, m, n_resamples=300, analysis=False).summary("clean_gain").set_index(["measure", "k"])
    ev = evaluate(rows, m, n_resamples=300)
    boot = ev.summary("clean_gain").set_index(["measure", "k"])
    r0, r1 = fixed.loc[("m", 1)], boot.loc[("m", 1)]
    assert r0["ndcg"] == r1["ndcg"] < 1 and r0["ndcg_low"] == r0["ndcg_high"]  # languages only: falsely exact
    assert r1["ndcg_low"] < r1["ndcg"] and r1["ndcg_high"] == 1.0  # with examples: siqa is best in some replicates
    assert r1["regret_low"] == 0.0 < r1["regret_high"]
    assert "examples" in ev.table[ev.table["target"] == "xnli"]["resampled"].iloc[0]
    assert not any("outcomes" in n for n in ev.notes)
    one = ev.table[(ev.table["scope_kind"] == "lang") & (ev.table["measure"] == "m") & (ev.table["k"] == 1)]
    assert (one["ndcg_low"] < one["ndcg_high"]).all()  # a single language has an interval too now
    assert "no per-example outcomes" in evaluate([{k: v for k, v in r.items() if k != "outcomes"} for r in rows],
                                                 m, n_resamples=20).notes[0]


def test_intervals_carry_the_similarity_bootstrap():
    rows = _competence_rows({})
    # qqp (best) and siqa swap places in half of the measure's replicates
    reps = [[0.9, 0.8, 0.1] if b % 2 else [0.8, 0.9, 0.1] for b in range(50)]
    with_reps = _matrix({"qqp": 0.9, "siqa": 0.8, "csqa": 0.1}, reps=reps)
    without = _matrix({"qqp": 0.9, "siqa": 0.8, "csqa": 0.1})
    a = evaluate(rows, without, n_resamples=200).summary("clean_gain").set_index(["measure", "k"]).loc[("m", 1)]
    b = evaluate(rows, with_reps, n_resamples=200).summary("clean_gain").set_index(["measure", "k"]).loc[("m", 1)]
    assert a["regret_low"] == a["regret_high"] == 0.0
    assert b["regret"] == 0.0 and b["regret_high"] == pytest.approx(5 / 66 * 100)  # siqa picked: 5 of 66 lost
    assert "`m` has no bootstrap replicates: its values are held fixed in the intervals" in evaluate(
        rows, without, n_resamples=20).notes


# ------------------------------------------------------------------------------------------ 4. vacuous k
def test_k_at_or_above_the_candidates_is_not_a_number():
    rows = _competence_rows({})  # three candidates for xnli
    rows += [_row(c, lang, "clean", s, task="pawsx") for lang in LANGS
             for c, s in (("pawsx", 80), ("qqp>pawsx", 85), ("siqa>pawsx", 79))]  # two for pawsx
    m = SimilarityMatrix("m", ("qqp", "siqa", "csqa"), ("xnli", "pawsx"), np.array([[0.9, 0.9], [0.5, 0.2],
                                                                                      [0.1, 0.1]]))
    t = evaluate(rows, m, n_resamples=20, ks=(1, 2, 3)).table
    at = lambda tg, k: t[(t["target"] == tg) & (t["scope_kind"] == "languages") & (t["k"] == k)  # noqa: E731
                         & (t["same_source"] == "with")].set_index("measure")
    assert at("xnli", 3)["regret"].isna().all() and at("xnli", 3)["regret_low"].isna().all()
    assert at("xnli", 3).loc["random", "regret_note"].startswith("k=3 >= 3 candidates")
    assert at("xnli", 3)["ndcg"].notna().all() and at("xnli", 2)["regret"].notna().all()  # NDCG@C is the order
    assert at("pawsx", 3)["ndcg"].isna().all() and at("pawsx", 2)["regret"].isna().all()
    mean = at("mean", 2)
    assert mean["regret"].isna().all() and "pawsx: k=2 >= 2 candidates" in mean.loc["m", "regret_note"]
    assert mean["ndcg"].notna().all() and at("mean", 1)["regret"].notna().all()
    md, _ = report_section(rows, None, None, matrices={"m": m}, n_resamples=20)
    assert "Candidates per target: `xnli` 3 (3 without ‡), `pawsx` 2 (2 without ‡)" in md
    section = md.split("### Selection by clean gain")[1].splitlines()
    row = next(line for line in section if line.startswith("| `m` |"))  # mean over targets, k = 1 and 3
    assert row.count("n/a") == 2 and row.split(" | ")[1][0].isdigit()  # NDCG@1 a number; NDCG@3, Regret@3 n/a


# ------------------------------------------------------------------------------------------ 2. correlations
INTER = ("qqp", "siqa", "csqa", "mnli", "udpos-en")


def _two_targets():
    """Within each target the more similar intermediate gains less (rho -1), but pawsx's similarities and gains are
    both higher across the board: pooled raw values would correlate positively."""
    rows, sims = [], np.zeros((5, 2))
    for j, (target, offset) in enumerate((("xnli", 0.0), ("pawsx", 20.0))):
        for lang in ("de", "fr"):
            rows.append(_row(target, lang, "clean", 50, task=target))
            for i, a in enumerate(INTER):
                rows.append(_row(f"{a}>{target}", lang, "clean", 50 + offset + 5 - i, task=target))
        sims[:, j] = 0.1 * np.arange(5) + (0.5 if offset else 0.0)
    return rows, SimilarityMatrix("m", INTER, ("xnli", "pawsx"), sims)


def test_pooled_correlation_ranks_within_targets_with_a_permutation_p():
    from scipy.stats import spearmanr

    rows, m = _two_targets()
    ev = evaluate(rows, m, n_resamples=100)
    c = ev.correlations.set_index(["outcome", "target", "same_source"])
    per = c.loc[("clean_gain", "pawsx", "with")]
    assert per["n"] == 5 and per["spearman"] == pytest.approx(-1.0) and per["kendall"] == pytest.approx(-1.0)
    assert per["p_exact"] and per["spearman_p"] == pytest.approx(2 / 120)  # exact: 2 of the 5! orders are as extreme
    pooled = c.loc[("clean_gain", "all", "with")]
    x = np.concatenate([m.values[:, 0], m.values[:, 1]])
    raw = spearmanr(x, [5, 4, 3, 2, 1, 25, 24, 23, 22, 21]).statistic
    assert raw > 0.4 and pooled["spearman"] == pytest.approx(-1.0) and pooled["n"] == 10  # no target-offset artefact
    assert pooled["spearman_high"] <= -0.9 < 0  # within-target resampling keeps a perfect order perfect
    # mnli/xnli is same-source: without it xnli has 4 pairs, too few on its own
    assert c.loc[("clean_gain", "xnli", "without"), "reason"] == "too few pairs (4 < 5)"
    assert c.loc[("clean_gain", "all", "without"), "n"] == 9
    md, _ = report_section(rows, None, None, matrices={"m": m}, n_resamples=50)
    assert "| `m` | clean_gain | `xnli` | without ‡ | 4 | too few pairs (4 < 5) | - | - |" in md
    assert "| `m` | clean_gain | all targets (within-target ranks) | all | 10 | -1.00 [-1.00, -1.00] |" in md
