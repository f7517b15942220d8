"""The adapter zoo: trained artifacts published as self-describing folders with an index, shared through the hub.

A zoo is a folder (``adapters_zoo/`` in this repository, any local folder, or a Hugging Face Hub model repository
holding the same layout):

    index.json                      {"format": 1, "entries": [ZooEntry...]}
    <task>/<key[:20]>/card.json     the artifact's card as training wrote it (less local dependency paths)
                     /README.md     a model card generated from it
                     /adapter/ /head/ /fusion/   safetensors weights and JSON configs (the `adapters` layout)

Each entry names its files with their sha256, its base model (id, weights hash, hidden size) and the entries it
stacks on, so installing verifies every byte, refuses an adapter made for another backbone, and brings its
dependencies along. Installing copies an entry into the artifact store under its key, with a ``provenance`` record
(zoo, revision, sha256 of every file) in the stored card: training and evaluation then find it exactly as if they had
trained it (same data, settings and key), and results built on it can be told apart from local ones.

Trust: a zoo is written by strangers. ``check_entry`` is the one validation publish and install share: field types
and ranges (``ZooEntry.from_json``), the card (``cards.check_card``: its key is the hash of its own training request,
its task a registered task), and the index agreeing with the card (base, composition, dependencies, path, metrics).
Only the files an artifact consists of are copied, symlinks never followed, weight files opened with safetensors
before anything is stored, and nothing is written outside the zoo folder or the store.
Fully fine-tuned encoders (STILTs) are not zoo material (hundreds of MB): share them as hub models.
Weights are part of an artifact's identity (``modxfer.store.checksums``): an entry whose weights differ from the store's copy
of the same key is refused unless forced, and non-finite weights are never installed. Limits are checked before any
work: the index's and card's sizes, and the files' sizes against the index's ``size_bytes`` before a byte is hashed.
The index and its entries: ``store.entries``; publishing: ``store.publish``; pushing to and pulling from the Hugging
Face Hub: ``store.hub`` (all re-exported here: ``publish``, ``push``, ``pull``).
"""
from __future__ import annotations

import time
from pathlib import Path

from . import artifacts as art
from . import checksums
from ..errors import AdapterMismatchError, DataError, ModxferError
from ..io import cannot_write, is_disk_full, sha256_file
from .entries import (EXTRA_FILES, FORMAT, INDEX, MAX_CARD_BYTES, MAX_ENTRY_BYTES, MAX_INDEX_BYTES, NAME_RE, ZOO_IS_A_FOLDER,  # noqa: F401
                      ZooEntry, adapter_kind, check_entry, copy_file, default_zoo, describe, entry_name, get_entry,
                      lookup, plain_path, read_index, verified, verify, weight_files, write_index)
from .hub import pull, push  # noqa: F401  (the zoo's public API: install, list, publish, push, pull)
from .publish import model_card, publish  # noqa: F401


def install(name: str, zoo=None, *, store=None, backbone=None, force: bool = False, source: str | None = None,
            revision: str | None = None, _chain: tuple[str, ...] = ()) -> art.Artifact:
    """Copy an entry (after its dependencies) into the artifact store; with ``backbone``, refuse a mismatch.

    Everything is verified before the store changes: index and card (``check_entry``), every file's sha256, every
    weight file opened with safetensors. An installed copy already in the store is re-verified: a damaged copy that
    came from a zoo is repaired, a damaged local one refused (``force`` replaces any copy). The stored card records
    ``provenance``: the zoo (``source``, default its folder), ``revision``, the entry and each file's sha256.
    """
    root = Path(zoo) if zoo is not None else default_zoo()
    entries = read_index(root)
    entry = lookup(str(name), entries, root)
    if entry.name in _chain:
        raise DataError(f"zoo entries depend on each other in a cycle: {' -> '.join(_chain + (entry.name,))}",
                        "fix depends_on in index.json, or re-publish the entries")
    folder, card = verified(entry, root, entries)
    base = card["base"]
    if backbone is not None and (base["weights_hash"] != backbone.weights_hash
                                 or base["hidden_size"] != int(backbone.hidden_size)):
        raise AdapterMismatchError(
            f"zoo adapter {entry.name} was trained on {base['model_id']} (weights {base['weights_hash'][:12]}), "
            f"not on {backbone.model_id} (weights {backbone.weights_hash[:12]})",
            "install it for the backbone it was made for (--base), or train the adapter on this one")
    if backbone is not None:  # the weights must load into it, not just carry the publisher's checksums
        by_name = {e.name: e for e in entries}
        deps = [verified(by_name[d], root, entries)[1] for d in entry.depends_on]
        backbone.check_fits(folder, card, deps, f"zoo entry {entry.name}")
    for dep in entry.depends_on:
        install(dep, root, store=store, backbone=backbone, force=force, source=source, revision=revision,
                _chain=_chain + (entry.name,))
    path = art.path_for(store or art.default_store(), card["task"], card["key"])
    if not force and path.exists():
        have = art.stored_checksums(path, card["key"])
        if have == weight_files(entry):
            return art.load(path)
        if have is not None:  # intact, but other weights under the same training request: never silently kept
            raise _conflict(entry, path, have)
        force = _repairable(path, entry)
    card["provenance"] = {"source": "zoo", "zoo": source or str(root.resolve()), "revision": revision,
                          "entry": entry.name, "index_sha256": sha256_file(root / INDEX),
                          "sha256": {rel: d for rel, d in sorted(entry.files.items()) if rel != "README.md"},
                          "key": card["key"], "weights_sha256": checksums.weights_digest(entry.files),
                          "installed": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}

    def write(tmp: Path) -> None:
        # Hash the bytes as they are copied: what lands in the store is what was verified, even if the zoo changes.
        for rel in entry.files:
            if rel not in EXTRA_FILES and copy_file(plain_path(folder, rel), tmp / rel) != entry.files[rel]:
                raise DataError(f"zoo entry {entry.name}: {rel} changed while it was installed", "install it again")
        art.verify_folder(tmp, card["kind"], f"zoo entry {entry.name}")
    return art.save(store, card, write, replace=force)


def _conflict(entry: ZooEntry, path: Path, have: dict) -> DataError:
    theirs = weight_files(entry)
    rel = next((r for r in sorted(set(have) | set(theirs)) if have.get(r) != theirs.get(r)), "?")
    try:
        prov = art.provenance(art.load(path))
    except ModxferError:
        prov = {}
    origin = (f"installed from zoo entry {prov.get('entry')} ({prov.get('zoo')})" if prov.get("source") == "zoo"
              else "trained here")
    return DataError(f"the store already holds {entry.composition} ({entry.key[:12]}) at {path}, {origin}, with other "
                     f"weights than zoo entry {entry.name}: {rel} is sha256 {str(have.get(rel))[:12]} there and "
                     f"{str(theirs.get(rel))[:12]} in the zoo (same training request, different weights)",
                     f"keep the stored copy (do not install this entry), or replace it: `modxfer zoo install "
                     f"{entry.name} --force`")


def _repairable(path: Path, entry: ZooEntry) -> bool:
    """A damaged copy in the store is replaced if it came from a zoo; a damaged local artifact is refused."""
    try:
        local = art.load_card(path / art.CARD).get("provenance") is None
    except ModxferError:
        local = False  # no readable card: nothing there to lose
    if local:
        raise DataError(f"the store's copy of {entry.name} at {path} is damaged (missing or unreadable files)",
                        f"run `modxfer zoo install {entry.name} --force` to replace it with the zoo's verified copy")
    return True
