"""The zoo's index and its entries: reading and checking ``index.json``, verifying an entry's files, and copying
them (``ZooEntry``, ``read_index``, ``check_entry``, ``verify``, ``copy_file``). Installing (``zoo``), publishing
(``publish``) and the hub transport (``hub``) all build on this module; see ``modxfer.store.zoo`` for the layout and
the trust model.
"""
from __future__ import annotations

import hashlib
import os
import re
import stat
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from . import artifacts as art
from . import cards
from .cards import HEX64, SLUG, show
from . import checksums
from ..errors import AdapterMismatchError, DataError, ModxferError
from ..io import (atomic_write_json, cannot_write, decode_utf8, is_disk_full, parse_json, read_bytes, read_json,
    sha256_file)

INDEX = "index.json"
FORMAT = 1
NAME_RE = SLUG
EXTRA_FILES = (art.CARD, "README.md")  # besides the artifact's own files
_FIX_INDEX = "remove that entry from index.json, or pull or re-publish the zoo"
# Limits checked before any work: an adapter entry is a few MB (seq_bn on XLM-R large with a fusion layer: ~100 MB).
MAX_ENTRY_BYTES = 1 << 30
MAX_INDEX_BYTES = 16 << 20
MAX_CARD_BYTES = 1 << 20
ZOO_IS_A_FOLDER = ("pass --zoo the zoo folder that holds index.json (e.g. its parent folder), or a hub repository "
                    "id such as user/modxfer-adapters")


def default_zoo() -> Path:
    """``MODXFER_ZOO``, else ``./adapters_zoo``."""
    return Path(os.environ.get("MODXFER_ZOO", "adapters_zoo")).expanduser()


@dataclass(frozen=True)
class ZooEntry:
    name: str
    task: str
    composition: str
    kind: str
    key: str
    path: str                      # relative to the zoo root: always <task>/<key[:20]>
    base: dict                     # model_id, weights_hash, hidden_size
    adapter: str                   # adapter architecture (seq_bn, lora, ...)
    metrics: dict
    training: dict                 # examples, epochs, seed, learning rate, data sha256
    depends_on: tuple[str, ...]    # entry names this one stacks on, in order
    files: dict = field(default_factory=dict)  # relative path -> sha256
    size_bytes: int = 0

    @classmethod
    def from_json(cls, obj, where: str) -> "ZooEntry":
        """An index entry, every field checked for type, range and safety (see ``check_entry`` for the card)."""
        if not isinstance(obj, dict) or set(obj) != {f.name for f in fields(cls)}:
            want = {f.name for f in fields(cls)}
            if isinstance(obj, dict):
                extra, lacking = sorted(map(str, set(obj) - want)), sorted(want - set(obj))
                found = "; ".join(x for x in (f"unknown fields {show(extra, 160)}" if extra else "",
                                              f"missing fields {', '.join(lacking)}" if lacking else "") if x)
            else:
                found = f"a {type(obj).__name__}, not a JSON object"
            raise DataError(f"malformed zoo entry in {where}: {found}",
                            f"an entry has exactly: {', '.join(f.name for f in fields(cls))}; {_FIX_INDEX}")
        name = cards.text(obj["name"], where, "entry name", limit=100, pattern=SLUG)
        w = f"{where}: entry {name}"
        task = cards.task_name(obj["task"], w)
        key = cards.text(obj["key"], w, "key", pattern=HEX64)
        if obj["path"] != f"{task}/{key[:20]}":
            raise DataError(f"zoo entry {name!r} in {where} has an unsafe or unexpected path {show(obj['path'])}",
                            f"entries live at <task>/<key[:20]> ({task}/{key[:20]}); {_FIX_INDEX}")
        comp = cards.composition(obj, w)
        cards.base(obj["base"], w)
        cards.mapping(obj["metrics"], w, "metrics")
        cards.mapping(obj["training"], w, "training")
        if not isinstance(obj["adapter"], str) or len(obj["adapter"]) > 100 or not obj["adapter"].isprintable():
            raise DataError(f"{w}: adapter is {show(obj['adapter'])}, not a short string", _FIX_INDEX)
        deps = obj["depends_on"]
        want = cards.expected_dependencies(comp)
        if not isinstance(deps, list) or len(deps) != len(want):
            itself = " (an entry cannot depend on itself)" if isinstance(deps, list) and name in deps else ""
            raise DataError(f"{w}: depends_on is {show(deps, 160)}{itself}, but {comp} stacks on {len(want)} "
                            f"entr{'y' if len(want) == 1 else 'ies'} ({', '.join(want) or 'none'}): a list of "
                            f"that many entry names", _FIX_INDEX)
        if name in deps:
            raise DataError(f"{w}: depends_on names the entry itself", f"list the entries it stacks on; {_FIX_INDEX}")
        for d in deps:
            cards.text(d, w, "depends_on", limit=100, pattern=SLUG)
        cards.integer(obj["size_bytes"], w, "size_bytes", 0, 1 << 40)
        if obj["size_bytes"] > MAX_ENTRY_BYTES:
            raise DataError(f"{w}: size_bytes is {obj['size_bytes']:,}, more than an adapter entry may have "
                            f"({MAX_ENTRY_BYTES:,})", f"fully fine-tuned encoders are shared as hub models; {_FIX_INDEX}")
        files = cards.mapping(obj["files"], w, "files")
        bad = [rel for rel in files if not isinstance(rel, str) or not _entry_file(rel, comp.kind)]
        if bad:
            raise DataError(f"zoo entry {name!r} in {where}: files lists {show(bad, 160)}, which {'is' if len(bad) == 1 else 'are'} "
                            f"not safetensors weights or JSON configs inside the entry (adapter/, head/, fusion/, "
                            f"card.json, README.md)", _FIX_INDEX)
        for rel, digest in files.items():
            cards.text(digest, w, f"sha256 of {rel}", pattern=HEX64)
        missing = [f for f in (art.CARD, *art.required_files(comp.kind)) if f not in files]
        if missing:
            raise DataError(f"{w} does not list {', '.join(missing)}, which a {comp.kind} artifact needs", _FIX_INDEX)
        return cls(**{**obj, "depends_on": tuple(deps)})

    def to_json(self) -> dict:
        return asdict(self) | {"depends_on": list(self.depends_on)}


def _difference(path: str, mine, theirs) -> tuple[str, object, object]:
    """The innermost field where two JSON values differ, as ``a.b.c``, with both values there."""
    if isinstance(mine, dict) and isinstance(theirs, dict):
        for k in sorted(set(mine) | set(theirs), key=str):
            if mine.get(k, _ABSENT) != theirs.get(k, _ABSENT):
                return _difference(f"{path}.{k}", mine.get(k, _ABSENT), theirs.get(k, _ABSENT))
    return path, mine, theirs


class _Absent:
    def __repr__(self) -> str:
        return "(absent)"


_ABSENT = _Absent()


def weight_files(entry: "ZooEntry") -> dict:
    """The entry's artifact files and their sha256 (what the store records), without the card and README."""
    return {rel: d for rel, d in sorted(entry.files.items()) if rel not in EXTRA_FILES}


def _entry_file(rel: str, kind: str) -> bool:
    return rel in EXTRA_FILES or art.belongs(rel, kind)


# ------------------------------------------------------------------------------ reading a zoo
def read_index(zoo: str | os.PathLike | None = None) -> list[ZooEntry]:
    root = Path(zoo) if zoo is not None else default_zoo()
    path = root / INDEX
    if root.is_file():
        raise DataError(f"{root} is a file, not an adapter zoo", ZOO_IS_A_FOLDER)
    if not path.is_file():
        if root.is_dir() and not path.exists():
            return []
        raise DataError(f"no adapter zoo at {root}", "publish into it first (modxfer zoo publish), pass --zoo DIR, "
                        "or pull one from the hub (modxfer zoo pull REPO_ID)")
    obj = read_json(path, "restore it from version control, or pull or re-publish the zoo", max_bytes=MAX_INDEX_BYTES)
    if not isinstance(obj, dict) or obj.get("format") != FORMAT or not isinstance(obj.get("entries"), list):
        raise DataError(f"{path} is not a modxfer zoo index (format {FORMAT})",
                        "point --zoo at a folder written by `modxfer zoo publish`")
    entries = [ZooEntry.from_json(e, str(path)) for e in obj["entries"]]
    names, keys = {e.name for e in entries}, [e.key for e in entries]
    if len(names) != len(entries) or len(set(keys)) != len(keys):
        raise DataError(f"{path} lists an entry name or key twice", _FIX_INDEX)
    for e in entries:
        unknown = [d for d in e.depends_on if d not in names]
        if unknown:
            raise DataError(f"zoo entry {e.name} in {path} depends on {', '.join(unknown)}, which the index lacks",
                            _FIX_INDEX)
    return entries


def get_entry(name: str, zoo=None) -> ZooEntry:
    """An entry by exact name, exact key, or a unique key prefix of 8+ characters."""
    return lookup(name, read_index(zoo), Path(zoo) if zoo else default_zoo())


def lookup(name: str, entries: list[ZooEntry], where: Path) -> ZooEntry:
    for e in entries:
        if name == e.name:
            return e
    hits = [e for e in entries if e.key == name or (len(name) >= 8 and e.key.startswith(name))]
    if len(hits) == 1:
        return hits[0]
    if hits:
        raise ModxferError(f"{name!r} matches {len(hits)} adapters in the zoo {where}: "
                           f"{', '.join(e.name for e in hits)}", "use the entry's name")
    names = ", ".join(e.name for e in entries) or "none"
    raise ModxferError(f"no adapter {show(name)} in the zoo {where}", f"use one of: {names} (modxfer zoo list)")


def write_index(root: Path, entries: list[ZooEntry]) -> None:
    entries = sorted(entries, key=lambda e: (e.task, e.name))
    atomic_write_json(root / INDEX, {"format": FORMAT, "entries": [e.to_json() for e in entries]})


# ------------------------------------------------------------------------------ the shared check
def describe(card: dict) -> dict:
    """The entry fields a card determines (publish writes them; install requires the index to say the same)."""
    c = card
    return dict(task=c["task"], composition=c["composition"], kind=c["kind"], key=c["key"],
                path=f"{c['task']}/{c['key'][:20]}", base=dict(c["base"]), adapter=adapter_kind(c),
                metrics=c.get("metrics") or {},
                training={k: c.get(k) for k in ("epochs", "learning_rate", "seed", "batch_size", "max_length")}
                | {"examples": c["data"]["examples"], "data_sha256": c["data"]["sha256"]})


def check_entry(entry: ZooEntry, card, entries: dict[str, ZooEntry], where: str) -> dict:
    """The card checked (``cards.check_card``) and the index entry agreeing with it; returns the card."""
    card = cards.check_card(card, where)
    mismatch = [k for k, v in describe(card).items() if getattr(entry, k) != v]
    if mismatch:
        k, mine, theirs = _difference(mismatch[0], getattr(entry, mismatch[0]), describe(card)[mismatch[0]])
        raise DataError(f"zoo entry {entry.name}: the index says {k} = {show(mine)} but its card ({art.CARD}) says "
                        f"{k} = {show(theirs)}", "re-publish the entry; the index and the card must agree")
    dep_keys = [entries[d].key if d in entries else None for d in entry.depends_on]
    if dep_keys != card["depends_on"]:
        raise DataError(f"zoo entry {entry.name}: depends_on {', '.join(entry.depends_on) or 'nothing'} are not the "
                        "artifacts its card was trained on", "re-publish the entry with what it stacks on")
    return card


def plain_path(folder: Path, rel: str, *, is_dir: bool = False) -> Path:
    """``folder/rel`` after checking that every part of it is a plain folder and the last a plain file (or folder
    with ``is_dir``): no symlink is followed, no special file read."""
    path, parts = folder, rel.split("/")
    for i, part in enumerate(parts):
        path = path / part
        try:
            mode = os.lstat(path).st_mode
        except (FileNotFoundError, NotADirectoryError):
            raise DataError(f"{folder} is missing {rel}", "pull or re-publish the zoo") from None
        want_dir = is_dir or i < len(parts) - 1
        if not (stat.S_ISDIR(mode) if want_dir else stat.S_ISREG(mode)):
            raise DataError(f"{path} is not a plain {'folder' if want_dir else 'file'} (links are never followed)",
                            "zoo entries hold plain folders and files only; pull or re-publish it")
    return path


def verify(entry: ZooEntry, zoo=None, entries: list[ZooEntry] | None = None) -> Path:
    """The entry's folder, after checking every file against the index's sha256, the card against the index, and
    every weight file with safetensors."""
    root = Path(zoo) if zoo is not None else default_zoo()
    return verified(entry, root, entries if entries is not None else read_index(root))[0]


def _sizes(entry: ZooEntry, folder: Path) -> None:
    """Refuse, before hashing a byte, files whose sizes are not what the index says (a listed 20 GB file)."""
    sizes = {rel: os.lstat(plain_path(folder, rel)).st_size for rel in entry.files}
    if sum(sizes.values()) != entry.size_bytes:
        big = max(sizes, key=sizes.get)
        raise DataError(f"zoo entry {entry.name}: its files hold {sum(sizes.values()):,} bytes, but the index says "
                        f"size_bytes = {entry.size_bytes:,} (largest: {big}, {sizes[big]:,} bytes)",
                        "the entry is damaged or was changed; pull or re-publish the zoo")
    if sizes.get(art.CARD, 0) > MAX_CARD_BYTES:
        raise DataError(f"zoo entry {entry.name}: {art.CARD} is {sizes[art.CARD]:,} bytes, more than a card may have "
                        f"({MAX_CARD_BYTES:,})", "re-publish the entry from the artifact `modxfer train` wrote")


def verified(entry: ZooEntry, root: Path, entries: list[ZooEntry]) -> tuple[Path, dict]:
    folder = plain_path(root, entry.path, is_dir=True)
    _sizes(entry, folder)
    card = None
    for rel, digest in entry.files.items():
        path = plain_path(folder, rel)
        data = read_bytes(path, "re-publish the entry", max_bytes=MAX_CARD_BYTES) if rel == art.CARD else None
        if (hashlib.sha256(data).hexdigest() if data is not None else sha256_file(path)) != digest:
            raise DataError(f"zoo entry {entry.name}: {rel} does not match its sha256 in the index",
                            "the file is corrupted or was changed; pull or re-publish the zoo")
        if data is not None:  # parsed from the very bytes that were hashed
            where = folder / art.CARD
            card = parse_json(decode_utf8(data, where, "re-publish the entry"), where, "re-publish the entry")
    card = check_entry(entry, card, {e.name: e for e in entries}, f"zoo entry {entry.name} ({folder / art.CARD})")
    for rel in entry.files:
        if rel.endswith(".safetensors"):
            art.check_weights(folder / rel, f"zoo entry {entry.name}")
            checksums.check_finite(folder / rel, f"zoo entry {entry.name}")
    return folder, card


# ------------------------------------------------------------------------------ publishing
def adapter_kind(card: dict) -> str:
    cfg = card.get("adapter_config") or {}
    kind = cfg.get("architecture") or cfg.get("name") or ("fusion" if card.get("kind") == "fusion" else "")
    return kind if isinstance(kind, str) else ""


def entry_name(card: dict) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "_", card["composition"]).strip("_")
    return f"{slug}-{card['key'][:8]}"


def copy_file(src: Path, dst: Path, *, publishing: bool = False) -> str:
    """Copy a plain file's bytes without following a symlink at ``src``; returns the sha256 of the bytes copied.

    ``publishing``: a file with a second hard link is refused, since its content may be a file outside the artifact
    (a private key linked in under an adapter's name) that would then be shared.
    """
    h = hashlib.sha256()
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(src, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as e:
        if is_disk_full(e):
            raise cannot_write(dst, e) from None
        raise DataError(f"cannot read {src} ({e.strerror})", "it must be a plain file, not a symlink") from None
    with os.fdopen(fd, "rb") as fin:
        st = os.fstat(fin.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise DataError(f"{src} is not a plain file", "replace it by the real file")
        if publishing and st.st_nlink > 1:
            raise DataError(f"{src} has {st.st_nlink} hard links: its content may be a file outside the artifact",
                            f"replace it by a copy of its own (cp {src.name} x && mv x {src.name}), then publish again")
        try:
            with open(dst, "xb") as fout:
                while block := fin.read(1 << 20):
                    h.update(block)
                    fout.write(block)
        except OSError as e:  # a full disk: a message; the temporary folder holding dst is discarded by the caller
            raise cannot_write(dst, e) from None
    return h.hexdigest()


# ------------------------------------------------------------------------------ installing
