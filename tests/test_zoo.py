"""The adapter zoo on a tiny backbone: publish with dependencies, verify, install, evaluate, refuse bad input.

Tests named ``test_issue13_*`` replay the hostile and careless cases of issue 13 on artifacts built without training
(tests/fakes.py); each failed on the code before the fix.
"""
import json
import os
import pickle
import shutil
import threading

import pytest
from click.testing import CliRunner

from modxfer.store import zoo as Z
from modxfer.errors import AdapterMismatchError, ConfigError, DataError, ModxferError
from modxfer_cli.main import cli

FAST = dict(examples=48, batch_size=16, epochs=1.0, precision="fp32")


@pytest.fixture(scope="module")
def trained(tiny_base, data_dir, tmp_path_factory):
    from modxfer.training import train

    store = tmp_path_factory.mktemp("store")
    target = train("xnli", on=["mnli"], base=tiny_base, store=store, data_dir=data_dir, progress=False, **FAST)
    return store, target


def _evaluate(tiny_base, store, data_dir):
    from modxfer.evaluation.evaluator import Evaluator

    ev = Evaluator(tiny_base, store=store, data_dir=data_dir, precision="fp32")
    return ev.evaluate("mnli>xnli", languages="de", examples=16, progress=False, train_examples=48, batch_size=16,
                       epochs=1.0)


def test_publish_install_and_evaluate_identically(trained, tiny_base, data_dir, tmp_path):
    from modxfer.model.backbone import load_backbone

    store, target = trained
    zoo = tmp_path / "zoo"
    entry = Z.publish(target.key[:12], zoo, store=store)
    names = [e.name for e in Z.read_index(zoo)]
    assert entry.name == f"mnli_xnli-{target.key[:8]}" and len(names) == 2  # the mnli adapter came along
    assert entry.depends_on == (next(n for n in names if n.startswith("mnli-")),)
    card = json.loads((zoo / entry.path / "card.json").read_text())
    assert card["key"] == target.key and all("path" not in d for d in card["dependencies"])
    assert "modxfer zoo install" in (zoo / entry.path / "README.md").read_text()
    assert set(entry.files) >= {"card.json", "adapter/adapter.safetensors", "head/model_head.safetensors"}
    # Publishing again is idempotent.
    assert Z.publish(target.path, zoo, store=store) == entry and len(Z.read_index(zoo)) == 2

    fresh = tmp_path / "fresh-store"
    a = Z.install(entry.name, zoo, store=fresh, backbone=load_backbone(tiny_base))
    assert a.key == target.key and (fresh / "mnli").is_dir()
    # Third-party weights say where they came from; the key (and so every cache and result) is unchanged.
    from modxfer.store import artifacts as art

    prov = art.provenance(a)
    assert prov["source"] == "zoo" and prov["zoo"] == str(zoo.resolve()) and prov["entry"] == entry.name
    assert prov["sha256"]["adapter/adapter.safetensors"] == entry.files["adapter/adapter.safetensors"]
    assert art.key_of_card(a.card) == target.key and art.provenance(target)["source"] == "local"
    # both halves of an artifact's identity: its training request (key) and its weights (one digest of every file)
    from modxfer.store.checksums import weights_digest

    assert prov["key"] == art.provenance(target)["key"] == target.key
    assert prov["weights_sha256"] == art.provenance(target)["weights_sha256"] == weights_digest(entry.files)
    assert _evaluate(tiny_base, fresh, data_dir).rows[0]["score"] == _evaluate(tiny_base, store, data_dir).rows[0]["score"]


def test_install_refuses_tampered_files_and_another_backbone(trained, tmp_path):
    from modxfer.model.backbone import load_backbone

    store, target = trained
    zoo = tmp_path / "zoo"
    entry = Z.publish(target.key[:12], zoo, store=store)
    with pytest.raises(AdapterMismatchError, match="trained on"):
        Z.install(entry.name, zoo, store=tmp_path / "s1", backbone=load_backbone("embedded"))
    weights = zoo / entry.path / "adapter" / "adapter.safetensors"
    weights.write_bytes(weights.read_bytes()[:-8] + b"\0" * 8)
    with pytest.raises(DataError, match="does not match its sha256"):
        Z.install(entry.name, zoo, store=tmp_path / "s2")
    assert not (tmp_path / "s2" / "xnli").exists()  # nothing half-installed
    with pytest.raises(ModxferError, match="no adapter 'nope'"):
        Z.get_entry("nope", zoo)


def test_bad_indexes_and_unsafe_paths(tmp_path):
    (tmp_path / "index.json").write_text("{not json")
    with pytest.raises(DataError, match="not valid JSON"):
        Z.read_index(tmp_path)
    (tmp_path / "index.json").write_text(json.dumps({"format": 1, "entries": [{"name": "x"}]}))
    with pytest.raises(DataError, match="malformed zoo entry"):
        Z.read_index(tmp_path)
    good = dict(name="evil", task="mnli", composition="mnli", kind="target", key="0" * 64, path="../../etc",
                base={}, adapter="seq_bn", metrics={}, training={}, depends_on=[], files={}, size_bytes=0)
    (tmp_path / "index.json").write_text(json.dumps({"format": 1, "entries": [good]}))
    with pytest.raises(DataError, match="unsafe"):
        Z.read_index(tmp_path)
    with pytest.raises(DataError, match="no adapter zoo"):
        Z.read_index(tmp_path / "missing")


def test_full_fine_tuning_is_not_zoo_material(tiny_base, data_dir, tmp_path):
    from modxfer.training import train

    full = train("xnli", full=True, base=tiny_base, store=tmp_path / "s", data_dir=data_dir, progress=False, **FAST)
    with pytest.raises(ModxferError, match="fully fine-tuned"):
        Z.publish(full, tmp_path / "zoo")


def test_cli_publish_list_install_and_pull_errors(trained, tiny_base, tmp_path, monkeypatch):
    store, target = trained
    zoo = tmp_path / "zoo"
    run = CliRunner().invoke
    res = run(cli, ["zoo", "publish", target.key[:10], "--zoo", str(zoo), "--store", str(store)])
    assert res.exit_code == 0 and "published mnli_xnli-" in res.output, res.output
    res = run(cli, ["zoo", "list", "--zoo", str(zoo)], env={"COLUMNS": "250"})
    assert res.exit_code == 0 and "mnli>xnli" in res.output and "2 entries" in res.output
    res = run(cli, ["zoo", "install", f"mnli_xnli-{target.key[:8]}", "--zoo", str(zoo), "--store",
                    str(tmp_path / "s"), "--base", tiny_base])
    assert res.exit_code == 0 and "installed" in res.output, res.output
    # the options that find it again, where they differ from today's defaults (they are part of its key)
    assert '`modxfer evaluate "mnli>xnli" --epochs 1 --examples 48` uses it' in " ".join(res.output.split())
    res = run(cli, ["zoo", "install", "nope", "--zoo", str(zoo)])
    assert res.exit_code == 2 and "no adapter 'nope'" in res.output and "Traceback" not in res.output
    res = run(cli, ["zoo", "pull", "not a repo"])
    assert res.exit_code == 2 and "neither a folder nor a hub repository id" in res.output
    import huggingface_hub.constants

    # The real download path, failing as it does without a network (the library reads the flag at import).
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    res = run(cli, ["zoo", "pull", "someone/modxfer-adapters"])
    assert res.exit_code == 2 and "could not download the zoo" in res.output and "Traceback" not in res.output
    shutil.rmtree(zoo)


def test_the_repository_zoo_verifies():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "adapters_zoo"
    entries = Z.read_index(root)
    assert {e.composition for e in entries} >= {"mnli", "qqp", "siqa", "mnli>xnli"}
    for e in entries:
        Z.verify(e, root)
        assert e.base["model_id"].startswith("intfloat/multilingual-e5-small") and e.adapter == "seq_bn"
        assert all(d in {x.name for x in entries} for d in e.depends_on)


@pytest.mark.e2e
def test_published_adapter_installs_and_evaluates_without_training(data_dir, tmp_path):
    """The repository's mnli>xnli entry installs under the key evaluation computes from the shared data."""
    from pathlib import Path

    from modxfer.model.backbone import load_backbone
    from modxfer.evaluation.evaluator import Evaluator

    root = Path(__file__).resolve().parents[1] / "adapters_zoo"
    entry = next(e for e in Z.read_index(root) if e.composition == "mnli>xnli")
    Z.install(entry.name, root, store=tmp_path, backbone=load_backbone("embedded"))
    # The zoo's adapters were trained in fp32 at batch 32 (the default of their release; their cards say so): say
    # both, or a machine where auto picks bf16 looks for bf16 ones, and today's batch default for batch-16 ones.
    res = Evaluator("embedded", store=tmp_path, data_dir=data_dir, precision="fp32").evaluate(
        "mnli>xnli", languages="en,de", examples=40, progress=False, batch_size=32)
    assert all(r["artifacts"][-1] == entry.key for r in res.rows)
    assert res.average() > 40.0  # trained: well above the 33.3 of 3-way chance


def _rewrite(zoo, fn):
    idx = json.loads((zoo / "index.json").read_text())
    fn(idx["entries"])
    for e in idx["entries"]:  # sizes follow the files, as a hostile publisher would make them
        if isinstance(e, dict) and isinstance(e.get("files"), dict) and isinstance(e.get("path"), str):
            files = [zoo / e["path"] / r for r in e["files"]]
            if all(f.is_file() for f in files):
                e["size_bytes"] = sum(f.stat().st_size for f in files)
    (zoo / "index.json").write_text(json.dumps(idx))


def test_hostile_or_broken_indexes_are_refused(trained, tmp_path):
    store, target = trained
    zoo = tmp_path / "zoo"
    entry = Z.publish(target.key[:12], zoo, store=store)
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("mine")
    # A card that names a task outside the registry must not become a path ("../victim").
    card_file = zoo / entry.path / "card.json"
    card = json.loads(card_file.read_text())
    card_file.write_text(json.dumps({**card, "task": ".."}))

    def fix_sha(entries):
        for e in entries:
            if e["name"] == entry.name:
                e["files"]["card.json"] = __import__("modxfer.io", fromlist=["x"]).sha256_file(card_file)
    _rewrite(zoo, fix_sha)
    with pytest.raises(ModxferError, match="task is '..'"):
        Z.install(entry.name, zoo, store=tmp_path / "store")
    assert (victim / "keep.txt").read_text() == "mine"
    # A card whose training request does not hash to its key (weights planted under someone else's key).
    card_file.write_text(json.dumps({**card, "epochs": 99.0}))
    _rewrite(zoo, fix_sha)
    with pytest.raises(DataError, match="not the hash of the training request"):
        Z.install(entry.name, zoo, store=tmp_path / "store")
    assert not (tmp_path / "store" / "xnli").exists()
    # Dependency cycles and non-weight files.
    # A cycle cannot pass the card check (keys are content hashes), which is what refuses it first.
    card_file.write_text(json.dumps(card))
    _rewrite(zoo, fix_sha)
    _rewrite(zoo, lambda es: [e.update(depends_on=[entry.name]) for e in es if e["name"] == entry.name])
    with pytest.raises(DataError, match="depends_on names the entry itself"):
        Z.install(entry.name, zoo, store=tmp_path / "store")
    _rewrite(zoo, lambda es: es[0]["files"].update({"adapter/pytorch_model.bin": "0" * 64}))
    with pytest.raises(DataError, match=r"files lists \['adapter/pytorch_model.bin'\], which is not safetensors"):
        Z.read_index(zoo)


def test_lookup_by_name_key_or_unique_prefix_and_push_needs_a_zoo(trained, tmp_path):
    store, target = trained
    zoo = tmp_path / "zoo"
    entry = Z.publish(target.key[:12], zoo, store=store)
    assert Z.get_entry(entry.name, zoo) == Z.get_entry(target.key, zoo) == Z.get_entry(target.key[:9], zoo) == entry
    with pytest.raises(ModxferError, match="no adapter"):
        Z.get_entry(target.key[:5], zoo)  # too short to be a key prefix
    (tmp_path / "notazoo").mkdir()
    (tmp_path / "notazoo" / "secret.txt").write_text("x")
    with pytest.raises(DataError, match="not an adapter zoo"):
        Z.push("someone/repo", tmp_path / "notazoo")


# ------------------------------------------------------------------------------ issue 13: publish
from fakes import FakeBackbone, make, snapshot, stack  # noqa: E402

from modxfer.store import artifacts as art  # noqa: E402
from modxfer.io import atomic_dir, file_lock, sha256_file  # noqa: E402


def _fix_sha(zoo, entry_name, rel):
    folder = zoo / Z.get_entry(entry_name, zoo).path
    def fix(e):  # a hostile publisher fixes up the size too: only the content check is left to catch it
        e["files"].update({rel: sha256_file(folder / rel)})
        e["size_bytes"] = sum((folder / r).stat().st_size for r in e["files"])
    _rewrite(zoo, lambda es: [fix(e) for e in es if e["name"] == entry_name])


def test_issue13_publish_cannot_write_or_delete_outside_the_zoo(tmp_path):
    _, target = stack(tmp_path / "store")
    victim = tmp_path / "victim" / "importantdata"
    victim.mkdir(parents=True)
    (victim / "keep.txt").write_text("mine")
    card = json.loads((target.path / "card.json").read_text())
    (target.path / "card.json").write_text(json.dumps({**card, "task": "../../victim", "key": "importantdata"}))
    zoo = tmp_path / "zoo" / "inner"
    before = snapshot(tmp_path, skip=tmp_path / "zoo")
    with pytest.raises(DataError, match="key is 'importantdata'"):
        Z.publish(target.path, zoo)
    assert snapshot(tmp_path, skip=tmp_path / "zoo") == before
    (target.path / "card.json").write_text(json.dumps({**card, "task": "../../victim"}))
    before = snapshot(tmp_path, skip=tmp_path / "zoo")
    with pytest.raises(DataError, match="task is '../../victim'"):
        Z.publish(target.path, zoo)
    assert snapshot(tmp_path, skip=tmp_path / "zoo") == before and (victim / "keep.txt").read_text() == "mine"
    assert Z.read_index(zoo) == []


def test_issue13_publish_copies_only_artifact_files_and_never_follows_symlinks(tmp_path):
    store = tmp_path / "store"
    _, target = stack(store)
    secret = tmp_path / "secret.txt"
    secret.write_text("password")
    (target.path / "notes.txt").write_text("my notes")
    (target.path / ".DS_Store").write_bytes(b"\0\1")
    (target.path / "adapter" / "pytorch_adapter.bin").write_bytes(pickle.dumps({"w": 1}))
    (target.path / "adapter" / "extra.md").symlink_to(secret)
    (target.path / "head" / "sub").symlink_to(tmp_path, target_is_directory=True)
    zoo = tmp_path / "zoo"
    entry = Z.publish(target.path, zoo, store=store)
    assert sorted(entry.files) == ["README.md", "adapter/adapter.safetensors", "adapter/adapter_config.json",
                                   "card.json", "head/head_config.json", "head/model_head.safetensors"]
    published = {p.relative_to(zoo / entry.path).as_posix() for p in (zoo / entry.path).rglob("*") if p.is_file()}
    assert published == set(entry.files)
    assert not any(p.is_symlink() for p in zoo.rglob("*"))
    # The zoo still works: list, install, publish again.
    res = CliRunner().invoke(cli, ["zoo", "list", "--zoo", str(zoo)], env={"COLUMNS": "250"})
    assert res.exit_code == 0 and "2 entries" in res.output, res.output
    assert Z.install(entry.name, zoo, store=tmp_path / "s2").key == target.key
    assert Z.publish(target.path, zoo, store=store) == entry


def test_issue13_publish_refuses_a_weight_file_that_is_a_symlink_or_damaged(tmp_path):
    store = tmp_path / "store"
    _, target = stack(store)
    weights = target.path / "adapter" / "adapter.safetensors"
    real = tmp_path / "real.safetensors"
    shutil.move(weights, real)
    weights.symlink_to(real)
    with pytest.raises(DataError, match="symlink"):
        Z.publish(target.path, tmp_path / "zoo", store=store)
    config = target.path / "head" / "head_config.json"
    shutil.move(config, tmp_path / "config.json")
    config.symlink_to(tmp_path / "config.json")  # a config name the artifact has, pointing anywhere
    weights.unlink()
    shutil.copy(real, weights)
    with pytest.raises(DataError, match="head_config.json is a symlink"):
        Z.publish(target.path, tmp_path / "zoo", store=store)
    config.unlink()
    shutil.copy(tmp_path / "config.json", config)
    weights.unlink()
    weights.write_bytes(pickle.dumps({"w": 1}))
    with pytest.raises(DataError, match="not a readable safetensors file"):
        Z.publish(target.path, tmp_path / "zoo", store=store)
    assert not (tmp_path / "zoo" / "xnli").exists() or not any((tmp_path / "zoo" / "xnli").iterdir())


def test_issue13_publish_never_replaces_a_folder_that_is_not_its_entry(tmp_path):
    store = tmp_path / "store"
    _, target = stack(store)
    zoo = tmp_path / "zoo"
    foreign = zoo / "xnli" / target.key[:20]
    foreign.mkdir(parents=True)
    (foreign / "thesis.tex").write_text("years of work")
    with pytest.raises(ConfigError, match="is not this artifact's zoo entry"):
        Z.publish(target.path, zoo, store=store)
    assert (foreign / "thesis.tex").read_text() == "years of work"
    shutil.rmtree(zoo / "xnli")
    (zoo / "xnli").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (tmp_path / "elsewhere").mkdir()
    with pytest.raises(ConfigError, match="symlink"):
        Z.publish(target.path, zoo, store=store)
    assert not any((tmp_path / "elsewhere").iterdir())


# ------------------------------------------------------------------------------ issue 13: install
@pytest.fixture
def published(tmp_path):
    store = tmp_path / "store"
    inter, target = stack(store)
    zoo = tmp_path / "zoo"
    entry = Z.publish(target.path, zoo, store=store)
    return zoo, entry, target


def test_issue13_install_opens_weights_even_when_the_checksum_was_changed_too(published, tmp_path):
    zoo, entry, _ = published
    weights = zoo / entry.path / "adapter" / "adapter.safetensors"
    good = weights.read_bytes()
    for bad in (good[:-7], pickle.dumps({"weight": [1.0] * 16}), b"\0" * 64):
        weights.write_bytes(bad)
        _fix_sha(zoo, entry.name, "adapter/adapter.safetensors")
        with pytest.raises(DataError, match="not a readable safetensors file"):
            Z.install(entry.name, zoo, store=tmp_path / "s")
        assert not (tmp_path / "s" / "xnli").exists() or not [p for p in (tmp_path / "s" / "xnli").iterdir()
                                                               if not p.name.startswith(".")]


def test_issue13_install_requires_the_files_the_kind_needs(published, tmp_path):
    zoo, entry, _ = published
    _rewrite(zoo, lambda es: [e["files"].pop("adapter/adapter.safetensors") for e in es if e["name"] == entry.name])
    with pytest.raises(DataError, match="does not list adapter/adapter.safetensors"):
        Z.install(entry.name, zoo, store=tmp_path / "s")
    res = CliRunner().invoke(cli, ["zoo", "list", "--zoo", str(zoo)])
    assert res.exit_code == 2 and "does not list adapter/adapter.safetensors" in res.output
    assert "Traceback" not in res.output


def test_issue13_install_uses_the_cards_base_and_dependencies(published, tmp_path):
    zoo, entry, _ = published
    idx = json.loads((zoo / "index.json").read_text())
    # An index that claims another base (to slip past the backbone check) disagrees with the card.
    forged = {"model_id": "mine", "weights_hash": "cd" * 32, "hidden_size": 32}
    _rewrite(zoo, lambda es: [e.update(base=forged) for e in es])
    with pytest.raises(DataError, match="the index says base"):
        Z.install(entry.name, zoo, store=tmp_path / "s", backbone=FakeBackbone(weights_hash="cd" * 32))
    (zoo / "index.json").write_text(json.dumps(idx))
    with pytest.raises(AdapterMismatchError, match="trained on fake/tiny-encoder"):
        Z.install(entry.name, zoo, store=tmp_path / "s", backbone=FakeBackbone(weights_hash="cd" * 32))
    # An index whose dependencies are not the ones the card was trained on.
    other = make(tmp_path / "store", "mnli", seed=7)
    extra = Z.publish(other.path, zoo)
    _rewrite(zoo, lambda es: [e.update(depends_on=[extra.name]) for e in es if e["name"] == entry.name])
    with pytest.raises(DataError, match="not the artifacts its card was trained on"):
        Z.install(entry.name, zoo, store=tmp_path / "s")
    assert not (tmp_path / "s" / "xnli").exists()


@pytest.mark.parametrize("field, value, message", [
    ("base", {"model_id": "m", "weights_hash": "ab" * 32, "hidden_size": float("nan")}, "not acceptable JSON"),
    ("base", {"model_id": "m", "weights_hash": "ab" * 32, "hidden_size": 1e999}, "not acceptable JSON"),
    ("base", {"model_id": "m", "weights_hash": "ab" * 32, "hidden_size": 32.5}, "hidden_size is 32.5"),
    ("name", ["not", "a", "string"], "entry name is ['not', 'a', 'string']"),
    ("name", "../../x", "entry name is '../../x'"),
    ("depends_on", "mnli", "depends_on is 'mnli'"),
    ("files", {"../../etc/passwd": "0" * 64}, "not safetensors weights or JSON configs"),
    ("size_bytes", -1, "size_bytes is -1"),
])
def test_issue13_hostile_index_values_are_clean_refusals(published, tmp_path, field, value, message):
    zoo, entry, _ = published
    idx = json.loads((zoo / "index.json").read_text())
    for e in idx["entries"]:
        if e["name"] == entry.name:
            e[field] = value
    (zoo / "index.json").write_text(json.dumps(idx))  # NaN and 1e999 (inf) written as the literals JSON forbids
    res = CliRunner().invoke(cli, ["zoo", "install", entry.name, "--zoo", str(zoo), "--store", str(tmp_path / "s")])
    assert res.exit_code == 2 and message in res.output and "Traceback" not in res.output, res.output


@pytest.mark.parametrize("raw, message", [
    (b'{"format": 1, "entries": [\xff]}', "not UTF-8 text"),
    (b"[" * 200_000 + b"]" * 200_000, "nested too deeply"),
    (b'{"format": 1, "format": 1, "entries": []}', "duplicate key"),
    (b'{"format": 1, "entries": [' + b"1" * 5000 + b"]}", "not acceptable JSON"),
])
def test_issue13_unreadable_indexes_and_cards_are_messages(published, tmp_path, raw, message):
    zoo, entry, target = published
    index = (zoo / "index.json").read_bytes()
    (zoo / "index.json").write_bytes(raw)
    res = CliRunner().invoke(cli, ["zoo", "install", entry.name, "--zoo", str(zoo), "--store", str(tmp_path / "s")])
    assert res.exit_code == 2 and message in res.output and "Traceback" not in res.output, res.output
    # The same bytes as a card (its checksum fixed up) and as a card in the store.
    (zoo / "index.json").write_bytes(index)
    (zoo / entry.path / "card.json").write_bytes(raw)
    _fix_sha(zoo, entry.name, "card.json")
    with pytest.raises(DataError, match=message):
        Z.install(entry.name, zoo, store=tmp_path / "s")
    (target.path / "card.json").write_bytes(raw)
    with pytest.raises(DataError, match=message):
        art.load(target.path)


def test_issue13_install_reverifies_an_existing_copy(published, tmp_path):
    zoo, entry, target = published
    store = tmp_path / "s"
    a = Z.install(entry.name, zoo, store=store)
    weights = a.path / "adapter" / "adapter.safetensors"
    weights.write_bytes(b"broken")
    assert not art.is_intact(a.path, a.key)
    # A damaged copy that came from a zoo is repaired by installing again.
    a2 = Z.install(entry.name, zoo, store=store)
    assert art.is_intact(a2.path, a2.key) and sha256_file(weights) == entry.files["adapter/adapter.safetensors"]
    # A damaged local artifact is not overwritten silently: --force is the fix, and it works.
    import modxfer.backbone

    (target.path / "adapter" / "adapter.safetensors").write_bytes(b"broken")
    # Training and evaluation find it through the store: a message with the fix, not an OSError while loading.
    with pytest.raises(DataError, match="is damaged: .*not a readable safetensors file"):
        art.find(target.path.parents[1], "xnli", target.key)
    args = ["zoo", "install", entry.name, "--zoo", str(zoo), "--store", str(target.path.parents[1])]
    with pytest.MonkeyPatch.context() as mp:
        # No backbone: the fakes' weights are not loadable adapters, so only the files and cards are checked.
        mp.setattr(modxfer.backbone, "load_backbone", lambda name: None)
        res = CliRunner().invoke(cli, args)
        assert res.exit_code == 2 and "--force" in res.output and "Traceback" not in res.output, res.output
        res = CliRunner().invoke(cli, args + ["--force"])
    assert res.exit_code == 0, res.output
    assert art.is_intact(target.path, target.key) and art.load(target.path).card["provenance"]["source"] == "zoo"


# ------------------------------------------------------------------------------ issue 13: the store
def test_issue13_replacing_an_artifact_is_atomic_for_readers(tmp_path, monkeypatch):
    """After every rename the store makes, the artifact's card is there (a reader can never find it missing)."""
    import modxfer.io as mio
    from fakes import write_files

    store = tmp_path / "store"
    a = make(store, "mnli")
    gaps = []

    def watched(fn):
        def call(*args):
            fn(*args)
            if not (a.path / "card.json").is_file():
                gaps.append(args)
        return call

    monkeypatch.setattr(mio.os, "replace", watched(os.replace))
    monkeypatch.setattr(mio.os, "rename", watched(os.rename))
    for seed in (1, 2):
        art.save(store, a.card, lambda tmp: write_files(tmp, "target", seed), replace=True)
    assert not gaps and art.is_intact(a.path, a.key)
    # The fallback where the system has no atomic swap (two renames) is exactly what readers used to hit.
    monkeypatch.setattr(mio, "_exchange", lambda x, y: False)
    art.save(store, a.card, lambda tmp: write_files(tmp, "target", 3), replace=True)
    assert gaps and art.is_intact(a.path, a.key)


def test_issue13_concurrent_writers_of_one_key_keep_the_first_copy(tmp_path):
    from fakes import card_for, write_files

    store = tmp_path / "store"
    card = card_for("mnli")
    write_files(tmp_path / "second", "target", seed=2)
    second_weights = sha256_file(tmp_path / "second" / "adapter" / "adapter.safetensors")
    inside, release = threading.Event(), threading.Event()
    errors = []

    def slow(tmp):
        write_files(tmp, "target", seed=1)
        inside.set()
        release.wait(10)  # the first writer finishes only after the second has finished

    def first():
        try:
            art.save(store, card, slow)
        except Exception as e:  # noqa: BLE001 - recorded and asserted below
            errors.append(e)

    t = threading.Thread(target=first)
    t.start()
    inside.wait(10)
    done = art.save(store, card, lambda tmp: write_files(tmp, "target", seed=2))
    release.set()
    t.join()
    assert not errors
    # The copy complete first stays; the later identical write is discarded, not swapped in under readers.
    assert sha256_file(done.path / "adapter" / "adapter.safetensors") == second_weights
    assert [p.name for p in (store / "mnli").iterdir() if not p.name.startswith(".modxfer")] == [card["key"][:20]]


def test_issue13_many_writers_of_one_key_never_fail(tmp_path):
    from fakes import card_for, write_files

    store, card, errors = tmp_path / "store", card_for("mnli"), []

    def work(seed):
        for i in range(8):
            try:
                art.save(store, card, lambda tmp: write_files(tmp, "target", seed), replace=bool(i % 2))
            except Exception as e:  # noqa: BLE001 - recorded and asserted below
                errors.append(e)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and art.is_intact(store / "mnli" / card["key"][:20], card["key"])
    assert not [p for p in (store / "mnli").iterdir() if p.name.endswith((".tmp", ".old"))]


def test_issue13_stale_temporary_folders_are_cleaned_under_a_lock_and_never_listed(tmp_path):
    store = tmp_path / "store"
    a = make(store, "mnli")
    # What a killed save leaves: a complete-looking copy in a dot-folder (the old and the new name forms).
    for stale in (f".{a.key[:20]}.k2j4h5g6.tmp", f".{a.key[:20]}.modxfer-abcd1234.tmp"):
        shutil.copytree(a.path, store / "mnli" / stale)
    (store / ".hidden" / "x").mkdir(parents=True)
    shutil.copy(a.path / "card.json", store / ".hidden" / "x" / "card.json")
    assert [x.path for x in art.list_artifacts(store)] == [a.path]
    res = CliRunner().invoke(cli, ["zoo", "publish", a.key[:10], "--zoo", str(tmp_path / "zoo"), "--store", str(store)])
    assert res.exit_code == 0 and "published" in res.output, res.output
    # While another writer is active beside them they stay (they might be its); once none is, the next write cleans.
    with file_lock(store / "mnli" / ".modxfer.lock", shared=True):
        make(store, "mnli", seed=3)
        assert len([p for p in (store / "mnli").iterdir() if p.name.endswith(".tmp")]) == 2
    make(store, "mnli", seed=4)
    assert not [p for p in (store / "mnli").iterdir() if p.name.endswith(".tmp")]
    assert len(art.list_artifacts(store)) == 3


def test_issue13_atomic_dir_refuses_files_in_the_way(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(ModxferError, match="is a file, not a folder"):
        with atomic_dir(tmp_path / "f" / "sub"):
            pass
    with pytest.raises(ModxferError, match="a file of that name exists"):
        with atomic_dir(tmp_path / "f") as d:
            (d / "y").write_text("y")
    assert (tmp_path / "f").read_text() == "x" and os.listdir(tmp_path) == ["f"] or set(os.listdir(tmp_path)) == {
        "f", ".modxfer.lock"}


def test_the_hub_module_imports_first_or_second():
    import subprocess
    import sys

    for first, second in (("modxfer.zoo_hub", "modxfer.zoo"), ("modxfer.zoo", "modxfer.zoo_hub")):
        code = (f"import {first}, {second}; import modxfer.zoo as Z, modxfer.zoo_hub as H; "
                "assert Z.push is H.push and Z.pull is H.pull")
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
