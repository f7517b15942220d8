"""Task similarity: (intermediates x targets) matrices under several measures, with bootstrap intervals.

Measures (``MEASURES``), all computed from a fixed sample of English *training* inputs (labels only where the
measure needs them), never from evaluation data:

  textemb         TextEmb (Vu et al. 2020) corrected for anisotropy: centre, L2-normalise, average, centre again,
                  cosine (``modxfer.similarity.textemb``). Raw mean embeddings share one large direction, so their
                  cosines sit in a narrow high band that rewards typical text, not similar tasks. Both centrings use
                  a fixed reference set of tasks (``modxfer.similarity.reference``), never the tasks compared, so a
                  pair's value is a property of the pair: the same in ``modxfer similarity``, ``modxfer select``,
                  the report and a results bundle, whatever else is named. Refused when a reference task's data is
                  missing; the card names the reference (tasks, examples per task, sha256).
  textemb-raw     the uncorrected TextEmb, kept for comparison.
  textemb-whiten  the corrected TextEmb with ZCA whitening estimated on the same reference.
  lexical         1 - Jensen-Shannon divergence of the tasks' subword distributions.
  taskemb         TaskEmb: cosine of diagonal empirical Fisher information of each task's trained adapter model.
  cka             linear CKA of the representations the intermediate's and the target's adapted models give the
                  same probe sentences (the target's English training inputs; with ``lang``, Tatoeba sentences in
                  that language from the ``lexicon`` split, which is never evaluated), per layer and overall.
  cka-delta       cka on what the adapters change (adapted minus frozen-backbone layer outputs): the full outputs
                  are dominated by the shared frozen backbone, so their CKA sits near 1 for any two adapters.
  format          same head type (0.5) and same number of labels (0.5 more): the baseline any measure must beat.

``compute`` returns a :class:`SimilarityMatrix` (values, bootstrap replicates over the sampled inputs, SEs, intervals,
same-source mask, card) and caches it as JSON under ``$MODXFER_CACHE/similarity``; sentence embeddings and Fisher
blocks are cached next to it as safetensors (never pickle). Pairs whose data share a source (mnli/xnli, udpos-en/udpos,
panx-en/panx, squad and any QA target) are flagged by ``same_source``.

The older single-number API (``similarity``, ``similarity_matrix``, ``task_embedding``) is the *raw* TextEmb.
"""
from __future__ import annotations

import dataclasses
import datetime
import difflib
import hashlib
import json
from dataclasses import dataclass
from typing import Sequence

from ..errors import ConfigError, DataError
from ..io import atomic_write_json, cache_dir
from ..tasks import Task, get_task
from .matrix import SAME_SOURCE, SimilarityMatrix, same_source
from .stats import ConfidenceInterval
from .inputs import (EXAMPLES, MAX_LENGTH, check_trainable, digest, input_text, load_arrays, mark_written,  # noqa: F401
                     probe_texts, save_arrays, task_texts, train_rows)  # (the measures' API offered them before)

MEASURES = ("textemb", "textemb-raw", "textemb-whiten", "lexical", "taskemb", "cka", "cka-delta", "format")
TRAINING_FREE = ("textemb", "textemb-raw", "textemb-whiten", "lexical", "format")
# Measures centred (and whitened) on the fixed reference set (``modxfer.similarity.reference``).
CENTRED = ("textemb", "textemb-whiten")
# 3: the corrected TextEmb is centred on the fixed reference, not on the tasks compared; older entries are not reused.
CACHE_VERSION = 3

__all__ = ["MEASURES", "TRAINING_FREE", "CENTRED", "MeasureSettings", "SimilarityMatrix", "ConfidenceInterval",
           "SAME_SOURCE", "same_source", "check_request", "compute", "compute_all", "input_text", "task_texts",
           "similarity", "similarity_matrix", "task_embedding", "cosine", "EXAMPLES"]


@dataclass(frozen=True)
class MeasureSettings:
    """How a measure samples and resamples: ``examples`` inputs per task (a fixed hash-ranked subset), bootstrap
    ``n_resamples`` drawn from ``seed``, inputs truncated to ``max_length`` tokens for the encoder."""

    examples: int = EXAMPLES
    seed: int = 0
    n_resamples: int = 200
    max_length: int = MAX_LENGTH

    def __post_init__(self):
        if self.examples < 2:
            raise ConfigError(f"examples must be at least 2, got {self.examples}", "pass --examples N with N >= 8")
        if self.n_resamples < 0 or self.n_resamples == 1:
            raise ConfigError(f"n_resamples must be 0 (no intervals) or at least 2, got {self.n_resamples}",
                              "pass --resamples 0 or a number such as 200")


# ---------------------------------------------------------------------------------------------- inputs












# ---------------------------------------------------------------------------------------------- the API
def compute(measure: str, intermediates: Sequence[str], targets: Sequence[str] | None = None, *,
            base="embedded", settings: MeasureSettings | None = None, data_dir=None, store=None, train=None,
            lang: str | None = None, cache: bool = True, progress: bool = False) -> SimilarityMatrix:
    """The ``measure`` matrix of ``intermediates`` x ``targets`` (square over ``intermediates`` if None).

    ``base`` is a backbone name/path or a loaded :class:`~modxfer.model.backbone.Backbone`. ``train`` (a
    :class:`~modxfer.training.TrainSettings`) says how taskemb and cka train their adapters (trained once, reused
    from ``store``); ``lang`` picks the probe language for cka.

    Raises:
        ConfigError: unknown measure, ``lang`` with a measure other than cka, bad settings.
        UnknownTaskError, DataError: unknown task, or one without training data; for textemb and textemb-whiten,
            a task of the fixed reference set (``modxfer.similarity.reference``) without usable training data.
    """
    from . import engine as impl
    from . import reference as R

    measure, inter, tgt, settings = _compute_iv(measure, intermediates, targets, settings, lang)
    if measure in CENTRED:
        R.check_available(data_dir)  # before the backbone loads: a missing reference task is the first thing to fix
    bb = _backbone(base)
    tasks = list(dict.fromkeys((*inter, *tgt)))
    texts = {t: task_texts(get_task(t), settings.examples, data_dir) for t in tasks}
    for t, x in texts.items():
        if len(x) < 2:
            raise DataError(f"task {t!r} has {len(x)} non-empty training inputs; a similarity needs at least 2",
                            "check its training data")
    reference = R.texts(data_dir) if measure in CENTRED else None
    ctx = impl.Context(measure, inter, tgt, settings, bb, texts, data_dir, store, train, lang, progress, reference)
    key = _cache_key(ctx)
    path = cache_dir() / "similarity" / bb.weights_hash[:16] / "matrices" / f"{measure}.{key[:24]}.json"
    if cache and path.is_file():
        try:
            return SimilarityMatrix.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, KeyError, TypeError):
            pass  # a damaged cache entry is recomputed and rewritten
    values, replicates, layers, extra = impl.run(ctx)
    card = {"measure": measure, "description": impl.DESCRIPTIONS[measure], "range": list(impl.RANGES[measure]),
            "examples": settings.examples,
            "sample_sizes": {t: len(x) for t, x in texts.items()}, "seed": settings.seed,
            "n_resamples": settings.n_resamples if replicates is not None else 0, "max_length": settings.max_length,
            "backbone": {"name": bb.name, "model_id": bb.model_id, "weights_hash": bb.weights_hash},
            "tasks_in_comparison": tasks, "texts_sha256": {t: digest(x) for t, x in texts.items()}, "lang": lang,
            # What the values are relative to (None: the measure has no reference, a pair's value is its own).
            "reference": R.describe(reference, settings.max_length) if reference is not None else None,
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), **extra}
    m = SimilarityMatrix(measure, inter, tgt, values, replicates, card, layers, lang)
    if cache:
        atomic_write_json(path, m.to_dict())
        mark_written(bb.weights_hash)
    return m




def compute_all(measures: Sequence[str] | str, intermediates: Sequence[str], targets: Sequence[str] | None = None,
                **kw) -> dict[str, SimilarityMatrix]:
    """{measure: matrix} for several measures (``"all"``: every one; ``"training-free"``: no adapters trained)."""
    if isinstance(measures, str):
        measures = {"all": MEASURES, "training-free": TRAINING_FREE}.get(measures, (measures,))
    return {m: compute(m, intermediates, targets, **kw) for m in measures}


def check_request(measures: Sequence[str], intermediates: Sequence[str], targets: Sequence[str] | None = None, *,
                  lang: str | None = None, data_dir=None) -> None:
    """Raise the error :func:`compute` would raise for any of ``measures`` on these tasks, before any is computed
    (so a command asked for several never prints some and then fails).

    Raises:
        ConfigError, UnknownTaskError, DataError: as :func:`compute`, including a reference task without usable
            training data (its files are read, once per process); not the compared tasks' data checks.
    """
    from . import reference as R

    for measure in dict.fromkeys(measures):
        _compute_iv(measure, intermediates, targets, None, lang)
    if any(m in CENTRED for m in measures):
        R.check_available(data_dir)


def _compute_iv(measure, intermediates, targets, settings, lang):
    if measure not in MEASURES:
        close = difflib.get_close_matches(str(measure), MEASURES, n=2)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ConfigError(f"unknown similarity measure {measure!r}{hint}", f"use one of: {', '.join(MEASURES)}")
    if lang is not None and not measure.startswith("cka"):
        raise ConfigError(f"measure {measure!r} is defined on English training inputs; only cka takes a language",
                          "drop --lang, or use --measure cka")
    inter = tuple(get_task(t).name for t in dict.fromkeys(intermediates))
    tgt = tuple(get_task(t).name for t in dict.fromkeys(targets)) if targets else inter
    if not inter or not tgt:
        raise ConfigError("a similarity matrix needs at least one intermediate and one target task",
                          "name the tasks, e.g. modxfer similarity mnli siqa xnli xcopa")
    tasks = tuple(dict.fromkeys((*inter, *tgt)))
    for t in tasks:  # a task that cannot be measured at all is the first thing to fix
        check_trainable(get_task(t))
    return measure, inter, tgt, settings or MeasureSettings()


def _backbone(base):
    if isinstance(base, str):
        from ..model.backbone import load_backbone

        return load_backbone(base)
    return base


def _cache_key(ctx) -> str:
    from . import reference as R

    spec = {"v": CACHE_VERSION, "measure": ctx.measure, "intermediates": ctx.intermediates, "targets": ctx.targets,
            "settings": dataclasses.asdict(ctx.settings), "weights": ctx.bb.weights_hash, "lang": ctx.lang,
            "texts": {t: digest(x) for t, x in ctx.texts.items()},
            "reference": (R.digest(ctx.reference, ctx.settings.max_length) if ctx.reference is not None else None),
            "train": _train_spec(ctx.train_settings()) if ctx.measure not in TRAINING_FREE else None}
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()


def _train_spec(ts) -> dict:
    spec = dataclasses.asdict(ts)
    if not spec.get("target_budgets"):
        spec.pop("target_budgets", None)  # absent and empty are the same request: keep earlier cache entries valid
    return spec






# ------------------------------------------------------------------------------ raw TextEmb, single numbers
@dataclass(frozen=True)
class TaskEmbedding:
    task: str
    vector: tuple[float, ...]
    examples: int
    texts_sha256: str
    model_id: str
    weights_hash: str


def task_embedding(task: str | Task, backbone, examples: int = EXAMPLES, data_dir=None) -> TaskEmbedding:
    """The mean sentence embedding of ``task``'s training inputs under ``backbone`` (cached; raw TextEmb)."""
    task = get_task(task) if isinstance(task, str) else task
    texts = task_texts(task, examples, data_dir)
    texts_digest = digest(texts)
    path = cache_dir() / "similarity" / backbone.weights_hash[:16] / f"{task.name}.{len(texts)}.{texts_digest[:16]}.json"
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
    emb = TaskEmbedding(task.name, tuple(float(x) for x in vectors.mean(0)), len(texts), texts_digest, backbone.model_id,
                        backbone.weights_hash)
    atomic_write_json(path, emb.__dict__ | {"vector": list(emb.vector)})
    mark_written(backbone.weights_hash)
    return emb


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    na = sum(x * x for x in a) ** 0.5
    nb = sum(y * y for y in b) ** 0.5
    return dot / (na * nb) if na and nb else 0.0


def similarity(a: str, b: str, backbone, examples: int = EXAMPLES, data_dir=None) -> float:
    """Raw TextEmb cosine of two tasks' embeddings, in [-1, 1] (see ``compute("textemb", ...)`` for the corrected)."""
    return cosine(task_embedding(a, backbone, examples, data_dir).vector,
                  task_embedding(b, backbone, examples, data_dir).vector)


def similarity_matrix(tasks: Sequence[str], backbone, examples: int = EXAMPLES, data_dir=None) -> dict:
    """{(a, b): raw TextEmb cosine} for every ordered pair of ``tasks`` (symmetric; 1.0 on the diagonal)."""
    embs = {t: task_embedding(t, backbone, examples, data_dir).vector for t in dict.fromkeys(tasks)}
    return {(a, b): cosine(embs[a], embs[b]) for a in embs for b in embs}
