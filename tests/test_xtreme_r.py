"""XQuAD, TyDiQA-GoldP, BUCC, LAReQA and Mewsli-X: loaded through the registry from small files in their real formats,
scored with XTREME's logic against hand-computed values, perturbed without breaking their labels, and evaluated as
composition targets on the tiny model."""

import json

import pytest
import torch

import xtreme_r_files as F
from modxfer.evaluation import retrieval
from modxfer.errors import DataError
from modxfer.noise import perturb_example
from modxfer.tasks import get_task
from modxfer.tasks.base import cached_rows, data_profile

approx = pytest.approx


@pytest.fixture()
def paper_dir(tmp_path):
    """A paper-profile data directory with every new target (and SQuAD v1.1 train for the QA ones)."""
    root = tmp_path / "data"
    F.mark_paper(root)
    F.squad_train(root)
    F.xquad(root)
    F.tydiqa(root)
    F.bucc(root)
    F.lareqa(root)
    F.mewslix(root)
    return root


# --------------------------------------------------------------------------- the registry


def test_new_targets_load_from_their_files(paper_dir):
    assert data_profile(paper_dir) == "paper"
    xquad, tydiqa = get_task("xquad"), get_task("tydiqa")
    assert xquad.languages(paper_dir) == ("de", "en") and tydiqa.languages(paper_dir) == ("ar", "en")
    qa = xquad.rows("test", "de", data_dir=paper_dir)[0]
    assert qa["context"][qa["answers"]["answer_start"][0]:].startswith("Normandy")
    # XQuAD trains on SQuAD v1.1 train (never its own articles), the same examples MLQA trains on
    train = xquad.rows("train", data_dir=paper_dir)
    assert all(r["id"].startswith("squad/train-v1.1.json:") for r in train)
    assert train == get_task("mlqa").rows("train", data_dir=paper_dir)
    assert not {r["title"] for r in train} & {r["title"] for r in get_task("squad").rows("train", data_dir=paper_dir)}
    assert [r["id"] for r in tydiqa.rows("test", "ar", data_dir=paper_dir)] == ["arabic-dev-1"]
    assert len(tydiqa.rows("train", data_dir=paper_dir)) + len(tydiqa.rows("validation", data_dir=paper_dir)) == 10

    bucc = get_task("bucc").rows("test", "de", data_dir=paper_dir)
    assert [(r["id"], r["side"], r["gold"]) for r in bucc] == [
        ("de-1", "source", ["en-1"]), ("de-2", "source", ["en-2"]), ("de-3", "source", []),
        ("en-1", "target", []), ("en-2", "target", [])]
    lareqa = get_task("lareqa")
    assert len(lareqa.languages(paper_dir)) == 11
    assert lareqa.rows("test", "en", data_dir=paper_dir) == [
        {"id": "qa_en", "question": "Which alpha is it?", "xling_id": "qa"},
        {"id": "qb_en", "question": "Which beta is it?", "xling_id": "qb"}]
    pool = lareqa.rows("candidates", "en", data_dir=paper_dir)
    assert len(pool) == 22 and {c["lang"] for c in pool} == set(F.LAREQA)
    assert sum("qa" in c["xling_ids"] for c in pool) == 11  # one answer sentence per language
    mention = get_task("mewslix").rows("test", "en", data_dir=paper_dir)[1]
    assert mention == {"id": "test-en-m2", "context": "Later {they} went to Berlin today.", "mention_start": 21,
                       "mention_text": "Berlin", "entity_id": "Q2"}
    assert len(get_task("mewslix").rows("candidates", "de", data_dir=paper_dir)) == 4


def test_offline_profile_never_evaluates_translations_of_training_articles(data_dir):
    """Offline, xquad.en's articles train squad and the QA targets; XQuAD and XQuAD-R translate those articles."""
    for name in ("xquad", "lareqa"):
        task = get_task(name)
        assert not task.available(data_dir)
        with pytest.raises(DataError, match="SQuAD v1.1 train") as e:
            task.rows("test", "en", data_dir=data_dir)
        assert "never be evaluated on articles whose English version was trained on" in e.value.problem
        assert f"modxfer data fetch {name}" in e.value.fix and "--profile paper" in e.value.fix
        assert task.fetch_command() == f"modxfer data fetch {name} --languages all --profile paper"
    for name in ("tydiqa", "bucc", "mewslix"):
        assert not get_task(name).available(data_dir)
        with pytest.raises(DataError, match=f"modxfer data fetch {name} --languages all"):
            get_task(name).rows("test", "de", data_dir=data_dir)


def test_lareqa_keeps_xtremes_question_and_pool_rules(paper_dir):
    """A question whose answer no sentence holds is skipped, and a paragraph with no kept question adds no candidates
    (utils_lareqa.load_data builds the pool from the questions it keeps)."""
    path = paper_dir / "lareqa/xquad-r/en.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    ctx = "Gamma one. Gamma two."
    doc["data"].append({"title": "Lost", "paragraphs": [{"context": ctx, "sentence_breaks": [[0, 10], [11, 15]], "qas": [
        {"id": "qz", "question": "Which gamma?", "answers": [{"text": "two", "answer_start": 17}]}]}]})
    path.write_text(json.dumps(doc), encoding="utf-8")
    cached_rows.cache_clear()
    lareqa = get_task("lareqa")
    assert [q["id"] for q in lareqa.rows("test", "en", data_dir=paper_dir)] == ["qa_en", "qb_en"]
    assert len(lareqa.rows("candidates", "en", data_dir=paper_dir)) == 22


def test_lareqa_pool_needs_all_eleven_languages(paper_dir):
    (paper_dir / "lareqa/xquad-r/th.json").unlink()
    cached_rows.cache_clear()
    with pytest.raises(DataError, match="all 11 XQuAD-R languages; missing: th"):
        get_task("lareqa").rows("candidates", "en", data_dir=paper_dir)


def test_malformed_files_name_the_problem(paper_dir):
    (paper_dir / "bucc2018/de-en.test.gold").write_text("de-1\ten-99\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"de-en.test.gold:1: expected 'source-id<TAB>target-id'"):
        get_task("bucc").rows("test", "de", data_dir=paper_dir)
    F.mewslix(paper_dir, test_labelled=False)  # XTREME's preprocessing blanks the test labels
    with pytest.raises(DataError, match="no gold entity") as e:
        get_task("mewslix").rows("test", "en", data_dir=paper_dir)
    assert "offline profile, which evaluates dev" in e.value.fix


# --------------------------------------------------------------------------- scoring, by hand


def test_mine_reproduces_the_ratio_margin_by_hand():
    # cosines: x1y1 1, x1y2 .6, x2y1 0, x2y2 .8, x3y1 .8, x3y2 .96; k = 2 forward (two targets), 3 backward
    # forward means: x1 .8, x2 .4, x3 .88; backward means: y1 1.8/3 = .6, y2 2.36/3
    # x1y1: 1 / ((.8 + .6) / 2) = 10/7; x2y2: .8 / ((.4 + 2.36/3) / 2); x3's best (y2, 1.152) loses y2 to x2
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.8, 0.6]])
    y = torch.tensor([[1.0, 0.0], [0.6, 0.8]])
    mined = retrieval.mine(["s1", "s2", "s3"], ["t1", "t2"], x, y)
    assert [(s, t) for s, t, _ in mined] == [("s1", "t1"), ("s2", "t2")]
    assert [sc for *_, sc in mined] == approx([10 / 7, 0.8 / ((0.4 + 2.36 / 3) / 2)])


def test_bucc_threshold_and_sentence_ids_as_xtreme():
    cands = {("a", "x"): 3.0, ("b", "y"): 2.0, ("c", "z"): 1.0, ("d", "w"): 0.5}
    # ranked: a-x gold (F1 = 2/3 with 2 gold), b-y wrong (0.5), c-z gold (F1 = 2*2/3*1/(5/3) = .8): best cut after c-z
    assert retrieval.optimize_threshold(cands, {("a", "x"), ("c", "z")}) == approx((1.0 + 0.5) / 2)
    # the best cut is the last candidate: XTREME reads one past the end; its score is used
    assert retrieval.optimize_threshold({("a", "x"): 3.0, ("b", "y"): 2.0}, {("a", "x"), ("b", "y")}) == 2.0
    rows_src = [{"id": "d1", "text": "Hallo "}, {"id": "d2", "text": "Doppelt"}, {"id": "d3", "text": "Doppelt"}]
    rows_tgt = [{"id": "e1", "text": "Hello"}, {"id": "e2", "text": "Twice"}]
    mined = [("Hallo", "Hello", 1.2), ("Doppelt", "Twice", 1.1)]  # a sentence that repeats has no id: dropped
    assert retrieval.candidates_to_ids(mined, rows_src, rows_tgt) == {("d1", "e1"): 1.2}


def test_bucc_score_chooses_the_threshold_on_calibration(paper_dir):
    bucc = get_task("bucc")
    rows = bucc.rows("test", "de", data_dir=paper_dir)
    preds, refs, scores = retrieval.score(bucc, rows, F.lookup_encoder(F.BUCC_VECTORS), "de",
                                          **retrieval.support(bucc, "de", paper_dir))
    # calibration gold is de-1/en-1 only: the cut falls between 10/7 and 1.3483 (test and calibration embed alike);
    # on test de-2/en-2 (1.3483) is gold but below it -> P 1, R 1/2
    assert scores["threshold"] == approx((10 / 7 + 0.8 / ((0.4 + 2.36 / 3) / 2)) / 2)
    assert {k: scores[k] for k in ("f1", "precision", "recall")} == approx({"f1": 200 / 3, "precision": 100.0, "recall": 50.0})
    assert preds == [["en-1"], [], [], [], []] and refs == [["en-1"], ["en-2"], [], [], []]
    with pytest.raises(DataError, match="calibration rows"):
        retrieval.score(bucc, rows, F.lookup_encoder(F.BUCC_VECTORS), "de")


def test_lareqa_map_at_20_by_hand(paper_dir):
    lareqa = get_task("lareqa")
    rows = lareqa.rows("test", "en", data_dir=paper_dir)
    preds, refs, scores = retrieval.score(lareqa, rows, F.lookup_encoder(F.LAREQA_VECTORS), "en",
                                          **retrieval.support(lareqa, "en", paper_dir))
    # alpha question: 10 alpha sentences first; German's ("Alfa", embedded opposite) ranks 22nd, outside the top
    # 20 -> AP = 10 / min(11, 20). Beta question: its 11 answers first -> AP = 1.
    assert scores == {"map@20": approx((10 / 11 + 1) / 2 * 100)}
    assert len(preds[0]) == 20 and "de_1_0" in refs[0] and "de_1_0" not in preds[0]


def test_mewslix_mrr_by_hand(paper_dir):
    mewslix = get_task("mewslix")
    rows = mewslix.rows("test", "de", data_dir=paper_dir)
    assert retrieval.mewslix_query_text(rows[1]) == "Berlin: Later (they) went to { Berlin } today."
    preds, refs, scores = retrieval.score(mewslix, rows, F.lookup_encoder(F.MEWSLIX_VECTORS), "de",
                                          **retrieval.support(mewslix, "de", paper_dir))
    # Paris -> Q1 first (1); Berlin -> Bonn (cos .996) before Berlin (.981): 1/2
    assert preds[1][:2] == ["Q3", "Q2"] and refs == [["Q1"], ["Q2"]]
    assert scores == {"map@20": approx(75.0)}


def test_pool_is_encoded_once_per_cache(paper_dir):
    mewslix = get_task("mewslix")
    calls = []
    base = F.lookup_encoder(F.MEWSLIX_VECTORS)

    def encode(texts):
        calls.append(len(texts))
        return base(texts)

    cache: dict = {}
    for lang in ("de", "en"):
        retrieval.score(mewslix, mewslix.rows("test", lang, data_dir=paper_dir), encode, lang, cache=cache,
                        **retrieval.support(mewslix, lang, paper_dir))
    assert calls == [4, 2, 2]  # the 4 entities once, then each language's 2 mentions


def test_tatoeba_scores_as_before(data_dir):
    """retrieval.score gives the numbers Evaluator._score computed inline: both directions, cosine argmax."""
    from modxfer.model.inference import retrieval_predictions

    rows = get_task("tatoeba").rows("test", "deu", data_dir=data_dir)[:50]
    gen = torch.Generator().manual_seed(0)
    table = {t: torch.randn(8, generator=gen) for r in rows for t in (r["source"], r["target"])}
    encode = lambda texts: torch.stack([table[t] for t in texts])  # noqa: E731
    preds, gold, scores = retrieval.score("tatoeba", rows, encode, "deu")
    src, tgt = encode([r["source"] for r in rows]), encode([r["target"] for r in rows])
    fwd, back = retrieval_predictions(src, tgt), retrieval_predictions(tgt, src)
    assert preds == fwd and gold == list(range(50))
    assert scores == {"accuracy": approx(sum(p == i for i, p in enumerate(fwd)) * 2.0),
                      "accuracy_en_to_xx": approx(sum(p == i for i, p in enumerate(back)) * 2.0)}


# --------------------------------------------------------------------------- noise keeps labels valid


def test_noise_on_the_new_row_kinds_keeps_labels(paper_dir):
    spec = "typo:0.5"
    for row in get_task("bucc").rows("test", "de", data_dir=paper_dir):
        out = perturb_example(row, "retrieval", spec, seed=0, lang="de")
        assert (out["id"], out["side"], out["gold"]) == (row["id"], row["side"], row["gold"])
        assert (out["text"] != row["text"]) == (row["side"] == "source")  # the English corpus is the index
    q = get_task("lareqa").rows("test", "de", data_dir=paper_dir)[0]
    out = perturb_example(q, "retrieval", spec, seed=0, lang="de")
    assert out["question"] != q["question"] and out["xling_id"] == q["xling_id"]
    for m in get_task("mewslix").rows("test", "de", data_dir=paper_dir):
        out = perturb_example(m, "retrieval", spec, seed=1, lang="de")
        start = out["mention_start"]
        assert out["context"] != m["context"] and out["context"][start:start + len(m["mention_text"])] == m["mention_text"]
        assert out["entity_id"] == m["entity_id"]
    qa = get_task("tydiqa").rows("test", "ar", data_dir=paper_dir)[0]
    out = perturb_example(qa, "extractive_qa", spec, seed=0, lang="ar")
    s = out["answers"]["answer_start"][0]
    assert out["context"][s:s + len("Cairo")] == "Cairo"
    with pytest.raises(DataError, match="none of the query fields"):
        perturb_example({"id": "x", "foo": "bar"}, "retrieval", spec, seed=0, lang="de")


# --------------------------------------------------------------------------- composition targets, end to end


def _paper_mnli(root):
    rows = [{"premise": f"A person {i} walks in the park.", "hypothesis": f"Someone {i} is outside.",
             "label": ["entailment", "neutral", "contradiction"][i % 3]} for i in range(96)]
    for rel, part in (("train.jsonl", rows[:80]), ("dev_matched.jsonl", rows[80:])):
        path = root / "en_intermediate/mnli" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(r) + "\n" for r in part), encoding="utf-8")


def test_each_new_target_as_a_composition_target(paper_dir, tiny_base, tmp_path):
    from modxfer.composition import Composition
    from modxfer.evaluation.evaluator import Evaluator
    from modxfer.model.inference import embed
    from modxfer.training import TrainSettings, train

    _paper_mnli(paper_dir)
    store = tmp_path / "store"
    budget = dict(examples=32, batch_size=16, epochs=1.0, precision="fp32", base=tiny_base)
    inter = train("mnli", data_dir=paper_dir, store=store, progress=False, **budget)
    assert inter.card["data"]["profile"] == "paper"  # the card says which data produced it (and so does the key)
    ev = Evaluator(tiny_base, precision="fp32", store=store, data_dir=paper_dir)
    for target in ("xquad", "tydiqa"):
        art = train(target, on=["mnli"], data_dir=paper_dir, store=store, progress=False, **budget)
        assert art.card["depends_on"] == [inter.key]
        res = ev.evaluate(f"mnli>{target}", languages="all", noise=["clean", "typo:0.2"], progress=False,
                          train_examples=32, batch_size=16, epochs=1.0)
        assert {r["lang"] for r in res.rows} == set(get_task(target).languages(paper_dir))
        assert all(0 <= r["metrics"]["f1"] <= 100 and r["metric"] == "f1" for r in res.rows)
    settings = TrainSettings(**{**budget, "examples": 32})
    for target in ("bucc", "lareqa", "mewslix"):
        task = get_task(target)
        comp = Composition.parse(f"mnli>{target}")
        model, _ = ev.model_for(comp, ev.artifacts_for(comp, settings))
        encode = lambda texts: embed(model, texts, tokenizer=ev.bb.tokenizer, precision="fp32")  # noqa: E731
        lang = task.languages(paper_dir)[0]
        rows = task.rows("test", lang, data_dir=paper_dir)
        preds, refs, scores = retrieval.score(task, rows, encode, lang, **retrieval.support(task, lang, paper_dir))
        assert len(preds) == len(refs) == len(rows)
        primary = "f1" if target == "bucc" else "map@20"
        assert 0 <= scores[primary] <= 100, (target, scores)
        # and through the Evaluator, as sweeps run it: the same score, recomputed exactly from per-example outcomes
        from modxfer.scoring.outcomes import rescore

        res = ev.evaluate(f"mnli>{target}", languages=[lang], noise=["clean"], progress=False, train_examples=32,
                          batch_size=16, epochs=1.0)
        (row,) = res.rows
        assert row["metrics"][primary] == pytest.approx(scores[primary], abs=1e-3)
        assert rescore(row["outcomes"]) == pytest.approx(row["metrics"][primary], abs=1e-3)  # rows keep 4 decimals
