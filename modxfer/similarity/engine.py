"""Running one measure for :func:`modxfer.similarity.compute`: gathering inputs (cached) and calling its module."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..io import cache_dir
from ..tasks import get_task

DESCRIPTIONS = {
    "textemb": "TextEmb, anisotropy-corrected: centre sentence embeddings on the fixed reference set's mean, "
               "L2-normalise, average per task, subtract the reference tasks' mean vector, cosine (card: reference)",
    "textemb-raw": "TextEmb (Vu et al. 2020): cosine of mean sentence embeddings, uncorrected",
    "textemb-whiten": "TextEmb with centring and ZCA whitening (shrinkage 0.1) of sentence embeddings, both "
                      "estimated on the fixed reference set (card: reference)",
    "lexical": "1 - Jensen-Shannon divergence (base 2) of subword frequency distributions, special tokens excluded",
    "taskemb": "TaskEmb (Vu et al. 2020): mean over components (adapter parameters, layer outputs) of the cosine of "
               "L2-normalised diagonal empirical Fisher information of each task's trained adapter model",
    "cka": "linear CKA between mean-pooled layer outputs of the intermediate's and the target's adapted models on "
           "the same probe sentences, mean over layers",
    "cka-delta": "linear CKA between what the two adapters change: each adapted model's mean-pooled layer outputs "
                 "minus the frozen backbone's, on the same probe sentences, mean over layers",
    "format": "0.5 for the same head type, 0.5 more for the same number of labels too",
}


# Where each measure's values can lie (intervals are clipped to it).
RANGES = {"textemb": (-1.0, 1.0), "textemb-raw": (-1.0, 1.0), "textemb-whiten": (-1.0, 1.0), "lexical": (0.0, 1.0),
          "taskemb": (0.0, 1.0), "cka": (0.0, 1.0), "cka-delta": (0.0, 1.0), "format": (0.0, 1.0)}


@dataclass
class Context:
    measure: str
    intermediates: tuple[str, ...]
    targets: tuple[str, ...]
    settings: Any  # MeasureSettings
    bb: Any        # Backbone
    texts: dict[str, list[str]]
    data_dir: Any
    store: Any
    train: Any     # TrainSettings | None
    lang: str | None
    progress: bool
    reference: dict[str, list[str]] | None = None  # the fixed reference's texts, for the centred TextEmb

    @property
    def tasks(self) -> list[str]:
        return list(dict.fromkeys((*self.intermediates, *self.targets)))

    def train_settings(self):
        from ..training import TrainSettings

        ts = self.train or TrainSettings(base=self.bb.name, seed=self.settings.seed)
        if ts.base != self.bb.name:
            raise ConfigError(f"adapters for {self.measure} would train on backbone {ts.base!r}, but the similarity "
                              f"is computed on {self.bb.name!r}", "pass training settings with the same base")
        return ts

    def cache_path(self, kind: str, name: str):
        return cache_dir() / "similarity" / self.bb.weights_hash[:16] / kind / name


def run(ctx: Context) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, dict]:
    """(values, replicates, per-layer values or None, extra card fields)."""
    m, s = ctx.measure, ctx.settings
    if m.startswith("textemb"):
        from .textemb import textemb_matrix

        correction = {"textemb": "center", "textemb-raw": "none", "textemb-whiten": "whiten"}[m]
        vectors = {t: sentence_vectors(ctx, t) for t in ctx.tasks}
        # Embedded once per backbone and cached like any task's sample (a compared task at the default sample
        # size is the same file).
        ref = ({t: embed_texts(ctx, t, x) for t, x in ctx.reference.items()} if correction != "none" else None)
        values, reps = textemb_matrix(vectors, ctx.intermediates, ctx.targets, correction=correction,
                                      reference=ref, n_resamples=s.n_resamples, seed=s.seed)
        return values, reps, None, {"correction": correction}
    if m == "lexical":
        from .lexical import lexical_matrix, token_counts

        counts = {t: token_counts(ctx.texts[t], ctx.bb.tokenizer) for t in ctx.tasks}
        values, reps = lexical_matrix(counts, ctx.intermediates, ctx.targets, n_resamples=s.n_resamples, seed=s.seed)
        return values, reps, None, {"kind": "js"}
    if m == "format":
        values = np.array([[_format(a, b) for b in ctx.targets] for a in ctx.intermediates], dtype=float)
        return values, None, None, {}
    if m == "taskemb":
        return _taskemb(ctx)
    if m in ("cka", "cka-delta"):
        return _cka(ctx)
    raise AssertionError(m)


def _format(a: str, b: str) -> float:
    ta, tb = get_task(a), get_task(b)
    if ta.head != tb.head:
        return 0.0
    return 1.0 if _n_labels(ta) == _n_labels(tb) else 0.5


def _n_labels(task) -> int | None:
    if task.labels:
        return len(task.labels)
    if task.num_choices:
        return task.num_choices
    return 2 if task.head == "extractive_qa" else None  # start and end of a span


def sentence_vectors(ctx: Context, task: str) -> np.ndarray:
    """The backbone's mean-pooled embeddings of the task's sampled training inputs, ``(n, H)`` (cached)."""
    return embed_texts(ctx, task, ctx.texts[task])


def embed_texts(ctx: Context, task: str, texts: list[str]) -> np.ndarray:
    """The backbone's mean-pooled embeddings of ``texts`` (a sample of ``task``'s inputs), ``(n, H)``; cached by
    task, size, content and input length, so the same sample is embedded once whoever asks."""
    from .inputs import digest, load_arrays, save_arrays

    path = ctx.cache_path("sentences", f"{task}.{len(texts)}.{digest(texts)[:16]}.{ctx.settings.max_length}"
                                       ".safetensors")
    cached = load_arrays(path)
    if cached is not None and cached.get("vectors") is not None and len(cached["vectors"]) == len(texts):
        return cached["vectors"].astype(np.float64)
    vectors = ctx.bb.embed(texts, max_length=ctx.settings.max_length).numpy().astype(np.float32)
    save_arrays(path, {"vectors": vectors}, {"task": task, "examples": len(texts), "texts_sha256": digest(texts),
                                             "weights_hash": ctx.bb.weights_hash,
                                             "max_length": ctx.settings.max_length})
    return vectors.astype(np.float64)


def _taskemb(ctx: Context):
    from .inputs import digest, load_arrays, save_arrays, train_rows
    from .models import AdaptedModels
    from .taskemb import BLOCKS, FisherBlocks, fisher_blocks, taskemb_matrix

    ts = ctx.train_settings()
    models = AdaptedModels(ts, store=ctx.store, data_dir=ctx.data_dir, progress=ctx.progress)
    fisher, keys = {}, {}
    for t in ctx.tasks:
        task = get_task(t)
        rows = train_rows(task, ctx.settings.examples, ctx.data_dir)
        model, head, artifact = models.get(t)
        keys[t] = artifact.key
        path = ctx.cache_path("fisher", f"{t}.{artifact.key[:16]}.{digest([str(r['id']) for r in rows])[:16]}."
                                        f"{ctx.settings.max_length}.{BLOCKS}.safetensors")
        cached = load_arrays(path)
        if cached is not None and "examples" in cached:
            blocks = {c: v for c, v in cached.items() if c != "examples"}
            fisher[t] = FisherBlocks(t, blocks, int(cached["examples"][0]))
            continue
        fb = fisher_blocks(model, head, task, rows, models.tokenizer, max_length=ctx.settings.max_length)
        save_arrays(path, {**fb.blocks, "examples": np.array([fb.examples])},
                    {"task": t, "artifact": artifact.key, "examples": fb.examples, "blocks": BLOCKS})
        fisher[t] = fb
    values, reps = taskemb_matrix(fisher, ctx.intermediates, ctx.targets, n_resamples=ctx.settings.n_resamples,
                                  seed=ctx.settings.seed)
    extra = {"train": dataclasses.asdict(ts), "artifacts": keys, "blocks": BLOCKS,
             "components": sorted(next(iter(fisher.values())).blocks)}
    return values, reps, None, extra


def _cka(ctx: Context):
    from .inputs import digest, probe_texts
    from .cka import cka_matrix
    from .models import AdaptedModels, frozen_representations, layer_representations

    ts = ctx.train_settings()
    if ctx.lang:
        shared = probe_texts(ctx.lang, ctx.settings.examples, ctx.data_dir)
        probes = {b: f"tatoeba-lexicon:{ctx.lang}" for b in ctx.targets}
        texts = {f"tatoeba-lexicon:{ctx.lang}": shared}
    else:
        probes = {b: b for b in ctx.targets}
        texts = {b: ctx.texts[b] for b in ctx.targets}
    needed: dict[str, set[str]] = {}
    for b in ctx.targets:
        for m in (*ctx.intermediates, b):
            needed.setdefault(m, set()).add(probes[b])
    models = AdaptedModels(ts, store=ctx.store, data_dir=ctx.data_dir, progress=ctx.progress)
    reps, keys, frozen, artifacts = {}, {}, {}, {}
    for m, sets in needed.items():  # one model at a time: each is built once
        model, _, artifact = models.get(m)
        keys[m], artifacts[m] = artifact.key, artifact
        for p in sorted(sets):
            reps[(m, p)] = layer_representations(model, texts[p], models.tokenizer,
                                                 max_length=ctx.settings.max_length)
            if ctx.measure == "cka-delta":
                if p not in frozen:  # the frozen backbone is the same under every adapter
                    frozen[p] = frozen_representations(model, texts[p], models.tokenizer,
                                                       max_length=ctx.settings.max_length)
                reps[(m, p)] = reps[(m, p)] - frozen[p]
    # Below the frozen trunk (adapters' leave_out) every model gives the backbone's own states: those layers
    # compare nothing, and would pull the overall CKA towards 1.
    first = max(int(a.card.get("trunk_layers", 0) or 0) for a in artifacts.values())
    reps = {k: v[first:] for k, v in reps.items()}
    n_res = ctx.settings.n_resamples
    values, replicates, layers = cka_matrix(reps, ctx.intermediates, ctx.targets, probes, n_resamples=n_res,
                                            seed=ctx.settings.seed)
    extra = {"train": dataclasses.asdict(ts), "artifacts": keys,
             "layers": list(range(first + 1, first + 1 + len(layers))),  # encoder layer numbers, 1-based
             "probes": {p: {"examples": len(x), "sha256": digest(x)} for p, x in texts.items()},
             "probe_source": "Tatoeba lexicon split" if ctx.lang else "each target's English training inputs"}
    return values, replicates, layers, extra
