"""The run database: one SQLite file per run directory holding every cell, its status, results and artifacts.

Cells are keyed by content (see ``keys.py``), so a cell finished by any earlier run with the same inputs is never
redone, and a changed input gets a new key and reruns. ``plan`` lists the keys of the current config's cells: what
status, export and results report. A cell's results and its 'done' status are written in one transaction, so a
process killed at any instant leaves either both or neither.

Alongside each result row, ``row_details`` keeps what the report's statistics need: the row's per-example outcomes
(``modxfer.outcomes``; zlib-compressed JSON, never pickle) and the realised noise rates. It is written in the same
transaction as the row. Runs made before it existed simply have no details: readers get None and say so.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sqlite3
import time
import zlib
from pathlib import Path
from typing import Iterable, Iterator

from ..errors import ModxferError

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


class Store:
    def __init__(self, run_dir: str | os.PathLike, *, create: bool = False):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / DB_NAME
        if not self.path.is_file():
            if not create:
                raise ModxferError(f"{self.run_dir} is not a sweep run directory (no {DB_NAME})",
                                   "pass the output directory of `modxfer sweep run` (the config's `output`)")
            self.run_dir.mkdir(parents=True, exist_ok=True)
        # Autocommit mode: every write below opens its own explicit transaction.
        self.db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")  # readers (status, export) never block the running sweep
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA foreign_keys=ON")
        with self.transaction():
            # executescript() would commit on its own; the statements contain no ';' of their own.
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self.db.execute(statement)
            row = self.db.execute("SELECT value FROM meta WHERE name='schema_version'").fetchone()
            if row is None:
                self.db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            elif int(row[0]) != SCHEMA_VERSION:
                raise ModxferError(f"{self.path} has schema version {row[0]}; this modxfer reads {SCHEMA_VERSION}",
                                   "use the modxfer version that created the run, or start a new output directory")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
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

    def cells(self) -> list[sqlite3.Row]:
        """The current plan's cells, in run order."""
        return self.db.execute("SELECT c.* FROM plan p JOIN cells c ON c.key = p.key ORDER BY p.ord").fetchall()

    def counts(self) -> dict[str, dict[str, int]]:
        """kind -> status -> number of cells in the current plan."""
        out = {k: dict.fromkeys(STATUSES, 0) for k in ("train", "eval")}
        for kind, status, n in self.db.execute(
                "SELECT c.kind, c.status, COUNT(*) FROM plan p JOIN cells c ON c.key = p.key GROUP BY 1, 2"):
            out[kind][status] = n
        return out

    def results(self) -> list[sqlite3.Row]:
        return self.db.execute(
            "SELECT r.* FROM plan p JOIN results r ON r.cell = p.key JOIN cells c ON c.key = p.key "
            "WHERE c.status = 'done' ORDER BY p.ord, r.lang, r.noise").fetchall()

    def details(self) -> list[sqlite3.Row]:
        """(cell, lang, noise, outcomes, noise_rate, noise_words_rate) of finished cells of the current plan, with
        outcomes unpacked to a dict (None where the row has none)."""
        rows = self.db.execute(
            "SELECT d.* FROM plan p JOIN row_details d ON d.cell = p.key JOIN cells c ON c.key = p.key "
            "WHERE c.status = 'done' ORDER BY p.ord, d.lang, d.noise").fetchall()
        return [{**dict(r), "outcomes": _unpack(r["outcomes"])} for r in rows]

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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
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
