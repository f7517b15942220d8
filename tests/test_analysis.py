"""Task similarity, the similarity-vs-transfer analysis, and their inputs, on a tiny backbone and hand-made rows."""
import json
import math

import pandas as pd
import pytest

from modxfer.analysis import analyse, baseline_of, pairs_in, similarity_for
from modxfer.composition import Composition
from modxfer.errors import DataError
from modxfer.similarity import input_text, similarity_matrix, task_embedding, task_texts
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
    from modxfer.backbone import load_backbone

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
    # Baseline xnli: clean 50 everywhere, typo costs 10.
    # a>xnli (similarity 0.9) gains 10 and degrades 2; b>xnli (0.5) gains 0 and degrades 6; c>xnli (0.1) loses 5.
    for lang in ("de", "fr", "zh"):
        rows += [dict(task="xnli", composition="xnli", lang=lang, noise="clean", score=50.0),
                 dict(task="xnli", composition="xnli", lang=lang, noise="typo:0.1", score=40.0)]
        for comp, gain, deg in (("mnli>xnli", 10.0, 2.0), ("qqp>xnli", 0.0, 6.0), ("siqa>xnli", -5.0, 9.0)):
            rows += [dict(task="xnli", composition=comp, lang=lang, noise="clean", score=50.0 + gain),
                     dict(task="xnli", composition=comp, lang=lang, noise="typo:0.1", score=50.0 + gain - deg)]
    return rows


SIMS = {("mnli", "xnli"): 0.9, ("qqp", "xnli"): 0.5, ("siqa", "xnli"): 0.1}


def test_gains_degradations_and_correlations_by_hand():
    a = analyse(_rows(), SIMS)
    p = a.points.set_index(["composition", "lang", "noise"])
    assert p.loc[("mnli>xnli", "de", "clean"), "gain"] == 10.0
    assert math.isnan(p.loc[("mnli>xnli", "de", "clean"), "degradation"])
    assert p.loc[("qqp>xnli", "zh", "typo:0.1"), "degradation"] == pytest.approx(6.0)
    assert p.loc[("siqa>xnli", "fr", "typo:0.1"), "robustness_gain"] == pytest.approx(10.0 - 9.0)
    assert p.loc[("mnli>xnli", "fr", "typo:0.1"), "similarity"] == 0.9
    assert "xnli" not in set(a.points["composition"])  # baselines are references, not points
    c = a.correlations.set_index(["noise", "family", "measure"])
    assert c.loc[("clean", "all", "gain"), "spearman"] == pytest.approx(1.0)
    assert c.loc[("typo:0.1", "all", "degradation"), "spearman"] == pytest.approx(-1.0)
    assert c.loc[("typo:0.1", "all", "robustness_gain"), "spearman"] == pytest.approx(1.0)
    assert c.loc[("clean", "all", "gain"), "n"] == 9 and c.loc[("clean", "Indo-European", "gain"), "n"] == 6
    f = a.by_family.set_index(["composition", "noise", "family"])
    assert f.loc[("qqp>xnli", "clean", "Sino-Tibetan"), "gain"] == 0.0
    assert f.loc[("mnli>xnli", "typo:0.1", "Indo-European"), "languages"] == 2
    d = a.to_dict()
    json.dumps(d, allow_nan=False)  # NaN becomes null
    assert {x["intermediate"] for x in d["similarity"]} == {"mnli", "qqp", "siqa"}


def test_similarity_may_be_a_function_and_seeds_average():
    rows = _rows() + [dict(r, score=r["score"] + 2.0) for r in _rows()]  # a second seed, 2 points higher
    a = analyse(pd.DataFrame(rows), lambda inter, target: SIMS[(inter, target)])
    p = a.points.set_index(["composition", "lang", "noise"])
    assert p.loc[("mnli>xnli", "de", "clean"), "score"] == 61.0 and p.loc[("mnli>xnli", "de", "clean"), "gain"] == 10.0
    assert pairs_in(rows) == [("mnli", "xnli"), ("qqp", "xnli"), ("siqa", "xnli")]


def test_nothing_to_analyse_is_a_clear_error():
    with pytest.raises(DataError, match="no evaluation rows"):
        analyse([], SIMS)
    with pytest.raises(DataError, match="no composition with intermediate"):
        analyse([dict(task="xnli", composition="xnli", lang="de", noise="clean", score=1.0)], SIMS)
