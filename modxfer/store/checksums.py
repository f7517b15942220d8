"""Weights are part of an artifact's identity in the store.

An artifact's key hashes its training request, not its weights: two folders with the same key can hold different
weights (a zoo can ship the genuine card beside other weights). So the store records the sha256 of every file an
artifact consists of (the card's ``checksums``) when it is saved or installed, and every later use (loading,
reuse by ``train``, re-install) checks the files against that record, and that every float in the weights is finite.

Hashing hundreds of MB on every load would cost seconds, so a verification is remembered in a sidecar beside the
card (``.modxfer-verified.json``: size, mtime and inode of each file as it was verified); a file whose size, mtime
or inode changed is hashed again. The sidecar only saves work: the record it is compared with is the card's.

Artifacts stored before checksums were recorded: a copy installed from a zoo is checked against the sha256 its
``provenance`` recorded; a local one is hashed on its first verified use and the digests written into its card
(trusting what is there at that moment, which is all an older store can offer).
"""
from __future__ import annotations

import hashlib
import logging
import math
import os
from pathlib import Path

from ..errors import DataError, ModxferError
from ..io import atomic_write_json, parse_json, sha256_file

log = logging.getLogger(__name__)

FIELD = "checksums"  # card field: {relative path: sha256} of every file but the card
SIDECAR = ".modxfer-verified.json"
_SIDECAR_MAX = 1 << 16


def weights_digest(checksums: dict) -> str:
    """One sha256 standing for all of an artifact's files (what `zoo list` and provenance show beside the key)."""
    lines = "".join(f"{rel}\t{d}\n" for rel, d in sorted(checksums.items()) if rel not in ("card.json", "README.md"))
    return hashlib.sha256(lines.encode()).hexdigest()


def check_finite(path: Path, where: str) -> None:
    """Refuse weights holding NaN or an infinity: they load without complaint and then score at chance."""
    import numpy as np
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy") as f:
            for name in f.keys():
                for t in _chunks(f, name):
                    if t.dtype.kind in "fc" and not np.isfinite(t).all():
                        bad = int(t.size - np.isfinite(t).sum())
                        raise DataError(f"{where}: {path.name} holds {bad} non-finite value(s) (NaN or infinity) in "
                                        f"tensor {name[:80]!r}", "these weights are unusable: install or train the "
                                        "artifact again (a diverged training run: lower the learning rate)")
    except ModxferError:
        raise
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as e:  # a dtype numpy cannot hold (bf16 through numpy), a damaged file
        if "bfloat16" in str(e) or "BF16" in str(e):
            _finite_torch(path, where)
            return
        raise DataError(f"{where}: {path.name} cannot be read ({type(e).__name__}: {str(e)[:120]})",
                        "install or train the artifact again") from None


def _finite_torch(path: Path, where: str) -> None:
    import torch
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        for name in f.keys():
            for t in _chunks(f, name):
                if t.is_floating_point() and not bool(torch.isfinite(t).all()):
                    raise DataError(f"{where}: {path.name} holds non-finite values (NaN or infinity) in tensor "
                                    f"{name[:80]!r}", "install or train the artifact again")


CHUNK_VALUES = 1 << 22  # values read at a time: a tensor is checked in slices of its rows, never held whole


def _chunks(f, name: str):
    """A tensor's values in slices of whole rows of at most ``CHUNK_VALUES`` (a file near the entry limit must not
    be read into memory at once just to be checked)."""
    sl = f.get_slice(name)
    shape = sl.get_shape()
    if len(shape) < 2 or math.prod(shape) <= CHUNK_VALUES:
        yield f.get_tensor(name)
        return
    step = max(1, CHUNK_VALUES // max(1, math.prod(shape[1:])))
    for lo in range(0, shape[0], step):
        yield sl[lo:min(lo + step, shape[0])]  # safetensors refuses a slice past the end


def _stamp(path: Path) -> list[int]:
    # ctime too: `os.utime` can put an edited file's mtime back, but nothing sets its ctime (rsync --inplace -t, a
    # restore that keeps times): such an edit must not pass as the verified file
    st = os.stat(path, follow_symlinks=False)
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def _read_sidecar(folder: Path) -> dict:
    p = folder / SIDECAR
    try:
        if p.is_symlink() or p.stat().st_size > _SIDECAR_MAX:
            return {}
        obj = parse_json(p.read_text(encoding="utf-8"), p)
    except (OSError, UnicodeDecodeError, ModxferError):
        return {}
    return obj if isinstance(obj, dict) else {}


def _write_sidecar(folder: Path, seen: dict) -> None:
    try:
        atomic_write_json(folder / SIDECAR, seen)
    except (OSError, ModxferError) as e:  # a read-only store: verified again next time, nothing lost
        log.debug("cannot remember the verification of %s: %s", folder, e)


def record(folder: Path, files: list[str], where: str) -> dict:
    """Hash and check every file of a folder about to be stored; returns the checksums for its card."""
    sums, seen = {}, {}
    for rel in files:
        p = folder / rel
        if rel.endswith(".safetensors"):
            check_finite(p, where)
        sums[rel] = sha256_file(p)
        seen[rel] = _stamp(p) + [sums[rel]]
    _write_sidecar(folder, seen)
    return sums


def expected(card: dict) -> dict | None:
    """The checksums a stored artifact must match: its own record, else what a zoo install recorded, else None."""
    sums = card.get(FIELD)
    if isinstance(sums, dict) and sums:
        return sums
    prov = card.get("provenance")
    sums = prov.get("sha256") if isinstance(prov, dict) else None
    if isinstance(sums, dict) and sums:
        return {k: v for k, v in sums.items() if k not in ("card.json", "README.md")}
    return None


class Mismatch(DataError):
    """Stored files that disagree with the checksums recorded for them."""


def verify(folder: Path, card: dict, files: list[str], where: str) -> dict:
    """The folder's checksums after checking them against ``expected(card)`` (and the weights for non-finite
    values); a file that disagrees raises ``Mismatch``. Older artifacts with no record get one (module docstring)."""
    want = expected(card)
    if want is not None and sorted(want) != sorted(files):
        extra, lacking = sorted(set(files) - set(want)), sorted(set(want) - set(files))
        which = [f"not recorded: {', '.join(extra)}"] * bool(extra) + [f"missing: {', '.join(lacking)}"] * bool(lacking)
        raise Mismatch(f"{where}: its files are not the ones recorded when it was stored ({'; '.join(which)})",
                       "train it again with --force, or reinstall it with `modxfer zoo install NAME --force`")
    cache, seen, sums = _read_sidecar(folder), {}, {}
    for rel in files:
        p = folder / rel
        stamp = _stamp(p)
        hit = cache.get(rel)
        if (isinstance(hit, list) and len(hit) == len(stamp) + 1 and hit[:-1] == stamp
                and (want is None or hit[-1] == want[rel])):
            sums[rel], seen[rel] = hit[-1], hit
            continue
        digest = sha256_file(p)
        if want is not None and digest != want[rel]:
            raise Mismatch(f"{where}: {rel} has sha256 {digest[:16]}..., but {want[rel][:16]}... was recorded when it "
                           "was stored: the weights were changed or replaced since",
                           "train it again with --force, or reinstall it with `modxfer zoo install NAME --force`")
        if rel.endswith(".safetensors"):
            check_finite(p, where)
        sums[rel], seen[rel] = digest, stamp + [digest]
    if seen != cache:
        _write_sidecar(folder, seen)
    if want is None:  # an artifact stored before checksums were recorded: record them now (trust on first use)
        _record_in_card(folder, card, sums)
    return sums


def _record_in_card(folder: Path, card: dict, sums: dict) -> None:
    try:
        atomic_write_json(folder / "card.json", {**card, FIELD: sums})
        card[FIELD] = sums
    except (OSError, ModxferError) as e:
        log.warning("cannot record checksums in %s (verified again on each use): %s", folder / "card.json", e)
