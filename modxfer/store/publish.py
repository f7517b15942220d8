"""Publishing into an adapter zoo (``modxfer.store.zoo`` describes the layout and the trust model; re-exported there).

What is published is what install would accept: only the files an artifact of its kind consists of (exact names,
plain files, none with a second hard link: its content may be a file outside the artifact), each hashed as it is
copied and compared with the checksums the store recorded for it (a file swapped meanwhile is never published),
the copy checked again as a whole, and the card stripped of the publisher's local paths.
"""
from __future__ import annotations

import re
from pathlib import Path

from . import artifacts as art
from . import cards, checksums
from .cards import show
from ..errors import ConfigError, DataError, ModxferError
from ..io import atomic_dir, atomic_write_json, atomic_write_text, ensure_dir, file_lock, read_json, sha256_file
from .entries import (NAME_RE, ZooEntry, adapter_kind, check_entry, copy_file, default_zoo, describe, entry_name,
                      read_index, write_index)

def _resolve(artifact, store) -> art.Artifact:
    if isinstance(artifact, art.Artifact):
        return artifact
    text = str(artifact)
    if Path(text).is_dir():
        return art.load(text)
    matches = [a for a in art.list_artifacts(store) if len(text) >= 8 and a.key.startswith(text)]
    if len(matches) == 1:
        return matches[0]
    raise ModxferError(f"no single trained artifact matches {show(text)} ({len(matches)} found)",
                       "pass an artifact folder, or 8+ leading characters of its key (see the card's `key`)")


def publish(artifact, zoo=None, *, name: str | None = None, store=None) -> ZooEntry:
    """Copy a trained artifact (and what it stacks on) into the zoo and list it in the index.

    Only the artifact's own files are copied (its weights and JSON configs; symlinks refused), the card must pass
    the checks install applies, and the folder written is ``<task>/<key[:20]>`` inside the zoo, replaced only if it
    already holds this artifact.
    """
    root = Path(zoo) if zoo is not None else default_zoo()
    a = _resolve(artifact, store)
    ensure_dir(root)
    with file_lock(root / ".modxfer.lock"):  # publishers of one zoo take turns with the index
        entries = {e.name: e for e in read_index(root)}
        return _publish(a, root, entries, name, store)


def _publish(a: art.Artifact, root: Path, entries: dict[str, ZooEntry], name: str | None, store) -> ZooEntry:
    where = f"artifact {a.path}"
    card = cards.check_card(a.card, where)
    if card["kind"] == "full":
        raise ModxferError(f"{a.path} is a fully fine-tuned encoder ({card['composition']}), not an adapter",
                           "the zoo shares adapters; push a fine-tuned encoder to the hub as a model instead")
    files = art.verify_folder(a.path, card["kind"], where)
    # The store's record of these weights (checked now, recorded for an older artifact): what is copied must match it.
    recorded = checksums.verify(a.path, card, files, where)
    deps = [_dependency(dep_key, card, root, entries, store) for dep_key in card["depends_on"]]
    same = next((e for e in entries.values() if e.key == card["key"]), None)
    name = name or (same.name if same else entry_name(card))
    if not NAME_RE.match(name):
        raise ConfigError(f"zoo entry name {show(name)} is not allowed", "use letters, digits, '_', '.', '-'")
    clash = entries.get(name)
    if clash is not None and clash.key != card["key"]:
        raise ConfigError(f"the zoo already has {name!r} for another artifact ({clash.key[:12]})",
                          "pick another --name")
    if same is not None and same.name != name:
        raise ConfigError(f"the zoo already has this artifact as {same.name!r}", "use that name, or leave out --name")
    rel = f"{card['task']}/{card['key'][:20]}"
    dest = _destination(root, rel, card["key"])
    entry = None
    with atomic_dir(dest) as tmp:
        for f in files:
            # Hashed as copied, then compared with the store's record: a file swapped meanwhile is never published.
            if copy_file(a.path / f, tmp / f, publishing=True) != recorded[f]:
                raise DataError(f"{a.path / f} changed while it was published (its sha256 is not the one the store "
                                "recorded)", "publish again once nothing is writing to the artifact; if it still "
                                "differs, train it again with --force")
        art.verify_folder(tmp, card["kind"], f"published copy of {a.path}")
        out = _shareable(card)
        atomic_write_json(tmp / art.CARD, out)
        atomic_write_text(tmp / "README.md", model_card(card, name, deps))
        digests = {p.relative_to(tmp).as_posix(): sha256_file(p) for p in sorted(tmp.rglob("*")) if p.is_file()}
        size = sum(p.stat().st_size for p in tmp.rglob("*") if p.is_file())
        entry = ZooEntry(name=name, **describe(card), depends_on=tuple(deps), files=digests, size_bytes=size)
        # Refuse to publish what install would refuse: the entry as the index will hold it, and its card as written.
        entry = ZooEntry.from_json(entry.to_json(), "the new index entry")
        check_entry(entry, read_json(tmp / art.CARD), {**entries, name: entry}, f"published card of {a.path}")
    entries[name] = entry
    write_index(root, list(entries.values()))
    return entry


def _shareable(card: dict) -> dict:
    """The card as published: local paths dropped (where dependencies and the zoo an artifact was installed from
    sat on the publisher's disk mean nothing elsewhere, and leak a home folder). The store's checksums are left out:
    the index lists every file's sha256, and the installing store records its own."""
    out = {k: v for k, v in card.items() if k != checksums.FIELD}
    if isinstance(card.get("dependencies"), list):
        out["dependencies"] = [{k: v for k, v in d.items() if k != "path"} for d in card["dependencies"]]
    prov = card.get("provenance")
    if isinstance(prov, dict):
        zoo = prov.get("zoo")
        hub = isinstance(zoo, str) and re.fullmatch(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*", zoo) is not None
        out["provenance"] = {k: v for k, v in prov.items() if k != "zoo" or (hub and not Path(zoo).exists())}
    return out


def _dependency(dep_key: str, card: dict, root: Path, entries: dict[str, ZooEntry], store) -> str:
    found = next((e for e in entries.values() if e.key == dep_key), None)
    if found is None:
        dep = next((x for x in art.list_artifacts(store) if x.key == dep_key), None)
        if dep is None:
            raise ModxferError(f"{card['composition']} stacks on artifact {dep_key[:12]}, which is neither in "
                               f"the zoo nor in the store", "train or install it, then publish again")
        found = _publish(dep, root, entries, None, store)
    return found.name


def _destination(root: Path, rel: str, key: str) -> Path:
    """The entry folder, refused if publishing there would write through a symlink or replace a foreign folder."""
    task, leaf = rel.split("/")
    dest = root / task / leaf
    for p in (root / task, dest):
        if p.is_symlink() or (p.exists() and not p.is_dir()):
            raise ConfigError(f"{p} in the zoo is a symlink or a file", "remove it; zoo entries are plain folders")
    if dest.exists():
        try:
            same = art.load_card(dest / art.CARD).get("key") == key
        except ModxferError:
            same = False
        if not same:
            raise ConfigError(f"{dest} exists and is not this artifact's zoo entry", "move it away, then publish again")
    return dest


def model_card(card: dict, name: str, deps: list[str]) -> str:
    base = card["base"]
    val = (card.get("metrics") or {}).get("validation") or {}
    val = val if isinstance(val, dict) else {}
    lines = [f"# {name}", "",
             f"A modxfer `{card.get('kind', '')}` artifact for **{card['task']}** (composition `{card['composition']}`), "
             f"trained on the frozen backbone `{base['model_id']}` (weights sha256 `{base['weights_hash'][:16]}`).", "",
             "| | |", "|---|---|",
             f"| adapter | {adapter_kind(card)} |",
             f"| training examples | {(card.get('data') or {}).get('examples')} ({(card.get('data') or {}).get('split')}) |",
             f"| epochs, learning rate, seed | {card.get('epochs')}, {card.get('learning_rate')}, {card.get('seed')} |",
             f"| validation | {', '.join(f'{k} {v}' for k, v in val.items()) or '-'} |",
             f"| stacks on | {', '.join(deps) or '-'} |", "",
             "Use it with modxfer:", "", "```bash",
             f"modxfer zoo install {name}", f"modxfer evaluate \"{card['composition']}\"", "```", "",
             "or load `adapter/` and `head/` with the `adapters` library (`model.load_adapter(\"adapter\")`). "
             "`card.json` says exactly how it was made.", ""]
    return "\n".join(lines)
