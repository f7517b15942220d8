"""What the similarity measures read, and where they keep it: a task's English training inputs (a fixed,
hash-ranked sample), Tatoeba probe sentences, their digests, and the safetensors cache of arrays computed from them.
Shared by ``measures``, ``compute`` and ``reference`` (each imports it; it imports none of them)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import DataError
from ..io import atomic_write_bytes, cache_dir
from ..tasks import Task, get_task

EXAMPLES = 256


MAX_LENGTH = 128


def input_text(head: str, row: dict) -> str:
    """The text the model reads for one example of a task with this head type."""
    if head == "classification":
        return " ".join(t for t in (row["text_a"], row.get("text_b")) if t)
    if head == "multiple_choice":
        return " ".join([row.get("context") or ""] + list(row["choices"])).strip()
    if head == "tagging":
        return " ".join(row["tokens"])
    if head == "extractive_qa":
        return f"{row['question']} {row['context']}"
    return row["target"]  # retrieval: the English side


def task_texts(task: Task, examples: int = EXAMPLES, data_dir=None) -> list[str]:
    """Up to ``examples`` English training inputs of ``task`` (a fixed, hash-ranked subset)."""
    check_trainable(task)
    return [t for t in (input_text(task.head, r) for r in train_rows(task, examples, data_dir)) if t.strip()]


def check_trainable(task: Task) -> None:
    if "train" not in task.splits:
        raise DataError(f"task {task.name!r} has no training split to compute its similarity from",
                        "similarity is defined on training inputs; pick a task with a train split "
                        "(retrieval tasks such as tatoeba have none)")


def train_rows(task: Task, examples: int, data_dir) -> list[dict]:
    return task.load("train", None, data_dir=data_dir, limit=examples).to_list()


def probe_texts(lang: str, examples: int, data_dir=None) -> list[str]:
    """Sentences in ``lang`` from Tatoeba's ``lexicon`` split (never evaluated), a fixed subset."""
    from ..noise.lexicon import tatoeba_code

    rows = get_task("tatoeba").load("lexicon", tatoeba_code(lang, data_dir), data_dir=data_dir,
                                    limit=examples).to_list()
    return [r["source"] for r in rows if r["source"].strip()]


def digest(texts: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()


def mark_written(weights_hash: str) -> None:
    """Mark the backbone's similarity folder as modxfer's own, so `modxfer cache clear similarity` may delete it."""
    from ..io import mark

    mark(cache_dir() / "similarity" / weights_hash[:16])


def save_arrays(path, arrays: dict[str, np.ndarray], card: dict) -> None:
    """Arrays as safetensors (no pickle) with the card as metadata, written atomically."""
    from safetensors.numpy import save

    atomic_write_bytes(path, save({k: np.ascontiguousarray(v) for k, v in arrays.items()},
                                  metadata={"card": json.dumps(card, sort_keys=True)}))
    folder = Path(path).parent.parent  # similarity/<backbone>/<kind>/<file>: the backbone's folder is the entry
    if folder.parent == cache_dir() / "similarity":
        mark_written(folder.name)


def load_arrays(path) -> dict[str, np.ndarray] | None:
    from safetensors.numpy import load_file

    try:
        return load_file(str(path)) if path.is_file() else None
    except Exception:  # a damaged cache entry is recomputed
        return None
