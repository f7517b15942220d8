"""Trained artifacts (adapters, fusion layers, heads, fully fine-tuned encoders) as self-describing folders.

    <store>/<task>/<key>/card.json        how it was made (see ``training.py``) and its final metrics
                        /adapter/         adapters' own layout, weights in safetensors
                        /head/            prediction head, safetensors
                        /fusion/          AdapterFusion layer, safetensors (fusion compositions)
                        /model.safetensors  encoder + head weights (full fine-tuning)

The key is a content hash of everything that determines the weights, so the same request is served from the store
instead of being trained again. Folders appear by one rename, complete or not at all; a second writer of the same
key keeps the first complete copy. Nothing is unpickled: weights are safetensors, configs JSON, and only the files
``artifact_files`` names belong to an artifact.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from . import checksums
from ..composition import Composition
from ..errors import AdapterMismatchError, DataError, ModxferError
from ..io import atomic_dir, atomic_write_json, cannot_write, is_disk_full, read_json

log = logging.getLogger(__name__)

CARD = "card.json"
# The files each kind of artifact consists of (the `adapters` library's safetensors layout); nothing else is one.
_HEAD = ("head/head_config.json", "head/model_head.safetensors")
_ADAPTER = ("adapter/adapter_config.json", "adapter/adapter.safetensors")
_FUSION = ("fusion/adapter_fusion_config.json", "fusion/model_adapter_fusion.safetensors")
REQUIRED_FILES = {"target": _ADAPTER + _HEAD, "stack": _ADAPTER + _HEAD, "fusion": _ADAPTER + _FUSION + _HEAD,
                  "full": ("model.safetensors",) + _HEAD}


def default_store() -> Path:
    from .cache import part_path

    return part_path("artifacts")  # MODXFER_STORE, else $MODXFER_CACHE/artifacts


# The card fields a training request is keyed by (training.TrainingPlan.spec); a card repeats them verbatim.
SPEC_FIELDS = ("modxfer", "base", "task", "partition", "data", "composition", "depends_on", "adapter_config", "seed",
               "epochs", "batch_size", "learning_rate", "max_length", "precision")
# Keyed only where a request sets them, so the keys of every artifact trained before they existed stay the same.
OPTIONAL_SPEC_FIELDS = ("frozen",)


def key_of_card(card: dict) -> str | None:
    """The key the card's own training request hashes to (None if it lacks a field)."""
    if not all(k in card for k in SPEC_FIELDS):
        return None
    return content_key({k: card[k] for k in (*SPEC_FIELDS, *OPTIONAL_SPEC_FIELDS) if k in card})


def content_key(spec: dict) -> str:
    blob = json.dumps(spec, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()


@dataclass(frozen=True)
class Artifact:
    key: str
    path: Path
    card: dict

    @property
    def composition(self) -> Composition:
        return Composition.parse(self.card["composition"])

    @property
    def task(self) -> str:
        return self.card["task"]

    @property
    def adapter_name(self) -> str:
        return adapter_name(self.task, self.key)

    @property
    def kind(self) -> str:
        return self.composition.kind

    def check_backbone(self, weights_hash: str, hidden_size: int, model_id: str) -> None:
        base = self.card["base"]
        if base["weights_hash"] != weights_hash or int(base["hidden_size"]) != int(hidden_size):
            raise AdapterMismatchError(
                f"artifact {self.path} was trained on backbone {base['model_id']} (hash {base['weights_hash'][:12]}, "
                f"hidden size {base['hidden_size']}), not on {model_id} (hash {weights_hash[:12]}, hidden size {hidden_size})",
                "use the backbone it was trained on (--base), or train the adapter again on this one",
            )


def adapter_name(task: str, key: str) -> str:
    """The name an artifact's adapter and head carry inside a model: unique per artifact, a valid module name."""
    return f"{task.replace('-', '_')}_{key[:10]}"


_TASK_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_KEY_RE = re.compile(r"^[0-9a-f]{64}$")


def path_for(store: Path, task: str, key: str) -> Path:
    # Task and key may come from a card someone else wrote (the zoo): they must name a folder inside the store.
    if not isinstance(task, str) or not _TASK_RE.match(task) or not isinstance(key, str) or not _KEY_RE.match(key):
        raise DataError(f"artifact card names task {task!r} and key {str(key)[:70]!r}, which cannot be a store folder",
                        "a task is a registered task name and a key a sha256 hex digest; re-publish or retrain it")
    return Path(store) / task / key[:20]


def find(store: Path | None, task: str, key: str) -> Artifact | None:
    """The stored artifact with this key, None if there is none; a damaged copy is an error, never loaded.

    Checking the files here (each weight file's header, each config, every file against the checksums recorded when
    it was stored, non-finite weights) turns a truncated or replaced file into a message with the fix, instead of an
    OSError deep inside model loading or weights silently reused (``checksums``).
    """
    path = path_for(store or default_store(), task, key)
    card_file = path / CARD
    if not card_file.is_file():
        return None
    card = load_card(card_file)
    if card.get("key") != key:
        return None
    try:
        files = verify_folder(path, Composition.parse(card["composition"]).kind)
        checksums.verify(path, card, files, "its files")
    except ModxferError as e:
        raise DataError(f"the stored artifact {path} ({card['composition']}) is damaged: {e.problem}",
                        "train it again with --force, or reinstall it with `modxfer zoo install NAME --force`"
                        ) from None
    return Artifact(key, path, card)


def load(path: str | os.PathLike) -> Artifact:
    path = Path(path)
    card_file = path / CARD
    if not card_file.is_file():
        raise ModxferError(f"{path} is not a modxfer artifact (no {CARD})",
                           "pass a folder written by `modxfer train`, or train it first")
    card = load_card(card_file)
    return Artifact(card["key"], path, card)


def load_card(card_file: Path) -> dict:
    fix = "delete the folder and train (or install) it again"
    card = read_json(card_file, fix)
    if not isinstance(card, dict):
        raise DataError(f"artifact card {card_file} is not a JSON object", fix)
    for k in ("key", "task", "composition", "base"):
        if k not in card:
            raise DataError(f"artifact card {card_file} lacks {k!r}", fix)
    if not isinstance(card["key"], str) or not isinstance(card["task"], str) or not isinstance(card["base"], dict):
        raise DataError(f"artifact card {card_file} has a malformed key, task or base", fix)
    return card


def required_files(kind: str) -> tuple[str, ...]:
    return REQUIRED_FILES[kind]


def belongs(rel: str, kind: str) -> bool:
    """Whether ``rel`` (a POSIX path inside an artifact folder) is a file an artifact of ``kind`` consists of: exactly
    the names training writes, so nothing else in a folder (a stray config, a link to a file elsewhere) is ever
    published, installed or checked as part of it."""
    return rel in REQUIRED_FILES.get(kind, ())


def artifact_files(folder: Path, kind: str) -> tuple[list[str], list[str]]:
    """(files the artifact consists of, other entries found), walking ``folder`` without following symlinks.

    A symlink or special file under a name that belongs to the artifact is refused: copying it would copy whatever
    it points at.
    """
    files, other = [], []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        for name in sorted(filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]):
            full = Path(dirpath) / name
            rel = full.relative_to(folder).as_posix()
            if rel == CARD:
                continue
            if not belongs(rel, kind):
                other.append(rel)
                continue
            if not stat.S_ISREG(os.lstat(full).st_mode):
                raise DataError(f"{full} is a symlink or special file, not a plain file",
                                "replace it by the real file (artifacts are copied without following links)")
            files.append(rel)
    return sorted(files), sorted(other)


def check_weights(path: Path, where: str) -> int:
    """Open a safetensors file with the safetensors library (header, offsets, full coverage); returns tensors."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy") as f:
            n = len(list(f.keys()))
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as e:  # SafetensorError, OSError, and pyo3's PanicException (a BaseException)
        raise DataError(f"{where}: {path.name} is not a readable safetensors file ({type(e).__name__}: "
                        f"{str(e).splitlines()[0][:120] if str(e) else ''})",
                        "the weights are damaged or not safetensors; install or train the artifact again") from None
    if n == 0:
        raise DataError(f"{where}: {path.name} holds no tensors", "install or train the artifact again")
    return n


def verify_folder(folder: Path, kind: str, where: str | None = None) -> list[str]:
    """Check an artifact folder holds every file its kind needs, each weight file opens and each config parses."""
    where = where or str(folder)
    files, _ = artifact_files(folder, kind)
    missing = [f for f in required_files(kind) if f not in files]
    if missing:
        raise DataError(f"{where}: missing {', '.join(missing)}", "install or train the artifact again")
    for rel in files:
        if rel.endswith(".safetensors"):
            check_weights(folder / rel, where)
        elif not isinstance(read_json(folder / rel, "install or train the artifact again"), dict):
            raise DataError(f"{where}: {rel} is not a JSON object", "install or train the artifact again")
    return files


def is_intact(path: Path, key: str) -> bool:
    """Whether the folder holds a complete artifact with this key, its files as recorded (used to keep a copy another
    writer finished)."""
    return stored_checksums(path, key) is not None


def stored_checksums(path: Path, key: str) -> dict | None:
    """The checksums of an intact stored copy with this key (verified against its record), None if it is damaged."""
    try:
        card = load_card(path / CARD)
        if card.get("key") != key:
            return None
        return checksums.verify(path, card, verify_folder(path, Composition.parse(card["composition"]).kind),
                                str(path))
    except ModxferError:
        return None


def provenance(artifact: "Artifact") -> dict:
    """Where an artifact's weights came from (``{"source": "local"}`` or what ``zoo install`` recorded), with both
    halves of its identity: the key (its training request) and one sha256 over its files' checksums (its weights)."""
    prov = dict(artifact.card.get("provenance") or {"source": "local"})
    prov.setdefault("key", artifact.key)
    sums = checksums.expected(artifact.card)
    if sums:
        prov.setdefault("weights_sha256", checksums.weights_digest(sums))
    return prov


def save(store: Path | None, card: dict, write, *, replace: bool = False) -> Artifact:
    """Write an artifact atomically: ``write(tmp_dir)`` puts the weights, then the card, then one rename.

    If a complete artifact with this key appears meanwhile (a concurrent writer), it is kept and returned, unless
    ``replace``; a damaged one is always replaced.
    """
    path = path_for(store or default_store(), card["task"], card["key"])
    keep = None if replace else (lambda p: is_intact(p, card["key"]))
    with atomic_dir(path, keep=keep) as tmp:
        try:
            write(tmp)
            kind = Composition.parse(card["composition"]).kind
            files, _ = artifact_files(tmp, kind)
            # Recorded beside the key, not in it: the key names the request, these the weights that answer it.
            card = {**card, checksums.FIELD: checksums.record(tmp, files, f"artifact {card['composition']}")}
        except ModxferError:
            raise
        except Exception as e:  # a full disk half way (safetensors says so only in its message): the folder is
            if isinstance(e, OSError) or is_disk_full(e):  # discarded whole, and the cause is a message
                raise cannot_write(path, e if isinstance(e, OSError) else OSError(errno.ENOSPC, str(e))) from None
            raise
        atomic_write_json(tmp / CARD, card)
    return Artifact(card["key"], path, load_card(path / CARD))


def list_artifacts(store: Path | None = None) -> list[Artifact]:
    """Every artifact in the store; temporary (dot) folders, stray folders and unreadable cards are skipped."""
    root = Path(store or default_store())
    out = []
    for p in sorted(root.glob(f"*/*/{CARD}")):
        task, folder = p.parent.parent.name, p.parent.name
        if task.startswith(".") or folder.startswith(".") or p.parent.is_symlink():
            continue
        try:
            card = load_card(p)
            if path_for(root, card["task"], card["key"]) != p.parent:
                continue  # not where its own card says it lives: a copy or leftover, not a store entry
        except ModxferError as e:
            log.warning("skipping %s: %s", p.parent, e.problem)
            continue
        out.append(Artifact(card["key"], p.parent, card))
    return out
