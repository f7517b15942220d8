"""Atomic writes, locks and strict readers of outside files.

Writers: readers never see a half-written file or folder, and a folder replaced while others read it is swapped in
one system call (``renameat2(RENAME_EXCHANGE)`` on Linux), so a reader sees the old copy or the new one, never none.
Temporary folders a killed writer left behind are removed under a lock once no writer is active beside them.

Readers: text from outside (data files, configs, cards, indexes) is decoded strictly; a decoding error, JSON that
nests too deeply or holds NaN/Infinity, or a duplicate key becomes a ``DataError`` naming the file and the line or
byte offset, never a traceback.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import hashlib
import json
import logging
import math
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Iterator

from .errors import DataError, ModxferError

MAX_JSON_DEPTH = 64  # cards, indexes and data rows nest a handful of levels; deeper is hostile or broken
LOCK_NAME = ".modxfer.lock"
SWAP_LOCK = ".modxfer.swap.lock"
# mkdtemp names: ".<name>.<8 random>.tmp" (older releases) or ".<name>.modxfer-<8 random>.tmp|.old"
TEMP_RE = re.compile(r"^\..+\.(modxfer-)?[a-z0-9_]{8}\.(tmp|old)$")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _publishable(path: str | os.PathLike, directory: bool = False) -> None:
    """mkstemp/mkdtemp create owner-only files; give them the modes a plain open()/mkdir() would (shared stores)."""
    os.chmod(path, (0o777 if directory else 0o666) & ~_umask())


def cannot_write(path: str | os.PathLike, e: OSError, detail: str = "") -> ModxferError:
    """The user error for an OSError while writing ``path`` (read-only, missing or full file system, no access)."""
    reason = (e.strerror or str(e)) + detail
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return ModxferError(f"cannot write {path}: {reason}", "free some space, or choose another location")
    return ModxferError(f"cannot write {path}: {reason}", "choose a writable location")


def ensure_dir(path: str | os.PathLike, *, writing: str | os.PathLike | None = None) -> Path:
    """Create ``path`` as a folder; a file where a folder must be is a user error, not an OSError traceback.

    ``writing``: the file or folder about to be written in it, which the error names (what the user asked for).
    """
    path = Path(path)
    target = writing if writing is not None else path
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), path)
        raise ModxferError(f"cannot create the folder {path}: {blocker} is a file, not a folder",
                           "remove or rename that file, or choose another location") from None
    except OSError as e:  # no permission, read-only file system, a parent that cannot hold folders (/proc), disk full
        where = f" (cannot create the folder {e.filename or path})" if e.errno == errno.ENOENT else ""
        raise cannot_write(target, e, where) from None
    return path


def check_writable(path: str | os.PathLike, *, file: bool = False) -> Path:
    """Fail now, before minutes of work, if the folder ``path`` (with ``file``: the file ``path``) could not be
    created and written; creates nothing.

    Probes the nearest existing folder with a real temporary file: permission bits say nothing for root, and a
    read-only mount or /proc refuses only when asked.
    """
    path = Path(path)
    if file and path.is_dir():
        raise ModxferError(f"cannot write the file {path}: a folder of that name exists",
                           "remove it or choose another name")
    folder = path.parent if file else path
    existing = next((p for p in (folder, *folder.parents) if p.exists()), Path("."))
    if not existing.is_dir():
        raise ModxferError(f"cannot create the folder {folder}: {existing} is a file, not a folder",
                           "remove or rename that file, or choose another location")
    try:
        fd, probe = tempfile.mkstemp(dir=existing, prefix=".modxfer-probe.", suffix=".tmp")
    except OSError as e:
        where = f" (cannot create files in {existing})" if e.errno == errno.ENOENT else ""
        raise cannot_write(path, e, where) from None
    os.close(fd)
    os.unlink(probe)
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    path = Path(path)
    ensure_dir(path.parent, writing=path)
    if path.is_dir():
        raise ModxferError(f"cannot write the file {path}: a folder of that name exists",
                           "remove it or choose another name")
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        where = f" (cannot create files in {path.parent})" if e.errno == errno.ENOENT else ""
        raise cannot_write(path, e, where) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        _publishable(tmp)
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(e, OSError):  # disk full half way: the old file, if any, is still whole
            raise cannot_write(path, e) from None
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj) -> Path:
    """Strict JSON (NaN, which many readers reject, is written as null)."""
    return atomic_write_text(path, json.dumps(finite_json(obj), indent=2, sort_keys=True, ensure_ascii=False,
                                              allow_nan=False) + "\n")


def finite_json(obj):
    if isinstance(obj, float):
        return None if obj != obj or obj in (float("inf"), float("-inf")) else obj
    if isinstance(obj, dict):
        return {k: finite_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_json(v) for v in obj]
    return obj


# ------------------------------------------------------------------------------------------- locks
@contextlib.contextmanager
def file_lock(path: str | os.PathLike, *, shared: bool = False, blocking: bool = True,
              writing: str | os.PathLike | None = None) -> Iterator[bool]:
    """Hold an advisory lock on ``path`` (created if needed); yields False if ``blocking`` is off and it is taken.

    Released when the holder exits or dies, so a killed process never leaves a lock behind. Without ``fcntl``
    (Windows) it yields True and locks nothing. ``writing``: what the lock guards, which an error names.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield True
        return
    target = writing if writing is not None else path
    ensure_dir(Path(path).parent, writing=target)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666 & ~_umask())
    except OSError as e:
        where = f" (cannot create files in {Path(path).parent})" if e.errno == errno.ENOENT else ""
        raise cannot_write(target, e, where) from None
    try:
        flags = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | (0 if blocking else fcntl.LOCK_NB)
        try:
            fcntl.flock(fd, flags)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # closing releases the lock


def clean_stale(parent: Path, *, writing: str | os.PathLike | None = None) -> int:
    """Remove temporary folders of killed writers in ``parent``; only when no writer holds its lock."""
    if not parent.is_dir():
        return 0
    removed = 0
    with file_lock(parent / LOCK_NAME, blocking=False, writing=writing) as got:
        if not got:
            return 0  # a writer is active here: its folder is not stale; the next writer cleans up
        for p in parent.iterdir():
            if TEMP_RE.match(p.name) and p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
                removed += 1
    return removed


# ------------------------------------------------------------------------------------------- folders
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


@functools.lru_cache(maxsize=1)
def _renameat2():
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # not glibc >= 2.28 / not Linux
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return fn


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2); False where the system or file system cannot."""
    fn = _renameat2()
    if fn is None:
        return False
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _replace_dir(tmp: Path, path: Path) -> None:
    """Put ``tmp`` at ``path``, replacing what is there without a moment in which ``path`` is missing."""
    if not path.is_dir() or path.is_symlink():
        if path.exists() or path.is_symlink():
            raise ModxferError(f"cannot write the folder {path}: a file of that name exists",
                               "remove it or choose another location")
        os.replace(tmp, path)
        return
    if _exchange(tmp, path):
        shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the old copy
        return
    # No atomic swap here (non-Linux, some network file systems): two renames, serialised among writers.
    with file_lock(path.parent / SWAP_LOCK):  # not LOCK_NAME: this writer holds that one shared
        old = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.modxfer-", suffix=".old"))
        os.replace(path, old / "x")
        os.replace(tmp, path)
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, *, keep: Callable[[Path], bool] | None = None) -> Iterator[Path]:
    """Yield a temporary sibling folder; on success it becomes ``path`` in one step.

    An existing folder is replaced atomically, unless ``keep(path)`` says the copy there is good: then the new one is
    discarded (two writers of the same content: the second keeps the first). Stale temporary folders of killed
    writers are removed first.
    """
    path = Path(path)
    ensure_dir(path.parent, writing=path)
    clean_stale(path.parent, writing=path)
    with file_lock(path.parent / LOCK_NAME, shared=True, writing=path):
        try:
            tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.modxfer-", suffix=".tmp"))
        except OSError as e:
            raise cannot_write(path, e) from None
        try:
            yield tmp
            _publishable(tmp, directory=True)
            try:
                os.rename(tmp, path)  # atomic, and fails if another writer got there first
                return
            except OSError as e:
                if e.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
                    raise
            if keep is not None and path.is_dir() and not path.is_symlink() and keep(path):
                shutil.rmtree(tmp, ignore_errors=True)
                return
            _replace_dir(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def cache_dir() -> Path:
    """Where converted models and cached features live: ``MODXFER_CACHE`` or ``~/.cache/modxfer``."""
    return Path(os.environ.get("MODXFER_CACHE") or Path.home() / ".cache" / "modxfer").expanduser()  # "" is unset


# ------------------------------------------------------------------------------------------- strict readers
_FIX = "use an unmodified copy of the file, or re-create it"


def decode_utf8(data: bytes, where: str | os.PathLike, fix: str = _FIX) -> str:
    """``data`` as text; invalid UTF-8 is reported with its line and byte offset."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise DataError(f"{where}:{line}: not UTF-8 text (byte {e.start}: {data[e.start:e.start + 1]!r})",
                        f"save the file as UTF-8; {fix}") from None


MAX_TEXT_BYTES = 16 << 20  # cards, indexes, configs: kilobytes; anything near this is hostile or a mistake


def read_bytes(path: str | os.PathLike, fix: str = _FIX, *, max_bytes: int = MAX_TEXT_BYTES) -> bytes:
    """A file's bytes, refused (before reading any) when it is larger than ``max_bytes``; never more is read, even
    if the file grows meanwhile."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size > max_bytes:
                raise DataError(f"{path} is {size:,} bytes, more than the {max_bytes:,} such a file may have",
                                f"it is not the file it should be; {fix}")
            data = f.read(max_bytes + 1)
    except FileNotFoundError:
        raise DataError(f"missing file {path}", fix) from None
    except OSError as e:  # a folder, no permission, an I/O error
        raise DataError(f"cannot read {path}: {e.strerror or e}", fix) from None
    if len(data) > max_bytes:
        raise DataError(f"{path} grew past {max_bytes:,} bytes while it was read", fix)
    return data


def is_disk_full(e: BaseException) -> bool:
    """Whether an error (an OSError, or safetensors' own error type, which carries only text) is a full disk."""
    if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(e)
    return "No space left on device" in text or "Disk quota exceeded" in text or "os error 28" in text


def read_text(path: str | os.PathLike, fix: str = _FIX, *, max_bytes: int = MAX_TEXT_BYTES) -> str:
    path = Path(path)
    return decode_utf8(read_bytes(path, fix, max_bytes=max_bytes), path, fix)


def _no_constants(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:20]} is out of range")
    return value


def _unique_keys(pairs: list) -> dict:
    out = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k[:60]!r}")
        out[k] = v
    return out


def depth(obj, limit: int) -> int:
    """Nesting depth of parsed JSON/YAML, counted without recursion; stops counting past ``limit``."""
    deepest, stack = 0, [(obj, 1)]
    while stack:
        node, d = stack.pop()
        if isinstance(node, (dict, list, tuple)):
            deepest = max(deepest, d)
            if deepest > limit:
                return deepest
            stack.extend((v, d + 1) for v in (node.values() if isinstance(node, dict) else node))
    return deepest


# json.loads hooks refusing NaN/Infinity, numbers past float range (1e400) and duplicate keys (data readers use them)
STRICT_JSON = dict(parse_constant=_no_constants, parse_float=_finite_float, object_pairs_hook=_unique_keys)


def parse_json(text: str, where: str | os.PathLike, fix: str = _FIX, *, strict: bool = True,
               max_depth: int = MAX_JSON_DEPTH):
    """Parse JSON text; ``strict`` also refuses NaN/Infinity, out-of-range numbers and duplicate keys."""
    hooks = STRICT_JSON if strict else {}
    try:
        obj = json.loads(text, **hooks)
    except json.JSONDecodeError as e:
        raise DataError(f"{where}:{e.lineno}: not valid JSON ({e.msg}, column {e.colno})", fix) from None
    except RecursionError:
        raise DataError(f"{where}: JSON nested too deeply", fix) from None
    except ValueError as e:  # hooks, and integers too long to convert
        raise DataError(f"{where}: not acceptable JSON ({str(e)[:120]})", fix) from None
    if depth(obj, max_depth) > max_depth:
        raise DataError(f"{where}: JSON nested more than {max_depth} levels deep", fix)
    return obj


def read_json(path: str | os.PathLike, fix: str = _FIX, *, max_bytes: int = MAX_TEXT_BYTES, **kwargs):
    """A JSON file read strictly (see ``parse_json``) and with a size cap; errors name the file and line."""
    return parse_json(read_text(path, fix, max_bytes=max_bytes), Path(path), fix, **kwargs)


# ------------------------------------------------------------------------------------------ cache entries
MARKER = ".modxfer-entry"


def mark(entry: str | os.PathLike) -> None:
    """Record that modxfer's writer made ``entry`` (a folder, or a file), so `cache clear` may delete it.

    Called by each writer of a regenerable part on what it wrote (a folder before its rename into place); a marker
    that cannot be written costs only the entry's clearing, never the write. It lives here, below every writer
    (tasks, model, noise, similarity), while ``store.cache`` decides what a clear may delete.
    """
    entry = Path(entry)
    marker = entry / MARKER if entry.is_dir() and not entry.is_symlink() else marker_of(entry)
    try:
        marker.write_text("written by modxfer: `modxfer cache clear` may delete this entry\n", encoding="utf-8")
    except OSError as e:
        logging.getLogger(__name__).debug("cannot mark %s as modxfer's: %s", entry, e)


def marker_of(entry: Path) -> Path:
    """The marker beside a marked file (a folder's is inside it)."""
    return entry.parent / f".{entry.name}{MARKER}"


def progress_interval() -> float:
    """Seconds between progress-bar updates: a terminal redraws one line in place, but into a file or a pipe every
    update is a new line (a 7-minute training wrote thousands), so there an update every 30 s."""
    import sys

    return 0.1 if sys.stderr.isatty() else 30.0
