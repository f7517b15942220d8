"""`modxfer cache`: sizes per part, and clearing only what is made again on use."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from modxfer_cli.main import cli

from modxfer import cache as C
from modxfer.errors import ConfigError


ENTRY = {"trunk": "a" * 64, "similarity": "b" * 16, "backbones": "e5-small-q4_test", "artifacts": "xnli",
         "data": "xnli"}  # as modxfer's writers name them


def _fill(root, parts=("trunk", "similarity", "backbones", "artifacts", "data")):
    sizes = {}
    for i, part in enumerate(parts):
        folder = root / part / ENTRY[part]
        folder.mkdir(parents=True)
        (folder / "a.bin").write_bytes(b"x" * (1000 * (i + 1)))
        (folder / "meta.json").write_text("{}")
        sizes[part] = 1000 * (i + 1) + 2
    return sizes


@pytest.fixture()
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("MODXFER_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("MODXFER_TRUNK_CACHE", raising=False)
    monkeypatch.delenv("MODXFER_STORE", raising=False)
    return tmp_path / "cache"


def test_usage_measures_every_part_without_following_links(root, tmp_path):
    sizes = _fill(root)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "big.bin").write_bytes(b"y" * 50_000)
    (root / "similarity" / ("c" * 16)).symlink_to(outside, target_is_directory=True)
    parts = {p.name: p for p in C.usage()}
    assert list(parts) == list(C.PARTS)
    for name, size in sizes.items():
        assert (parts[name].bytes, parts[name].files) == (size, 2), name
    assert parts["zoo"].bytes == 0 and parts["zoo"].files == 0  # absent: zero, not an error
    assert not parts["artifacts"].clearable and not parts["data"].clearable and parts["trunk"].clearable


def test_clear_removes_only_the_named_parts_and_leaves_nothing_half_deleted(root):
    sizes = _fill(root)
    freed = C.clear(["trunk", "similarity", "zoo"])
    assert freed == {"trunk": C.Cleared(sizes["trunk"]), "similarity": C.Cleared(sizes["similarity"])}  # no zoo
    assert sorted(p.name for p in root.iterdir()) == ["artifacts", "backbones", "data"]  # no .clearing leftovers
    assert (root / "artifacts" / "xnli" / "a.bin").is_file()


def test_trained_models_and_fetched_data_are_never_cleared(root):
    _fill(root)
    for part in ("artifacts", "data"):
        with pytest.raises(ConfigError, match="never removes it"):
            C.clear(["trunk", part])
    assert (root / "trunk").is_dir()  # refused before anything was removed
    res = CliRunner().invoke(cli, ["cache", "clear", "artifacts"])
    assert res.exit_code == 2 and "fix:" in res.output and "Traceback" not in res.output
    assert str(root / "artifacts") in res.output and (root / "artifacts" / "xnli").is_dir()


def test_the_trunk_and_the_store_follow_their_own_variables(root, tmp_path, monkeypatch):
    _fill(root)
    elsewhere = tmp_path / "trunk-elsewhere"
    (elsewhere / ("c" * 64)).mkdir(parents=True)
    (elsewhere / ("c" * 64) / "states.bin").write_bytes(b"z" * 298)
    (elsewhere / ("c" * 64) / "meta.json").write_text("{}")
    monkeypatch.setenv("MODXFER_TRUNK_CACHE", str(elsewhere))
    monkeypatch.setenv("MODXFER_STORE", str(tmp_path / "store"))
    parts = {p.name: p for p in C.usage()}
    assert parts["trunk"].path == elsewhere and parts["trunk"].bytes == 300
    assert parts["artifacts"].path == tmp_path / "store"
    res = CliRunner().invoke(cli, ["cache"], env={"COLUMNS": "400"})  # a wide table: paths unbroken
    assert res.exit_code == 0 and f"({elsewhere})" in res.output and f"({tmp_path / 'store'})" in res.output
    assert C.clear(["trunk"]) == {"trunk": C.Cleared(300)}
    assert not elsewhere.exists() and (root / "trunk" / ENTRY["trunk"]).is_dir()


def test_cli_clear_all_then_again_and_bad_requests(root):
    sizes = _fill(root)
    res = CliRunner().invoke(cli, ["cache", "clear", "--all"])
    assert res.exit_code == 0, res.output
    assert f"trunk: {C.human(sizes['trunk'])} freed" in res.output and "zoo: already empty" in res.output
    assert sorted(p.name for p in root.iterdir()) == ["artifacts", "data"]
    again = CliRunner().invoke(cli, ["cache", "clear", "trunk"])
    assert again.exit_code == 0 and "trunk: already empty" in again.output
    for args, words in ((["cache", "clear"], "nothing to clear named"), (["cache", "clear", "trnk"], "unknown cache part"),
                        (["cache", "clear", "trunk", "--all"], "not both")):
        res = CliRunner().invoke(cli, args)
        assert res.exit_code == 2 and words in res.output and "fix:" in res.output, res.output


def test_the_trunk_cache_works_again_after_a_clear(root, tiny_base):
    from modxfer.features import featurize
    from modxfer.forward import Forward
    from modxfer.modeling import backbone
    from modxfer.tasks import get_task
    from modxfer.trunk import TrunkCache, default_root

    bb = backbone(tiny_base)
    task = get_task("xcopa")
    feats = featurize(task, task.load("test", "it", limit=6).to_list(), bb.tokenizer, 128)

    def states():
        fwd = Forward(bb, 1, "fp32", cache=TrunkCache())
        return fwd.batch(fwd.prepare(feats), list(range(6)))["inputs_embeds"]

    first = states()
    assert default_root() == root / "trunk" and any(default_root().iterdir())
    assert C.clear(["trunk"])["trunk"].freed > 0 and not default_root().exists()
    assert torch.equal(states(), first) and any(default_root().iterdir())  # recomputed and stored again


def test_human_sizes():
    assert [C.human(n) for n in (0, 999, 1000, 1_500_000, 6_100_000_000)] == ["0 B", "999 B", "1.0 kB", "1.5 MB",
                                                                              "6.1 GB"]


@pytest.mark.parametrize("case", ["the cache root", "the store", "a store inside it", "home", "user files",
                                  "a link", "files named like entries", "a dot folder of the user's"])
def test_a_trunk_variable_pointed_at_the_wrong_place_deletes_nothing(case, root, tmp_path, monkeypatch):
    _fill(root)
    trunk = {"the cache root": root, "the store": root / "artifacts", "a store inside it": tmp_path / "t",
             "home": tmp_path / "home", "user files": tmp_path / "mine", "a link": tmp_path / "link",
             "files named like entries": tmp_path / "blobs", "a dot folder of the user's": tmp_path / "notes"}[case]
    if case == "files named like entries":  # e.g. a container image's blobs/sha256: files, not trunk entries
        trunk.mkdir()
        (trunk / ("d" * 64)).write_bytes(b"layer")
    if case == "a dot folder of the user's":
        (trunk / ".thesis.old").mkdir(parents=True)
        (trunk / ".thesis.old" / "chapter1.tex").write_text("draft")
    if case == "a store inside it":
        monkeypatch.setenv("MODXFER_STORE", str(trunk / "store"))
        (trunk / "store" / "xnli").mkdir(parents=True)
    if case == "home":
        (trunk / ("d" * 64)).mkdir(parents=True)
        (trunk / ("d" * 64) / "meta.json").write_text("{}")
        monkeypatch.setenv("HOME", str(trunk))
    if case == "user files":
        (trunk / ("d" * 64)).mkdir(parents=True)
        (trunk / ("d" * 64) / "meta.json").write_text("{}")
        (trunk / "thesis.tex").write_text("years of work")
    if case == "a link":
        trunk.symlink_to(root / "trunk", target_is_directory=True)
    monkeypatch.setenv("MODXFER_TRUNK_CACHE", str(trunk))
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    with pytest.raises(ConfigError, match="MODXFER_TRUNK_CACHE"):
        C.clear(["similarity", "trunk"])  # every part is checked before any is removed
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before
    res = CliRunner().invoke(cli, ["cache", "clear", "--all"])
    assert res.exit_code == 2 and "fix:" in res.output and "Traceback" not in res.output, res.output
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before


def test_an_empty_cache_variable_is_unset_not_the_current_folder(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MODXFER_CACHE", "")
    monkeypatch.setenv("MODXFER_STORE", "")
    assert C.part_path("similarity") != Path("similarity") and C.part_path("similarity").is_absolute()
    assert C.part_path("artifacts").is_absolute()


def test_an_interrupted_clear_is_finished_by_the_next_and_names_are_never_reused(root):
    _fill(root)
    stale = root / ".similarity.clearing-abc123.tmp"
    (stale / "similarity" / ("e" * 16)).mkdir(parents=True)
    (stale / "similarity" / ("e" * 16) / "x.json").write_text("{}")
    assert set(C.clear(["similarity"])) == {"similarity"}
    assert not stale.exists() and not list(root.glob(".similarity*"))
    res = CliRunner().invoke(cli, ["cache", "clear", "trunk", "trunk"])
    assert res.exit_code == 0 and res.output.count("trunk:") == 1, res.output


def test_writers_leftovers_are_ours_and_a_linked_part_is_shown_but_never_cleared(root, tmp_path):
    downloads = root / "downloads"
    downloads.mkdir(parents=True)
    (downloads / ("f" * 16 + "-xnli.zip")).write_bytes(b"zip")
    (downloads / "tmpab12cd_4.tmp").write_bytes(b"half")  # an older release's failed download
    (downloads / ".lock").write_text("")
    (downloads / ".x.modxfer-abcd1234.tmp").mkdir()  # io's temporary folders
    assert C.clear(["downloads"]) == {"downloads": C.Cleared(7)}
    real = tmp_path / "real-similarity"
    (real / ("b" * 16)).mkdir(parents=True)
    (real / ("b" * 16) / "m.json").write_text("{}")
    (root / "similarity").symlink_to(real, target_is_directory=True)
    part = next(p for p in C.usage() if p.name == "similarity")
    assert part.link and not part.clearable and part.bytes == 2
    res = CliRunner().invoke(cli, ["cache"], env={"COLUMNS": "400"})
    assert res.exit_code == 0 and "│ link " in res.output, res.output
    res = CliRunner().invoke(cli, ["cache", "clear", "similarity"])
    assert res.exit_code == 2 and "is a link" in res.output and (real / ("b" * 16) / "m.json").is_file()


def test_a_download_lands_whole_or_leaves_nothing(root, tmp_path):
    from modxfer.errors import DataError
    from modxfer.tasks.fetch import download_file

    source = tmp_path / "xnli.zip"
    source.write_bytes(b"zip bytes")
    got = download_file(source.as_uri())  # file:// goes through the same urllib path as https://
    assert got.read_bytes() == b"zip bytes" and got.parent == root / "downloads"
    with pytest.raises(DataError, match="could not download"):
        download_file((tmp_path / "missing.zip").as_uri())
    assert sorted(p.name for p in (root / "downloads").iterdir()) == [got.name]  # no temporary left behind
    assert C.clear(["downloads"]) == {"downloads": C.Cleared(9)}
