"""End-to-end on the embedded multilingual-e5-small: real model, real data, a few dozen examples."""

import pytest

from modxfer.evaluation.evaluator import Evaluator
from modxfer.training import train

pytestmark = pytest.mark.e2e

TINY_BUDGET = dict(examples=32, batch_size=16, epochs=1.0)


def test_tatoeba_retrieval_with_mean_pooling_is_strong(data_dir):
    """Issue 2's bar: English-to-X retrieval >= 0.85 for deu, fra, spa, rus, cmn with the bare backbone."""
    res = Evaluator("embedded").evaluate("tatoeba", languages="deu,fra,spa,rus,cmn", progress=False)
    scores = {r["lang"]: r["metrics"]["accuracy_en_to_xx"] for r in res.rows}
    assert all(r["n"] == 800 for r in res.rows)
    assert min(scores.values()) >= 85.0, scores
    assert min(r["metrics"]["accuracy"] for r in res.rows) >= 85.0


def test_train_stack_and_evaluate_zero_shot(data_dir, tmp_path):
    # fp32 on every CPU: `auto` picks bf16 on an AVX512-BF16 machine, and there, at this tiny budget, the model-guided
    # and the random attack left exactly the same average (29.2 each; the stack's validation 32.2 was below its floor
    # of 35.4), so the comparison below said nothing. Pinned, the test means the same on every machine.
    store = tmp_path / "store"
    inter = train("mnli", store=store, progress=False, precision="fp32", **TINY_BUDGET)
    target = train("xnli", on=["mnli"], store=store, progress=False, precision="fp32", **TINY_BUDGET)
    assert target.card["depends_on"] == [inter.key]
    assert target.card["base"]["model_id"].startswith("intfloat/multilingual-e5-small")
    noise = ["clean", "typo:0.1", "adversarial:2", "adversarial:2,search=random"]
    res = Evaluator("embedded", store=store, precision="fp32").evaluate(
        "mnli>xnli", languages="en,de,hi", noise=noise, examples=24, progress=False, train_examples=32, batch_size=16,
        epochs=1.0, precision="fp32")
    assert [(r["lang"], r["noise"]) for r in res.rows][:3] == [("en", "clean"), ("de", "clean"), ("hi", "clean")]
    assert all(0 <= r["score"] <= 100 and r["n"] == 24 for r in res.rows)
    # Issue 4: the model-guided attack hurts more than the same number of edits placed at random.
    assert res.average("adversarial:2") < res.average("adversarial:2,search=random")
    assert res.average("adversarial:2") < res.average("clean")
