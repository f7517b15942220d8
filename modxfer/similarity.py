"""Semantic similarity between tasks: how alike their inputs look to the backbone.

A task's embedding is the mean of the backbone's mean-pooled sentence embeddings of ``examples`` English training
inputs (TextEmb, Vu et al. 2020, "Exploring and Predicting Transferability across NLP Tasks"); two tasks'
similarity is the cosine of their embeddings. The inputs embedded per head type are the ones the model reads:
both sentences of a pair, the context and choices of a multiple-choice item, the tokens of a tagged sentence,
question and context of a QA item. Labels are never used, and only training data is read, so the similarity of
an intermediate and a target task never looks at what the target is evaluated on.

Raw cosines of mean-pooled embeddings sit in a narrow high band (anisotropy); the analysis uses them for ranking
and correlation, where that offset does not matter. Embeddings are cached as JSON (never pickle) under
``$MODXFER_CACHE/similarity`` keyed by backbone weights, task, sample size and a hash of the texts (the
sample itself is a fixed hash-ranked subset, so no seed is involved).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Sequence

from .errors import DataError
from .io import atomic_write_json, cache_dir
from .tasks import Task, get_task

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
    if "train" not in task.splits:
        raise DataError(f"task {task.name!r} has no training split to compute its similarity from",
                        "similarity is defined on training inputs; pick a task with a train split "
                        "(retrieval tasks such as tatoeba have none)")
    rows = task.load("train", None, data_dir=data_dir, limit=examples).to_list()
    return [t for t in (input_text(task.head, r) for r in rows) if t.strip()]


@dataclass(frozen=True)
class TaskEmbedding:
    task: str
    vector: tuple[float, ...]
    examples: int
    texts_sha256: str
    model_id: str
    weights_hash: str


def task_embedding(task: str | Task, backbone, examples: int = EXAMPLES, data_dir=None) -> TaskEmbedding:
    """The mean sentence embedding of ``task``'s training inputs under ``backbone`` (cached)."""
    task = get_task(task) if isinstance(task, str) else task
    texts = task_texts(task, examples, data_dir)
    digest = hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()
    path = cache_dir() / "similarity" / backbone.weights_hash[:16] / f"{task.name}.{len(texts)}.{digest[:16]}.json"
    if path.is_file():
        try:
            obj = json.loads(path.read_text(encoding="utf-8"))
            return TaskEmbedding(obj["task"], tuple(float(x) for x in obj["vector"]), obj["examples"],
                                 obj["texts_sha256"], obj["model_id"], obj["weights_hash"])
        except (ValueError, KeyError, TypeError):
            pass  # a damaged cache entry is recomputed and rewritten
    if not texts:
        raise DataError(f"task {task.name!r} has no non-empty training inputs to embed", "check its training data")
    vectors = backbone.embed(texts, max_length=MAX_LENGTH)
    emb = TaskEmbedding(task.name, tuple(float(x) for x in vectors.mean(0)), len(texts), digest, backbone.model_id,
                        backbone.weights_hash)
    atomic_write_json(path, emb.__dict__ | {"vector": list(emb.vector)})
    return emb


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    na = sum(x * x for x in a) ** 0.5
    nb = sum(y * y for y in b) ** 0.5
    return dot / (na * nb) if na and nb else 0.0


def similarity(a: str, b: str, backbone, examples: int = EXAMPLES, data_dir=None) -> float:
    """Cosine similarity of two tasks' embeddings, in [-1, 1]."""
    return cosine(task_embedding(a, backbone, examples, data_dir).vector,
                  task_embedding(b, backbone, examples, data_dir).vector)


def similarity_matrix(tasks: Sequence[str], backbone, examples: int = EXAMPLES, data_dir=None) -> dict:
    """{(a, b): cosine} for every ordered pair of ``tasks`` (symmetric; 1.0 on the diagonal)."""
    embs = {t: task_embedding(t, backbone, examples, data_dir).vector for t in dict.fromkeys(tasks)}
    return {(a, b): cosine(embs[a], embs[b]) for a in embs for b in embs}
