"""The frozen trunk: cached lower-layer states give the same logits as the whole encoder, and any change of what
determines them misses the cache."""

from __future__ import annotations

import torch

from modxfer.model.features import featurize
from modxfer.model.forward import Forward
from modxfer.model.host import host_for
from modxfer.model.inference import predict
from modxfer.model.modeling import backbone
from modxfer.noise import perturb_example
from modxfer.noise.spec import parse_specs
from modxfer.tasks import get_task
from modxfer.training import train
from modxfer.model.trunk import TrunkCache, TrunkEncoder, sequences

import pytest

FAST = dict(examples=48, epochs=1.0, batch_size=16)


@pytest.fixture()
def store(tmp_path):
    return tmp_path / "store"


def _logits(fwd, host, feats, head):
    """Logits per batch; for tagging, padded positions are zeroed (masked everywhere; their states are not cached)."""
    prepared = fwd.prepare(feats)
    out = []
    with torch.no_grad():
        for start in range(0, len(feats), 8):
            idx = list(range(start, min(start + 8, len(feats))))
            inputs = fwd.batch(prepared, idx)
            logits = fwd(host, inputs, head).logits.float()
            if logits.dim() == 3:
                logits = logits * inputs["attention_mask"].unsqueeze(-1)
            out.append(logits)
    return out


def test_cached_trunk_gives_the_logits_of_the_whole_encoder(tiny_base, store, tmp_path):
    for task_name, comp in (("xnli", {"on": ["mnli"]}), ("xcopa", {}), ("panx", {})):
        art = train(task_name, base=tiny_base, store=store, progress=False, precision="fp32", trunk_layers=1,
                    **comp, **FAST)
        assert art.card["trunk_layers"] == 1 and art.card["adapter_config"]["leave_out"] == [0]
        from modxfer.evaluation.evaluator import Evaluator

        ev = Evaluator(tiny_base, precision="fp32", store=store)
        c = art.composition
        host, head = ev.model_for(c, ev.artifacts_for(c, _settings(tiny_base)))
        task = get_task(task_name)
        lang = {"xnli": "de", "xcopa": "it", "panx": "de"}[task_name]
        feats = featurize(task, task.load("test", lang, limit=20).to_list(), ev.bb.tokenizer, 128)
        cache = TrunkCache(tmp_path / "trunk")
        cached = _logits(Forward(ev.bb, 1, "fp32", cache=cache), host, feats, head)
        again = _logits(Forward(ev.bb, 1, "fp32", cache=cache), host, feats, head)  # from disk / memory
        whole = _logits(Forward(ev.bb, 0, "fp32"), host, feats, head)
        assert cache.misses == 1 and cache.hits >= 1
        for a, b, c_ in zip(cached, whole, again):
            assert a.shape == b.shape and torch.allclose(a, b, atol=1e-5, rtol=0), task_name
            assert torch.equal(a, c_)


def _settings(base):
    from modxfer.training import TrainSettings

    return TrainSettings(base=base, precision="fp32", trunk_layers=1, **FAST)


class _Counting(TrunkEncoder):
    calls = 0

    def batches(self, seqs):
        type(self).calls += 1
        return super().batches(seqs)


def test_a_change_of_backbone_tokenizer_setting_noise_seed_or_k_misses_the_cache(tiny_base, tmp_path):
    bb = backbone(tiny_base)
    task = get_task("xnli")
    rows = task.load("test", "de", limit=16).to_list()
    cache = TrunkCache(tmp_path / "trunk")

    def key(rows=rows, max_length=128, layers=1, weights=None):
        enc = TrunkEncoder(bb, layers, "fp32")
        if weights:
            enc.bb = type("B", (), {"weights_hash": weights, "model_id": bb.model_id})()
        return cache.key(enc, sequences(featurize(task, rows, bb.tokenizer, max_length))[0])

    base = key()
    assert key() == base
    assert key(max_length=12) != base
    assert key(layers=0 + 1, weights="0" * 64) != base
    typo = parse_specs("typo:0.3")[0]
    noisy0 = [perturb_example(r, task.head, typo, seed=0, lang="de") for r in rows]
    noisy1 = [perturb_example(r, task.head, typo, seed=1, lang="de") for r in rows]
    assert len({base, key(rows=noisy0), key(rows=noisy1)}) == 3
    # K is part of the key (the tiny backbone has two layers: K = 1 is the only trunk)
    assert TrunkEncoder(bb, 1, "fp32").fingerprint() != TrunkEncoder(bb, 1, "bf16").fingerprint()
    seqs = sequences(featurize(task, rows, bb.tokenizer, 128))[0]
    enc = _Counting(bb, 1, "fp32")
    _Counting.calls = 0
    first = cache.states(enc, seqs)
    fresh = TrunkCache(tmp_path / "trunk")  # another process: the disk entry, not the memory
    second = fresh.states(enc, seqs)
    assert _Counting.calls == 1 and fresh.hits == 1
    assert all(torch.equal(first.sequence(i), second.sequence(i)) for i in range(len(seqs)))


def test_the_cache_is_bounded_least_recently_used_first(tiny_base, tmp_path):
    bb = backbone(tiny_base)
    enc = TrunkEncoder(bb, 1, "fp32")
    task = get_task("xnli")
    root = tmp_path / "trunk"
    sets = [featurize(task, task.load("test", lang, limit=30).to_list(), bb.tokenizer, 128) for lang in ("de", "fr", "es")]
    one = TrunkCache(root).states(enc, sequences(sets[0])[0])
    size = one.flat.nbytes
    cache = TrunkCache(root, budget_gb=(2.5 * size) / 2**30)
    keys = [cache.key(enc, sequences(f)[0]) for f in sets]
    cache.states(enc, sequences(sets[1])[0])
    import os
    import time

    time.sleep(0.01)
    os.utime(root / keys[0] / "meta.json")  # the first set was used again: the second is now the oldest
    cache.states(enc, sequences(sets[2])[0])
    left = {p.name for p in root.iterdir() if not p.name.startswith(".")}
    assert keys[2] in left and keys[0] in left and keys[1] not in left


def test_in_memory_states_equal_the_stored_ones(tiny_base, tmp_path):
    bb = backbone(tiny_base)
    task = get_task("xcopa")
    feats = featurize(task, task.load("test", "it", limit=10).to_list(), bb.tokenizer, 128)
    fwd = Forward(bb, 1, "fp32", cache=TrunkCache(tmp_path / "t"))
    stored, memory = fwd.prepare(feats), fwd.prepare(feats, persist=False)
    a = fwd.batch(stored, list(range(10)))["inputs_embeds"]
    b = fwd.batch(memory, list(range(10)))["inputs_embeds"]
    assert a.shape[:2] == (10, 2) and torch.equal(a, b)


def test_the_host_is_shared_and_predictions_match_a_fresh_load(tiny_base, store):
    art = train("xnli", base=tiny_base, store=store, progress=False, precision="fp32", **FAST)
    from modxfer.evaluation.evaluator import Evaluator

    ev = Evaluator(tiny_base, precision="fp32", store=store)
    host, head = ev.model_for(art.composition, [art])
    assert host is host_for(ev.bb)  # one backbone copy per process, whatever is trained or evaluated
    task = get_task("xnli")
    rows = task.load("test", "de", limit=16).to_list()
    fwd = ev.forward_for(art.card["trunk_layers"])
    before = predict(host, task, rows, head, tokenizer=ev.bb.tokenizer, forward=fwd)
    host.release()
    host2, head2 = ev.model_for(art.composition, [art])
    assert predict(host2, task, rows, head2, tokenizer=ev.bb.tokenizer, forward=fwd) == before


def test_bf16_trunk_runs_and_agrees_with_fp32(tiny_base, store, tmp_path):
    """The bf16 path (trunk weights and cache in bf16, upper layers under autocast) gives the fp32 predictions on
    nearly every example; on CPUs without bf16 kernels it is emulated (slow), so the test is small."""
    art = train("xnli", base=tiny_base, store=store, progress=False, precision="fp32", trunk_layers=1, **FAST)
    from modxfer.evaluation.evaluator import Evaluator

    ev = Evaluator(tiny_base, precision="fp32", store=store)
    host, head = ev.model_for(art.composition, [art])
    task = get_task("xnli")
    rows = task.load("test", "de", limit=24).to_list()
    fp32 = predict(host, task, rows, head, tokenizer=ev.bb.tokenizer,
                   forward=Forward(ev.bb, 1, "fp32", cache=TrunkCache(tmp_path / "a")))
    cache = TrunkCache(tmp_path / "b")
    bf16 = predict(host, task, rows, head, tokenizer=ev.bb.tokenizer, forward=Forward(ev.bb, 1, "bf16", cache=cache))
    meta = next((tmp_path / "b").glob("*/meta.json")).read_text()
    assert '"precision": "bf16"' in meta
    assert sum(a == b for a, b in zip(fp32, bf16)) >= 0.9 * len(rows)
