"""Task similarity, the similarity-vs-transfer analysis with its uncertainty, the run store's per-example outcomes
and the study report: on a tiny backbone, hand-made rows and a synthetic study with known effects (tests/synthetic.py)."""
import json
import math
import sys

import pandas as pd
import pytest

from modxfer.analysis import analyse, baseline_of
from modxfer.similarity.pairs import pairs_in, similarity_for
from modxfer.composition import Composition
from modxfer.errors import DataError
from modxfer.similarity.measures import input_text, similarity_matrix, task_embedding, task_texts
from modxfer.tasks import get_task


def test_input_text_reads_what_the_model_reads():
    assert input_text("classification", {"text_a": "A b.", "text_b": "C d."}) == "A b. C d."
    assert input_text("classification", {"text_a": "A b.", "text_b": None}) == "A b."
    assert input_text("multiple_choice", {"context": "Ctx", "choices": ["x", "y"]}) == "Ctx x y"
    assert input_text("tagging", {"tokens": ["New", "York"]}) == "New York"
    assert input_text("extractive_qa", {"question": "Q?", "context": "C."}) == "Q? C."


def test_task_texts_come_from_training_data_only(data_dir):
    texts = task_texts(get_task("xnli"), 16, data_dir)
    assert len(texts) == 16 and texts == task_texts(get_task("xnli"), 16, data_dir)
    with pytest.raises(DataError, match="no training split"):
        task_texts(get_task("tatoeba"), 16, data_dir)


def test_similarity_matrix_is_symmetric_cached_and_separates_tasks(tiny_base, data_dir, tmp_path, monkeypatch):
    from modxfer.model.backbone import load_backbone

    monkeypatch.setenv("MODXFER_CACHE", str(tmp_path))
    bb = load_backbone(tiny_base)
    tasks = ["mnli", "xnli", "panx", "siqa"]
    m = similarity_matrix(tasks, bb, 16, data_dir)
    for a in tasks:
        assert m[(a, a)] == pytest.approx(1.0)
        for b in tasks:
            assert m[(a, b)] == pytest.approx(m[(b, a)]) and -1.0 <= m[(a, b)] <= 1.0 + 1e-9
    # mnli and xnli's English training data are both MNLI premises/hypotheses: closer than NLI vs NER.
    assert m[("mnli", "xnli")] > m[("mnli", "panx")]
    files = list((tmp_path / "similarity").rglob("*.json"))
    assert len(files) == 4 and json.loads(files[0].read_text())["examples"] == 16

    def boom(*a, **k):
        raise AssertionError("embedded again instead of reading the cache")

    monkeypatch.setattr(type(bb), "embed", boom)
    assert task_embedding("mnli", bb, 16, data_dir).vector == task_embedding("mnli", bb, 16, data_dir).vector
    assert similarity_matrix(tasks, bb, 16, data_dir) == m
    # A retrieval target has no training inputs: NaN, left out of correlations, not an error for the analysis.
    assert math.isnan(similarity_for([("mnli", "tatoeba")], bb, 16, data_dir)[("mnli", "tatoeba")])


def test_baselines_are_the_same_kind_without_intermediates():
    assert str(baseline_of(Composition.parse("mnli>xnli"))) == "xnli"
    assert str(baseline_of(Composition.parse("fuse(mnli,qqp)>xnli"))) == "xnli"
    assert str(baseline_of(Composition.parse("full:mnli>xnli"))) == "full:xnli"
    assert baseline_of(Composition.parse("xnli")) is None


def _rows():
    rows = []
    # Baseline xnli: clean 50 everywhere, typo costs 10 (chance is 33.3, so 16.7 points of room).
    # a>xnli (similarity 0.9) gains 10 and degrades 2; b>xnli (0.5) gains 0 and degrades 6; c>xnli (0.1) loses 5.
    for lang in ("en", "de", "fr", "zh"):
        rows += [dict(task="xnli", composition="xnli", lang=lang, noise="clean", score=50.0, n=40),
                 dict(task="xnli", composition="xnli", lang=lang, noise="typo:0.1", score=40.0, n=40)]
        for comp, gain, deg in (("mnli>xnli", 10.0, 2.0), ("qqp>xnli", 0.0, 6.0), ("siqa>xnli", -5.0, 9.0)):
            rows += [dict(task="xnli", composition=comp, lang=lang, noise="clean", score=50.0 + gain, n=40),
                     dict(task="xnli", composition=comp, lang=lang, noise="typo:0.1", score=50.0 + gain - deg, n=40)]
    return rows


SIMS = {("mnli", "xnli"): 0.9, ("qqp", "xnli"): 0.5, ("siqa", "xnli"): 0.1}


def _get(a, measure, comp, noise, level, group):
    t = a.table
    row = t[(t["measure"] == measure) & (t["composition"] == comp) & (t["noise"] == noise) & (t["level"] == level)
            & (t["group"] == group)]
    assert len(row) == 1, (measure, comp, noise, level, group)
    return row.iloc[0]


def test_measures_by_hand_without_outcomes():
    a = analyse(_rows(), SIMS)
    assert _get(a, "gain", "mnli>xnli", "clean", "language", "de")["estimate"] == 10.0
    assert _get(a, "degradation", "qqp>xnli", "typo:0.1", "language", "zh")["estimate"] == pytest.approx(6.0)
    assert _get(a, "robustness_gain", "siqa>xnli", "typo:0.1", "language", "fr")["estimate"] == pytest.approx(1.0)
    # Relative to the room above chance: the baseline loses 10 of its 16.7 points.
    rel = _get(a, "rel_degradation", "xnli", "typo:0.1", "zero-shot", "all")
    assert rel["estimate"] == pytest.approx(10 / (50 - 100 / 3))
    # English is apart: zero-shot and family means hold de, fr, zh only, and count them.
    z = _get(a, "gain", "siqa>xnli", "clean", "zero-shot", "all")
    assert z["estimate"] == -5.0 and z["languages"] == 3
    assert _get(a, "gain", "siqa>xnli", "clean", "family", "Indo-European")["languages"] == 2
    assert not ((a.table["level"] != "language") & (a.table["group"] == "en")).any()
    # No outcomes: no intervals, no tests, no findings.
    assert math.isnan(z["low"]) and a.findings.empty
    assert set(a.tests.loc[a.tests["kind"] == "gain", "excluded"]) == {"no per-example outcomes: no test"}
    # Three pairs: no correlation, and n counts pairs, not pairs x languages.
    c = a.correlations
    # mnli>xnli shares its data source: each correlation also without it.
    assert list(zip(c["same_source"], c["n_pairs"])) == [("with", 3), ("without", 2)] * 2
    assert c["rho"].isna().all() and c["reason"].str.match(r"too few pairs \([32] < 5\)").all()
    json.dumps(a.to_dict(), allow_nan=False)
    assert pairs_in(_rows()) == [("mnli", "xnli"), ("qqp", "xnli"), ("siqa", "xnli")]


def test_comparisons_use_what_both_sides_have():
    rows = _rows() + [dict(r, seed=1, score=r["score"] + 4.0) for r in _rows() if r["composition"] == "mnli>xnli"]
    rows = [r for r in rows if not (r["composition"] == "xnli" and r["lang"] == "zh")]
    a = analyse(pd.DataFrame(rows), lambda inter, target: SIMS[(inter, target)])
    # The baseline has seed 0 only: the gain compares seed 0 with seed 0 (not a mean over seeds 0 and 1).
    assert _get(a, "gain", "mnli>xnli", "clean", "language", "de")["estimate"] == 10.0
    assert _get(a, "score", "mnli>xnli", "clean", "language", "de")["estimate"] == 62.0  # both seeds
    assert _get(a, "gain", "mnli>xnli", "clean", "zero-shot", "all")["languages"] == 2  # zh lacks a baseline
    assert any("seed(s) 1 missing on one side" in n for n in a.notes)
    assert any("baseline xnli lacks zh" in n for n in a.notes)


def test_nothing_to_analyse_is_a_clear_error():
    with pytest.raises(DataError, match="no evaluation rows"):
        analyse([], SIMS)
    with pytest.raises(DataError, match="no composition with intermediate"):
        analyse([dict(task="xnli", composition="xnli", lang="de", noise="clean", score=1.0)], SIMS)
    from modxfer.errors import ConfigError

    with pytest.raises(ConfigError, match="correction"):
        analyse(_rows(), SIMS, correction="bonferroni")


# ------------------------------------------------------------------------------ with per-example outcomes
from synthetic import study_rows, write_store, old_store  # noqa: E402

STUDY_SIMS = {("mnli", "xnli"): 0.9, ("qqp", "xnli"): 0.5, ("siqa", "xnli"): 0.3, ("mnli", "xcopa"): 0.4,
              ("qqp", "xcopa"): 0.2, ("siqa", "xcopa"): 0.7}


@pytest.fixture(scope="module")
def study():
    return study_rows(n=200)


def test_known_effects_are_found_and_nulls_are_not(study):
    a = analyse(study, STUDY_SIMS, correction="holm")
    gain = _get(a, "gain", "mnli>xnli", "clean", "zero-shot", "all")
    assert gain["low"] <= 15.0 <= gain["high"] and gain["seeds"] == 1 and gain["n"] == 6 * 200
    found = set(a.findings["what"])
    assert "mnli>xnli vs xnli: clean gain" in found
    assert "xnli: degradation under typo:0.1" in found
    # True nulls (no gain, homoglyphs change no accuracy) are not findings.
    assert not any(w.startswith(("qqp>xnli vs", "siqa>xnli vs")) and "clean gain" in w for w in found)
    assert not any("homoglyph" in w and "degradation" in w for w in found)
    # Every tested hypothesis carries an adjusted p no smaller than its own; inconclusive ones an MDE.
    tested = a.tests[a.tests["p_adjusted"].notna()]
    assert (tested["p_adjusted"] >= tested["pvalue"] - 1e-12).all()
    inc = a.inconclusive
    assert not inc.empty and inc.loc[inc["kind"] == "gain", "mde"].gt(0).all()
    assert a.settings["n_resamples"] == 1000 and a.settings["seed"] == 0 and a.settings["correction"] == "holm"
    # The same seed gives the same numbers.
    b = analyse(study, STUDY_SIMS)
    assert _get(b, "gain", "mnli>xnli", "clean", "zero-shot", "all")["low"] == gain["low"]


def test_changed_nothing_and_incompetent_models_are_flagged_and_not_tested(study):
    rows = [dict(r, competence="not learned" if r["composition"] == "siqa>xcopa" else "learned") for r in study]
    a = analyse(rows, STUDY_SIMS)
    zh = _get(a, "degradation", "xcopa", "homoglyph:0.1", "language", "zh")
    assert zh["changed_nothing"] and zh["noise_rate"] == 0.0
    t = a.tests.set_index("what")
    assert t.loc["siqa>xcopa vs xcopa: clean gain", "excluded"].startswith("a model in this comparison did not learn")
    assert not t.loc["siqa>xcopa vs xcopa: clean gain", "finding"]
    assert _get(a, "gain", "siqa>xcopa", "clean", "zero-shot", "all")["competence"] == "not learned"


def test_correlation_has_one_point_per_pair(study):
    # Six intermediates for xnli: six pairs, whatever the number of languages.
    copies = {"qqp>xnli": "anli>xnli", "siqa>xnli": "snli>xnli", "mnli>xnli": "cosmosqa>xnli"}
    extra = [dict(r, composition=copies[r["composition"]]) for r in study if r["composition"] in copies]
    sims = {**STUDY_SIMS, ("anli", "xnli"): 0.8, ("snli", "xnli"): 0.85, ("cosmosqa", "xnli"): 0.2}
    a = analyse(study + extra, sims)
    corr = a.correlations.set_index(["task", "kind", "measure", "noise", "same_source"])
    c = corr.loc[("xnli", "stack", "gain", "clean", "with")]
    assert c["n_pairs"] == 6 and math.isfinite(c["rho"]) and c["low"] <= c["rho"] <= c["high"]
    assert c["pairs"].count(">xnli") == 6
    # mnli>xnli shares its data: the same correlation without it, over the five other pairs.
    assert corr.loc[("xnli", "stack", "gain", "clean", "without"), "n_pairs"] == 5


def test_retrieval_targets_are_kept_and_marked(study):
    tatoeba = [dict(task="tatoeba", composition=c, lang=lang, noise="clean", score=s, n=100, seed=0)
               for c, s in (("tatoeba", 20.0), ("mnli>tatoeba", 30.0)) for lang in ("de", "zh")]
    a = analyse(study + tatoeba, {**STUDY_SIMS, ("mnli", "tatoeba"): math.nan})
    g = _get(a, "gain", "mnli>tatoeba", "clean", "zero-shot", "all")
    assert g["estimate"] == 10.0 and math.isnan(g["similarity"]) and g["languages"] == 2
    fam = a.table[(a.table["task"] == "tatoeba") & (a.table["level"] == "family")]
    assert set(fam["group"]) == {"Indo-European", "Sino-Tibetan"}  # not dropped by a NaN key
    c = a.correlations
    assert "mnli>tatoeba" not in " ".join(c["pairs"])


# ------------------------------------------------------------------------------ store and report
def test_store_keeps_outcomes_noise_rates_and_competence(tmp_path, study):
    from modxfer.scoring import outcomes as O
    from modxfer.sweeps.results import cell_competence, load_results
    from modxfer.sweeps.store import Store

    rows = [r for r in study if r["task"] == "xcopa"]
    write_store(tmp_path, rows, learned={"train siqa seed=0": False, "train qqp seed=0": None})
    df = load_results(tmp_path, outcomes=True)
    assert len(df) == len(rows) and df["outcomes"].map(lambda o: isinstance(o, dict)).all()
    for r in df.to_dict("records"):
        assert round(O.rescore(r["outcomes"]), 4) == r["score"]  # the stored row's score, recomputed
    assert set(df.loc[df["composition"] == "siqa>xcopa", "competence"]) == {"not learned"}  # via its intermediate
    assert set(df.loc[df["composition"] == "qqp>xcopa", "competence"]) == {"unknown"}
    assert set(df.loc[df["composition"] == "xcopa", "competence"]) == {"learned"}
    assert df.loc[(df["noise"] == "homoglyph:0.1") & (df["lang"] == "zh"), "noise_rate"].eq(0.0).all()
    assert df.loc[df["noise"] == "clean", "noise_rate"].isna().all()
    with Store(tmp_path) as s:
        assert len(s.details()) == len(rows) and all(v["status"] != "n/a" for v in cell_competence(s).values())
    # Without outcomes (an older run) the columns exist and are empty.
    old = old_store(tmp_path / "old", rows)
    df = load_results(old, outcomes=True)
    assert df["outcomes"].isna().all() and (df["competence"] == "unknown").all() and df["noise_rate"].isna().all()


@pytest.fixture
def no_selection(monkeypatch):
    """The report without the selection section (its own tests cover it)."""
    import types

    import modxfer

    import modxfer.similarity

    fake = types.ModuleType("modxfer.similarity.selection")
    fake.report_section = lambda results, run=None, out_dir=None, **kw: (
        "## Selection\n\nnot computed in this test", {"skipped": "test"})
    monkeypatch.setitem(sys.modules, "modxfer.similarity.selection", fake)
    monkeypatch.setattr(modxfer.similarity, "selection", fake, raising=False)
    return fake


def test_report_states_only_what_its_cis_support(tmp_path, study, no_selection):
    from click.testing import CliRunner

    from modxfer_cli.main import cli
    from modxfer.report import write_report

    no_selection.report_section = lambda results, run, out_dir=None, **kw: (
        "## Selection\n\nhook called", {"rows": len(results), "n_resamples": kw["n_resamples"], "seed": kw["seed"]})
    run = write_store(tmp_path / "run", study, learned={"train siqa>xcopa seed=0": False}, unfinished=2)
    out = write_report(run, similarity=STUDY_SIMS)
    md = (out / "report.md").read_text()
    report = json.loads((out / "report.json").read_text())
    st = report["card"]["statistics"]
    assert st["n_resamples"] == 1000 and st["seed"] == 0 and st["correction"] == "holm" and "bootstrap" in st["method"]
    assert "## Evidence" in md and "One seed per model" in md and "Unfinished grid: " in md
    assert "families with one zero-shot language" in md and "Fewer than 5 distinct (intermediate, target) pairs" in md
    assert "homoglyph:0.1 on xcopa (zh)" in md and "train siqa>xcopa seed=0" in md
    assert "## Findings (surviving Holm correction" in md
    assert "mnli>xnli ‡ vs xnli: clean gain: +" in md and "corrected p = " in md  # ‡: shared data source
    assert "### Inconclusive" in md and "MDE" in md and "too few pairs" in md
    assert " ±" in md and "`siqa>xcopa` †" in md and "en (not zero-shot)" in md
    assert "## Selection\n\nhook called" in md
    assert report["selection"] == {"rows": len(study) - 2, "n_resamples": 1000, "seed": 0}  # the report's own
    gain = next(r for r in report["analysis"]["table"] if r["measure"] == "gain" and r["composition"] == "mnli>xnli"
                and r["level"] == "zero-shot")
    assert gain["low"] < gain["estimate"] < gain["high"]
    assert {p.name for p in out.iterdir()} >= {"similarity_gain.png", "similarity_robustness.png",
                                                "degradation_by_family.png"}
    again = json.loads((write_report(run, tmp_path / "again", similarity=STUDY_SIMS, n_resamples=200, seed=3)
                        / "report.json").read_text())
    assert again["selection"]["n_resamples"] == again["card"]["statistics"]["n_resamples"] == 200
    assert again["selection"]["seed"] == again["card"]["statistics"]["seed"] == 3
    res = CliRunner().invoke(cli, ["sweep", "status", str(run)])
    assert res.exit_code == 0 and "did not learn train siqa>xcopa seed=0: accuracy 34.0 [29.0, 39.0]" in res.output


def test_report_on_an_old_run_says_it_has_no_outcomes(tmp_path, study, no_selection):
    from modxfer.report import write_report

    rows = [r for r in study if r["task"] == "xcopa"]
    out = write_report(old_store(tmp_path / "old", rows), similarity=STUDY_SIMS, n_resamples=200)
    md = (out / "report.md").read_text()
    assert "kept no per-example outcomes" in md and "nothing here is a finding" in md
    assert "Competence unknown for" in md
