"""Long training batches run in parts: the parts fit the token budget, and their weighted gradients are the batch's."""

import pytest
import torch

import modxfer.training as training
from modxfer.model.batching import loss_units, micro_batches
from modxfer.model.features import featurize, length
from modxfer.model.forward import Forward
from modxfer.model.modeling import add_head, backbone, fresh_model
from modxfer.tasks import get_task


def _padded(part, lengths):
    return len(part) * max(lengths[i] for i in part)


def test_a_batch_that_fits_stays_whole():
    lengths = [10, 9, 8, 7]
    assert micro_batches([0, 1, 2, 3], lengths, 40) == [[0, 1, 2, 3]]
    assert micro_batches([0, 1, 2, 3], lengths, None) == [[0, 1, 2, 3]]
    assert micro_batches([2], lengths, 1) == [[2]]  # one example cannot be cut, whatever its length


@pytest.mark.parametrize("budget", [64, 100, 130, 257])
def test_parts_fit_keep_order_and_are_the_fewest(budget):
    lengths = [64, 60, 58, 41, 40, 33, 20, 20, 19, 5, 3, 1]
    batch = [3, 0, 7, 1, 11, 2, 5, 9, 4, 6, 8, 10]
    parts = micro_batches(batch, lengths, budget)
    assert [i for p in parts for i in p] == batch  # every example once, in the batch's order
    assert all(_padded(p, lengths) <= budget for p in parts)
    assert max(len(p) for p in parts) - min(len(p) for p in parts) <= 1  # near-equal
    if len(parts) > 1:  # one part fewer, cut the same way, would not fit
        import numpy as np

        fewer = np.array_split(np.asarray(batch), len(parts) - 1)
        assert max(_padded(list(p), lengths) for p in fewer) > budget


def test_loss_units():
    assert loss_units({"input_ids": [0, 5, 2], "labels": 1}) == 1
    assert loss_units({"input_ids": [[0, 5, 2], [0, 6, 2]], "labels": 0}) == 1
    assert loss_units({"input_ids": [0, 5, 6, 7, 2], "labels": [-100, 3, -100, 4, -100]}) == 2
    assert loss_units({"input_ids": [0, 2], "labels": [-100, -100]}) == 0
    assert loss_units({"input_ids": [0, 5, 2], "labels": -100}) == 0  # ignored by the loss as well
    assert loss_units({"input_ids": [0, 5, 2], "start_positions": 1, "end_positions": 1}) == 1  # QA: per window


def _trainable(bb, task, feats):
    """The tiny backbone with a head "h", every weight trainable, dropout off; a plain forward; prepared features."""
    model = fresh_model(bb)
    add_head(model, task, "h")
    model.active_head = "h"
    model.requires_grad_(True).eval()
    fwd = Forward.plain(bb.tokenizer.pad_token_id)
    return model, fwd, fwd.prepare(feats)


@pytest.mark.parametrize("task_name", ["xnli", "udpos-en", "squad", "siqa"])
def test_parts_give_the_whole_batch_loss_and_gradient(tiny_base, data_dir, task_name):
    """Dropout off: gradients accumulated part by part, weighted by loss units, equal the whole batch's."""
    bb = backbone(tiny_base)
    task = get_task(task_name)
    rows = task.load("train", "en", data_dir=data_dir, limit=12).to_list()
    feats = featurize(task, rows, bb.tokenizer, 64, train=True)[:12]
    units = [loss_units(f) for f in feats]
    if task_name == "udpos-en":
        assert len(set(units)) > 1  # unequal units per sentence: a plain mean over parts would be wrong
    model, fwd, prepared = _trainable(bb, task, feats)
    idx = list(range(len(feats)))

    def grads(parts):
        model.zero_grad(set_to_none=True)
        loss, tokens = training.backward(fwd, model, prepared, "h", parts, units)
        return loss, tokens, [p.grad.clone() for p in model.parameters() if p.grad is not None]

    whole_loss, whole_tokens, whole = grads([idx])
    lengths = [length(f) for f in feats]
    parts = micro_batches(idx, lengths, 2 * max(lengths))
    assert len(parts) >= 4
    part_loss, part_tokens, split = grads(parts)
    assert part_loss == pytest.approx(whole_loss, rel=1e-5)
    assert part_tokens == whole_tokens
    assert len(split) == len(whole)
    for a, b in zip(whole, split):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-6)


def test_training_runs_long_batches_in_parts_and_records_the_budget(tiny_base, tmp_path, monkeypatch):
    cut = []

    def spy(batch, lengths, max_tokens):
        parts = micro_batches(batch, lengths, max_tokens)
        cut.append(len(parts))
        return parts

    monkeypatch.setattr(training, "micro_batches", spy)
    monkeypatch.setattr(training, "MICRO_BATCH_TOKENS", 32)  # every batch of the tiny task runs in parts
    a = training.train("mnli", base=tiny_base, store=tmp_path / "s", progress=False, examples=48, batch_size=16,
                       epochs=1.0)
    assert len(cut) == 3 and min(cut) > 1
    assert a.card["steps"] == 3 and a.card["micro_batch_tokens"] == 32
    assert a.card["final_loss"] > 0


def test_parts_without_a_labelled_unit_add_nothing(tiny_base, data_dir):
    bb = backbone(tiny_base)
    task = get_task("udpos-en")
    rows = task.load("train", "en", data_dir=data_dir, limit=4).to_list()
    feats = featurize(task, rows, bb.tokenizer, 64, train=True)[:4]
    for f in feats[:2]:
        f["labels"] = [-100] * len(f["labels"])  # nothing to learn from: its mean loss would be NaN
    units = [loss_units(f) for f in feats]
    model, fwd, prepared = _trainable(bb, task, feats)
    loss, tokens = training.backward(fwd, model, prepared, "h", [[0, 1]], units)
    assert (loss, tokens) == (0.0, 0) and all(p.grad is None for p in model.parameters())
    loss, _ = training.backward(fwd, model, prepared, "h", [[0, 1], [2, 3]], units)
    assert loss == loss and loss > 0  # finite: only the labelled part counted
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
