"""Metrics against hand-computed expectations (XTREME's official scoring rules)."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
from seqeval.metrics import f1_score as seqeval_f1

from modxfer.scoring import metrics
from modxfer.errors import ConfigError, DataError, ModxferError, UnknownLanguageError

approx = pytest.approx


# --------------------------------------------------------------------------- accuracy / retrieval


def test_accuracy_is_percent_of_exact_label_matches():
    preds = ["entailment", "neutral", "contradiction"]
    gold = ["entailment", "contradiction", "contradiction"]
    assert metrics.score_kind("accuracy", preds, gold) == {"accuracy": approx(200 / 3)}


def test_accuracy_multiple_choice_indices():
    # XCOPA-style choice indices: 3 of 4 right.
    assert metrics.score_kind("accuracy", [0, 1, 1, 0], [0, 1, 0, 0])["accuracy"] == 75.0


def test_retrieval_accuracy_accepts_numpy_indices():
    preds = np.array([0, 1, 5, 3, 7])
    gold = [0, 2, 5, 3, 4]
    assert metrics.score_kind("retrieval", preds, gold) == {"accuracy": 60.0}


def test_retrieval_rejects_non_integer_indices():
    with pytest.raises(DataError, match=r"predictions\[1\]"):
        metrics.score_kind("retrieval", [0, 1.0], [0, 1])
    with pytest.raises(DataError, match="integer"):
        metrics.score_kind("retrieval", ["0"], [0])


@pytest.mark.parametrize("kind", ["accuracy", "retrieval"])
def test_length_mismatch_and_empty_inputs_are_user_errors(kind):
    with pytest.raises(DataError, match="2 predictions but 3 references"):
        metrics.score_kind(kind, [0, 1], [0, 1, 2])
    with pytest.raises(DataError, match="empty"):
        metrics.score_kind(kind, [], [])


# --------------------------------------------------------------------------- tagging (seqeval)


def test_panx_micro_f1_over_sentences_with_leading_i_and_wrong_type():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"], ["O", "O"]]
    pred = [["I-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "O"], ["O", "B-LOC"]]
    # gold entities: PER(0-1), LOC(3), ORG(s2) = 3. Predicted: PER(0-1) (default mode lets a sentence
    # start with I-), ORG(3) wrong type, ORG(s2) right, LOC(s3) spurious = 4. Correct: 2.
    # P = 2/4, R = 2/3, F1 = 2PR/(P+R) = 4/7.
    out = metrics.score_kind("seqeval", pred, gold)
    assert out == {"f1": approx(400 / 7), "precision": approx(50.0), "recall": approx(200 / 3)}
    assert out["f1"] == approx(seqeval_f1(gold, pred) * 100)


def test_type_change_inside_entity_splits_it():
    # B-PER I-LOC is read as PER(0) + LOC(1); neither equals gold PER(0-1).
    out = metrics.score_kind("seqeval", [["B-PER", "I-LOC", "O"]], [["B-PER", "I-PER", "O"]])
    assert out == {"f1": 0.0, "precision": 0.0, "recall": 0.0}


def test_entities_do_not_continue_across_sentences():
    # A sentence-initial I-PER opens a new entity, so B-PER in its place is equally right.
    gold = [["O", "B-PER"], ["I-PER", "O"]]
    pred = [["O", "B-PER"], ["B-PER", "O"]]
    assert metrics.score_kind("seqeval", pred, gold)["f1"] == 100.0


def test_all_o_scores_zero_not_an_error():
    # No entities anywhere: seqeval (and so XTREME) reports 0, not 100.
    assert metrics.score_kind("seqeval", [["O", "O"]], [["O", "O"]]) == {
        "f1": 0.0,
        "precision": 0.0,
        "recall": 0.0,
    }
    # Predicting nothing when there is an entity: precision 0 (0/0), recall 0/1.
    assert metrics.score_kind("seqeval", [["O", "O"]], [["B-PER", "O"]])["f1"] == 0.0


def test_upos_runs_of_the_same_tag_are_one_chunk():
    gold = [["DET", "NOUN", "NOUN", "VERB", "PUNCT"]]
    pred = [["DET", "NOUN", "VERB", "VERB", "PUNCT"]]
    # Token accuracy would be 80%. seqeval chunks: gold DET(0) NOUN(1-2) VERB(3) PUNCT(4);
    # pred DET(0) NOUN(1) VERB(2-3) PUNCT(4). Shared: DET(0), PUNCT(4) -> 2/4 both ways.
    assert metrics.score_kind("seqeval", pred, gold) == {"f1": 50.0, "precision": 50.0, "recall": 50.0}


def test_upos_sconj_and_cconj_share_a_chunk_type():
    # seqeval reads "SCONJ" as S-tag of type "CONJ" and "CCONJ" as tag C of type "CONJ": same chunk.
    out = metrics.score_kind("seqeval", [["SCONJ", "PRON"]], [["CCONJ", "PRON"]])
    assert out["f1"] == 100.0


def test_upos_sentence_final_x_is_invisible():
    # "X" has type "_" like the "O" that ends a sentence, so a final X chunk never closes and is
    # dropped. Gold chunks: NOUN(0) only. Pred: NOUN(0), VERB(1). P = 1/2, R = 1/1, F1 = 2/3.
    out = metrics.score_kind("seqeval", [["NOUN", "VERB"]], [["NOUN", "X"]])
    assert out == {"f1": approx(200 / 3), "precision": 50.0, "recall": 100.0}


def test_upos_sym_is_a_singleton_tag():
    # "SYM" starts with S, so two SYMs are two chunks. Gold SYM(0) SYM(1); pred SYM(0) NOUN(1).
    out = metrics.score_kind("seqeval", [["SYM", "NOUN"]], [["SYM", "SYM"]])
    assert out == {"f1": 50.0, "precision": 50.0, "recall": 50.0}


def test_tagging_input_errors():
    with pytest.raises(DataError, match="sentence 1: 1 predicted tags but 2 reference tags"):
        metrics.score_kind("seqeval", [["O"], ["O"]], [["O"], ["O", "O"]])
    with pytest.raises(DataError, match="1 predicted sentences but 2 reference sentences"):
        metrics.score_kind("seqeval", [["O"]], [["O"], ["O"]])
    with pytest.raises(DataError, match="not a tag string"):
        metrics.score_kind("seqeval", [[3]], [["O"]])
    with pytest.raises(DataError, match="is a string"):
        metrics.score_kind("seqeval", ["B-PER O"], [["B-PER", "O"]])


# --------------------------------------------------------------------------- SQuAD v1.1


def test_squad_normalization():
    assert metrics.normalize_squad_answer("The  Eiffel-Tower!") == "eiffeltower"
    # Articles only as whole words; "theatre" keeps its "the".
    assert metrics.normalize_squad_answer("Theatre of the Absurd") == "theatre of absurd"
    # Only ASCII punctuation: guillemets survive.
    assert metrics.normalize_squad_answer("«Paris»") == "«paris»"


def test_squad_em_f1_max_over_golds_and_unanswered_counts_as_zero():
    preds = {"q1": "the Eiffel Tower.", "q2": "Paris, France", "q3": "in 1889"}
    gold = {
        "q1": ["Eiffel Tower"],  # EM 1, F1 1
        "q2": ["France", "Paris"],  # EM 0; F1 vs either: P 1/2, R 1 -> 2/3
        "q3": ["1889", "in 1889 AD"],  # EM 0; F1 max(2/3, P 1 R 2/3 -> 4/5) = 4/5
        "q4": ["Gustave Eiffel"],  # no prediction: 0
    }
    out = metrics.score_kind("squad", preds, gold)
    assert out == {"exact_match": 25.0, "f1": approx(100 * (1 + 2 / 3 + 4 / 5) / 4)}


def test_squad_answers_that_normalize_to_nothing():
    # "the" and "a" both normalise to "": exact match, but F1 has no common token.
    assert metrics.score_kind("squad", {"q": "the"}, {"q": ["a"]}) == {"exact_match": 100.0, "f1": 0.0}


def test_squad_keeps_unicode_punctuation_where_mlqa_drops_it():
    preds, gold = {"q": "«Paris»"}, {"q": ["Paris"]}
    assert metrics.score_kind("squad", preds, gold) == {"exact_match": 0.0, "f1": 0.0}
    assert metrics.score_kind("mlqa", preds, gold, lang="en") == {"exact_match": 100.0, "f1": 100.0}


def test_qa_input_errors():
    with pytest.raises(DataError, match=r"not in the references: 'q9'"):
        metrics.score_kind("squad", {"q9": "x"}, {"q1": ["x"]})
    with pytest.raises(DataError, match="empty"):
        metrics.score_kind("squad", {}, {})
    with pytest.raises(DataError, match="list of gold answer strings"):
        metrics.score_kind("squad", {"q": "x"}, {"q": "x"})
    with pytest.raises(DataError, match="list of gold answer strings"):
        metrics.score_kind("squad", {"q": "x"}, {"q": {"text": ["x"], "answer_start": [0]}})
    with pytest.raises(DataError, match="at least one gold answer"):
        metrics.score_kind("squad", {"q": "x"}, {"q": []})
    with pytest.raises(DataError, match="not answer text"):
        metrics.score_kind("squad", {"q": None}, {"q": ["x"]})
    with pytest.raises(DataError, match="dicts"):
        metrics.score_kind("squad", ["x"], [["x"]])


# --------------------------------------------------------------------------- MLQA


def test_mixed_segmentation_splits_cjk_and_punctuation():
    assert metrics.mixed_segmentation("北京大学abc def") == ["北", "京", "大", "学", "abc", "def"]
    assert metrics.mixed_segmentation("你好，world 2") == ["你", "好", "，", "world", "2"]


def test_mlqa_zh_normalization_and_character_f1():
    # 《》 and 。 are Unicode punctuation; then every Han character is its own token.
    assert metrics.normalize_mlqa_answer("《北京》大学。", "zh") == "北 京 大 学"
    # pred 北京大学 vs gold 北京: 2 common chars, P 2/4, R 2/2 -> F1 2/3.
    preds, gold = {"q": "北京大学"}, {"q": ["北京"]}
    assert metrics.score_kind("mlqa", preds, gold, lang="zh") == {"exact_match": 0.0, "f1": approx(200 / 3)}
    # SQuAD sees one token on each side and no overlap.
    assert metrics.score_kind("squad", preds, gold)["f1"] == 0.0


def test_mlqa_german_and_spanish_articles():
    assert metrics.normalize_mlqa_answer("Die Katze des Nachbarn", "de") == "katze nachbarn"
    assert metrics.normalize_mlqa_answer("„Faust“", "de") == "faust"
    assert metrics.normalize_mlqa_answer("los Estados Unidos", "es") == "estados unidos"
    assert metrics.normalize_mlqa_answer("el elefante", "es") == "elefante"
    assert metrics.normalize_mlqa_answer("«Don Quijote»", "es") == "don quijote"
    # The answer language decides: German articles are words under English rules.
    preds, gold = {"q": "der Hund"}, {"q": ["Hund"]}
    assert metrics.score_kind("mlqa", preds, gold, lang="de") == {"exact_match": 100.0, "f1": 100.0}
    # en: "der hund" vs "hund": P 1/2, R 1 -> 2/3.
    assert metrics.score_kind("mlqa", preds, gold, lang="en") == {"exact_match": 0.0, "f1": approx(200 / 3)}


def test_mlqa_arabic_removes_al_everywhere():
    assert metrics.normalize_mlqa_answer("الكتاب", "ar") == "كتاب"
    # The official pattern strips "ال" inside words too: "بالكتاب" -> "ب كتاب".
    assert metrics.normalize_mlqa_answer("بالكتاب", "ar") == "ب كتاب"
    out = metrics.score_kind("mlqa", {"a": "الكتاب", "b": "بالكتاب"}, {"a": ["كتاب"], "b": ["كتاب"]}, lang="ar")
    # a: EM 1, F1 1. b: EM 0, F1 P 1/2 R 1 -> 2/3.
    assert out == {"exact_match": 50.0, "f1": approx(100 * (1 + 2 / 3) / 2)}


def test_mlqa_hindi_and_vietnamese():
    # Hindi has no articles but the danda is punctuation.
    assert metrics.normalize_mlqa_answer("एक किताब।", "hi") == "एक किताब"
    assert metrics.normalize_mlqa_answer("Cái bàn của tôi", "vi") == "bàn tôi"


def test_mlqa_multiple_questions_and_golds():
    preds = {"1": "el río Amazonas", "2": "1500", "3": "Pedro Álvares Cabral"}
    gold = {
        "1": ["río Amazonas"],  # EM 1
        "2": ["en 1500", "el año 1500"],  # EM 0; F1 max(P1 R1/2 -> 2/3, vs "año 1500" P1 R1/2 -> 2/3)
        "3": ["Cabral"],  # EM 0; P 1/3 R 1 -> 1/2
        "4": ["Brasil"],  # unanswered
    }
    out = metrics.score_kind("mlqa", preds, gold, lang="es")
    assert out == {"exact_match": 25.0, "f1": approx(100 * (1 + 2 / 3 + 1 / 2) / 4)}


def test_mlqa_needs_a_known_language():
    with pytest.raises(UnknownLanguageError, match="no language"):
        metrics.score_kind("mlqa", {"q": "x"}, {"q": ["x"]})
    with pytest.raises(UnknownLanguageError, match="'fr'"):
        metrics.normalize_mlqa_answer("le chat", "fr")


MLQA_DIR = Path(os.environ.get("MODXFER_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data")) / "mlqa"


@pytest.mark.skipif(not MLQA_DIR.is_dir(), reason="MLQA data not available")
@pytest.mark.parametrize("lang", ["en", "de", "es", "zh"])
def test_mlqa_gold_answers_score_100_on_real_data(lang):
    data = json.loads((MLQA_DIR / f"dev-context-{lang}-question-{lang}.json").read_text(encoding="utf-8"))
    gold = {
        qa["id"]: [a["text"] for a in qa["answers"]]
        for article in data["data"]
        for para in article["paragraphs"]
        for qa in para["qas"]
    }
    preds = {qid: answers[0] for qid, answers in gold.items()}
    # One Spanish gold answer is just "una": it normalises to "", an exact match with F1 0.
    article_only = {"es": 1}.get(lang, 0)
    assert metrics.score_kind("mlqa", preds, gold, lang=lang) == {
        "exact_match": 100.0,
        "f1": approx(100.0 * (len(gold) - article_only) / len(gold)),
    }
    # Half unanswered: exactly half the score.
    half = dict(list(preds.items())[: len(preds) // 2])
    assert metrics.score_kind("mlqa", half, gold, lang=lang)["exact_match"] == approx(
        100.0 * (len(preds) // 2) / len(gold)
    )


# --------------------------------------------------------------------------- registry


def test_kinds_and_primary():
    assert set(metrics.METRIC_KINDS) == {"accuracy", "seqeval", "squad", "mlqa", "retrieval", "bucc", "map@20"}
    assert {k: metrics.primary(k) for k in metrics.METRIC_KINDS} == {
        "accuracy": "accuracy",
        "seqeval": "f1",
        "squad": "f1",
        "mlqa": "f1",
        "retrieval": "accuracy",
        "bucc": "f1",
        "map@20": "map@20",
    }
    # The headline value is always one of the returned keys.
    assert "f1" in metrics.METRIC_KINDS["squad"]({"q": "x"}, {"q": ["x"]})


def test_unknown_kind_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown metric kind 'bleu'") as err:
        metrics.score_kind("bleu", [1], [1])
    assert isinstance(err.value, ModxferError) and "seqeval" in err.value.fix
    with pytest.raises(ConfigError):
        metrics.primary("bleu")


def test_score_resolves_the_task_metric():
    from modxfer.errors import UnknownTaskError
    from modxfer.tasks import TASKS

    assert all(t.metric in metrics.METRIC_KINDS for t in TASKS.values())
    assert metrics.score("xnli", ["neutral", "neutral"], ["neutral", "entailment"]) == {"accuracy": 50.0}
    assert metrics.score("panx", [["B-LOC", "O"]], [["B-LOC", "O"]])["f1"] == 100.0
    assert metrics.score("mlqa", {"q": "der Hund"}, {"q": ["Hund"]}, lang="de")["exact_match"] == 100.0
    assert metrics.score("tatoeba", [2, 0], [2, 1]) == {"accuracy": 50.0}
    # XQuAD and TyDiQA-GoldP use the SQuAD v1.1 script (XTREME's squad_em_f1), whatever the language.
    assert metrics.score("xquad", {"q": "the Normandy"}, {"q": ["Normandy"]}) == {"exact_match": 100.0, "f1": 100.0}
    assert metrics.score("tydiqa", {"q": "Kairo city"}, {"q": ["Kairo"]})["f1"] == approx(200 / 3)
    assert metrics.score("bucc", [("d1", "e1")], [("d1", "e1"), ("d2", "e2")])["f1"] == approx(200 / 3)
    assert metrics.score("mewslix", [["Q2", "Q1"]], [["Q1"]]) == {"map@20": 50.0}
    with pytest.raises(UnknownTaskError):
        metrics.score("nope", [1], [1])



# --------------------------------------------------------------------------- BUCC, LAReQA, Mewsli-X


def test_bucc_f1_counts_mined_pairs_as_sets():
    gold = ["de-1\ten-1", "de-2\ten-2", "de-3\ten-3", "de-4\ten-4"]  # XTREME's "src<TAB>trg" lines work too
    mined = [("de-1", "en-1"), ("de-2", "en-9"), ("de-3", "en-3"), ("de-3", "en-3")]  # a duplicate counts once
    # correct 2 of 3 distinct mined pairs, of 4 gold: P = 2/3, R = 1/2, F1 = 2PR/(P+R) = 4/7
    out = metrics.score_kind("bucc", mined, gold)
    assert out == {"f1": approx(400 / 7), "precision": approx(200 / 3), "recall": approx(50.0)}
    assert metrics.bucc_f1([], gold) == {"f1": 0.0, "precision": 0.0, "recall": 0.0}  # nothing mined
    with pytest.raises(DataError, match="not a .source id, target id. pair"):
        metrics.bucc_f1([("de-1",)], gold)
    with pytest.raises(DataError, match="no gold pair"):
        metrics.bucc_f1(mined, set())


def test_average_precision_at_k_by_hand():
    # gold {a, c, e}; ranked a x c y e: hits at 1, 3, 5 -> (1/1 + 2/3 + 3/5) / 3
    assert metrics.average_precision_at_k({"a", "c", "e"}, list("axcye"), 20) == approx((1 + 2 / 3 + 3 / 5) / 3)
    # cut at k=3: hits at 1 and 3 over min(3, 3) gold
    assert metrics.average_precision_at_k({"a", "c", "e"}, list("axcye"), 3) == approx((1 + 2 / 3) / 3)
    # a repeated prediction is not a new hit; the divisor is min(#gold, k)
    assert metrics.average_precision_at_k({"a", "b"}, list("aab"), 2) == approx(1 / 2)
    assert metrics.average_precision_at_k(set("abcd"), list("ab"), 2) == approx(1.0)


def _xtreme_mewslix_mrr(golds, predictions, k=20):
    """utils_mewslix.mean_reciprocal_rank on the top k, as XTREME's evaluate() calls it."""
    rrs = []
    for gold, preds in zip(golds, predictions):
        labels = [int(p == gold) for p in preds[:k]]
        rrs.append(next((1.0 / r for r, lab in enumerate(labels, 1) if lab), 0.0))
    return sum(rrs) / len(rrs)


def test_map_at_20_equals_mewslix_mrr_with_one_gold():
    rng = np.random.default_rng(0)
    golds = [f"Q{rng.integers(30)}" for _ in range(200)]
    preds = [[f"Q{i}" for i in rng.permutation(30)[:25]] for _ in golds]
    ours = metrics.score_kind("map@20", preds, [[g] for g in golds])["map@20"]
    assert ours == approx(_xtreme_mewslix_mrr(golds, preds) * 100)
    # by hand: ranks 1, 2 and beyond 20 -> (1 + 1/2 + 0) / 3
    hand = metrics.map_at_k([["a"], ["x", "b"], [f"z{i}" for i in range(20)] + ["c"]], [["a"], ["b"], ["c"]])
    assert hand == {"map@20": approx(50.0)}


def test_map_input_errors():
    with pytest.raises(DataError, match="no gold candidate"):
        metrics.map_at_k([["a"]], [[]])
    with pytest.raises(DataError, match="lists of ids"):
        metrics.map_at_k(["abc"], [["a"]])
    with pytest.raises(DataError, match="1 predictions but 2 references"):
        metrics.map_at_k([["a"]], [["a"], ["b"]])


# --------------------------------------------------------------------------- the evaluate interface


def test_xtreme_metrics_through_evaluate(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_EVALUATE_OFFLINE", "1")
    monkeypatch.setenv("HF_MODULES_CACHE", str(tmp_path / "modules"))
    from modxfer.scoring import xtreme_metric

    panx = xtreme_metric.load("panx", cache_dir=str(tmp_path))
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"], ["O", "O"]]
    pred = [["I-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "O"], ["O", "B-LOC"]]
    for p, g in zip(pred, gold):  # streamed one example at a time, as evaluate allows
        panx.add(prediction=p, reference=g)
    assert panx.compute() == metrics.score("panx", pred, gold)
    xquad = xtreme_metric.load("xquad", cache_dir=str(tmp_path))
    out = xquad.compute(predictions=[{"id": "a", "prediction_text": "the Normandy"}, {"id": "b", "prediction_text": "x"}],
                        references=[{"id": "a", "answers": {"text": ["Normandy"], "answer_start": [3]}},
                                    {"id": "b", "answers": {"text": ["y z"], "answer_start": [0]}}])
    assert out == {"exact_match": 50.0, "f1": 50.0}
    bucc = xtreme_metric.load("bucc", cache_dir=str(tmp_path))
    out = bucc.compute(predictions=[{"id": "d1", "partners": ["e1"]}, {"id": "d2", "partners": []}],
                       references=[{"id": "d1", "partners": ["e1"]}, {"id": "d2", "partners": ["e2"]}])
    assert out["f1"] == approx(200 / 3)
    mlqa = xtreme_metric.load("mlqa", cache_dir=str(tmp_path))
    de = mlqa.compute(predictions=[{"id": "q", "prediction_text": "der Hund"}],
                      references=[{"id": "q", "answers": {"text": ["Hund"], "answer_start": [0]}}], lang="de")
    assert de["exact_match"] == 100.0
