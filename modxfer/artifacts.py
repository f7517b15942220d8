"""Trained artifacts (adapters, fusion layers, heads, fully fine-tuned encoders) as self-describing folders.

    <store>/<task>/<key>/card.json        how it was made (see ``training.py``) and its final metrics
                        /adapter/         adapters' own layout, weights in safetensors
                        /head/            prediction head, safetensors
                        /fusion/          AdapterFusion layer, safetensors (fusion compositions)
                        /model.safetensors  encoder + head weights (full fine-tuning)

The key is a content hash of everything that determines the weights, so the same request is served from the store
instead of being trained again. Folders appear by one rename, complete or not at all. Nothing is unpickled.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .composition import Composition
from .errors import AdapterMismatchError, DataError, ModxferError
from .io import atomic_dir, atomic_write_json, cache_dir

CARD = "card.json"


def default_store() -> Path:
    return Path(os.environ.get("MODXFER_STORE", cache_dir() / "artifacts")).expanduser()


# The card fields a training request is keyed by (training.TrainingPlan.spec); a card repeats them verbatim.
SPEC_FIELDS = ("modxfer", "base", "task", "partition", "data", "composition", "depends_on", "adapter_config", "seed",
               "epochs", "batch_size", "learning_rate", "max_length", "precision")


def key_of_card(card: dict) -> str | None:
    """The key the card's own training request hashes to (None if it lacks a field)."""
    if not all(k in card for k in SPEC_FIELDS):
        return None
    return content_key({k: card[k] for k in SPEC_FIELDS})


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
    path = path_for(store or default_store(), task, key)
    card_file = path / CARD
    if not card_file.is_file():
        return None
    card = load_card(card_file)
    if card.get("key") != key:
        return None
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
    try:
        card = json.loads(card_file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ModxferError(f"unreadable artifact card {card_file}: {e}", "delete the folder and train it again") from None
    for k in ("key", "task", "composition", "base"):
        if k not in card:
            raise ModxferError(f"artifact card {card_file} lacks {k!r}", "delete the folder and train it again")
    return card


def save(store: Path | None, card: dict, write) -> Artifact:
    """Write an artifact atomically: ``write(tmp_dir)`` puts the weights, then the card, then one rename."""
    path = path_for(store or default_store(), card["task"], card["key"])
    with atomic_dir(path) as tmp:
        write(tmp)
        atomic_write_json(tmp / CARD, card)
    return Artifact(card["key"], path, card)


def list_artifacts(store: Path | None = None) -> list[Artifact]:
    root = Path(store or default_store())
    return [Artifact(c["key"], p.parent, c) for p in sorted(root.glob(f"*/*/{CARD}")) if (c := load_card(p))]
