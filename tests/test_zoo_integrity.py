"""Zoo weights that carry valid checksums but do not fit the backbone, damaged copies in a store, install hints and
error messages (CLI review of the zoo). On the tiny backbone: one intermediate adapter trained once (seconds)."""
import json

import pytest
from click.testing import CliRunner
from safetensors.numpy import load_file, save_file

from modxfer.store import artifacts as art
from modxfer.store import zoo as Z
from modxfer.composition import Composition
from modxfer.errors import DataError
from modxfer.io import sha256_file
from modxfer_cli.main import cli

FAST = dict(examples=48, batch_size=16, epochs=1.0, precision="fp32")


@pytest.fixture(scope="module")
def zoo(tiny_base, data_dir, tmp_path_factory):
    """A zoo holding one trained mnli adapter (an intermediate)."""
    from modxfer.training import train

    store = tmp_path_factory.mktemp("store")
    inter = train("mnli", base=tiny_base, store=store, data_dir=data_dir, progress=False, **FAST)
    root = tmp_path_factory.mktemp("zoo")
    return root, Z.publish(inter.path, root, store=store)


def _rewrite(root, fn):
    idx = json.loads((root / "index.json").read_text())
    fn(idx["entries"])
    for e in idx["entries"]:  # sizes follow the files, as a hostile publisher would make them
        files = [root / e["path"] / r for r in e["files"]]
        e["size_bytes"] = sum(f.stat().st_size for f in files if f.is_file())
    (root / "index.json").write_text(json.dumps(idx))


def _widen_first_tensor(weights):
    """Rewrite a safetensors file with its first tensor twice as tall: a valid file of the wrong shape."""
    tensors = load_file(str(weights))
    k = sorted(tensors)[0]
    old = tensors[k].shape
    tensors[k] = tensors[k].repeat(2, axis=0)
    save_file(tensors, str(weights))
    return k, old, tensors[k].shape


def _shape(s):
    return "[" + ", ".join(map(str, s)) + "]"


def _copy_zoo(src, dst):
    import shutil

    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".modxfer*"))
    return dst


def test_a_wrong_shape_with_consistent_checksums_is_refused_at_install(zoo, tiny_base, tmp_path):
    root, entry = zoo
    root = _copy_zoo(root, tmp_path / "zoo")
    weights = root / entry.path / "adapter" / "adapter.safetensors"
    name, old, new = _widen_first_tensor(weights)
    _rewrite(root, lambda es: es[0]["files"].update({"adapter/adapter.safetensors": sha256_file(weights)}))
    Z.verify(Z.get_entry(entry.name, root), root)  # every checksum and header is fine: only the shapes give it away
    store = tmp_path / "store"
    res = CliRunner().invoke(cli, ["zoo", "install", entry.name, "--zoo", str(root), "--store", str(store),
                                   "--base", tiny_base])
    out = " ".join(res.output.split())
    assert res.exit_code == 2 and "Traceback" not in res.output, res.output
    assert name in out and _shape(new) in out and _shape(old) in out and "fix:" in out, out
    assert not store.exists() or not any(p for p in store.rglob("*") if p.is_file() and p.suffix != ".lock")


def test_an_adapter_config_that_disagrees_with_the_card_is_refused(zoo, tiny_base, tmp_path):
    from modxfer.model.backbone import load_backbone

    root, entry = zoo
    root = _copy_zoo(root, tmp_path / "zoo")
    cfg_file = root / entry.path / "adapter" / "adapter_config.json"
    cfg = json.loads(cfg_file.read_text())
    cfg["config"]["reduction_factor"] = 8
    cfg_file.write_text(json.dumps(cfg))
    _rewrite(root, lambda es: es[0]["files"].update({"adapter/adapter_config.json": sha256_file(cfg_file)}))
    with pytest.raises(DataError, match="adapter_config.json says reduction_factor = 8 but the card's "
                                        "adapter_config says reduction_factor = 16"):
        Z.install(entry.name, root, store=tmp_path / "s", backbone=load_backbone(tiny_base))


def test_a_damaged_artifact_in_a_store_is_a_message_when_loaded(zoo, tiny_base, data_dir, tmp_path):
    from modxfer.model.backbone import load_backbone
    from modxfer.model.host import Host

    root, entry = zoo
    store = tmp_path / "store"
    a = Z.install(entry.name, root, store=store, backbone=load_backbone(tiny_base))
    _widen_first_tensor(a.path / "adapter" / "adapter.safetensors")  # readable, but not the bytes the store recorded
    with pytest.raises(DataError, match=r"adapter/adapter.safetensors has sha256 .* was recorded when it was stored"):
        art.find(store, "mnli", a.key)  # what training and evaluation look up: never reused
    host = Host(load_backbone(tiny_base))
    with pytest.raises(DataError, match=rf"artifact at {a.path} is damaged \(its adapter does not load.*size mismatch"
                                        rf"[\s\S]*modxfer zoo install {entry.name} --force"):
        host.load_adapter(art.load(a.path))
    assert a.adapter_name not in host.model.adapters_config  # nothing half-loaded to be found by name next time


def test_the_install_hint_for_an_intermediate_composes_it_with_a_target(zoo, tiny_base, tmp_path):
    root, entry = zoo
    res = CliRunner().invoke(cli, ["zoo", "install", entry.name, "--zoo", str(root), "--store", str(tmp_path / "s"),
                                   "--base", tiny_base])
    out = " ".join(res.output.split())
    assert res.exit_code == 0, res.output
    assert "modxfer train xnli --on mnli" in out and 'modxfer evaluate "mnli>xnli"' in out, out
    assert 'modxfer evaluate "mnli" ' not in out and 'modxfer evaluate "mnli"`' not in out
    for comp in ("mnli>xnli", "mnli>tatoeba"):  # the compositions it suggests are valid ones
        Composition.parse(comp).validate()


def test_zoo_errors_name_the_field_or_file(zoo, tmp_path):
    root, entry = zoo
    root = _copy_zoo(root, tmp_path / "zoo")
    pristine = (root / "index.json").read_text()
    run = CliRunner().invoke

    def install():
        res = run(cli, ["zoo", "install", entry.name, "--zoo", str(root), "--store", str(tmp_path / "s")])
        assert res.exit_code == 2 and "Traceback" not in res.output and "<dict of" not in res.output
        assert "<list of" not in res.output
        return " ".join(res.output.split())

    _rewrite(root, lambda es: es[0]["metrics"]["validation"].update(accuracy=99.5))
    out = install()
    assert "the index says metrics.validation.accuracy = 99.5 but its card (card.json) says" in out, out
    (root / "index.json").write_text(pristine)
    _rewrite(root, lambda es: es[0]["files"].update({"adapter/pytorch_adapter.bin": "0" * 64}))
    assert "files lists ['adapter/pytorch_adapter.bin'], which is not safetensors" in install()
    (root / "index.json").write_text(pristine)
    _rewrite(root, lambda es: es[0].update(depends_on=[entry.name]))
    out = install()
    assert f"depends_on is ['{entry.name}'] (an entry cannot depend on itself), but mnli stacks on 0" in out, out
    (root / "index.json").write_text(pristine)
    _rewrite(root, lambda es: es[0].update(bogus=1))
    assert "unknown fields ['bogus']" in install()
    # --zoo naming a file (the index itself): a file, not a hub id.
    res = run(cli, ["zoo", "install", entry.name, "--zoo", str(root / "index.json")])
    assert res.exit_code == 2 and "is a file, not an adapter zoo" in res.output and "hub" in res.output, res.output
    res = run(cli, ["zoo", "list", "--zoo", str(root / "index.json")])
    assert res.exit_code == 2 and "is a file, not an adapter zoo" in res.output, res.output
