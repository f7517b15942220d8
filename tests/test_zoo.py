"""The adapter zoo on a tiny backbone: publish with dependencies, verify, install, evaluate, refuse bad input."""
import json
import shutil

import pytest
from click.testing import CliRunner

from modxfer import zoo as Z
from modxfer.errors import AdapterMismatchError, DataError, ModxferError
from modxfer_cli.main import cli

FAST = dict(examples=48, batch_size=16, epochs=1.0, precision="fp32")


@pytest.fixture(scope="module")
def trained(tiny_base, data_dir, tmp_path_factory):
    from modxfer.training import train

    store = tmp_path_factory.mktemp("store")
    target = train("xnli", on=["mnli"], base=tiny_base, store=store, data_dir=data_dir, progress=False, **FAST)
    return store, target


def _evaluate(tiny_base, store, data_dir):
    from modxfer.evaluation import Evaluator

    ev = Evaluator(tiny_base, store=store, data_dir=data_dir, precision="fp32")
    return ev.evaluate("mnli>xnli", languages="de", examples=16, progress=False, train_examples=48, batch_size=16,
                       epochs=1.0)


def test_publish_install_and_evaluate_identically(trained, tiny_base, data_dir, tmp_path):
    from modxfer.backbone import load_backbone

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
    assert _evaluate(tiny_base, fresh, data_dir).rows[0]["score"] == _evaluate(tiny_base, store, data_dir).rows[0]["score"]


def test_install_refuses_tampered_files_and_another_backbone(trained, tmp_path):
    from modxfer.backbone import load_backbone

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

    from modxfer.backbone import load_backbone
    from modxfer.evaluation import Evaluator

    root = Path(__file__).resolve().parents[1] / "adapters_zoo"
    entry = next(e for e in Z.read_index(root) if e.composition == "mnli>xnli")
    Z.install(entry.name, root, store=tmp_path, backbone=load_backbone("embedded"))
    res = Evaluator("embedded", store=tmp_path, data_dir=data_dir).evaluate("mnli>xnli", languages="en,de",
                                                                           examples=40, progress=False)
    assert all(r["artifacts"][-1] == entry.key for r in res.rows)
    assert res.average() > 40.0  # trained: well above the 33.3 of 3-way chance


def _rewrite(zoo, fn):
    idx = json.loads((zoo / "index.json").read_text())
    fn(idx["entries"])
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
    with pytest.raises(ModxferError, match="differs from the index|cannot be a store folder"):
        Z.install(entry.name, zoo, store=tmp_path / "store")
    assert (victim / "keep.txt").read_text() == "mine"
    # A card whose training request does not hash to its key (weights planted under someone else's key).
    card_file.write_text(json.dumps({**card, "epochs": 99.0}))
    _rewrite(zoo, fix_sha)
    with pytest.raises(DataError, match="not the hash of the training request"):
        Z.install(entry.name, zoo, store=tmp_path / "store")
    assert not (tmp_path / "store" / "xnli").exists()
    # Dependency cycles and non-weight files.
    _rewrite(zoo, lambda es: [e.update(depends_on=[entry.name]) for e in es if e["name"] == entry.name])
    with pytest.raises(DataError, match="cycle"):
        Z.install(entry.name, zoo, store=tmp_path / "store")
    _rewrite(zoo, lambda es: es[0]["files"].update({"adapter/pytorch_model.bin": "0" * 64}))
    with pytest.raises(DataError, match="not safetensors"):
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
