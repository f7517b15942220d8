"""`modxfer cache`: sizes per part, and clearing only what is made again on use."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from modxfer_cli.main import cli

from modxfer.store import cache as C
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
        C.mark(folder)  # as modxfer's writers do
        sizes[part] = 1000 * (i + 1) + 2 + (folder / C.MARKER).stat().st_size
    return sizes


def _left(folder):
    """What a clear left in a part, besides the writers' lock files."""
    return sorted(p.name for p in folder.iterdir() if p.name not in (".lock", ".modxfer.lock"))


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
        assert (parts[name].bytes, parts[name].files) == (size, 3), name
    assert parts["zoo"].bytes == 0 and parts["zoo"].files == 0  # absent: zero, not an error
    assert not parts["artifacts"].clearable and not parts["data"].clearable and parts["trunk"].clearable


def test_clear_removes_only_the_named_parts_and_leaves_nothing_half_deleted(root):
    sizes = _fill(root)
    freed = C.clear(["trunk", "similarity", "zoo"])
    assert freed == {"trunk": C.Cleared(sizes["trunk"]), "similarity": C.Cleared(sizes["similarity"])}  # no zoo
    assert sorted(p.name for p in root.iterdir()) == ["artifacts", "backbones", "data", "similarity", "trunk"]
    assert _left(root / "trunk") == _left(root / "similarity") == []  # no .clearing leftovers
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
    C.mark(elsewhere / ("c" * 64))
    monkeypatch.setenv("MODXFER_TRUNK_CACHE", str(elsewhere))
    monkeypatch.setenv("MODXFER_STORE", str(tmp_path / "store"))
    parts = {p.name: p for p in C.usage()}
    marker = (elsewhere / ("c" * 64) / C.MARKER).stat().st_size
    assert parts["trunk"].path == elsewhere and parts["trunk"].bytes == 300 + marker
    assert parts["artifacts"].path == tmp_path / "store"
    res = CliRunner().invoke(cli, ["cache"], env={"COLUMNS": "400"})  # a wide table: paths unbroken
    assert res.exit_code == 0 and f"({elsewhere})" in res.output and f"({tmp_path / 'store'})" in res.output
    assert C.clear(["trunk"]) == {"trunk": C.Cleared(300 + marker)}
    # the folder the variable names is the user's choice: emptied of modxfer's entries, never removed
    assert elsewhere.is_dir() and _left(elsewhere) == [] and (root / "trunk" / ENTRY["trunk"]).is_dir()


def test_cli_clear_all_then_again_and_bad_requests(root):
    sizes = _fill(root)
    res = CliRunner().invoke(cli, ["cache", "clear", "--all"])
    assert res.exit_code == 0, res.output
    assert f"trunk: {C.human(sizes['trunk'])} freed" in res.output and "zoo: already empty" in res.output
    assert all(_left(root / p) == [] for p in ("trunk", "similarity", "backbones"))
    again = CliRunner().invoke(cli, ["cache", "clear", "trunk"])
    assert again.exit_code == 0 and "trunk: already empty" in again.output
    for args, words in ((["cache", "clear"], "nothing to clear named"), (["cache", "clear", "trnk"], "unknown cache part"),
                        (["cache", "clear", "trunk", "--all"], "not both")):
        res = CliRunner().invoke(cli, args)
        assert res.exit_code == 2 and words in res.output and "fix:" in res.output, res.output


def test_the_trunk_cache_works_again_after_a_clear(root, tiny_base):
    from modxfer.model.features import featurize
    from modxfer.model.forward import Forward
    from modxfer.model.modeling import backbone
    from modxfer.tasks import get_task
    from modxfer.model.trunk import TrunkCache, default_root

    bb = backbone(tiny_base)
    task = get_task("xcopa")
    feats = featurize(task, task.load("test", "it", limit=6).to_list(), bb.tokenizer, 128)

    def states():
        fwd = Forward(bb, 1, "fp32", cache=TrunkCache())
        return fwd.batch(fwd.prepare(feats), list(range(6)))["inputs_embeds"]

    first = states()
    assert default_root() == root / "trunk" and any(default_root().iterdir())
    assert C.clear(["trunk"])["trunk"].freed > 0 and not any(p.is_dir() for p in default_root().iterdir())
    assert torch.equal(states(), first) and any(default_root().iterdir())  # recomputed and stored again


def test_human_sizes():
    assert [C.human(n) for n in (0, 999, 1000, 1_500_000, 6_100_000_000)] == ["0 B", "999 B", "1.0 kB", "1.5 MB",
                                                                              "6.1 GB"]


@pytest.mark.parametrize("case", ["the cache root", "the store", "a store inside it", "home", "a link"])
def test_a_trunk_variable_pointed_at_the_wrong_place_deletes_nothing(case, root, tmp_path, monkeypatch):
    _fill(root)
    trunk = {"the cache root": root, "the store": root / "artifacts", "a store inside it": tmp_path / "t",
             "home": tmp_path / "home", "user files": tmp_path / "mine", "a link": tmp_path / "link",
             "files named like entries": tmp_path / "blobs", "a dot folder of the user's": tmp_path / "notes"}[case]
    if case == "a store inside it":
        monkeypatch.setenv("MODXFER_STORE", str(trunk / "store"))
        (trunk / "store" / "xnli").mkdir(parents=True)
    if case == "home":
        (trunk / ("d" * 64)).mkdir(parents=True)
        (trunk / ("d" * 64) / "meta.json").write_text("{}")
        monkeypatch.setenv("HOME", str(trunk))
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


@pytest.mark.parametrize("case", ["user files", "files named like entries", "a dot folder of the user's",
                                  "a folder named like an entry", "a lexicon-named folder"])
def test_issue25_clear_deletes_only_marked_entries_and_never_the_users_folder(case, root, tmp_path, monkeypatch):
    """Issue 25 (11): entries are judged by their writer's marker, not by their names; the part folder stays."""
    _fill(root)
    mine = tmp_path / "mine"
    mine.mkdir()
    if case == "user files":
        (mine / ("d" * 64)).mkdir()
        (mine / ("d" * 64) / "meta.json").write_text("{}")  # named and shaped like a trunk entry
        (mine / "thesis.tex").write_text("years of work")
    if case == "files named like entries":  # e.g. a container image's blobs/sha256: files, not trunk entries
        (mine / ("d" * 64)).write_bytes(b"layer")
    if case == "a dot folder of the user's":
        (mine / ".thesis.old").mkdir()
        (mine / ".thesis.old" / "chapter1.tex").write_text("draft")
    if case == "a folder named like an entry":
        (mine / ("e" * 64)).mkdir()
        (mine / ("e" * 64) / "meta.json").write_text('{"mine": true}')
        (mine / ("e" * 64) / "notes.txt").write_text("mine")
    if case == "a lexicon-named folder":
        lex = root / "lexicons" / ("a" * 12)
        lex.mkdir(parents=True)
        (lex / "user.txt").write_text("mine")
    monkeypatch.setenv("MODXFER_TRUNK_CACHE", str(mine))
    ours = mine / ("f" * 64)  # one entry modxfer wrote there, marked: the only thing that goes
    ours.mkdir()
    (ours / "states.bin").write_bytes(b"s")
    C.mark(ours)
    before = {p for p in tmp_path.rglob("*") if ours not in p.parents and p != ours}
    res = CliRunner().invoke(cli, ["cache", "clear", "trunk", "lexicons"])
    assert res.exit_code == 0 and "Traceback" not in res.output, res.output
    after = set(tmp_path.rglob("*"))
    assert not ours.exists() and mine.is_dir()
    assert after - {mine / ".lock"} == before  # the trunk writers' lock, taken to move the entry, stays
    if case != "a lexicon-named folder":
        assert "left in place" in res.output and str(mine) in res.output, res.output
    else:
        assert (root / "lexicons" / ("a" * 12) / "user.txt").read_text() == "mine" and "left in place" in res.output


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
    C.mark(downloads / ("f" * 16 + "-xnli.zip"))
    (downloads / "tmpab12cd_4.tmp").write_bytes(b"half")  # an older release's failed download: not marked
    (downloads / ".lock").write_text("")
    (downloads / ".x.modxfer-abcd1234.tmp").mkdir()  # io's temporary folders: io.clean_stale's to remove
    assert C.clear(["downloads"]) == {"downloads": C.Cleared(3, kept=("tmpab12cd_4.tmp",))}
    assert sorted(p.name for p in downloads.iterdir()) == [".lock", ".x.modxfer-abcd1234.tmp", "tmpab12cd_4.tmp"]
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
    marker = f".{got.name}{C.MARKER}"  # the writer marks what it downloaded, so `cache clear` may delete it
    assert sorted(p.name for p in (root / "downloads").iterdir()) == sorted([got.name, marker])  # no temporary left
    assert C.clear(["downloads"]) == {"downloads": C.Cleared(9)}
    assert _left(root / "downloads") == []  # the marker goes with its entry


def test_similarity_writers_mark_their_backbone_folder_so_clear_removes_it(root):
    # The similarity cache's writers (sentence embeddings as safetensors, matrices and task embeddings as JSON)
    # mark the backbone's folder they write into; before they did, `cache clear similarity` left it in place.
    import numpy as np

    from modxfer.similarity import measures as Sim

    folder = root / "similarity" / ("c" * 16)
    Sim.save_arrays(folder / "sentences" / "mnli.npz", {"vectors": np.zeros((2, 3), dtype=np.float32)}, {"task": "x"})
    assert (folder / C.MARKER).is_file()
    freed = C.clear(["similarity"])
    assert freed["similarity"].freed > 0 and not freed["similarity"].kept and not folder.exists()
