"""The model-in-the-loop attack on a real (tiny) composition: budget, determinism, and what it reports."""
import math
import random

import pytest

from modxfer.errors import ModxferError
from modxfer.noise.attack import CANDIDATES, attack, candidates, run_attack, word_candidates
from modxfer.noise.scripts import graphemes

N = 24


def _levenshtein(a: list[str], b: list[str]) -> int:
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


@pytest.fixture(scope="module")
def setup(tiny_base, data_dir, tmp_path_factory):
    from modxfer.evaluation.evaluator import Evaluator
    from modxfer.tasks import get_task
    from modxfer.training import train

    store = tmp_path_factory.mktemp("store")
    train("xnli", base=tiny_base, examples=64, store=store, data_dir=data_dir, progress=False, precision="fp32")
    ev = Evaluator(tiny_base, store=store, data_dir=data_dir, precision="fp32")
    from modxfer.composition import Composition
    from modxfer.training import TrainSettings

    comp = Composition.parse("xnli")
    pieces = ev.artifacts_for(comp, TrainSettings(examples=64, base=tiny_base, precision="fp32"))
    model, head = ev.model_for(comp, pieces)
    task = get_task("xnli")
    rows = task.load("test", "de", data_dir=data_dir, limit=N).to_list()
    return ev, model, head, task, rows


def test_budget_respected_and_scores_consistent(setup):
    ev, model, head, task, rows = setup
    res = run_attack(ev, model, head, task, rows, "adversarial:budget=2", seed=0, lang="de", candidates_per_step=8)
    assert len(res.rows) == len(rows)
    for orig, new, n_edits, n_q in zip(rows, res.rows, res.edits, res.queries):
        assert n_edits <= 2 and n_q <= 1 + 2 * 8
        assert new["label"] == orig["label"] and new["id"] == orig["id"]
        dist = sum(_levenshtein(graphemes(orig[k]), graphemes(new[k])) for k in ("text_a", "text_b"))
        assert dist <= 2 * n_edits  # one edit is one grapheme change (a transposition counts 2 here)
        assert (dist == 0) == (n_edits == 0)
    s = res.scores
    assert s["accuracy"] <= s["clean_accuracy"]
    correct = [p == r for p, r in zip(res.clean_preds, res.refs)]
    assert res.attacked == correct  # only originally-correct examples are attacked
    after = [p == r for p, r in zip(res.preds, res.refs)]
    assert all(a or not b for a, b in zip(correct, after))  # wrong stays wrong: their inputs are not touched
    flipped = sum(c and not a for c, a in zip(correct, after))
    if any(correct):
        assert s["attack_success_rate"] == pytest.approx(100.0 * flipped / sum(correct))
        assert s["clean_accuracy"] - s["accuracy"] == pytest.approx(100.0 * flipped / len(rows))
    assert s["queries_per_example"] == pytest.approx(sum(res.queries) / len(rows))


def test_deterministic_and_independent_of_batch(setup):
    ev, model, head, task, rows = setup
    rows = rows[:12]
    a = run_attack(ev, model, head, task, rows, "adversarial:3", seed=1, lang="de", candidates_per_step=6)
    b = run_attack(ev, model, head, task, rows, "adversarial:budget=3", seed=1, lang="de", candidates_per_step=6)
    assert a.rows == b.rows and a.preds == b.preds and a.scores == b.scores
    # Each example is attacked on its own: the same example alone gives the same attacked text.
    i = next(k for k, e in enumerate(a.edits) if e)
    alone = run_attack(ev, model, head, task, [rows[i]], "adversarial:3", seed=1, lang="de", candidates_per_step=6)
    assert alone.rows[0] == a.rows[i]
    c = run_attack(ev, model, head, task, rows, "adversarial:3", seed=2, lang="de", candidates_per_step=6)
    assert c.rows != a.rows


def test_attack_hook_and_budget_zero(setup):
    ev, model, head, task, rows = setup
    preds, refs, scores = attack(ev, model, head, task, rows[:6], "adversarial:budget=0", seed=0, lang="de")
    assert scores["accuracy"] == scores["clean_accuracy"]
    assert scores["queries_per_example"] == 1.0 and scores["edits_per_example"] == 0.0
    assert len(preds) == len(refs) == 6


def test_evaluator_runs_adversarial_setting(setup, tiny_base, data_dir):
    ev = setup[0]
    res = ev.evaluate("xnli", languages="de", noise="clean,adversarial:budget=1", examples=8, train_examples=64,
                      progress=False)
    clean, adv = res.rows
    assert adv["noise"] == "adversarial:1"
    assert adv["metrics"]["clean_accuracy"] == pytest.approx(clean["score"])
    assert adv["score"] <= clean["score"]
    assert adv["metrics"]["queries_per_example"] <= 1 + CANDIDATES


def test_retrieval_is_a_clear_error(setup):
    ev, model, head, _, _ = setup
    from modxfer.tasks import get_task

    with pytest.raises(ModxferError, match="retrieval"):
        run_attack(ev, model, head, get_task("tatoeba"), [{"id": "x", "source": "a", "target": "b"}],
                   "adversarial:1", seed=0, lang="deu")
    with pytest.raises(ModxferError, match="adversarial"):
        run_attack(ev, model, head, setup[3], setup[4], "typo:0.1", seed=0, lang="de")


def test_candidates_are_single_script_aware_edits():
    rng = random.Random(0)
    texts = ["कुत्ता बगीचे में सो रहा है।", "Der Hund"]
    cands = candidates(texts, rng, 20, "hi")
    assert len(cands) == 20 and len({tuple(c) for c in cands}) == 20
    for c in cands:
        changed = [k for k in range(2) if c[k] != texts[k]]
        assert len(changed) == 1
        k = changed[0]
        assert _levenshtein(graphemes(texts[k]), graphemes(c[k])) <= 2
    # A one-letter tagging token never loses its letter.
    for c in candidates(["a"], random.Random(1), 10, "en", keep_one=True):
        assert c[0] and c[0].strip()
    assert candidates(["123 !!"], random.Random(0), 5, "en") == []


def test_tagging_and_qa_label_preservation():
    from modxfer.noise.attack import _slots

    row = {"id": "q", "question": "Wer?", "context": "Der Hund schläft im Garten.",
           "answers": {"text": ["Hund"], "answer_start": [4]}}
    texts, rebuild = _slots(row, "extractive_qa")
    assert texts == ["Wer?", "Der ", " schläft im Garten."]
    new = rebuild(["Wer?", "Dder ", " schläft im Garten."])
    s = new["answers"]["answer_start"][0]
    assert new["context"][s:s + 4] == "Hund" and s == 5
    tag = {"id": "t", "tokens": ["Der", "Hund"], "tags": ["O", "O"]}
    texts, rebuild = _slots(tag, "tagging")
    assert rebuild(["Dxr", "Hund"])["tokens"] == ["Dxr", "Hund"] and not math.isnan(len(texts))


def _word_diff(a: str, b: str) -> int:
    from modxfer.noise.segment import segment_words

    return _levenshtein(segment_words(a)[0], segment_words(b)[0])


def test_word_candidates_edit_one_word_of_one_text():
    lexicon = {"Hund": "dog", "Garten": "garden", "狗": "dog"}
    texts = ["Der Hund schläft im Garten.", "Ein Tier."]
    cands = word_candidates(texts, random.Random(0), 30, "de", lexicon=lexicon)
    assert len(cands) == 30 and len({tuple(c) for c in cands}) == 30
    seen_translation = False
    for c in cands:
        changed = [k for k in range(2) if c[k] != texts[k]]
        assert len(changed) == 1
        k = changed[0]
        # drop/duplicate/translate/misspell change one word; a swap of neighbours is two substitutions.
        assert 1 <= _word_diff(texts[k], c[k]) <= 2
        seen_translation |= "dog" in c[k].lower() or "garden" in c[k].lower()
        assert c[k].strip()
    assert seen_translation
    # No lexicon: never a translation. A one-word text never loses its word.
    for c in word_candidates(["Hund"], random.Random(3), 10, "de"):
        assert c[0] and "dog" not in c[0]
    # Han is split per character and a spaced translation is set off with spaces.
    zh = word_candidates(["我的狗在睡觉"], random.Random(1), 40, "zh", lexicon=lexicon)
    assert any(" dog " in c[0] for c in zh)
    assert word_candidates(["!!! ..."], random.Random(0), 5, "en") == []


def test_word_candidates_for_tagging_keep_one_word_per_token():
    tokens = ["Angela", "Merkel", "besucht", "Paris", "."]
    lexicon = {"besucht": "visits", "Merkel": "two words"}
    cands = word_candidates(tokens, random.Random(2), 20, "de", tagging=True, lexicon=lexicon)
    assert any(c[2] == "visits" for c in cands)
    for c in word_candidates(tokens, random.Random(2), 20, "de", tagging=True, lexicon=lexicon):
        assert len(c) == len(tokens)
        changed = [i for i in range(len(tokens)) if c[i] != tokens[i]]
        assert len(changed) == 1 and c[changed[0]].strip()
        assert c[changed[0]] != "two words"  # never a multi-word translation: it would split the token
        assert c[4] == "."


def test_word_attack_on_the_model(setup):
    from modxfer.noise import set_lexicon

    ev, model, head, task, rows = setup
    set_lexicon("de", {"nicht": "not", "und": "and", "der": "the", "die": "the", "ist": "is"})
    res = run_attack(ev, model, head, task, rows[:12], "adversarial:2,unit=words", seed=0, lang="de",
                     candidates_per_step=6)
    for orig, new, n in zip(rows, res.rows, res.edits):
        assert n <= 2
        dist = sum(_word_diff(orig[k], new[k]) for k in ("text_a", "text_b"))
        assert dist <= 2 * n and (dist == 0) == (n == 0)
    assert res.scores["accuracy"] <= res.scores["clean_accuracy"]
    assert res.scores["lexicon_entries"] == 5.0  # the registered lexicon was used (its 5 words)


def test_random_search_is_the_same_budget_without_the_model(setup):
    ev, model, head, task, rows = setup
    rows = rows[:12]
    res = run_attack(ev, model, head, task, rows, "adversarial:2,search=random", seed=0, lang="de")
    # Every example gets exactly `budget` random edits, whether or not it was right, and costs 2 queries.
    assert res.edits == [2] * len(rows) and res.queries == [2] * len(rows)
    for orig, new in zip(rows, res.rows):
        dist = sum(_levenshtein(graphemes(orig[k]), graphemes(new[k])) for k in ("text_a", "text_b"))
        assert 1 <= dist <= 4
    again = run_attack(ev, model, head, task, rows, "adversarial:budget=2,search=random", seed=0, lang="de")
    assert again.rows == res.rows and again.scores == res.scores
    greedy = run_attack(ev, model, head, task, rows, "adversarial:2", seed=0, lang="de")
    assert greedy.rows != res.rows
    # The same example alone is perturbed the same way (no dependence on its neighbours).
    assert run_attack(ev, model, head, task, rows[3:4], "adversarial:2,search=random", seed=0,
                      lang="de").rows[0] == res.rows[3]


@pytest.mark.parametrize("task_name,lang", [("panx", "de"), ("mlqa", "de"), ("xcopa", "tr")])
@pytest.mark.parametrize("spec", ["adversarial:2", "adversarial:2,unit=words", "adversarial:2,search=random"])
def test_attack_keeps_labels_valid_for_every_head(tiny_base, data_dir, tmp_path_factory, task_name, lang, spec):
    from modxfer.composition import Composition
    from modxfer.evaluation.evaluator import Evaluator
    from modxfer.noise import set_lexicon
    from modxfer.tasks import get_task
    from modxfer.training import TrainSettings, train

    store = tmp_path_factory.mktemp(f"store-{task_name}")
    train(task_name, base=tiny_base, examples=32, store=store, data_dir=data_dir, progress=False, precision="fp32",
          batch_size=16, epochs=1.0)
    ev = Evaluator(tiny_base, store=store, data_dir=data_dir, precision="fp32")
    comp = Composition.parse(task_name)
    pieces = ev.artifacts_for(comp, TrainSettings(examples=32, base=tiny_base, precision="fp32", batch_size=16,
                                                  epochs=1.0))
    model, head = ev.model_for(comp, pieces)
    task = get_task(task_name)
    rows = task.load("test", lang, data_dir=data_dir, limit=6).to_list()
    set_lexicon(lang, {"die": "the", "der": "the", "und": "and", "bir": "one", "ve": "and"})
    res = run_attack(ev, model, head, task, rows, spec, seed=0, lang=lang, candidates_per_step=4)
    assert len(res.rows) == len(rows) and all(e <= 2 for e in res.edits)
    for orig, new in zip(rows, res.rows):
        if task.head == "tagging":
            assert len(new["tokens"]) == len(orig["tokens"]) and new["tags"] == orig["tags"]
            assert all(t and not any(c.isspace() for c in t) for t in new["tokens"])
        elif task.head == "extractive_qa":
            for text, start in zip(new["answers"]["text"], new["answers"]["answer_start"]):
                assert new["context"][start:start + len(text)] == text
            assert new["answers"]["text"] == orig["answers"]["text"]
        else:
            assert new["label"] == orig["label"] and new["question"] == orig["question"]
            assert len(new["choices"]) == len(orig["choices"])
    if task.head == "extractive_qa" and "random" not in spec:
        # Each returned prediction is the model's answer for the returned (attacked) text, not a sibling candidate's.
        from modxfer.noise.attack import _Scorer

        scorer = _Scorer(ev, model, head, task)
        assert [scorer([r])[1][0] for r in res.rows] == [res.preds[r["id"]] for r in rows]
    from modxfer.scoring import metrics

    primary = metrics.primary(task.metric)
    if "random" not in spec and task.head != "tagging":  # entity F1 is not monotone in correct tags
        assert res.scores[primary] <= res.scores[f"clean_{primary}"]
    assert any(new != orig for orig, new in zip(rows, res.rows)) or not any(res.attacked)
