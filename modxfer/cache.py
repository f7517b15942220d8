"""What modxfer keeps on disk under its cache (``MODXFER_CACHE``, default ``~/.cache/modxfer``), how big each part is,
and clearing the parts that are made again on use.

Regenerable parts (``clear`` removes them; the next use rebuilds what it needs, at the cost of that work):
converted backbones, frozen-trunk states, similarity inputs and matrices, code-switching lexicons, precision and
weight-hash memos, downloaded archives and zoos pulled from the Hub. Never cleared here: the default artifact store
(trained models, hours of work) and fetched task data (not re-fetchable offline); their paths are shown so a user can
remove them deliberately.

A part is removed by renaming it out of the way first (one atomic step; the trunk's under its writers' lock), then
deleting the renamed copy: a process using the cache meanwhile sees the part whole or absent, never half deleted.
Writers already handle an absent folder (the trunk cache goes on from memory when it cannot write); a converted
backbone is best not cleared while a sweep runs, which loads it again per process.

Nothing but modxfer's own files is ever deleted: a part is refused when it is a link, when it is or holds the cache
root, the artifact store, the task data, the home or the current folder (a variable such as MODXFER_TRUNK_CACHE
pointed at the wrong place), or when it holds any entry whose name modxfer's writers would not have given it.
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .cards import show
from .errors import ConfigError, ModxferError
from .io import cache_dir, file_lock

log = logging.getLogger(__name__)

# name -> (what it holds, regenerable); a regenerable part is made again on its next use
PARTS: dict[str, tuple[str, bool]] = {
    "backbones": ("the embedded backbone, converted", True),
    "trunk": ("frozen-trunk states (at most MODXFER_TRUNK_CACHE_GB)", True),
    "similarity": ("similarity inputs and matrices", True),
    "lexicons": ("code-switching lexicons", True),
    "precision": ("precision timings", True),
    "weights_hashes": ("backbone weight hashes", True),
    "downloads": ("archives of `modxfer data fetch` (fetched again: needs the network)", True),
    "zoo": ("zoos pulled from the Hub (pulled again: needs the network)", True),
    "artifacts": ("trained models: the default store", False),
    "data": ("task data of `modxfer data fetch`", False),
}
# The names modxfer's writers give the entries of each regenerable part, and their lock and temporary files: a part
# holding anything else is not modxfer's alone, and is not cleared.
_ENTRY = {
    "backbones": r"e5-small-q4_[\w.-]+",
    "trunk": r"[0-9a-f]{64}",
    "similarity": r"[0-9a-f]{16}",
    "lexicons": r"[0-9a-f]{12}",
    "precision": r"[0-9a-f]{24}\.json",
    "weights_hashes": r"[0-9a-f]{32}",
    "downloads": r"[0-9a-f]{16}-[^/]+",
    "zoo": r"[A-Za-z0-9][\w.-]*--[A-Za-z0-9][\w.-]*",
}
_HOUSEKEEPING = re.compile(r"^\.(lock|modxfer\.lock|modxfer\.swap\.lock|.+\.tmp|.+\.old)$")


@dataclass(frozen=True)
class CachePart:
    name: str
    path: Path
    what: str
    clearable: bool
    bytes: int
    files: int


def part_path(name: str) -> Path:
    """Where part ``name`` lives; the trunk and the store follow their own variables when set."""
    if name == "trunk":
        return Path(os.environ.get("MODXFER_TRUNK_CACHE") or cache_dir() / "trunk").expanduser()
    if name == "artifacts":
        return Path(os.environ.get("MODXFER_STORE") or cache_dir() / "artifacts").expanduser()
    return cache_dir() / name


def _measure(path: Path) -> tuple[int, int]:
    """(bytes, files) under ``path``, links not followed; files that vanish meanwhile are skipped."""
    total = files = 0
    stack = [path]
    while stack:
        try:
            with os.scandir(stack.pop()) as it:
                for entry in it:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(Path(entry.path))
                        elif entry.is_file(follow_symlinks=False):
                            total += entry.stat(follow_symlinks=False).st_size
                            files += 1
                    except OSError:  # vanished meanwhile, or unreadable: not counted
                        continue
        except OSError:
            continue
    return total, files


def usage() -> list[CachePart]:
    """Every part, in ``PARTS`` order, with its size now (0 where it does not exist)."""
    out = []
    for name, (what, clearable) in PARTS.items():
        path = part_path(name)
        size, files = _measure(path) if path.is_dir() else (0, 0)
        out.append(CachePart(name, path, what, clearable, size, files))
    return out


def check_parts(names) -> list[str]:
    """``names`` as a list of clearable parts, or a message saying which is unknown or kept, and why."""
    names = list(dict.fromkeys(names))
    unknown = [n for n in names if n not in PARTS]
    if unknown:
        raise ConfigError(f"unknown cache part(s): {', '.join(unknown)}",
                          f"name one or more of: {', '.join(n for n, (_, c) in PARTS.items() if c)} (or pass --all)")
    kept = [n for n in names if not PARTS[n][1]]
    if kept:
        paths = "; ".join(f"{n}: {part_path(n)}" for n in kept)
        raise ConfigError(f"{', '.join(kept)} cannot be made again by modxfer, so `cache clear` never removes it "
                          f"({paths})", "remove that folder yourself if you mean to lose it")
    return names


@dataclass(frozen=True)
class Cleared:
    freed: int  # bytes removed
    left: Path | None = None  # what could not be deleted (another user's files, say), renamed out of the way


def clear(names) -> dict[str, Cleared]:
    """Remove the regenerable parts ``names`` (checked first, all of them, see the module docstring); returns
    {part: Cleared} for the parts that existed."""
    return {name: done for name in check(names) if (done := _clear_one(name, part_path(name))) is not None}


def check(names) -> list[str]:
    """``names`` (duplicates dropped) when every one of them may be cleared now; else the reason, before anything is
    removed."""
    names = check_parts(names)
    for name in names:
        _check_safe(name, part_path(name))
    return names


def _protected() -> dict[Path, str]:
    where = {cache_dir(): "the modxfer cache itself", part_path("artifacts"): "the artifact store (trained models)",
             part_path("data"): "fetched task data", Path.home(): "your home folder", Path.cwd(): "the current folder"}
    try:
        from .tasks import resolve_data_dir

        where[resolve_data_dir(None)] = "the task data"
    except ModxferError:  # no data directory anywhere: nothing of it to protect
        pass
    return {Path(os.path.realpath(p)): what for p, what in where.items()}


def _check_safe(name: str, path: Path) -> None:
    variable = "MODXFER_TRUNK_CACHE" if name == "trunk" else "MODXFER_CACHE"
    if path.is_symlink():
        raise ConfigError(f"{name} at {path} is a link (to {os.readlink(path)}): `cache clear` does not follow links",
                          f"clear the folder it points to yourself, or point {variable} at a real folder")
    if not path.is_dir():
        return
    real = Path(os.path.realpath(path))
    for kept, what in _protected().items():
        if kept == real or real in kept.parents or real == Path(real.anchor):
            raise ConfigError(f"{name} at {path} is or holds {what} ({kept}): clearing it would delete that too",
                              f"point {variable} at a folder of modxfer's own")
    pattern = re.compile(f"^(?:{_ENTRY[name]})$")
    try:
        strays = [e.name for e in os.scandir(path) if not (pattern.match(e.name) or _HOUSEKEEPING.match(e.name))]
    except OSError as e:
        raise ModxferError(f"cannot read {name} at {path}: {e.strerror or e}", "check its permissions") from None
    if strays:
        raise ConfigError(f"{name} at {path} holds {show(sorted(strays), 120)}, which modxfer does not write there: "
                          "not cleared", f"move those away, or point {variable} at a folder of modxfer's own")


def _clear_one(name: str, path: Path) -> Cleared | None:
    for stale in path.parent.glob(f".{path.name}.clearing-*.tmp"):  # an earlier clear that was interrupted
        shutil.rmtree(stale, ignore_errors=True)
    if not path.is_dir():
        return None
    size, _ = _measure(path)
    gone = Path(tempfile.mkdtemp(prefix=f".{path.name}.clearing-", suffix=".tmp", dir=path.parent))
    try:
        # the trunk's writers evict under this lock; it goes with the folder, and they start a fresh one
        with file_lock(path / ".lock") if name == "trunk" else contextlib.nullcontext():
            os.rename(path, gone / path.name)  # the part disappears whole: readers never see it half deleted
    except FileNotFoundError:  # cleared by another process meanwhile
        gone.rmdir()
        return None
    except OSError as e:
        gone.rmdir()
        raise ModxferError(f"could not clear {name} at {path}: {e.strerror or e}",
                           "check that the folder and its parent are writable (a mount point cannot be moved)") from None
    failed: list[str] = []
    shutil.rmtree(gone, onerror=lambda _f, p, _e: failed.append(p))
    if not failed or not gone.exists():
        return Cleared(size)
    left, _ = _measure(gone)
    log.warning("%s: %d item(s) could not be deleted; they are in %s", name, len(failed), gone)
    return Cleared(size - left, gone)


def human(size: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"
