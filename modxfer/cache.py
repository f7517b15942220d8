"""What modxfer keeps on disk under its cache (``MODXFER_CACHE``, default ``~/.cache/modxfer``), how big each part is,
and clearing the parts that are made again on use.

Regenerable parts (``clear`` removes them; the next use rebuilds what it needs, at the cost of that work):
converted backbones, frozen-trunk states, similarity inputs and matrices, code-switching lexicons, precision and
weight-hash memos, downloaded archives and zoos pulled from the Hub. Never cleared here: the default artifact store
(trained models, hours of work) and fetched task data (not re-fetchable offline); their paths are shown so a user can
remove them deliberately.

A part is removed by renaming it out of the way first (one atomic step), then deleting the renamed copy: a process
using the cache meanwhile sees the part whole or absent, never half deleted. Writers already handle an absent folder
(the trunk cache, for one, goes on from memory when it cannot write).
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError, ModxferError
from .io import cache_dir

# name -> (what it holds, regenerable); a regenerable part is made again on its next use
PARTS: dict[str, tuple[str, bool]] = {
    "backbones": ("the embedded backbone, converted", True),
    "trunk": ("frozen-trunk states (at most MODXFER_TRUNK_CACHE_GB)", True),
    "similarity": ("similarity inputs and matrices", True),
    "lexicons": ("code-switching lexicons", True),
    "precision": ("precision timings", True),
    "weights_hashes": ("backbone weight hashes", True),
    "downloads": ("archives of `modxfer data fetch`", True),
    "zoo": ("zoos pulled from the Hub", True),
    "artifacts": ("trained models: the default store", False),
    "data": ("task data of `modxfer data fetch`", False),
}


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
        return Path(os.environ.get("MODXFER_STORE", cache_dir() / "artifacts")).expanduser()
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
                    except FileNotFoundError:
                        continue
        except (FileNotFoundError, NotADirectoryError):
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


def clear(names) -> dict[str, int]:
    """Remove the regenerable parts ``names``; returns {part: bytes freed} for the parts that existed."""
    freed = {}
    for name in check_parts(names):
        path = part_path(name)
        if not path.is_dir():
            continue
        size, _ = _measure(path)
        gone = path.with_name(f".{path.name}.clearing-{os.getpid()}")
        try:
            os.rename(path, gone)  # the part disappears whole: readers never see it half deleted
        except FileNotFoundError:  # cleared by another process meanwhile
            continue
        except OSError as e:
            raise ModxferError(f"could not clear {name} at {path}: {e.strerror or e}",
                               "check that the folder is writable (and not a mount point), then try again") from None
        shutil.rmtree(gone, ignore_errors=True)
        freed[name] = size
    return freed


def human(size: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"
