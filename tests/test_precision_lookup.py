"""An artifact is found wherever it can run: the same training request made in fp32 on one machine and looked up in
bf16 on another (``--precision auto`` picks per CPU or GPU) is the same model, evaluated in the precision at hand."""
import logging

import pytest

from modxfer.evaluation import Evaluator
from modxfer.training import train

FAST = dict(examples=16, epochs=1.0, batch_size=8)


@pytest.mark.parametrize("trained, evaluated", [("fp32", "bf16"), ("bf16", "fp32")])
def test_an_artifact_trained_in_one_precision_is_evaluated_in_the_other(trained, evaluated, tiny_base, data_dir,
                                                                       tmp_path, caplog):
    store = tmp_path / "store"
    a = train("xnli", base=tiny_base, store=store, data_dir=data_dir, progress=False, precision=trained, **FAST)
    assert a.card["precision"] == trained  # recorded on the card; the lookup below does not require it
    with caplog.at_level(logging.WARNING, logger="modxfer.evaluation.evaluator"):
        res = Evaluator(tiny_base, store=store, data_dir=data_dir, precision=evaluated).evaluate(
            "xnli", languages="de", examples=8, progress=False, train_examples=16, epochs=1.0, batch_size=8)
    assert res.rows and all(r["precision"] == evaluated for r in res.rows)  # the precision it ran in
    assert f"found it trained in {trained}; evaluating it in {evaluated}" in caplog.text


def test_to_pandas_gives_scores_and_outcomes_come_apart(tiny_base, data_dir, tmp_path):
    store = tmp_path / "store"
    train("xnli", base=tiny_base, store=store, data_dir=data_dir, progress=False, **FAST)
    res = Evaluator(tiny_base, store=store, data_dir=data_dir).evaluate(
        "xnli", languages="de,hi", examples=8, progress=False, train_examples=16, epochs=1.0, batch_size=8)
    scores = res.to_pandas()
    assert len(scores) == 2 and "outcomes" not in scores.columns and "accuracy" in scores.columns
    per_example = res.outcomes()
    assert len(per_example) == 16 and set(per_example["lang"]) == {"de", "hi"}
    assert per_example.groupby("lang")["correct"].mean().mul(100).round(6).to_dict() == \
        {r["lang"]: round(r["score"], 6) for r in res.rows}  # the examples give back each cell's score
