"""Competence: a model counts as learned only when its CI clears the best trivial predictor on the same references,
and readers of cards written before floors keep working."""
import copy
import io
import random

import pandas as pd
import pytest

from modxfer.scoring import competence as C
from modxfer.scoring import metrics as M

UPOS = ["NOUN", "PUNCT", "VERB", "ADP", "DET", "PRON", "ADJ", "AUX", "PROPN", "ADV", "CCONJ", "X"]
UPOS_P = [0.2, 0.13, 0.12, 0.1, 0.09, 0.08, 0.07, 0.06, 0.06, 0.05, 0.03, 0.01]


def _rows(n):
    return [{"id": f"f.tsv:{i}"} for i in range(n)]


def _upos(n, seed=0):
    rng = random.Random(seed)
    return [rng.choices(UPOS, UPOS_P, k=rng.randint(3, 20)) for _ in range(n)]


def _ner(n, seed=0):
    """PAN-X-like: mostly "O", entities of one to three words."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        s = []
        while len(s) < rng.randint(4, 12):
            if rng.random() < 0.25:
                t = rng.choice(["PER", "LOC", "ORG"])
                s += [f"B-{t}"] + [f"I-{t}"] * rng.randint(0, 2)
            else:
                s.append("O")
        out.append(s)
    return out


def _noisy(refs, tags, rate, seed=1):
    rng = random.Random(seed)
    return [[rng.choice(tags) if rng.random() < rate else t for t in s] for s in refs]


def test_a_tagger_that_predicts_the_majority_tag_has_not_learned():
    # Mostly one-word PER entities: "B-PER" on every token scores a high F1, far above chance 0, so the old check
    # (CI above 0) called it learned. The floor is that same score.
    rng = random.Random(3)
    refs = [[rng.choice(["B-PER"] * 8 + ["O", "B-LOC"]) for _ in range(rng.randint(2, 8))] for _ in range(200)]
    preds = [["B-PER"] * len(s) for s in refs]
    majority = M.score_kind("seqeval", preds, refs)["f1"]
    assert majority > 50
    c = C.assess("panx", _rows(200), preds, refs, n_resamples=200)
    assert c["chance"] == 0.0 and c["ci"][0] > 0  # what the old check passed on
    assert c["learned"] is False
    assert c["floors"]["majority"] == pytest.approx(majority, abs=0.005) and c["floor"] == round(majority, 2)
    assert "majority tag 'B-PER'" in c["floor_method"]


def test_upos_floor_is_the_best_trivial_tagger_and_a_real_tagger_clears_it():
    refs = _upos(300)
    majority = C.assess("udpos-en", _rows(300), [["NOUN"] * len(s) for s in refs], refs, n_resamples=200)
    # seqeval reads a run of one prefix-less tag as one chunk: "NOUN" everywhere scores ~0, random tags score more
    assert majority["floors"]["majority"] < majority["floors"]["stratified"] == majority["floor"]
    assert majority["learned"] is False
    rng = random.Random(9)  # a tagger that learned only the tag frequencies: not learned either
    guesses = [rng.choices(UPOS, UPOS_P, k=len(s)) for s in refs]
    assert C.assess("udpos-en", _rows(300), guesses, refs, n_resamples=200)["learned"] is False
    good = C.assess("udpos-en", _rows(300), _noisy(refs, UPOS, 0.15), refs, n_resamples=200)
    assert good["learned"] is True and good["ci"][0] > good["floor"] + 20


def test_ner_all_o_floor_is_zero():
    refs = _ner(300)
    all_o = C.assess("panx", _rows(300), [["O"] * len(s) for s in refs], refs, n_resamples=200)
    assert all_o["floors"]["majority"] == 0.0 and all_o["score"] == 0.0 and all_o["learned"] is False
    assert 0 < all_o["floor"] < 10  # random BIO tags find the odd one-word entity
    good = C.assess("panx", _rows(300), _noisy(refs, ["O", "B-PER", "I-PER", "B-LOC"], 0.1), refs, n_resamples=200)
    assert good["learned"] is True


def _qa(n, seed=0, at_start=0.3):
    rng = random.Random(seed)
    vocab = ["river", "city", "built", "king", "army", "church", "the", "of", "in", "was", "located", "north"]
    rows, refs = [], {}
    for i in range(n):
        ctx = [rng.choice(vocab) for _ in range(60)]
        start = 0 if rng.random() < at_start else rng.randrange(10, 55)
        ans = " ".join(ctx[start:start + rng.randint(1, 4)])
        rows.append({"id": f"q{i}", "context": " ".join(ctx), "question": "?"})
        refs[f"q{i}"] = [ans]
    return rows, refs


def test_qa_floor_is_the_best_context_prefix_and_it_does_not_count_as_learned():
    rows, refs = _qa(150)
    c = C.floor("squad", rows, refs)
    k = int(c["floor_method"].split("k=")[1].split()[0])
    prefix = {r["id"]: " ".join(r["context"].split()[:k]) for r in rows}
    assert c["floor"] == pytest.approx(M.score_kind("squad", prefix, refs)["f1"], abs=1e-9) and c["floor"] > 5
    for j in (1, 5, 30):  # it is the best of the prefixes it tries
        other = {r["id"]: " ".join(r["context"].split()[:j]) for r in rows}
        assert M.score_kind("squad", other, refs)["f1"] <= c["floor"] + 1e-9
    assert C.assess("squad", rows, prefix, refs, n_resamples=200)["learned"] is False
    right = {q: g[0] if i % 4 else "nothing" for i, (q, g) in enumerate(refs.items())}
    got = C.assess("mlqa", rows, right, refs, lang="en", n_resamples=200)
    assert got["learned"] is True and got["floor"] > 0 and "first k words" in got["floor_method"]


def test_classification_floor_is_the_larger_of_chance_and_the_majority_class():
    refs = [0] * 70 + [1] * 20 + [2] * 10
    c = C.assess("xnli", _rows(100), [0] * 100, refs, n_resamples=200)
    # Always saying the majority label beats guessing (33.3) but has learned nothing: the floor is 70.
    assert c["chance"] == pytest.approx(33.33) and c["floor"] == c["majority"] == 70.0
    assert "majority class" in c["floor_method"] and c["learned"] is False and c["beats_majority"] is False
    c = C.assess("xcopa", _rows(100), [r % 2 for r in refs], [r % 2 for r in refs], n_resamples=200)
    assert c["floor"] == 80.0 and c["learned"] is True and c["beats_majority"] is True  # perfect: above both


def test_the_floor_is_deterministic_given_the_seed():
    refs = _upos(80)
    a, b = (C.floor("udpos-en", _rows(80), refs, seed=5) for _ in range(2))
    assert a == b
    assert C.floor("udpos-en", _rows(80), refs, seed=6)["floors"]["majority"] == a["floors"]["majority"]


OLD_F1 = {"chance": 0.0, "ci": [15.73, 21.63], "confidence": 0.95, "learned": True, "metric": "f1", "n": 500,
          "method": "percentile bootstrap over examples, B=1000, seed=0", "score": 18.43}  # as cards say today
OLD_ACC = {**OLD_F1, "metric": "accuracy", "chance": 33.33, "learned": False, "majority": 40.0, "beats_majority": False}


def test_cards_without_floors_still_load_everywhere():
    from rich.console import Console

    from cli.sweep_cmd import _print_competence
    from modxfer import report
    _competence_section, _competence_text = report._competence_section, report._competence_text  # report's readers
    from modxfer.sweeps.results import competence_status

    new = C.assess("panx", _rows(50), _ner(50), _ner(50), n_resamples=50)
    for comp in (OLD_F1, OLD_ACC, new, None):
        card = {"competence": copy.deepcopy(comp)}
        assert competence_status(card) in ("learned", "not learned", "unknown")
        assert C.verdict(card) in ("learned", "near chance", "unknown")
        assert _competence_text(comp)
        art = {"id": "panx#1", "status": competence_status(card), "competence": comp, "examples": 600, "epochs": 2}
        assert "panx#1" in "".join(_competence_section([art]))
        out = io.StringIO()
        _print_competence(Console(file=out, width=200), [dict(art, status="not learned")] if comp else [])
        assert "panx#1" in out.getvalue() or comp is None
    # an F1 card from before floors was judged against 0: its flag is kept (as sweep status keeps it) and its floor
    # is reported as the chance it was judged against
    assert C.verdict({"competence": OLD_F1}) == ("learned" if OLD_F1["learned"] else "near chance")
    assert C.verdict({"competence": OLD_ACC}) == "near chance"
    assert competence_status({"competence": OLD_F1}) == ("learned" if OLD_F1["learned"] else "not learned")
    assert C.floor_of(OLD_F1) == (0.0, "chance (recorded before floors)") and C.floor_of(None) is None
    assert C.floor_of(new) == (new["floor"], new["floor_method"]) and C.verdict({"competence": new}) == "learned"


def test_records_judged_against_chance_alone_are_judged_again_against_their_majority_rate():
    # The committed study's SocialIQa intermediate: 46.15 [38.46, 53.33], chance 33.3, majority 41.03.
    siqa = {"chance": 33.33, "ci": [38.46, 53.33], "learned": True, "majority": 41.03, "beats_majority": False,
            "metric": "accuracy", "n": 195, "score": 46.15}
    assert C.learned(siqa) is False and C.verdict({"competence": siqa}) == "near chance"
    assert C.floor_of(siqa)[0] == 41.03
    from modxfer.sweeps.results import NOT_LEARNED, competence_status, restate_competence

    assert competence_status({"competence": siqa}) == NOT_LEARNED
    xnli = {**siqa, "ci": [47.86, 56.42], "majority": 35.44, "beats_majority": True}
    artifacts = [{"id": "train siqa seed=0", "status": "learned", "competence": siqa, "finished": True},
                 {"id": "train xnli seed=0", "status": "learned", "competence": xnli, "finished": True},
                 {"id": "train siqa>xnli seed=0", "status": "learned", "competence": xnli, "finished": True}]
    df = pd.DataFrame({"composition": ["xnli", "siqa>xnli", "fuse(mnli,siqa)>xnli", "mnli>xnli"], "seed": [0] * 4,
                       "competence": ["learned"] * 4})
    rows, restated = restate_competence(df, artifacts)
    assert rows["competence"].tolist() == ["learned", "not learned", "not learned", "learned"]
    assert [a["status"] for a in restated] == ["not learned", "learned", "learned"]
    assert df["competence"].tolist() == ["learned"] * 4  # the input is not changed
