"""Intermediate-task selection: NDCG@k and Regret@k by hand, outcomes from rows, the evaluation tables, `select`
and the report section, on hand-made rows and a hand-made run (tiny backbone for the measures)."""

import math

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from modxfer.errors import ConfigError, DataError
from modxfer.sweeps.runinfo import run_context
from modxfer.similarity.selection import (SAME_SOURCE_MARK, evaluate, ndcg_at_k, outcomes, random_ndcg_at_k,
    random_regret_at_k, regret_at_k, report_section, select)
from modxfer.similarity.measures import MeasureSettings, SimilarityMatrix
from modxfer_cli.main import cli
from modxfer_cli.select_cmd import select as select_cmd

if "select" not in cli.commands:  # until cli/main.py registers it
    cli.add_command(select_cmd)

LOG3 = math.log2(3)
OUT = [3.0, 2.0, 1.0, 0.0]  # measured outcomes of four candidates
IDCG3 = 3 + 2 / LOG3 + 1 / 2
FAST = MeasureSettings(examples=16, n_resamples=20)


# ------------------------------------------------------------------------------------------ metrics by hand
def test_perfect_ranking():
    s = [4, 3, 2, 1]
    assert ndcg_at_k(s, OUT, 1) == 1.0 and ndcg_at_k(s, OUT, 3) == pytest.approx(1.0)
    assert regret_at_k(s, OUT, 1) == 0.0 and regret_at_k(s, OUT, 3) == 0.0


def test_reversed_ranking():
    s = [1, 2, 3, 4]  # the worst candidate first
    assert ndcg_at_k(s, OUT, 1) == 0.0
    assert ndcg_at_k(s, OUT, 3) == pytest.approx((0 + 1 / LOG3 + 2 / 2) / IDCG3)  # 0.3425
    assert regret_at_k(s, OUT, 1) == pytest.approx(100.0)  # (3 - 0) / 3
    assert regret_at_k(s, OUT, 3) == pytest.approx(100 / 3)  # (3 - 2) / 3


def test_tied_rankings_score_their_expectation_over_tie_breaks():
    tied = [0, 0, 0, 0]
    assert ndcg_at_k(tied, OUT, 1) == pytest.approx(1.5 / 3)
    assert ndcg_at_k(tied, OUT, 3) == pytest.approx(1.5 * (1 + 1 / LOG3 + 1 / 2) / IDCG3)
    assert regret_at_k(tied, OUT, 1) == pytest.approx(50.0)  # E[outcome] = 1.5
    assert regret_at_k(tied, OUT, 3) == pytest.approx((3 - 11 / 4) / 3 * 100)  # E[max of 3 of 4] = 11/4
    # a tie at the top between the best two: half the time the second best is picked first
    assert ndcg_at_k([1, 1, 0, 0], OUT, 1) == pytest.approx(2.5 / 3)
    assert regret_at_k([1, 1, 0, 0], OUT, 1) == pytest.approx(50 / 3)
    assert regret_at_k([1, 1, 0, 0], OUT, 2) == 0.0
    # a random ranking is the all-tied case: E[max of 2 of 4] = 14/6
    assert random_ndcg_at_k(OUT, 1) == pytest.approx(0.5)
    assert random_regret_at_k(OUT, 2) == pytest.approx((3 - 14 / 6) / 3 * 100)


def test_negative_outcomes_missing_values_and_scales():
    gains = [-1.0, -2.0, -3.0, -4.0]  # every intermediate hurt: relevance is shifted, the ranking still scored
    assert ndcg_at_k([1, 2, 3, 4], gains, 3) == pytest.approx(ndcg_at_k([1, 2, 3, 4], OUT, 3))
    assert math.isnan(regret_at_k([1, 2, 3, 4], gains, 1))  # percent of a negative best: undefined
    assert regret_at_k([1, 2, 3, 4], gains, 1, scale=60.0) == pytest.approx(3 / 60 * 100)
    assert math.isnan(ndcg_at_k([1, 2], [5.0, 5.0], 1)) and regret_at_k([1, 2], [5.0, 5.0], 1) == 0.0
    # a candidate without an outcome is left out; one without a similarity is ranked last
    assert ndcg_at_k([4, 3, 2, 1], [3.0, float("nan"), 1.0, 0.0], 1) == 1.0
    assert regret_at_k([float("nan"), 3, 2, 1], OUT, 1) == pytest.approx(100 / 3)
    with pytest.raises(ValueError, match="positive integer"):
        ndcg_at_k([1], [1.0], 0)
    with pytest.raises(ValueError, match="differ in length"):
        regret_at_k([1, 2], [1.0], 1)


def test_many_rankings_at_once_equal_the_mean_over_every_tie_break():
    """Each row may carry its own scores (a similarity replicate): the vectorised expectation over tie-breaks must
    equal brute force over all orders of the tied candidates, row by row."""
    import itertools

    from modxfer.similarity.ranking import expected_metrics

    def brute(s, o, k, scale):
        keep = ~np.isnan(o)
        s, o = np.where(np.isnan(s[keep]), -np.inf, s[keep]), o[keep]
        vals = []
        for perm in itertools.permutations(range(len(o))):  # every order, kept when it respects the scores
            order = list(perm)
            if any(s[order[i]] < s[order[i + 1]] for i in range(len(order) - 1)):
                continue
            kk = min(k, len(o))
            rel = o - o.min()
            disc = 1 / np.log2(np.arange(2, kk + 2))
            ideal = np.sort(rel)[::-1][:kk] @ disc
            ndcg = rel[order[:kk]] @ disc / ideal if ideal > 0 else np.nan
            loss = o.max() - o[order[:kk]].max()
            vals.append((ndcg, 0.0 if loss == 0 else loss / scale * 100))
        return np.mean(vals, axis=0)

    gen = np.random.default_rng(0)
    s = gen.integers(0, 3, (40, 5)).astype(float)  # few distinct values: ties everywhere
    s[gen.random(s.shape) < 0.1] = np.nan
    o = gen.integers(-2, 5, (40, 5)).astype(float)
    o[gen.random(o.shape) < 0.15] = np.nan
    scale = gen.uniform(5, 10, 40)
    got = expected_metrics(s, o, [1, 2, 3], scale)
    for b in range(40):
        for i, k in enumerate((1, 2, 3)):
            assert got[b, i] == pytest.approx(brute(s[b], o[b], k, scale[b]), nan_ok=True), (b, k)


# ------------------------------------------------------------------------------------------ outcomes from rows
def _row(comp, lang, noise, score, seed=0, task="xnli"):
    return {"task": task, "composition": comp, "lang": lang, "noise": noise, "seed": seed, "score": score}


def test_outcomes_are_gains_noisy_scores_and_robustness_gains():
    rows = [_row("xnli", "de", "clean", 60), _row("xnli", "de", "typo:0.1", 50),
            _row("mnli>xnli", "de", "clean", 64), _row("mnli>xnli", "de", "clean", 66, seed=1),  # seeds averaged
            _row("mnli>xnli", "de", "typo:0.1", 58),
            _row("fuse(mnli,siqa)>xnli", "de", "clean", 70), _row("full:mnli>xnli", "de", "clean", 90)]
    o = outcomes(rows).set_index("outcome")
    assert set(o["composition"]) == {"mnli>xnli"} and o.loc["clean_gain", "family"] == "Indo-European"
    assert o.loc["clean_gain", "value"] == 5.0 and o.loc["clean_gain", "level"] == 65.0
    assert o.loc["noisy_score", "value"] == 58.0
    assert o.loc["robustness_gain", "value"] == (60 - 50) - (65 - 58)  # 3: it degrades 7 where the baseline lost 10
    assert outcomes(rows, kind="full").empty  # no full:xnli baseline among the rows
    with pytest.raises(DataError, match="no evaluation rows"):
        outcomes([])
    with pytest.raises(ConfigError, match="single intermediates"):
        outcomes(rows, kind="fusion")


# ------------------------------------------------------------------------------------------ evaluation tables
GAINS = {"mnli": 6.0, "snli": 4.0, "siqa": 1.0, "qqp": -2.0}
LANGS = {"en": 0.4, "de": -0.4, "ar": 0.2}


def _rows():
    out = []
    for lang, jitter in LANGS.items():
        out += [_row("xnli", lang, "clean", 60), _row("xnli", lang, "typo:0.1", 50)]
        for i, (a, g) in enumerate(GAINS.items()):
            out += [_row(f"{a}>xnli", lang, "clean", 60 + g + jitter * i),
                    _row(f"{a}>xnli", lang, "typo:0.1", 50 + g + jitter * i + (1 if a == "snli" else 0))]
    return out


def _matrix(name, scores):
    names = list(GAINS)
    return SimilarityMatrix(name, tuple(names), ("xnli",), np.array([[scores[a]] for a in names], dtype=float))


def test_evaluation_scores_good_and_bad_measures_next_to_random_and_oracle():
    good = _matrix("good", {"mnli": 0.9, "snli": 0.8, "siqa": 0.5, "qqp": 0.1})
    bad = _matrix("bad", {"mnli": 0.1, "snli": 0.2, "siqa": 0.5, "qqp": 0.9})
    ev = evaluate(_rows(), {"good": good, "bad": bad}, n_resamples=200, include_english=True)
    # English is not zero-shot: by default it is left out of the outcomes the rankings are scored against
    default = evaluate(_rows(), {"good": good}, n_resamples=50).table
    assert default[default["scope_kind"] == "languages"]["languages"].max() == 2
    assert "en" not in set(default[default["scope_kind"] == "lang"]["scope"])
    s = ev.summary("clean_gain").set_index(["measure", "k"])
    assert s.loc[("good", 1), "ndcg"] == 1.0 and s.loc[("good", 1), "regret"] == 0.0
    assert s.loc[("bad", 1), "ndcg"] == 0.0 and s.loc[("oracle", 3), "ndcg"] == 1.0
    mean_clean = {a: 60 + g + np.mean([j * i for j in LANGS.values()]) for i, (a, g) in enumerate(GAINS.items())}
    best = max(mean_clean.values())
    assert s.loc[("bad", 1), "regret"] == pytest.approx((best - mean_clean["qqp"]) / best * 100)
    gains = [mean_clean[a] - 60 for a in GAINS]
    assert s.loc[("random", 1), "regret"] == pytest.approx(random_regret_at_k(gains, 1, scale=best))
    for m in ("good", "bad", "random"):
        r = s.loc[(m, 1)]
        assert r["regret_low"] <= r["regret"] + 1e-9 <= r["regret_high"] + 2e-9 and r["targets"] == 1
    t = ev.table
    assert {"languages", "family", "lang"} <= set(t["scope_kind"])
    per_lang = t[(t["scope_kind"] == "lang") & (t["measure"] == "good")]
    assert per_lang["regret_low"].isna().all()  # one language: no interval to draw
    without = ev.summary("clean_gain", same_source="without").set_index(["measure", "k"])
    assert without.loc[("good", 1), "ndcg"] == 1.0  # snli, the best without mnli, is still ranked first
    assert t[(t["same_source"] == "without") & (t["target"] == "xnli")]["candidates"].max() == 3  # mnli left out
    # robustness: snli is the one that degrades less
    r = ev.summary("robustness_gain").set_index(["measure", "k"])
    assert r.loc[("oracle", 1), "regret"] == 0.0 and r.loc[("good", 1), "regret"] > 0


def test_correlations_say_too_few_pairs_below_five():
    good = _matrix("good", {"mnli": 0.9, "snli": 0.8, "siqa": 0.5, "qqp": 0.1})
    ev = evaluate(_rows(), good, n_resamples=100)
    c = ev.correlations.set_index(["outcome", "target", "same_source"])
    row = c.loc[("clean_gain", "xnli", "with")]  # one target: no pooled row
    assert row["n"] == 4 and math.isnan(row["spearman"]) and row["reason"] == "too few pairs (4 < 5)"
    assert c.loc[("clean_gain", "xnli", "without"), "n"] == 3 and "all" not in set(ev.correlations["target"])
    assert set(ev.to_dict()) == {"confidence_level", "n_resamples", "table", "correlations", "excluded", "notes"}


# ------------------------------------------------------------------------------------------ a run: select, report
def _fake_run(path, base):
    from modxfer.sweeps.store import Store

    rows = {}
    for r in _rows():
        rows.setdefault(r["composition"], []).append(r)
    raw = {"name": "fake", "backbone": base, "intermediates": list(GAINS), "targets": {"xnli": list(LANGS)},
           "compositions": ["target", "stack"], "noise": ["clean", "typo:0.1"], "seeds": [0],
           "budget": {"examples": 32, "epochs": 1, "eval_examples": 16}, "training": {"batch_size": 16}}
    with Store(path, create=True) as st:
        cells = [(f"k{i}", comp, "eval", {"composition": comp}, []) for i, comp in enumerate(rows)]
        st.sync_plan(cells, {"name": "fake", "config": yaml.safe_dump(raw)})
        for key, comp, *_ in cells:
            st.finish(key, rows=[{**r, "metric": "accuracy", "metrics": {"accuracy": r["score"]}, "n": 16}
                                 for r in rows[comp]])
    return path


@pytest.fixture()
def run(tiny_base, tmp_path, monkeypatch):
    monkeypatch.setenv("MODXFER_CACHE", str(tmp_path / "cache"))
    return _fake_run(tmp_path / "run", tiny_base)


def test_select_ranks_candidates_and_reports_regret_from_a_run(run, data_dir):
    run = run_context(run)  # what selection is handed: it reads no run folder itself
    sel = select("xnli", by="lexical", run=run, settings=FAST, data_dir=data_dir)
    assert sorted(r["intermediate"] for r in sel.ranking) == sorted(GAINS)
    assert [r["similarity"] for r in sel.ranking] == sorted((r["similarity"] for r in sel.ranking), reverse=True)
    mnli = next(r for r in sel.ranking if r["intermediate"] == "mnli")
    assert mnli["same_source"] and mnli["clean_gain"] == pytest.approx(6.0)
    assert set(sel.scores) == {"clean_gain", "noisy_score", "robustness_gain"}
    assert 0 <= sel.scores["clean_gain"]["regret@1"] <= 100 and "random_regret@3" in sel.scores["clean_gain"]
    de = select("xnli", by="format", run=run, lang="de", exclude_same_source=True, settings=FAST, data_dir=data_dir)
    assert "mnli" not in [r["intermediate"] for r in de.ranking] and de.lang == "de"
    with pytest.raises(DataError, match="no xnli results in language 'fr'"):
        select("xnli", by="format", run=run, lang="fr", settings=FAST, data_dir=data_dir)
    with pytest.raises(DataError, match="no stack composition with one intermediate for target 'pawsx'"):
        select("pawsx", run=run, settings=FAST, data_dir=data_dir)


def test_select_cli_prints_ranking_and_regret(run, data_dir):
    res = CliRunner().invoke(cli, ["select", "xnli", "--run", str(run), "--by", "lexical", "--examples", "16",
                                   "--resamples", "20"], terminal_width=200)
    assert res.exit_code == 0, res.output
    assert "ranked by lexical" in res.output and "mnli" in res.output
    assert "clean_gain: Regret@1" in res.output and "(random" in res.output
    bad = CliRunner().invoke(cli, ["select", "xnli", "--run", str(run), "--lang", "fr"])
    assert bad.exit_code == 2 and "language 'fr'" in bad.output and "Traceback" not in bad.output
    bad = CliRunner().invoke(cli, ["select", "xnlii", "--run", str(run)])
    assert bad.exit_code == 2 and "did you mean xnli" in bad.output


def test_select_cli_marks_same_source_pairs_with_the_section_mark(run, data_dir):
    res = CliRunner().invoke(cli, ["select", "xnli", "--run", str(run), "--by", "format", "--examples", "16",
                                   "--resamples", "0"], terminal_width=200)
    assert res.exit_code == 0, res.output
    assert f"mnli {SAME_SOURCE_MARK}" in res.output and "†" not in res.output


def test_report_section_writes_tables_heatmaps_and_agreement(run, data_dir, tmp_path):
    out = tmp_path / "report"
    md, data = report_section(None, run_context(run), out, measures=["lexical", "format"], settings=FAST, data_dir=data_dir,
                              n_resamples=100)
    assert md.startswith("## Which similarity predicts transfer, and which predicts robustness")
    for text in ("NDCG@1", "Regret@3 (% of best score)", "Selection by clean gain", "Selection by robustness gain",
                 f"without {SAME_SOURCE_MARK} same-source pairs", "Per language family", "Per target",
                 "Candidates per target: `xnli` 4 (3 without ‡)", "Agreement between measures",
                 "![lexical](similarity_lexical.png)", "Correlation with the measured outcomes",
                 "too few pairs (4 < 5)", "uncorrected and descriptive"):
        assert text in md, text
    # † means "did not learn" everywhere in the study report: never a same-source pair here
    assert md.count("†") == 1 and "(where † marks a model that did not learn)" in md
    report_format = pytest.importorskip("modxfer.report_format")
    assert SAME_SOURCE_MARK == report_format.SAME_SOURCE  # one mark for one meaning across the report
    assert (out / "similarity_lexical.png").stat().st_size > 5000 and (out / "similarity_format.png").is_file()
    assert set(data["measures"]) == {"lexical", "format"} and data["agreement"]["lexical"]["lexical"] == 1.0
    assert data["separation"]["format"]["all"]["max"] == 1.0
    # tolerant: rows without any single-intermediate composition give a note, not an error
    md2, data2 = report_section([_row("xnli", "de", "clean", 60)], None, tmp_path / "r2", settings=FAST)
    assert "No composition with a single intermediate" in md2 and "skipped" in data2


def test_select_is_handed_a_run_never_reads_a_folder(run):
    # Selection sits below the sweeps that write run folders: a path is refused with the call that reads it.
    with pytest.raises(ConfigError, match="run_context"):
        select("xnli", by="format", run=str(run))
