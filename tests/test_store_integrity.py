"""Issue 25 (1): weights are part of an artifact's identity in the store.

A key hashes a training request, not weights, so a zoo can ship the genuine card beside other weights. These tests
replay the poisoning sequence of the issue on the tiny backbone (one mnli adapter trained once, seconds): NaN weights
are refused at install, other finite weights under a genuine card are installed (nothing can tell) but the genuine
entry afterwards is refused naming the mismatch and replaces it with --force, and a stored copy changed after it was
recorded is never reused by `train` or `evaluate`. Then a Hypothesis fuzz of install -> train -> evaluate with hostile
entries and tampered stores.
"""
from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from safetensors.numpy import load_file, save_file

from modxfer.store import artifacts as art
from modxfer.store import checksums
from modxfer.store import zoo as Z
from modxfer.errors import ModxferError
from modxfer.io import sha256_file
from modxfer_cli.main import cli

FAST = dict(examples=48, batch_size=16, epochs=1.0, precision="fp32")
FAST_CLI = ["--examples", "48", "--batch-size", "16", "--epochs", "1", "--precision", "fp32", "--quiet"]
WEIGHTS = "adapter/adapter.safetensors"


@pytest.fixture(scope="module")
def genuine(tiny_base, data_dir, tmp_path_factory):
    """A zoo with one genuinely trained mnli adapter, and the store it was trained in."""
    from modxfer.training import train

    store = tmp_path_factory.mktemp("trained")
    a = train("mnli", base=tiny_base, store=store, data_dir=data_dir, progress=False, **FAST)
    root = tmp_path_factory.mktemp("genuine-zoo")
    return root, Z.publish(a.path, root, store=store), a


def _hostile(genuine, dest, how: str, rel: str = WEIGHTS):
    """A copy of the genuine zoo whose entry carries other weights under the genuine card, checksums made to agree
    (what a hostile zoo ships)."""
    root, entry, _ = genuine
    shutil.copytree(root, dest, ignore=shutil.ignore_patterns(".modxfer*"))
    path = dest / entry.path / rel
    tensors = load_file(str(path))
    rng = np.random.default_rng(len(how))
    for k in sorted(tensors):
        t = tensors[k]
        if how == "nan":
            t = t.copy()
            t.flat[0] = np.nan
        elif how == "inf":
            t = t.copy()
            t.flat[-1] = np.inf
        elif how == "other":  # finite weights of the right shapes: nothing but the checksums tells them apart
            t = rng.standard_normal(t.shape).astype(t.dtype)
        tensors[k] = t
    save_file(tensors, str(path))
    idx = json.loads((dest / "index.json").read_text())
    for e in idx["entries"]:
        if e["name"] == entry.name:
            e["files"][rel] = sha256_file(path)
            e["size_bytes"] = sum((dest / e["path"] / r).stat().st_size for r in e["files"])
    (dest / "index.json").write_text(json.dumps(idx))
    return dest


def _install(name, zoo, store, base, *extra):
    res = CliRunner().invoke(cli, ["zoo", "install", name, "--zoo", str(zoo), "--store", str(store), "--base", base,
                                   *extra])
    return res, " ".join(res.output.split())


def _train(store, base, data_dir):
    res = CliRunner().invoke(cli, ["train", "mnli", "--store", str(store), "--base", base, "--data-dir",
                                   str(data_dir), *FAST_CLI])
    return res, " ".join(res.output.split())


def _stored(store, key):
    return {rel: sha256_file(p) for rel in (WEIGHTS, "head/model_head.safetensors")
            for p in [art.path_for(store, "mnli", key) / rel]}


def test_issue25_the_poisoning_sequence_ends_with_the_genuine_adapter(genuine, tiny_base, data_dir, tmp_path):
    root, entry, trained = genuine
    store = tmp_path / "store"
    # 1. The genuine card with NaN weights: refused, nothing stored.
    res, out = _install(entry.name, _hostile(genuine, tmp_path / "nan", "nan"), store, tiny_base)
    assert res.exit_code == 2 and "non-finite" in out and "fix:" in out and "Traceback" not in res.output, out
    assert not art.path_for(store, "mnli", entry.key).exists()
    # 2. The genuine card with other finite weights: installs (a key names a request, not weights)...
    res, out = _install(entry.name, _hostile(genuine, tmp_path / "other", "other"), store, tiny_base)
    assert res.exit_code == 0, out
    # 3. ...but the genuine entry is not silently taken for it: the mismatch is named, with the fix.
    res, out = _install(entry.name, root, store, tiny_base)
    assert res.exit_code == 2 and "Traceback" not in res.output, out
    assert "other weights than zoo entry" in out and WEIGHTS in out and f"zoo install {entry.name} --force" in out
    res, out = _install(entry.name, root, store, tiny_base, "--force")
    assert res.exit_code == 0, out
    assert _stored(store, entry.key) == {r: entry.files[r] for r in _stored(store, entry.key)}
    # 4. train reuses the genuine adapter (its validation score, not the hostile card's).
    res, out = _train(store, tiny_base, data_dir)
    assert res.exit_code == 0 and str(art.path_for(store, "mnli", entry.key)) in out, out
    # 5. A stored copy changed since it was recorded is never reused, by train or evaluate.
    weights = art.path_for(store, "mnli", entry.key) / WEIGHTS
    tensors = load_file(str(weights))
    k = sorted(tensors)[0]
    tensors[k] = tensors[k] * 2  # finite, loadable, same shapes: only the record tells
    save_file(tensors, str(weights))
    res, out = _train(store, tiny_base, data_dir)
    assert res.exit_code == 2 and "was recorded when it was stored" in out and "--force" in out, out
    res = CliRunner().invoke(cli, ["evaluate", "mnli>tatoeba", "--languages", "deu", "--store", str(store), "--base",
                                   tiny_base, "--data-dir", str(data_dir), "--eval-examples", "8", *FAST_CLI])
    assert res.exit_code == 2 and "was recorded when it was stored" in " ".join(res.output.split()), res.output
    # 6. Re-installing repairs a damaged copy that came from a zoo.
    res, out = _install(entry.name, root, store, tiny_base)
    assert res.exit_code == 0 and _stored(store, entry.key)[WEIGHTS] == entry.files[WEIGHTS], out


def test_issue25_infinite_weights_are_refused_at_install_and_at_load(genuine, tiny_base, tmp_path):
    root, entry, _ = genuine
    res, out = _install(entry.name, _hostile(genuine, tmp_path / "inf", "inf", "head/model_head.safetensors"),
                        tmp_path / "s", tiny_base)
    assert res.exit_code == 2 and "non-finite" in out and "model_head.safetensors" in out, out
    # in a store (written before this check, or by hand): the load refuses it too
    a = Z.install(entry.name, root, store=tmp_path / "s2")
    tensors = load_file(str(a.path / WEIGHTS))
    k = sorted(tensors)[0]
    tensors[k] = np.full_like(tensors[k], np.nan)
    save_file(tensors, str(a.path / WEIGHTS))
    card = json.loads((a.path / "card.json").read_text())
    card["checksums"][WEIGHTS] = sha256_file(a.path / WEIGHTS)  # the record agrees: only the values give it away
    (a.path / "card.json").write_text(json.dumps(card))
    with pytest.raises(ModxferError, match="non-finite"):
        art.find(tmp_path / "s2", "mnli", a.key)


def test_issue25_checksums_are_recorded_at_save_and_install_and_verified_cheaply(genuine, tmp_path, monkeypatch):
    root, entry, trained = genuine
    assert trained.card["checksums"] == Z.weight_files(entry)  # recorded at save, beside the key
    a = Z.install(entry.name, root, store=tmp_path / "s")
    assert a.card["checksums"] == Z.weight_files(entry) and a.key == entry.key  # keys unchanged
    calls = []
    real = checksums.sha256_file
    monkeypatch.setattr(checksums, "sha256_file", lambda p: calls.append(p) or real(p))
    assert art.find(tmp_path / "s", "mnli", a.key) is not None
    assert calls == []  # size, mtime and inode unchanged: not hashed again
    os.utime(a.path / WEIGHTS, ns=(1, 1))
    assert art.find(tmp_path / "s", "mnli", a.key) is not None and [p.name for p in calls] == ["adapter.safetensors"]


def test_an_edit_that_puts_the_mtime_back_is_still_caught(genuine, tmp_path):
    # rsync --inplace -t, or a restore keeping times: same size, mtime and inode; only the ctime tells.
    root, entry, _ = genuine
    a = Z.install(entry.name, root, store=tmp_path / "s")
    assert art.find(tmp_path / "s", "mnli", a.key) is not None  # verified once: the sidecar caches its stamp
    path = a.path / WEIGHTS
    st = os.stat(path)
    weights = load_file(str(path))
    name = next(iter(weights))
    weights[name] = np.full_like(weights[name], 0.5)
    data = bytearray(path.read_bytes())
    fresh = tmp_path / "edited.safetensors"
    save_file(weights, str(fresh))
    with open(path, "r+b") as f:  # in place: the inode and the size stay
        f.write(fresh.read_bytes())
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(path).st_size == len(data) and os.stat(path).st_mtime_ns == st.st_mtime_ns
    with pytest.raises(ModxferError, match="was recorded when it was stored"):
        art.find(tmp_path / "s", "mnli", a.key)


def test_non_finite_values_are_found_in_tensors_read_a_slice_at_a_time(tmp_path, monkeypatch):
    monkeypatch.setattr(checksums, "CHUNK_VALUES", 1000)  # a small tensor read in many slices
    w = np.zeros((300, 40), np.float32)
    w[299, 39] = np.inf  # in the last slice
    save_file({"w": w, "bias": np.zeros(3, np.float32)}, str(tmp_path / "a.safetensors"))
    with pytest.raises(ModxferError, match="1 non-finite value"):
        checksums.check_finite(tmp_path / "a.safetensors", "test")
    w[299, 39] = 0.0
    save_file({"w": w}, str(tmp_path / "b.safetensors"))
    checksums.check_finite(tmp_path / "b.safetensors", "test")


def test_issue25_older_artifacts_get_their_checksums_on_first_verified_use(genuine, tmp_path):
    """Migration: a local artifact stored before checksums has them recorded on first use; a zoo install is checked
    against the sha256 its provenance recorded."""
    root, entry, _ = genuine
    a = Z.install(entry.name, root, store=tmp_path / "s")
    card = json.loads((a.path / "card.json").read_text())
    del card["checksums"]
    (a.path / "card.json").write_text(json.dumps(card))
    (a.path / checksums.SIDECAR).unlink()
    (a.path / WEIGHTS).write_bytes((a.path / WEIGHTS).read_bytes()[:-4] + b"\0\0\0\0")  # unlike provenance's sha256
    with pytest.raises(ModxferError, match="was recorded when it was stored"):
        art.find(tmp_path / "s", "mnli", a.key)
    shutil.copy(root / entry.path / WEIGHTS, a.path / WEIGHTS)
    del card["provenance"]  # now a local artifact of an older release: trusted and recorded on first use
    (a.path / "card.json").write_text(json.dumps(card))
    assert art.find(tmp_path / "s", "mnli", a.key) is not None
    assert json.loads((a.path / "card.json").read_text())["checksums"] == Z.weight_files(entry)


# ------------------------------------------------------------------------------------------------ the fuzz
ZOOS = ["genuine", "nan", "inf", "other", "other-head"]
STEPS = st.lists(st.one_of(
    st.tuples(st.just("install"), st.sampled_from(ZOOS), st.booleans()),
    st.tuples(st.just("tamper"), st.sampled_from(["flip", "nan", "other", "touch", "sidecar", "card-checksums"])),
), min_size=1, max_size=5)


@pytest.fixture(scope="module")
def zoos(genuine, tmp_path_factory):
    base = tmp_path_factory.mktemp("zoos")
    out = {"genuine": genuine[0]}
    for how, rel in (("nan", WEIGHTS), ("inf", WEIGHTS), ("other", WEIGHTS),
                     ("other-head", "head/model_head.safetensors")):
        out[how] = _hostile(genuine, base / how, how.split("-")[0], rel)
    return out


def _tamper(path, how):
    weights = path / WEIGHTS
    if how == "flip":
        data = bytearray(weights.read_bytes())
        data[-1] ^= 1
        weights.write_bytes(bytes(data))
    elif how in ("nan", "other"):
        t = load_file(str(weights))
        k = sorted(t)[0]
        t[k] = np.full_like(t[k], np.nan) if how == "nan" else t[k] + 1
        save_file(t, str(weights))
    elif how == "touch":
        os.utime(weights)
    elif how == "sidecar":
        (path / checksums.SIDECAR).write_text('{"adapter/adapter.safetensors": [0, 0, 0, "' + "0" * 64 + '"]}')
    elif how == "card-checksums":  # a record that lies: the sidecar must not vouch for files it does not match
        card = json.loads((path / "card.json").read_text())
        card["checksums"][WEIGHTS] = "f" * 64
        (path / "card.json").write_text(json.dumps(card))


@settings(max_examples=int(os.environ.get("MODXFER_FUZZ_EXAMPLES", "25")), deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(steps=STEPS)
def test_issue25_fuzz_install_train_evaluate_never_uses_weights_the_store_did_not_record(
        genuine, zoos, tiny_base, data_dir, tmp_path_factory, steps):
    from modxfer.evaluation.evaluator import Evaluator
    from modxfer.training import train

    _, entry, _ = genuine
    store = tmp_path_factory.mktemp("fuzz")
    path = art.path_for(store, "mnli", entry.key)
    for step in steps:
        try:
            if step[0] == "install":
                Z.install(entry.name, zoos[step[1]], store=store, force=step[2])
            elif path.exists():
                _tamper(path, step[1])
        except ModxferError:
            pass  # a clean refusal; anything else fails the test
    try:
        found = art.find(store, "mnli", entry.key)
    except ModxferError:
        found = None  # refused: the mismatch is named, nothing is used
    event("refused" if found is None else "reused and evaluated")
    if found is None:
        return
    # What the store hands out matches its record byte for byte, and holds finite weights only.
    for rel, digest in found.card["checksums"].items():
        assert sha256_file(found.path / rel) == digest, rel
        if rel.endswith(".safetensors"):
            assert all(np.isfinite(v).all() for v in load_file(str(found.path / rel)).values()), rel
    again = train("mnli", base=tiny_base, store=store, data_dir=data_dir, progress=False, **FAST)
    assert again.path == found.path and again.card["checksums"] == found.card["checksums"]  # reused, not retrained
    ev = Evaluator(tiny_base, store=store, data_dir=data_dir, precision="fp32")
    rows = ev.evaluate("mnli>tatoeba", languages="deu", examples=8, progress=False, train_examples=48, batch_size=16,
                       epochs=1.0).rows
    assert rows and all(np.isfinite(r["score"]) for r in rows)
