"""Per-example outcomes: each head's record gives back the official score exactly, on the full sample and on
resamples, and records pair cells example by example."""
import json
import random

import numpy as np
import pytest

from modxfer.scoring import metrics as M
from modxfer.scoring import outcomes as O
from modxfer.errors import DataError, UnknownLanguageError
from modxfer.tasks import get_task

UPOS = ["NOUN", "VERB", "X", "SYM", "INTJ", "CCONJ", "SCONJ", "PUNCT", "ADJ", "PROPN"]
NER = ["O", "O", "O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]


def _rows(n):
    return [{"id": f"f.tsv:{i}"} for i in range(n)]


def _tags(rng, tags, n):
    refs = [[rng.choice(tags) for _ in range(rng.randint(0, 9))] for _ in range(n)]
    preds = [[t if rng.random() < 0.6 else rng.choice(tags) for t in s] for s in refs]
    return preds, refs


def _case(kind, rng, n):
    """(task, preds, refs, lang) as the evaluator hands them to the metric."""
    if kind == "classification":
        refs = [rng.randrange(3) for _ in range(n)]
        return "xnli", [r if rng.random() < 0.5 else rng.randrange(3) for r in refs], refs, None
    if kind == "multiple_choice":
        refs = [rng.randrange(2) for _ in range(n)]
        return "xcopa", [r if rng.random() < 0.6 else 1 - r for r in refs], refs, None
    if kind == "retrieval":
        return "tatoeba", [i if rng.random() < 0.7 else rng.randrange(n) for i in range(n)], list(range(n)), None
    if kind in ("udpos", "panx"):
        return (kind, *_tags(rng, UPOS if kind == "udpos" else NER, n), None)
    words = ["the", "Haus", "北京", "大学", "a", "of", "Berlin", "die", "river", "x.", "城市"]
    refs = {f"q{i}": [" ".join(rng.choice(words) for _ in range(rng.randint(1, 3))) for _ in range(rng.randint(1, 2))]
            for i in range(n)}
    preds = {q: (g[0] if rng.random() < 0.4 else " ".join(rng.choice(words) for _ in range(2))) for q, g in refs.items()
             if rng.random() < 0.9}  # some questions unanswered: they score 0
    return ("squad", preds, refs, None) if kind == "squad" else ("mlqa", preds, refs, kind.split(":")[1])


KINDS = ["classification", "multiple_choice", "retrieval", "udpos", "panx", "squad", "mlqa:zh", "mlqa:de"]


@pytest.mark.parametrize("kind", KINDS)
def test_the_row_score_is_recomputed_exactly_from_outcomes(kind):
    rng = random.Random(kind)
    for trial in range(30):
        n = rng.randint(1, 40)
        task, preds, refs, lang = _case(kind, rng, n)
        official = M.score_kind(get_task(task).metric, preds, refs, lang=lang)
        primary = official[M.primary(get_task(task).metric)]
        rec = O.collect(task, _rows(n), preds, refs, lang=lang)
        assert json.loads(json.dumps(rec)) == rec  # plain JSON, stored as is
        rec = O.check(json.loads(json.dumps(rec)))
        assert O.rescore(rec) == primary  # the same bits, not just close
        assert round(O.rescore(rec), 4) == round(primary, 4)  # what an evaluation row stores
        assert len(rec["ids"]) == n


def test_resampled_scores_are_the_official_metric_on_the_resampled_examples():
    rng = random.Random(1)
    idx = np.random.default_rng(0).integers(0, 30, (20, 30))
    for kind in ("classification", "panx"):  # NER tags: no cross-sentence chunk quirk, so resampled = rescored
        task, preds, refs, _ = _case(kind, rng, 30)
        rec = O.collect(task, _rows(30), preds, refs)
        got = O.rescore(rec, idx)
        counts = np.stack([np.bincount(row, minlength=30) for row in idx])
        assert np.array_equal(got, O.rescore(rec, counts=counts))
        for b, row in enumerate(idx):
            want = M.score_kind(get_task(task).metric, [preds[i] for i in row], [refs[i] for i in row])
            assert got[b] == pytest.approx(want[M.primary(get_task(task).metric)], abs=1e-9)


def test_seqeval_entities_are_counted_as_seqeval_extracts_them_over_the_corpus():
    # seqeval joins sentences with "O": a sentence opening with the one-letter tag X continues the previous chunk
    # type, so per-sentence extraction would disagree with the official score. Counts follow the corpus.
    preds, refs = [["NOUN", "X"], ["X", "NOUN"]], [["NOUN", "X"], ["X", "VERB"]]
    rec = O.collect("udpos", _rows(2), preds, refs)
    assert rec["n_gold"] == [1, 2] and rec["tp"] == [1, 1]  # the X chunk spans both sentences, ends in the second
    assert O.rescore(rec) == M.score_kind("seqeval", preds, refs)["f1"]


def test_classification_keeps_prediction_and_reference():
    rec = O.collect("xnli", _rows(3), [0, 2, 1], [0, 1, 1])
    assert rec["correct"] == [1, 0, 1] and rec["prediction"] == [0, 2, 1] and rec["reference"] == [0, 1, 1]
    assert rec["ids"] == ["f.tsv:0", "f.tsv:1", "f.tsv:2"] and rec["metric"] == "accuracy"


def test_bad_input_is_a_data_error():
    with pytest.raises(DataError, match="3 evaluated examples but 2 predictions"):
        O.collect("xnli", _rows(3), [0, 1], [0, 1])
    with pytest.raises(UnknownLanguageError, match="MLQA scoring needs the answer language"):
        O.collect("mlqa", [], {"q": "a"}, {"q": ["a"]})
    with pytest.raises(DataError, match="malformed"):
        O.check({"metric": "accuracy", "ids": ["a", "b"], "correct": [1]})
    with pytest.raises(DataError, match="no known metric"):
        O.check({"metric": "bleu"})


def test_align_pairs_records_by_example_id():
    a = O.collect("xnli", [{"id": i} for i in "abcd"], [0, 1, 2, 0], [0, 1, 1, 0])
    b = O.collect("xnli", [{"id": i} for i in "dcb"], [0, 1, 1], [0, 1, 1])
    ids, (pa, pb) = O.align([a, b])
    assert ids == ["b", "c", "d"]
    assert O.subset(a, pa)["correct"] == [1, 0, 1] and O.subset(b, pb)["correct"] == [1, 1, 1]


def test_chance_levels():
    assert O.chance("xnli") == pytest.approx(100 / 3) and O.chance("xcopa") == 50.0
    assert O.chance("tatoeba", n=200) == 0.5 and O.chance("panx") == 0.0 and O.chance("mlqa") == 0.0


@pytest.mark.parametrize("record", [{"metric": [1]}, {"metric": "accuracy", "ids": 5},
                                    {"metric": "accuracy", "ids": ["a"], "correct": ["x"]},
                                    {"metric": "accuracy", "ids": ["a"], "correct": [float("nan")]},
                                    {"metric": "accuracy", "ids": ["a"], "correct": 1}, [1, 2]])
def test_malformed_stored_outcomes_are_a_data_error_not_a_crash(record):
    # records come back from run databases and results bundles, which come from outside
    with pytest.raises(DataError, match="malformed per-example outcomes"):
        O.check(record)
