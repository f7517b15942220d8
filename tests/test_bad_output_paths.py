"""Outputs that cannot be written, and run stores that are not ours.

An unwritable location (a read-only mount, /proc, a full disk) is a message naming the path and the fix, exit 2, no
traceback, nothing half-written. A sweep.db that is damaged, empty or someone else's SQLite file is refused by every
reader (and by `sweep run`) without a byte of it changing; a good store is read without being changed, also from a
read-only mount, and while a sweep writes to it.
"""
import errno
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from modxfer import io
from modxfer.errors import ModxferError
from modxfer.sweeps.store import DB_NAME, Store
from modxfer_cli.main import cli

# /proc refuses new files and folders even to root (for whom permission bits change nothing).
NOWHERE = Path("/proc/modxfer-nope")


def _run(*args, expect: str = "cannot write"):
    res = CliRunner().invoke(cli, [str(a) for a in args])
    assert "Traceback" not in res.output and isinstance(res.exception, SystemExit), res.output
    assert res.exit_code == 2 and expect in res.output and "fix:" in res.output, res.output
    return res


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A small finished run (no training): two languages, clean and typo noise."""
    from synthetic import study_rows, write_store

    rows = study_rows(n=20, tasks={"xnli": ("en", "de")}, noises=("clean", "typo:0.1"))
    return write_store(tmp_path_factory.mktemp("run") / "run", rows)


def _files(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` with its bytes, less the index (-shm) and the empty log (-wal) SQLite keeps beside a
    WAL database that a read-only connection has opened: they hold no data, and the next writer removes them."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.name.endswith("-shm") or p.name.endswith("-wal") and p.stat().st_size == 0:
            continue
        out[str(p.relative_to(root))] = p.read_bytes() if p.is_file() else None
    return out


# ------------------------------------------------------------------------------ unwritable outputs, per command
@pytest.mark.parametrize("args", [
    ["sweep", "export", "{run}", "-o", NOWHERE / "x.csv"],
    ["sweep", "export", "{run}", "-o", "/proc/x.csv"],  # the folder exists; no file can be made in it
    ["sweep", "robustness", "{run}", "-o", NOWHERE / "r.json"],
    ["evaluate", "xnli", "--out", NOWHERE / "ev"],  # refused before the backbone is loaded or anything trained
])
def test_unwritable_output_is_a_message(run_dir, args):
    before = _files(run_dir)
    res = _run(*(str(a).format(run=run_dir) for a in args))
    assert str(args[-1]) in " ".join(res.output.split())  # names what the user asked to write
    assert _files(run_dir) == before


def test_output_under_a_file_says_so():
    _run("evaluate", "xnli", "--out", "/etc/hostname/ev", expect="/etc/hostname is a file, not a folder")


def test_sweep_run_into_an_unwritable_folder(data_dir, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"intermediates": ["mnli"], "targets": {"xnli": ["en"]},
                                      "compositions": ["target"], "output": str(tmp_path / "out"),
                                      "budget": {"examples": 16, "epochs": 1, "eval_examples": 8}}))
    _run("sweep", "run", config, "-o", NOWHERE / "run")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml"]


def test_zoo_publish_and_install_into_unwritable_folders(tmp_path, monkeypatch):
    from fakes import stack

    store, zoo = tmp_path / "store", tmp_path / "zoo"
    _, target = stack(store)
    _run("zoo", "publish", target.key[:12], "--store", store, "--zoo", NOWHERE / "zoo")
    res = CliRunner().invoke(cli, ["zoo", "publish", target.key[:12], "--store", str(store), "--zoo", str(zoo)])
    assert res.exit_code == 0, res.output
    name = json.loads((zoo / "index.json").read_text())["entries"][-1]["name"]
    # Fake weights fit no real backbone: install without one (no base check), which changes nothing about writing.
    monkeypatch.setattr("modxfer.backbone.load_backbone", lambda *a, **k: None)
    before = _files(zoo)
    _run("zoo", "install", name, "--zoo", zoo, "--store", NOWHERE / "s")
    assert _files(zoo) == before


def test_train_into_an_unwritable_store(tiny_base, data_dir):
    _run("train", "xnli", "--base", tiny_base, "--examples", "8", "--batch-size", "8", "--epochs", "1",
         "--precision", "fp32", "--store", NOWHERE / "s")


# ------------------------------------------------------------------------------ the writers themselves
def test_writers_refuse_unwritable_places_with_the_path(tmp_path):
    for write in (lambda p: io.atomic_write_json(p, {"a": 1}), lambda p: io.atomic_write_text(p, "x")):
        with pytest.raises(ModxferError, match=f"cannot write {NOWHERE}/f.json: .*cannot create the folder"):
            write(NOWHERE / "f.json")
    with pytest.raises(ModxferError, match="cannot write /proc/f.json: .*cannot create files in /proc"):
        io.atomic_write_json("/proc/f.json", {})
    with pytest.raises(ModxferError, match="cannot write /proc/x.lock"), io.file_lock("/proc/x.lock"):
        pass
    with pytest.raises(ModxferError, match="cannot write /proc/d"), io.atomic_dir("/proc/d"):
        pass
    with pytest.raises(ModxferError, match="cannot write"):
        io.check_writable(NOWHERE / "out")
    with pytest.raises(ModxferError, match="cannot write /proc/r.json"):
        io.check_writable("/proc/r.json", file=True)
    assert io.check_writable(tmp_path / "a" / "b") == tmp_path / "a" / "b" and list(tmp_path.iterdir()) == []


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "results.json"
    io.atomic_write_json(target, {"old": True})

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(io.os, "fsync", full)
    with pytest.raises(ModxferError, match="No space left on device") as e:
        io.atomic_write_json(target, {"new": True})
    assert "free some space" in e.value.fix
    assert json.loads(target.read_text()) == {"old": True} and [p.name for p in tmp_path.iterdir()] == [target.name]


# ------------------------------------------------------------------------------ sweep.db that is not a run store
def _foreign(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE notes (body TEXT)")
    db.execute("INSERT INTO notes VALUES ('mine')")
    db.commit()
    db.close()


def _wrong_columns(path: Path) -> None:
    db = sqlite3.connect(path)
    for table in ("meta (name, value)", "cells (key, id)", "plan (key, ord)", "results (cell)", "artifacts (cell)"):
        db.execute(f"CREATE TABLE {table}")
    db.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    db.commit()
    db.close()


def _future(path: Path, run_dir: Path) -> None:
    src, db = sqlite3.connect(f"file:{run_dir / DB_NAME}?mode=ro", uri=True), sqlite3.connect(path)
    src.backup(db)
    src.close()
    db.execute("UPDATE meta SET value='99' WHERE name='schema_version'")
    db.commit()
    db.close()


BAD = {
    "random bytes": (lambda p, run: p.write_bytes(os.urandom(4096)), "not (or no longer) a modxfer run store"),
    "empty file": (lambda p, run: p.write_bytes(b""), "not a modxfer run store: it is an empty database"),
    "foreign sqlite": (lambda p, run: _foreign(p), "not a modxfer run store: it has no artifacts, cells"),
    "wrong columns": (lambda p, run: _wrong_columns(p), "its artifacts table lacks the column(s) card"),
    "newer schema": (_future, "has schema version 99; this modxfer reads 1"),
}


@pytest.fixture(params=sorted(BAD))
def bad_run(request, tmp_path, run_dir):
    make, message = BAD[request.param]
    folder = tmp_path / "bad"
    folder.mkdir()
    make(folder / DB_NAME, run_dir)
    return folder, message


def test_bad_run_stores_are_refused_unchanged(bad_run, data_dir, tmp_path):
    folder, message = bad_run
    before = _files(folder)
    for args in (["sweep", "status", folder], ["sweep", "export", folder, "-o", tmp_path / "x.csv"],
                 ["sweep", "robustness", folder], ["select", "xnli", "--run", folder]):
        _run(*args, expect=message)
    assert _files(folder) == before and not (tmp_path / "x.csv").exists()
    if before[DB_NAME]:  # an empty file is a store whose creation was cut short: `sweep run` creates it
        with pytest.raises(ModxferError, match="fix: "):
            Store(folder, create=True)  # `sweep run` too: it never adds its tables to someone else's file
        assert (folder / DB_NAME).read_bytes() == before[DB_NAME]


def test_reading_a_store_changes_nothing_and_never_waits_for_the_writer(run_dir, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    with Store(run, create=True) as writer:  # the writer's last close folds the WAL back into sweep.db
        key = writer.cells()[0]["key"]
    before = (run / DB_NAME).read_bytes()
    with Store(run) as reader:
        counts = reader.counts()
        assert reader.readonly and sum(counts["eval"].values()) > 0
    assert (run / DB_NAME).read_bytes() == before

    # WAL: a reader opened while a sweep holds its write transaction reads the last commit at once.
    writer, reader = Store(run, create=True), None
    try:
        with writer.transaction() as db:
            db.execute("UPDATE cells SET status='failed' WHERE key=?", (key,))
            reader = Store(run)
            assert reader.cells()[0]["status"] == "done"
        assert reader.cells()[0]["status"] == "failed"
    finally:
        writer.close()
        if reader is not None:
            reader.close()


def test_an_old_store_without_details_reads_as_none(run_dir, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    with Store(run, create=True) as s, s.transaction() as db:
        db.execute("DROP TABLE row_details")
    with Store(run) as s:
        assert s.details() == [] and len(s.results()) > 0


RO_SCRIPT = textwrap.dedent("""
    import sys
    from modxfer.sweeps.store import Store
    with Store(sys.argv[1]) as s:
        print(sum(s.counts()["eval"].values()))
""")


@pytest.mark.skipif(not sys.platform.startswith("linux") or os.geteuid() != 0 or not shutil.which("unshare"),
                    reason="needs root and unshare to make a read-only mount")
def test_a_run_on_a_read_only_mount_can_be_inspected(run_dir, tmp_path):
    mnt = tmp_path / "mnt"
    shutil.copytree(run_dir, mnt / "run")
    with Store(mnt / "run", create=True):
        pass  # closed by a writer: no -wal or -shm file beside it, which a read-only mount cannot create
    assert sorted(p.name for p in (mnt / "run").iterdir()) == [DB_NAME]
    with Store(run_dir) as s:
        expected = sum(s.counts()["eval"].values())
    cmd = (f"mount --bind {mnt} {mnt} && mount -o remount,bind,ro {mnt} && touch {mnt}/x 2>/dev/null; "
           f"test -e {mnt}/x && exit 3; {sys.executable} -c '{RO_SCRIPT}' {mnt / 'run'}")
    res = subprocess.run(["unshare", "-m", "sh", "-c", cmd], capture_output=True, text=True, timeout=120, check=False)
    if res.returncode == 3 or res.returncode != 0 and res.stderr.lstrip().startswith(("mount", "unshare")):
        pytest.skip(f"no read-only mount here: {res.stderr[-300:]}")
    assert res.returncode == 0 and res.stdout.strip() == str(expected), res.stderr[-2000:]
