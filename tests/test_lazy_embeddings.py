"""The frozen vocabulary read row by row: the same numbers as the whole matrix, only the rows used, every path."""

import dataclasses

import pytest
import torch

from modxfer.model import lazy_embeddings as lazy
from modxfer.composition import Composition
from modxfer.errors import AdapterMismatchError
from modxfer.evaluation.evaluator import Evaluator
from modxfer.model.host import host_for, load_model
from modxfer.model.modeling import backbone
from modxfer.training import TrainSettings, load_full_encoder, train
from modxfer.model.trunk import encoder_for

FAST = dict(examples=48, batch_size=16, epochs=1.0)
TEXTS = ["Der Hund schläft im Garten.", "狗在花园里睡觉。 The cat sat on the mat.", "Собака спит в саду."]


def _inputs(bb):
    return bb.tokenizer(TEXTS, padding=True, return_tensors="pt")


def test_rows_are_read_as_used_and_give_the_same_outputs(tiny_base):
    bb = backbone(tiny_base)
    eager, model = load_model(bb.path), load_model(bb.path)
    assert lazy.install(model, bb.path)
    rows = lazy.lazy_rows(model.get_input_embeddings())
    assert not rows.loaded.any()
    enc = _inputs(bb)
    with torch.no_grad():
        got = model.base_model(**enc).last_hidden_state
        want = eager.base_model(**enc).last_hidden_state
    assert torch.equal(got, want)
    used = set(enc["input_ids"].reshape(-1).tolist())
    assert set(torch.nonzero(rows.loaded).reshape(-1).tolist()) == used  # those rows, and no other
    assert torch.equal(rows.materialize(), eager.get_input_embeddings().weight)
    assert not lazy.install(model, bb.path)  # once is enough


def test_install_refuses_what_it_cannot_read_exactly(tiny_base, tmp_path):
    bb = backbone(tiny_base)
    trainable = load_model(bb.path)
    trainable.get_input_embeddings().requires_grad_(True)
    assert not lazy.install(trainable, bb.path)  # a trained matrix is not the file's
    other = load_model(bb.path)
    assert not lazy.install(other, tmp_path)  # no weights file there
    assert lazy.lazy_rows(other.get_input_embeddings()) is None
    changed = load_model(bb.path)
    with torch.no_grad():
        changed.get_input_embeddings().weight[0] += 1.0  # loaded, then changed: no longer the file's rows
    assert not lazy.install(changed, bb.path)


def test_a_model_moved_after_install_fails_loudly(tiny_base):
    bb = backbone(tiny_base)
    model = load_model(bb.path)
    assert lazy.install(model, bb.path)
    model.to(torch.float64)  # the lookup would read a copy the rows are never written to
    with pytest.raises(RuntimeError, match="moved or replaced"):
        model.base_model(**_inputs(bb))


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_the_trunk_shares_the_hosts_rows(tiny_base, precision):
    bb = backbone(tiny_base)
    host = host_for(bb)
    host.release()
    assert lazy.lazy_rows(host.model.get_input_embeddings()) is not None
    trunk = encoder_for(bb, 1, precision).model
    trunk_rows = lazy.lazy_rows(trunk.get_input_embeddings())
    assert trunk_rows is not None
    assert (trunk_rows is lazy.lazy_rows(host.model.get_input_embeddings())) == (precision == "fp32")
    eager = load_model(bb.path).base_model.to(torch.float32 if precision == "fp32" else torch.bfloat16)
    enc = _inputs(bb)
    with torch.no_grad():
        got = trunk(**enc).last_hidden_state
        want = eager(**enc, output_hidden_states=True).hidden_states[1]
    assert torch.equal(got, want)


def test_frozen_full_fine_tuning_saves_and_reloads_the_backbone_rows(tiny_base, tmp_path, monkeypatch):
    """STILTs with frozen word embeddings: the artifact holds the whole matrix, evaluation reads it lazily, and
    predictions are those of a model that loads every weight from the artifact."""
    store = tmp_path / "store"
    a = train("xnli", on=["mnli"], full=True, base=tiny_base, store=store, progress=False, freeze_embeddings=True,
              **FAST)
    settings = TrainSettings(base=tiny_base, freeze_embeddings=True, **FAST)

    def scores():
        ev = Evaluator(tiny_base, store=store)
        res = ev.evaluate("full:mnli>xnli", "xnli", languages=["en", "de"], examples=20, progress=False,
                          train_examples=FAST["examples"], epochs=FAST["epochs"], batch_size=FAST["batch_size"],
                          freeze_embeddings=True)
        model, _ = ev.model_for(Composition.parse("full:mnli>xnli"), ev.artifacts_for(
            Composition.parse("full:mnli>xnli"), settings))
        return [r["score"] for r in res.rows], lazy.lazy_rows(model.get_input_embeddings())

    got, rows = scores()
    assert rows is not None
    monkeypatch.setattr("modxfer.training.install_lazy", lambda *args: False)
    want, eager_rows = scores()
    assert eager_rows is None and got == want
    # a lazy model refuses an artifact whose word embeddings were trained, even if its card claims otherwise
    plain = train("mnli", full=True, base=tiny_base, store=store, progress=False, **FAST)
    model = load_model(backbone(tiny_base).path)
    assert lazy.install(model, backbone(tiny_base).path)
    with pytest.raises(AdapterMismatchError, match="not the backbone's"):
        load_full_encoder(model, plain)
    claims = dataclasses.replace(plain, card={**plain.card, "frozen": ["word_embeddings"]})
    with pytest.raises(AdapterMismatchError, match="not the backbone's"):
        load_full_encoder(model, claims)
    assert a.card["frozen"] == ["word_embeddings"]
    load_full_encoder(model, a)  # the real thing loads


def test_long_runs_of_rows_are_read_in_chunks(tiny_base, monkeypatch):
    monkeypatch.setattr(lazy, "_CHUNK_ROWS", 7)
    bb = backbone(tiny_base)
    eager, model = load_model(bb.path), load_model(bb.path)
    assert lazy.install(model, bb.path)
    rows = lazy.lazy_rows(model.get_input_embeddings())
    rows.fill(torch.arange(3, 40))  # one run of 37 consecutive ids: six reads
    assert rows.loaded[3:40].all() and not rows.loaded[:3].any() and not rows.loaded[40:].any()
    assert torch.equal(rows.materialize(), eager.get_input_embeddings().weight)
