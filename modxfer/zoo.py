"""The adapter zoo: trained artifacts published as self-describing folders with an index, shared through the hub.

A zoo is a folder (``adapters_zoo/`` in this repository, any local folder, or a Hugging Face Hub model repository
holding the same layout):

    index.json                      {"format": 1, "entries": [ZooEntry...]}
    <task>/<key[:20]>/card.json     the artifact's card as training wrote it (less local dependency paths)
                     /README.md     a model card generated from it
                     /adapter/ /head/ /fusion/   safetensors weights in the `adapters` library's own layout

Each entry names its files with their sha256, its base model (id, weights hash, hidden size) and the entries it
stacks on, so installing verifies every byte, refuses an adapter made for another backbone, and brings its
dependencies along. Installing copies an entry into the artifact store under its key: training and evaluation then
find it exactly as if they had trained it (same data, settings and key), and never train it again.

Only safetensors and JSON are read; file names from an index are checked to stay inside their entry's folder, and
an entry is installed only under the key its card's training request hashes to.
Fully fine-tuned encoders (STILTs) are not zoo material (hundreds of MB): share them as hub models.
"""
from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import artifacts as art
from .errors import AdapterMismatchError, ConfigError, DataError, ModxferError
from .io import atomic_dir, atomic_write_json, atomic_write_text, sha256_file

INDEX = "index.json"
FORMAT = 1
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_SAFE_SUFFIXES = (".safetensors", ".json", ".md")  # weights, configs and cards: nothing executable or pickled


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
    path: str                      # relative to the zoo root
    base: dict                     # model_id, weights_hash, hidden_size
    adapter: str                   # adapter architecture (seq_bn, lora, ...)
    metrics: dict
    training: dict                 # examples, epochs, seed, learning rate, data sha256
    depends_on: tuple[str, ...]    # entry names this one stacks on, in order
    files: dict = field(default_factory=dict)  # relative path -> sha256
    size_bytes: int = 0

    @classmethod
    def from_json(cls, obj: dict, where: str) -> "ZooEntry":
        try:
            entry = cls(**{**obj, "depends_on": tuple(obj["depends_on"])})
        except (TypeError, KeyError) as e:
            raise DataError(f"malformed zoo entry in {where}: {e}",
                            "re-publish the entry with `modxfer zoo publish`, or fix index.json by hand") from None
        if not _NAME_RE.match(entry.name) or not _inside(entry.path):
            raise DataError(f"zoo entry {entry.name!r} in {where} has an unsafe name or path {entry.path!r}",
                            "names are letters, digits, '_', '.', '-'; paths are relative and stay inside the zoo")
        bad = [rel for rel in entry.files if not _inside(rel) or not rel.endswith(_SAFE_SUFFIXES)]
        base_ok = isinstance(entry.base, dict) and {"model_id", "weights_hash", "hidden_size"} <= set(entry.base)
        if bad or not base_ok or not isinstance(entry.metrics, dict) or not isinstance(entry.files, dict):
            raise DataError(f"zoo entry {entry.name!r} in {where} is malformed"
                            + (f": files {bad} are not safetensors/JSON/markdown inside the entry" if bad else ""),
                            "re-publish the entry with `modxfer zoo publish`")
        return entry


def _inside(rel: str) -> bool:
    p = Path(rel)
    return bool(rel) and not p.is_absolute() and ".." not in p.parts


# ------------------------------------------------------------------------------ reading a zoo
def read_index(zoo: str | os.PathLike | None = None) -> list[ZooEntry]:
    root = Path(zoo) if zoo is not None else default_zoo()
    path = root / INDEX
    if not path.is_file():
        if root.is_dir():
            return []
        raise DataError(f"no adapter zoo at {root}", "publish into it first (modxfer zoo publish), pass --zoo DIR, "
                        "or pull one from the hub (modxfer zoo pull REPO_ID)")
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DataError(f"{path} is not valid JSON ({e})", "restore it from version control or re-publish") from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT or not isinstance(obj.get("entries"), list):
        raise DataError(f"{path} is not a modxfer zoo index (format {FORMAT})",
                        "point --zoo at a folder written by `modxfer zoo publish`")
    return [ZooEntry.from_json(e, str(path)) for e in obj["entries"]]


def get_entry(name: str, zoo=None) -> ZooEntry:
    """An entry by exact name, exact key, or a unique key prefix of 8+ characters."""
    entries = read_index(zoo)
    for e in entries:
        if name == e.name:
            return e
    hits = [e for e in entries if e.key == name or (len(name) >= 8 and e.key.startswith(name))]
    if len(hits) == 1:
        return hits[0]
    where = Path(zoo) if zoo else default_zoo()
    if hits:
        raise ModxferError(f"{name!r} matches {len(hits)} adapters in the zoo {where}: "
                           f"{', '.join(e.name for e in hits)}", "use the entry's name")
    names = ", ".join(e.name for e in entries) or "none"
    raise ModxferError(f"no adapter {name!r} in the zoo {where}", f"use one of: {names} (modxfer zoo list)")


def _write_index(root: Path, entries: list[ZooEntry]) -> None:
    entries = sorted(entries, key=lambda e: (e.task, e.name))
    atomic_write_json(root / INDEX, {"format": FORMAT, "entries": [asdict(e) | {"depends_on": list(e.depends_on)}
                                                                    for e in entries]})


# ------------------------------------------------------------------------------ publishing
def adapter_kind(card: dict) -> str:
    cfg = card.get("adapter_config") or {}
    return cfg.get("architecture") or cfg.get("name") or ("fusion" if card.get("kind") == "fusion" else "")


def entry_name(card: dict) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "_", card["composition"]).strip("_")
    return f"{slug}-{card['key'][:8]}"


def _resolve(artifact, store) -> art.Artifact:
    if isinstance(artifact, art.Artifact):
        return artifact
    text = str(artifact)
    if Path(text).is_dir():
        return art.load(text)
    matches = [a for a in art.list_artifacts(store) if len(text) >= 8 and a.key.startswith(text)]
    if len(matches) == 1:
        return matches[0]
    raise ModxferError(f"no single trained artifact matches {text!r} ({len(matches)} found)",
                       "pass an artifact folder, or 8+ leading characters of its key (see the card's `key`)")


def publish(artifact, zoo=None, *, name: str | None = None, store=None) -> ZooEntry:
    """Copy a trained artifact (and what it stacks on) into the zoo and list it in the index."""
    a = _resolve(artifact, store)
    if a.kind == "full":
        raise ModxferError(f"{a.path} is a fully fine-tuned encoder ({a.card['composition']}), not an adapter",
                           "the zoo shares adapters; push a fine-tuned encoder to the hub as a model instead")
    root = Path(zoo) if zoo is not None else default_zoo()
    root.mkdir(parents=True, exist_ok=True)
    entries = {e.name: e for e in read_index(root)}
    deps = []
    for dep_key in a.card.get("depends_on", []):
        found = next((e for e in entries.values() if e.key == dep_key), None)
        if found is None:
            dep = next((x for x in art.list_artifacts(store) if x.key == dep_key), None)
            if dep is None:
                raise ModxferError(f"{a.card['composition']} stacks on artifact {dep_key[:12]}, which is neither in "
                                   f"the zoo nor in the store", "train or install it, then publish again")
            found = publish(dep, root, store=store)
            entries[found.name] = found
        deps.append(found.name)
    name = name or entry_name(a.card)
    if not _NAME_RE.match(name):
        raise ConfigError(f"zoo entry name {name!r} is not allowed", "use letters, digits, '_', '.', '-'")
    clash = entries.get(name)
    if clash is not None and clash.key != a.key:
        raise ConfigError(f"the zoo already has {name!r} for another artifact ({clash.key[:12]})",
                          "pick another --name")
    rel = f"{a.task}/{a.key[:20]}"
    with atomic_dir(root / rel) as tmp:
        for src in sorted(p for p in a.path.rglob("*") if p.is_file() and p.name != art.CARD):
            dst = tmp / src.relative_to(a.path)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
        # Where the dependencies sat on the publisher's disk means nothing elsewhere (and leaks a home path).
        card = {**a.card, "dependencies": [{k: v for k, v in d.items() if k != "path"}
                                           for d in a.card.get("dependencies", [])]}
        atomic_write_json(tmp / art.CARD, card)
        atomic_write_text(tmp / "README.md", model_card(a.card, name, deps))
        files = {p.relative_to(tmp).as_posix(): sha256_file(p) for p in sorted(tmp.rglob("*")) if p.is_file()}
        size = sum(p.stat().st_size for p in tmp.rglob("*") if p.is_file())
    c = a.card
    entry = ZooEntry(
        name=name, task=c["task"], composition=c["composition"], kind=c.get("kind", a.kind), key=a.key, path=rel,
        base={k: c["base"][k] for k in ("model_id", "weights_hash", "hidden_size")},
        adapter=adapter_kind(c),
        metrics=c.get("metrics", {}),
        training={k: c.get(k) for k in ("epochs", "learning_rate", "seed", "batch_size", "max_length")}
        | {"examples": (c.get("data") or {}).get("examples"), "data_sha256": (c.get("data") or {}).get("sha256")},
        depends_on=tuple(deps), files=files, size_bytes=size)
    entries[name] = entry
    _write_index(root, list(entries.values()))
    return entry


def model_card(card: dict, name: str, deps: list[str]) -> str:
    base = card["base"]
    val = (card.get("metrics") or {}).get("validation") or {}
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


# ------------------------------------------------------------------------------ installing
def verify(entry: ZooEntry, zoo=None) -> Path:
    """The entry's folder, after checking every file against the index's sha256."""
    root = Path(zoo) if zoo is not None else default_zoo()
    folder = root / entry.path
    for rel, digest in entry.files.items():
        if not _inside(rel):
            raise DataError(f"zoo entry {entry.name} lists an unsafe file name {rel!r}", "re-publish the entry")
        f = folder / rel
        if not f.is_file():
            raise DataError(f"zoo entry {entry.name} is missing {rel}", "pull or re-publish the zoo")
        if sha256_file(f) != digest:
            raise DataError(f"zoo entry {entry.name}: {rel} does not match its sha256 in the index",
                            "the file is corrupted or was changed; pull or re-publish the zoo")
    if not entry.files or "card.json" not in entry.files:
        raise DataError(f"zoo entry {entry.name} lists no card.json", "re-publish the entry")
    return folder


def install(name: str, zoo=None, *, store=None, backbone=None, _chain: tuple[str, ...] = ()) -> art.Artifact:
    """Copy an entry (after its dependencies) into the artifact store; with ``backbone``, refuse a mismatch."""
    from .tasks import get_task

    entry = get_entry(name, zoo)
    if entry.name in _chain:
        raise DataError(f"zoo entries depend on each other in a cycle: {' -> '.join(_chain + (entry.name,))}",
                        "fix depends_on in index.json, or re-publish the entries")
    get_task(entry.task)  # a task this modxfer knows, hence a safe folder name
    if backbone is not None and (entry.base["weights_hash"] != backbone.weights_hash
                                 or int(entry.base["hidden_size"]) != int(backbone.hidden_size)):
        raise AdapterMismatchError(
            f"zoo adapter {entry.name} was trained on {entry.base['model_id']} (weights {entry.base['weights_hash'][:12]}), "
            f"not on {backbone.model_id} (weights {backbone.weights_hash[:12]})",
            "install it for the backbone it was made for (--base), or train the adapter on this one")
    for dep in entry.depends_on:
        install(dep, zoo, store=store, backbone=backbone, _chain=_chain + (entry.name,))
    folder = verify(entry, zoo)
    card = art.load_card(folder / art.CARD)
    if card["key"] != entry.key or card["task"] != entry.task:
        raise DataError(f"zoo entry {entry.name}: its card (task {card['task']!r}, key {str(card['key'])[:12]}) "
                        "differs from the index", "re-publish the entry")
    if art.key_of_card(card) != card["key"]:
        # The store serves artifacts by key: weights may only land under the key their card's request hashes to.
        raise DataError(f"zoo entry {entry.name}: its key is not the hash of the training request its card "
                        "describes", "re-publish the entry from the artifact `modxfer train` wrote")
    existing = art.find(store, card["task"], card["key"])
    if existing is not None:
        return existing

    def write(tmp: Path) -> None:
        for rel in entry.files:
            if rel in (art.CARD, "README.md"):
                continue
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(folder / rel, tmp / rel)
    return art.save(store, card, write)


# ------------------------------------------------------------------------------ the hub
def push(repo_id: str, zoo=None, *, token: str | None = None, private: bool = False,
         message: str = "Publish adapters with modxfer") -> str:
    """Upload the zoo folder to a Hugging Face Hub model repository (created if needed); returns its URL."""
    from huggingface_hub import HfApi

    root = Path(zoo) if zoo is not None else default_zoo()
    if not (root / INDEX).is_file():
        raise DataError(f"{root} is not an adapter zoo (no {INDEX})", "publish into it first, or pass --zoo DIR")
    entries = read_index(root)
    for e in entries:
        verify(e, root)
    # Only the index and the files it lists: never whatever else sits in the folder.
    patterns = [INDEX] + [f"{e.path}/{rel}" for e in entries for rel in e.files]
    try:
        api = HfApi(token=token)
        api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
        api.upload_folder(repo_id=repo_id, folder_path=str(root), repo_type="model", commit_message=message,
                          allow_patterns=patterns)
    except Exception as e:  # not logged in, no network, no rights: one message, no traceback
        raise ModxferError(f"could not push the zoo to {repo_id!r}: {type(e).__name__}: "
                           f"{str(e).splitlines()[0] if str(e) else ''}",
                           "log in with `huggingface-cli login` (or pass a token) and check the repository id") from None
    return f"https://huggingface.co/{repo_id}"


def pull(source: str, *, revision: str | None = None, token: str | None = None) -> Path:
    """A zoo folder from ``source``: a local folder as it is, else a hub repository id downloaded to the cache."""
    from .io import cache_dir

    if Path(source).expanduser().is_dir():
        root = Path(source).expanduser()
    else:
        if not re.match(r"^[\w.-]+/[\w.-]+$", source):
            raise ConfigError(f"{source!r} is neither a folder nor a hub repository id",
                              "pass a local zoo folder or an id such as user/modxfer-adapters")
        from huggingface_hub import snapshot_download

        try:
            root = Path(snapshot_download(repo_id=source, revision=revision, token=token,
                                          local_dir=cache_dir() / "zoo" / source.replace("/", "--"),
                                          allow_patterns=["index.json", "*/*/**"]))
        except Exception as e:  # offline, unknown repo, no access: all say the same to the user
            raise ModxferError(f"could not download the zoo {source!r} from the Hugging Face Hub: "
                               f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}",
                               "check the repository id and your connection, or pass a local zoo folder") from None
    read_index(root)
    return root
