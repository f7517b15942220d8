"""What modxfer keeps on disk under its cache (``MODXFER_CACHE``, default ``~/.cache/modxfer``), how big each part is,
and clearing the parts that are made again on use.

Regenerable parts (``clear`` removes them; the next use rebuilds what it needs, at the cost of that work):
converted backbones, frozen-trunk states, similarity inputs and matrices, code-switching lexicons, precision and
weight-hash memos, downloaded archives and zoos pulled from the Hub. Never cleared here: the default artifact store
(trained models, hours of work) and fetched task data (not re-fetchable offline); their paths are shown so a user can
remove them deliberately.

Nothing but modxfer's own entries is ever deleted, and never the part's folder itself (a variable such as
MODXFER_TRUNK_CACHE may point at a folder of the user's). An entry is modxfer's when its writer marked it (``mark``:
a ``.modxfer-entry`` file inside a folder entry, a ``.<name>.modxfer-entry`` file beside a file entry), not when its
name looks like one: a user's folder named like a trunk entry, or anything written there before markers existed, is
left in place and reported. A part is refused outright when it is a link, or when it is or holds the cache root, the
artifact store, the task data, the home or the current folder.

Entries are removed by renaming them into a temporary folder inside the part first (one atomic step each; the
trunk's under its writers' lock), then deleting that folder: a process using the cache meanwhile sees an entry whole
or absent, never half deleted. A converted backbone is best not cleared while a sweep runs, which loads it again per
process.
"""
from __future__ import annotations

import contextlib
import logging
import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, ModxferError
from ..io import LOCK_NAME, SWAP_LOCK, TEMP_RE, cache_dir, file_lock

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
# The names modxfer's writers give the entries of each regenerable part (for people reading a cache), and whether
# each is a folder ("dir") or a file: what `clear` deletes is decided by the writer's marker, never by the name.
_ENTRY = {
    "backbones": (r"e5-small-q4_[\w.-]+", "dir"),
    "trunk": (r"[0-9a-f]{64}", "dir"),  # with its meta.json
    "similarity": (r"[0-9a-f]{16}", "dir"),
    "lexicons": (r"[0-9a-f]{12}", "dir"),
    "precision": (r"[0-9a-f]{24}\.json", "file"),
    "weights_hashes": (r"[0-9a-f]{32}", "file"),
    "downloads": (r"[0-9a-f]{16}-[^/]+|tmp[a-z0-9_]{8}\.tmp", "file"),  # tmp*: a failed download of older releases
    "zoo": (r"[A-Za-z0-9][\w.-]*--[A-Za-z0-9][\w.-]*", "dir"),
}
_LOCKS = {".lock", LOCK_NAME, SWAP_LOCK}
from ..io import MARKER, mark, marker_of  # noqa: E402,F401  (the writers mark what they write; clear reads it)


@dataclass(frozen=True)
class CachePart:
    name: str
    path: Path
    what: str
    clearable: bool
    bytes: int
    files: int
    link: bool = False  # a part that is a link is shown, never cleared


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
        try:
            link, is_dir = path.is_symlink(), path.is_dir()
        except OSError:  # an unreadable parent: shown empty
            link, is_dir = False, False
        size, files = _measure(path) if is_dir else (0, 0)
        out.append(CachePart(name, path, what, clearable and not link, size, files, link))
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
    kept: tuple[str, ...] = ()  # entries left in place: modxfer cannot prove it wrote them (no marker)


def clear(names, on_each: Callable[[str, Cleared | None], None] | None = None) -> dict[str, Cleared]:
    """Remove the regenerable parts ``names`` (all checked first, see the module docstring); returns {part: Cleared}
    for the parts that existed. ``on_each(part, Cleared or None if it was empty)`` is called as each is done."""
    out = {}
    for name in check(names):
        done = _clear_one(name, part_path(name))
        if on_each is not None:
            on_each(name, done)
        if done is not None:
            out[name] = done
    return out


def check(names) -> list[str]:
    """``names`` (duplicates dropped) when every one of them may be cleared now (no link, no protected folder); else
    the reason, before anything is removed."""
    names = check_parts(names)
    kept = _protected()
    for name in names:
        _check_safe(name, part_path(name), kept)
    return names


def _protected() -> dict[Path, str]:
    from ..tasks import resolve_data_dir

    where = {}
    for what, find in (("the modxfer cache itself", cache_dir), ("the artifact store (trained models)",
                       lambda: part_path("artifacts")), ("fetched task data", lambda: part_path("data")),
                       ("your home folder", Path.home), ("the current folder", Path.cwd),
                       ("the task data", lambda: resolve_data_dir(None))):
        try:
            where[Path(os.path.realpath(find()))] = what
        except (ModxferError, OSError, RuntimeError):  # absent (no data directory, no home, cwd deleted): nothing to keep
            continue
    return where


def _check_safe(name: str, path: Path, protected: dict[Path, str]) -> None:
    variable = "MODXFER_TRUNK_CACHE" if name == "trunk" else "MODXFER_CACHE"
    try:
        if path.is_symlink():
            raise ConfigError(f"{name} at {path} is a link (to {os.readlink(path)}): `cache clear` does not follow "
                              f"links", f"clear the folder it points to yourself, or point {variable} at a real folder")
        if not path.is_dir():
            return
        real = Path(os.path.realpath(path))
        for kept, what in protected.items():
            if kept == real or real in kept.parents or real == Path(real.anchor):
                raise ConfigError(f"{name} at {path} is or holds {what} ({kept}): clearing it would delete that too",
                                  f"point {variable} at a folder of modxfer's own")
    except OSError as e:
        raise ModxferError(f"cannot read {name} at {path}: {e.strerror or e}", "check its permissions") from None


def _ours(name: str, entry: os.DirEntry) -> bool:
    """Whether ``entry`` is one modxfer's writer made in part ``name`` and marked as its own (``mark``)."""
    try:
        if entry.is_symlink() or entry.name in _LOCKS or entry.name.endswith(MARKER) or TEMP_RE.match(entry.name):
            return False
        kind = _ENTRY[name][1]
        if kind == "file":
            return entry.is_file(follow_symlinks=False) and _plain_file(marker_of(Path(entry.path)))
        return entry.is_dir(follow_symlinks=False) and _plain_file(Path(entry.path) / MARKER)
    except OSError:
        return False


def _plain_file(p: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(p).st_mode)
    except OSError:
        return False


_CLEARING = ".clearing.modxfer-"  # + mkdtemp's 8 characters + ".tmp": io's temporary names, so writers skip it


def _clear_one(name: str, path: Path) -> Cleared | None:
    for stale in path.parent.glob(f".{path.name}.clearing-*.tmp"):  # an interrupted clear of an older release
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
    if not path.is_dir() or path.is_symlink():
        return None
    for stale in path.glob(f"{_CLEARING}*.tmp"):  # an interrupted clear: it holds only entries proven ours
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
    gone = None
    try:
        with os.scandir(path) as it:
            entries = list(it)
        ours = [e for e in entries if _ours(name, e)]
        kept = tuple(sorted(e.name for e in entries if not _ours(name, e) and e.name not in _LOCKS
                            and not e.name.endswith(MARKER) and not TEMP_RE.match(e.name)))
        if not ours:
            return Cleared(0, kept=kept) if kept else None
        size = sum(_measure(Path(e.path))[0] if e.is_dir(follow_symlinks=False) else
                   e.stat(follow_symlinks=False).st_size for e in ours)
        gone = Path(tempfile.mkdtemp(prefix=_CLEARING, suffix=".tmp", dir=path))
        # the trunk's writers evict under this lock: they never see an entry half moved
        with file_lock(path / ".lock") if name == "trunk" else contextlib.nullcontext():
            for e in ours:
                with contextlib.suppress(FileNotFoundError):  # evicted or cleared by another process meanwhile
                    os.rename(e.path, gone / e.name)
                    if not e.is_dir(follow_symlinks=False):
                        os.rename(marker_of(Path(e.path)), gone / f".{e.name}{MARKER}")
    except BaseException as e:
        if gone is not None:
            shutil.rmtree(gone, ignore_errors=True)  # only entries proven ours were moved into it
        if isinstance(e, OSError):
            raise ModxferError(f"could not clear {name} at {path}: {e.strerror or e}",
                               "check that the folder is writable") from None
        raise
    shutil.rmtree(gone, ignore_errors=True)  # what stays (another user's files, say) is measured and reported
    if not gone.exists():
        return Cleared(size, kept=kept)
    left, files = _measure(gone)
    log.warning("%s: %d file(s) could not be deleted; they are in %s", name, files, gone)
    return Cleared(size - left, gone, kept)


def human(size: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"
