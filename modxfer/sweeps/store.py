"""The run database: one SQLite file per run directory holding every cell, its status, results and artifacts.

Cells are keyed by content (see ``keys.py``), so a cell finished by any earlier run with the same inputs is never
redone, and a changed input gets a new key and reruns. ``plan`` lists the keys of the current config's cells: what
status, export and results report. A cell's results and its 'done' status are written in one transaction, so a
process killed at any instant leaves either both or neither.

Alongside each result row, ``row_details`` keeps what the report's statistics need: the row's per-example outcomes
(``modxfer.scoring.outcomes``; zlib-compressed JSON, never pickle) and the realised noise rates. It is written in the same
transaction as the row. Runs made before it existed simply have no details: readers get None and say so.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import os
import socket
import sqlite3
import time
import urllib.parse
import zlib
from pathlib import Path
from typing import Iterable, Iterator

from ..errors import ModxferError
from ..io import cannot_write, ensure_dir

DB_NAME = "sweep.db"
LOCK_NAME = "sweep.lock"
SCHEMA_VERSION = 1
STATUSES = ("pending", "running", "done", "failed", "blocked")

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cells (
    key      TEXT PRIMARY KEY,
    id       TEXT NOT NULL,
    kind     TEXT NOT NULL CHECK (kind IN ('train', 'eval')),
    spec     TEXT NOT NULL,
    needs    TEXT NOT NULL,
    estimate REAL,
    status   TEXT NOT NULL DEFAULT 'pending' CHECK (status IN {STATUSES}),
    attempts INTEGER NOT NULL DEFAULT 0,
    started  REAL,
    finished REAL,
    seconds  REAL,
    worker   TEXT,
    error    TEXT
);
CREATE TABLE IF NOT EXISTS plan (key TEXT PRIMARY KEY REFERENCES cells(key), ord INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS results (
    cell        TEXT NOT NULL REFERENCES cells(key),
    composition TEXT NOT NULL,
    task        TEXT NOT NULL,
    lang        TEXT NOT NULL,
    noise       TEXT NOT NULL,
    seed        INTEGER NOT NULL,
    metric      TEXT NOT NULL,
    score       REAL,
    metrics     TEXT NOT NULL,
    n           INTEGER NOT NULL,
    PRIMARY KEY (cell, lang, noise)
);
CREATE TABLE IF NOT EXISTS row_details (
    cell             TEXT NOT NULL REFERENCES cells(key),
    lang             TEXT NOT NULL,
    noise            TEXT NOT NULL,
    outcomes         BLOB,
    noise_rate       REAL,
    noise_words_rate REAL,
    PRIMARY KEY (cell, lang, noise)
);
CREATE TABLE IF NOT EXISTS artifacts (
    cell   TEXT PRIMARY KEY REFERENCES cells(key),
    key    TEXT NOT NULL,
    path   TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    card   TEXT NOT NULL
);
"""


def _reading(method):
    """Damage found while reading (a page overwritten after the store was opened) is a user error too."""
    @functools.wraps(method)
    def read(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as e:
            raise _store_error(self.path, e) from None
    return read


class Store:
    """A run's database. ``create=True`` (the sweep runner) makes it if missing; without it (status, export,
    results, report) the file must already be a modxfer run store, and it is opened read-only: a reader never
    changes the file, works on a read-only mount, and refuses a damaged or unrelated file with a user error.
    A write on a store opened without ``create`` (``transaction``) first reopens it read-write.
    """

    def __init__(self, run_dir: str | os.PathLike, *, create: bool = False):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / DB_NAME
        self.readonly = not create
        if not self.path.is_file():
            if not create:
                raise ModxferError(f"{self.run_dir} is not a sweep run directory (no {DB_NAME})",
                                   "pass the output directory of `modxfer sweep run` (the config's `output`)")
            ensure_dir(self.run_dir)
        with self._sqlite_errors():
            if create:
                self._open_writable(check=True)
                self._create_schema()
            else:
                self.db = _connect_readonly(self.path)
                _check_schema(self.db, self.path)

    def _open_writable(self, *, check: bool = False) -> None:
        # Autocommit mode: every write below opens its own explicit transaction.
        self.db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.readonly = False
        if check and _tables(self.db):  # before the WAL switch below, which rewrites the file's header
            _check_schema(self.db, self.path)  # an existing file: a store of ours, never someone else's database
        self.db.execute("PRAGMA journal_mode=WAL")  # readers (status, export) never block the running sweep
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA foreign_keys=ON")

    def _create_schema(self) -> None:
        with self.transaction():
            # executescript() would commit on its own; the statements contain no ';' of their own.
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self.db.execute(statement)  # IF NOT EXISTS: adds tables newer than the store (row_details)
            self.db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    @contextlib.contextmanager
    def _sqlite_errors(self) -> Iterator[None]:
        try:
            yield
        except (sqlite3.Error, ModxferError) as e:
            with contextlib.suppress(AttributeError, sqlite3.Error):
                self.db.close()
            if isinstance(e, ModxferError):
                raise
            raise _store_error(self.path, e) from None

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        if self.readonly:
            self.db.close()
            with self._sqlite_errors():
                self._open_writable()
        # IMMEDIATE takes the write lock up front, so a transaction never fails half way on a busy database.
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # ------------------------------------------------------------------------------------ plan and meta

    def sync_plan(self, cells: Iterable[tuple], meta: dict[str, str]) -> None:
        """Make ``cells`` ((key, id, kind, spec, needed keys[, estimated seconds]), in run order) the current plan,
        in one transaction.

        Known keys keep their status and results; new keys start pending.
        """
        with self.transaction() as db:
            db.execute("DELETE FROM plan")
            for ord_, (key, cid, kind, spec, needs, *estimate) in enumerate(cells):
                db.execute(
                    "INSERT INTO cells (key, id, kind, spec, needs, estimate) VALUES (?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET id=excluded.id, spec=excluded.spec, needs=excluded.needs, "
                    "estimate=excluded.estimate",
                    (key, cid, kind, json.dumps(spec, sort_keys=True), json.dumps(needs), (estimate or [None])[0]))
                db.execute("INSERT INTO plan VALUES (?, ?)", (key, ord_))
            for name, value in meta.items():
                db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name, value))

    @_reading
    def meta(self, name: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE name=?", (name,)).fetchone()
        return row[0] if row else None

    def reopen(self, *, retry_failed: bool) -> dict[str, int]:
        """Before a run: cells left 'running' by a dead process, and blocked cells (re-judged as the run goes), go
        back to pending; with ``retry_failed`` so do failed ones. Returns how many of each were reset."""
        statuses = ["running", "blocked"] + (["failed"] if retry_failed else [])
        out = {}
        with self.transaction() as db:
            for s in statuses:
                out[s] = db.execute(
                    "UPDATE cells SET status='pending', worker=NULL WHERE status=? AND key IN (SELECT key FROM plan)",
                    (s,)).rowcount
        return out

    # ---------------------------------------------------------------------------------------- cell status

    def start(self, key: str, worker: str | None = None) -> None:
        with self.transaction() as db:
            db.execute("UPDATE cells SET status='running', attempts=attempts+1, started=?, finished=NULL, "
                       "seconds=NULL, error=NULL, worker=? WHERE key=?",
                       (time.time(), worker or f"{socket.gethostname()}:{os.getpid()}", key))

    def finish(self, key: str, *, rows: list[dict] = (), artifact: dict | None = None,
               seconds: float | None = None, worker: str | None = None) -> None:
        """Record a cell's results (or artifact) and mark it done: all or nothing."""
        with self.transaction() as db:
            db.execute("DELETE FROM results WHERE cell=?", (key,))
            db.execute("DELETE FROM row_details WHERE cell=?", (key,))
            for r in rows:
                db.execute(
                    "INSERT INTO results (cell, composition, task, lang, noise, seed, metric, score, metrics, n) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (key, r["composition"], r["task"], r["lang"], r["noise"], int(r["seed"]), r["metric"],
                     None if r["score"] is None else float(r["score"]),
                     json.dumps(r.get("metrics", {}), sort_keys=True), int(r["n"])))
                db.execute("INSERT INTO row_details VALUES (?, ?, ?, ?, ?, ?)",
                           (key, r["lang"], r["noise"], _pack(r.get("outcomes")), _rate(r.get("noise_rate")),
                            _rate(r.get("noise_words_rate"))))
            if artifact is not None:
                db.execute("INSERT OR REPLACE INTO artifacts VALUES (?, ?, ?, ?, ?)",
                           (key, artifact["key"], artifact["path"], artifact["sha256"],
                            json.dumps(artifact["card"], sort_keys=True, default=str)))
            self._set(db, key, "done", None, seconds, worker)

    def fail(self, key: str, error: str, seconds: float | None = None, worker: str | None = None) -> None:
        with self.transaction() as db:
            self._set(db, key, "failed", error, seconds, worker)

    def block(self, keys: Iterable[str], reason: str) -> None:
        with self.transaction() as db:
            for key in keys:
                db.execute("UPDATE cells SET status='blocked', error=? WHERE key=? AND status='pending'", (reason, key))

    @staticmethod
    def _set(db, key: str, status: str, error: str | None, seconds: float | None, worker: str | None) -> None:
        now = time.time()
        db.execute("UPDATE cells SET status=?, error=?, finished=?, seconds=COALESCE(?, ? - started), "
                   "worker=COALESCE(?, worker) WHERE key=?", (status, error, now, seconds, now, worker, key))

    # -------------------------------------------------------------------------------------------- reading

    @_reading
    def cells(self) -> list[sqlite3.Row]:
        """The current plan's cells, in run order."""
        return self.db.execute("SELECT c.* FROM plan p JOIN cells c ON c.key = p.key ORDER BY p.ord").fetchall()

    @_reading
    def counts(self) -> dict[str, dict[str, int]]:
        """kind -> status -> number of cells in the current plan."""
        out = {k: dict.fromkeys(STATUSES, 0) for k in ("train", "eval")}
        for kind, status, n in self.db.execute(
                "SELECT c.kind, c.status, COUNT(*) FROM plan p JOIN cells c ON c.key = p.key GROUP BY 1, 2"):
            out[kind][status] = n
        return out

    @_reading
    def results(self) -> list[sqlite3.Row]:
        return self.db.execute(
            "SELECT r.* FROM plan p JOIN results r ON r.cell = p.key JOIN cells c ON c.key = p.key "
            "WHERE c.status = 'done' ORDER BY p.ord, r.lang, r.noise").fetchall()

    @_reading
    def details(self) -> list[sqlite3.Row]:
        """(cell, lang, noise, outcomes, noise_rate, noise_words_rate) of finished cells of the current plan, with
        outcomes unpacked to a dict (None where the row has none)."""
        if self.readonly and "row_details" not in _tables(self.db):
            return []  # a run from before details were kept, opened read-only: nothing created the table
        rows = self.db.execute(
            "SELECT d.* FROM plan p JOIN row_details d ON d.cell = p.key JOIN cells c ON c.key = p.key "
            "WHERE c.status = 'done' ORDER BY p.ord, d.lang, d.noise").fetchall()
        return [{**dict(r), "outcomes": _unpack(r["outcomes"])} for r in rows]

    @_reading
    def artifacts(self) -> list[sqlite3.Row]:
        return self.db.execute("SELECT a.* FROM plan p JOIN artifacts a ON a.cell = p.key ORDER BY p.ord").fetchall()


def _pack(outcomes: dict | None) -> bytes | None:
    if outcomes is None:
        return None
    return zlib.compress(json.dumps(outcomes, separators=(",", ":"), allow_nan=False).encode("utf-8"), 6)


def _unpack(blob: bytes | None) -> dict | None:
    if blob is None:
        return None
    try:
        return json.loads(zlib.decompress(blob).decode("utf-8"))
    except (zlib.error, UnicodeDecodeError, ValueError) as e:
        raise ModxferError(f"damaged per-example outcomes in the run database ({e})",
                           "run the sweep into a new output directory (trained artifacts in the store are reused)") from None


def _rate(v) -> float | None:
    return None if v is None else float(v)


# ------------------------------------------------------------------------------------------ opening checks
_NOT_A_STORE_FIX = ("pass the output directory of `modxfer sweep run`; if this was one and its database is damaged, "
                    "run the sweep into a new output directory (trained artifacts in the store are reused)")


def _connect_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection: no journal, schema or WAL-mode change ever reaches the file."""
    uri = "file:" + urllib.parse.quote(str(path.absolute()), safe="/")
    db = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=60, isolation_level=None)
    try:
        db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError:
        # A WAL database on a read-only mount cannot get its -shm file; nobody can be writing there, so reading
        # the file as immutable is safe. A -wal file left beside it holds commits that immutable would skip.
        db.close()
        if not _read_only_mount(path.parent) or path.with_name(path.name + "-wal").exists():
            raise
        db = sqlite3.connect(f"{uri}?immutable=1", uri=True, timeout=60, isolation_level=None)
    db.row_factory = sqlite3.Row
    return db


def _read_only_mount(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _tables(db: sqlite3.Connection) -> set[str]:
    return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}


@functools.lru_cache(maxsize=1)
def _expected_columns() -> dict[str, frozenset[str]]:
    """Table -> columns of the current schema, read from ``_SCHEMA`` itself so the check never drifts from it."""
    db = sqlite3.connect(":memory:")
    try:
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                db.execute(statement)
        return {t: frozenset(r[1] for r in db.execute(f"PRAGMA table_info({t})")) for t in _tables(db)}
    finally:
        db.close()


OPTIONAL_TABLES = frozenset({"row_details"})  # added after the first release; older runs lack it


def _check_schema(db: sqlite3.Connection, path: Path) -> None:
    """Refuse anything but a modxfer run store of this schema version (raises ModxferError)."""
    tables = _tables(db)
    if not tables:
        raise ModxferError(f"{path} is not a modxfer run store: it is an empty database", _NOT_A_STORE_FIX)
    expected = _expected_columns()
    missing = sorted(set(expected) - tables - OPTIONAL_TABLES)
    if missing:
        raise ModxferError(f"{path} is not a modxfer run store: it has no {', '.join(missing)} table"
                           f"{'s' if len(missing) > 1 else ''}", _NOT_A_STORE_FIX)
    for table in sorted(set(expected) & tables):
        have = {r[1] for r in db.execute(f"PRAGMA table_info({table})")}
        if lacking := sorted(expected[table] - have):
            raise ModxferError(f"{path} is not a modxfer run store: its {table} table lacks the column(s) "
                               f"{', '.join(lacking)}", _NOT_A_STORE_FIX)
    row = db.execute("SELECT value FROM meta WHERE name='schema_version'").fetchone()
    if row is None:
        raise ModxferError(f"{path} is not a modxfer run store: it records no schema version", _NOT_A_STORE_FIX)
    if row[0] != str(SCHEMA_VERSION):
        raise _version_error(path, row[0])


def _version_error(path: Path, version) -> ModxferError:
    return ModxferError(f"{path} has schema version {str(version)[:40]}; this modxfer reads {SCHEMA_VERSION}",
                        "use the modxfer version that created the run, or start a new output directory")


def _store_error(path: Path, e: sqlite3.Error) -> ModxferError:
    reason = str(e) or type(e).__name__
    if isinstance(e, sqlite3.OperationalError) and "unable to open" in reason:
        return ModxferError(f"cannot open the run store {path}: {reason}",
                            "check that the file and its folder can be read (and written, to run the sweep)")
    if isinstance(e, sqlite3.OperationalError) and ("readonly" in reason or "read-only" in reason):
        return ModxferError(f"cannot write the run store {path}: {reason}", "choose a writable output directory")
    if isinstance(e, sqlite3.OperationalError) and "locked" in reason:
        return ModxferError(f"the run store {path} stayed locked by another process: {reason}",
                            "wait for the other modxfer process to finish, then retry")
    return ModxferError(f"{path} is not (or no longer) a modxfer run store: {reason}", _NOT_A_STORE_FIX)


def lock_holder(run_dir: str | os.PathLike) -> str | None:
    """Who is running this directory now ("pid N on HOST"), or None when no run is in progress."""
    path = Path(run_dir) / LOCK_NAME
    if not path.is_file():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


class RunLock:
    """One `sweep run` per run directory at a time; the OS drops the lock when its process dies, even by kill -9,
    which is what lets the next run treat cells still marked 'running' as abandoned."""

    def __init__(self, run_dir: str | os.PathLike):
        self.path = Path(run_dir) / LOCK_NAME
        self.fd: int | None = None

    def __enter__(self) -> "RunLock":
        ensure_dir(self.path.parent)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise cannot_write(self.path, e) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise ModxferError(f"{self.path.parent} is being run by {holder}",
                               "wait for that run to finish (watch it with `modxfer sweep status`), or stop it first") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        self.fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None
