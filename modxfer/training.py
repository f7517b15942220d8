"""Training: intermediate adapters, target adapters composed on top (stack, fusion), and full fine-tuning (STILTs).

Every run is identified by a content key (``train_key``) over the backbone weights, the task's data, the composition
(with the keys of what it builds on), the adapter config, the budget, the seed and the precision; a finished run is
an artifact in the store and is reused, never retrained.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import platform
import random
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from . import __version__
from . import artifacts as art
from . import metrics
from . import precision as prec
from .batching import collate, train_batches
from .composition import Composition
from .errors import AdapterMismatchError, ConfigError, ModxferError
from .features import featurize, length
from .inference import predict, references
from .modeling import add_head, backbone, fresh_model
from .tasks import get_task

log = logging.getLogger(__name__)

ADAPTER_LR = 2e-3  # small budgets (hundreds of steps) need a larger rate than full-data adapter recipes
FULL_LR = 3e-5
WARMUP = 0.1
VALIDATION_MIN, VALIDATION_MAX = 64, 500


@dataclass(frozen=True)
class TrainSettings:
    """Everything besides the composition that determines a trained artifact."""

    config: str = "seq_bn"
    examples: int | None = 2000
    epochs: float = 2.0
    seed: int = 0
    precision: str = "auto"
    base: str = "embedded"
    batch_size: int = 32
    learning_rate: float | None = None
    max_length: int = 128

    def __post_init__(self):
        if self.examples is not None and self.examples <= 0:
            raise ConfigError(f"examples must be positive, got {self.examples}", "pass --examples N with N >= 1")
        if self.epochs <= 0:
            raise ConfigError(f"epochs must be positive, got {self.epochs}", "pass --epochs E with E > 0")
        if self.batch_size <= 0:
            raise ConfigError(f"batch size must be positive, got {self.batch_size}", "pass a batch size >= 1")
        prec.resolve(self.precision)

    def lr(self, full: bool) -> float:
        return self.learning_rate or (FULL_LR if full else ADAPTER_LR)


def composition_for(task: str, on: Sequence[str] = (), fuse: bool = False, full: bool = False) -> Composition:
    on = tuple(on)
    if fuse and full:
        raise ConfigError("--fuse and --full cannot be combined", "pick one: fusion of adapters, or full fine-tuning")
    if fuse and len(on) < 2:
        raise ConfigError("fusion needs at least two intermediate adapters", "pass --on A --on B [--on C ...] with --fuse")
    kind = "full" if full else "fusion" if fuse else "stack" if on else "target"
    return Composition(task, on, kind).validate()


def _adapter_config(name: str) -> dict:
    from adapters import AdapterConfig

    try:
        return AdapterConfig.load(name).to_dict()
    except Exception as e:  # adapters raises a bare ValueError/TypeError for unknown names
        raise ConfigError(f"unknown adapter config {name!r} ({e})",
                          "use an `adapters` config name such as seq_bn, seq_bn_inv, lora, prefix_tuning, compacter") from None


def _data_fingerprint(rows: list[dict]) -> str:
    h = hashlib.sha256()
    for r in rows:
        h.update(json.dumps(r, sort_keys=True, ensure_ascii=False).encode("utf-8"))
    return h.hexdigest()


class TrainingPlan:
    """The resolved training request: composition, settings, rows, dependencies and the key."""

    def __init__(self, comp: Composition, s: TrainSettings, data_dir, store):
        self.comp, self.s, self.store, self.data_dir = comp, s, store, data_dir
        self.task = get_task(comp.target)
        if "train" not in self.task.splits:
            raise ConfigError(f"task {self.task.name!r} has no training data", "it is evaluated zero-shot only, on top of intermediates")
        self.bb = backbone(s.base)
        ds = self.task.load("train", "en", data_dir=data_dir, limit=s.examples)
        self.rows = ds.to_list()
        self.precision = prec.resolve(s.precision, prec.default_device())
        self.deps = [TrainingPlan(d, s, data_dir, store) for d in _dependencies(comp)]
        self.spec = {
            "modxfer": __version__,
            "base": {"model_id": self.bb.model_id, "weights_hash": self.bb.weights_hash, "hidden_size": self.bb.hidden_size},
            "task": self.task.name,
            "partition": self.task.partition,
            "data": {"split": "train", "examples": len(self.rows), "sha256": _data_fingerprint(self.rows)},
            "composition": str(comp),
            "depends_on": [d.key for d in self.deps],
            "adapter_config": None if comp.kind == "full" else {"name": s.config, **_adapter_config(s.config)},
            "seed": s.seed, "epochs": s.epochs, "batch_size": s.batch_size, "learning_rate": s.lr(comp.kind == "full"),
            "max_length": s.max_length, "precision": self.precision,
        }
        assert set(self.spec) == set(art.SPEC_FIELDS)  # the zoo re-derives keys from cards with that list
        self.key = art.content_key(self.spec)


def _dependencies(comp: Composition) -> list[Composition]:
    if comp.kind == "full":
        return [Composition(comp.intermediates[0], (), "full")] if comp.intermediates else []
    return [Composition(name) for name in comp.intermediates]


def train_key(task: str, *, on: Sequence[str] = (), fuse: bool = False, full: bool = False, data_dir=None, store=None,
              **settings) -> str:
    """The content key of a training request, computed without training."""
    return TrainingPlan(composition_for(task, on, fuse, full), TrainSettings(**settings), data_dir, store).key


def train(task: str, *, on: Sequence[str] = (), fuse: bool = False, full: bool = False, data_dir=None,
          store: str | Path | None = None, progress: bool = True, force: bool = False, **settings) -> art.Artifact:
    """Train (or reuse) the artifact for ``task`` composed on ``on``; missing intermediates are trained first.

    ``settings`` are the fields of :class:`TrainSettings` (config, examples, epochs, seed, precision, base, ...).
    """
    plan = TrainingPlan(composition_for(task, on, fuse, full), TrainSettings(**settings), data_dir, store)
    return _run(plan, progress=progress, force=force)


def _run(plan: TrainingPlan, *, progress: bool, force: bool) -> art.Artifact:
    deps = [_run(d, progress=progress, force=False) for d in plan.deps]
    if not force and (found := art.find(plan.store, plan.task.name, plan.key)):
        log.info("reusing %s (%s)", found.path, plan.comp)
        return found
    _seed_everything(plan.s.seed)
    model, head, trainable = _build(plan, deps)
    t0 = time.perf_counter()
    stats = _fit(model, plan, head, progress=progress)
    stats["train_seconds"] = round(time.perf_counter() - t0, 2)
    stats["metrics"] = _validate(model, plan, head)
    card = {**plan.spec, "key": plan.key, "kind": plan.comp.kind, "trainable_parameters": trainable,
            "adapter_name": head, "dependencies": [{"key": d.key, "path": str(d.path), "composition": str(d.composition)} for d in deps],
            **stats, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "library_versions": _versions()}
    return art.save(plan.store, card, lambda tmp: _write(model, plan, head, deps, tmp))


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _build(plan: TrainingPlan, deps: list[art.Artifact]):
    """The model for this run with only the right parameters trainable; returns (model, head name, n trainable)."""
    from adapters.composition import Fuse

    model = fresh_model(plan.bb)
    name = art.adapter_name(plan.task.name, plan.key)
    comp = plan.comp
    for d in deps:
        d.check_backbone(plan.bb.weights_hash, plan.bb.hidden_size, plan.bb.model_id)
    if comp.kind == "full":
        if deps:
            load_full_encoder(model, deps[0])
        add_head(model, plan.task, name)
        for p in model.parameters():
            p.requires_grad = True
        model.active_head = name
    else:
        inter = [load_adapter(model, d) for d in deps]
        model.add_adapter(name, config=plan.s.config)
        add_head(model, plan.task, name)
        model.train_adapter(name)  # freezes everything else, intermediates included
        if comp.kind == "fusion":
            model.add_adapter_fusion(Fuse(*inter))
            fusion = ",".join(inter)
            for n, p in model.named_parameters():
                if f"adapter_fusion_layer.{fusion}." in n:
                    p.requires_grad = True
        model.set_active_adapters(comp.to_adapters(dict(zip(comp.intermediates, inter)), target=name))
        model.active_head = name
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return model.to(prec.default_device()), name, trainable


def load_adapter(model, artifact: art.Artifact) -> str:
    """Load an artifact's adapter (no head) under its unique name; returns that name."""
    if artifact.kind == "full":
        raise AdapterMismatchError(f"{artifact.path} is a fully fine-tuned encoder, not an adapter",
                                   "compose adapters with adapters (A>B), or use full:A>B for STILTs")
    name = artifact.adapter_name
    if name not in model.adapters_config:
        model.load_adapter(str(artifact.path / "adapter"), load_as=name, with_head=False, use_safetensors=True)
    return name


def load_full_encoder(model, artifact: art.Artifact) -> None:
    from safetensors.torch import load_file

    if artifact.kind != "full":
        raise AdapterMismatchError(f"{artifact.path} is an adapter, not a fully fine-tuned encoder",
                                   "STILTs (full:A>B) builds on full:A; train it with `modxfer train A --full`")
    state = load_file(str(artifact.path / "model.safetensors"))
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or [k for k in missing if not k.startswith("heads.") and "prompt_tuning" not in k]:
        raise AdapterMismatchError(f"{artifact.path} does not fit this backbone's architecture",
                                   "use the backbone it was trained on")


def _fit(model, plan: TrainingPlan, head: str, *, progress: bool) -> dict:
    from tqdm.auto import tqdm
    from transformers import get_linear_schedule_with_warmup

    s = plan.s
    device = prec.default_device()
    feats = featurize(plan.task, plan.rows, plan.bb.tokenizer, s.max_length, train=True)
    lengths = [length(f) for f in feats]
    per_epoch = math.ceil(len(feats) / s.batch_size)
    total = max(1, math.ceil(per_epoch * s.epochs))
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=s.lr(plan.comp.kind == "full"), weight_decay=0.01)
    sched = get_linear_schedule_with_warmup(opt, int(WARMUP * total), total)
    pad_id = plan.bb.tokenizer.pad_token_id
    model.train()
    losses, step, epoch, tokens = [], 0, 0, 0
    bar = tqdm(total=total, desc=f"train {plan.comp}", unit="step", disable=not progress, leave=False)
    while step < total:
        for idx in train_batches(lengths, s.batch_size, s.seed, epoch):
            if step >= total:
                break
            batch = {k: v.to(device) for k, v in collate([feats[i] for i in idx], pad_id).items()}
            tokens += int(batch["attention_mask"].sum())
            with prec.autocast(plan.precision, device):
                loss = model(**batch, head=head).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            losses.append(loss.item())
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
        epoch += 1
    bar.close()
    model.eval()
    return {"steps": step, "examples_seen": min(step * s.batch_size, len(feats) * epoch), "train_tokens": tokens,
            "final_loss": round(float(np.mean(losses[-20:])), 4)}


def _validate(model, plan: TrainingPlan, head: str) -> dict:
    task = plan.task
    if "validation" not in task.splits:
        return {}
    # Validation is for the card, not for model selection: keep it proportionate to small budgets.
    limit = min(VALIDATION_MAX, max(VALIDATION_MIN, len(plan.rows) // 2))
    rows = task.load("validation", "en", data_dir=plan.data_dir, limit=limit).to_list()
    preds = predict(model, task, rows, head, tokenizer=plan.bb.tokenizer, precision=plan.precision,
                    max_length=plan.s.max_length, device=prec.default_device())
    scores = metrics.score_kind(task.metric, preds, references(task, rows), lang="en")
    return {"validation": {k: round(v, 2) for k, v in scores.items()}, "validation_examples": len(rows)}


def _write(model, plan: TrainingPlan, head: str, deps, tmp: Path) -> None:
    from safetensors.torch import save_file

    if plan.comp.kind == "full":
        # adapters keeps an alias of the word embeddings for prompt tuning; safetensors refuses shared storage
        state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()
                 if not k.startswith("heads.") and "prompt_tuning.base_model_embeddings" not in k}
        save_file(state, str(tmp / "model.safetensors"))
    else:
        model.save_adapter(str(tmp / "adapter"), head, with_head=False, use_safetensors=True)
        if plan.comp.kind == "fusion":
            model.save_adapter_fusion(str(tmp / "fusion"), ",".join(d.adapter_name for d in deps), use_safetensors=True)
    model.save_head(str(tmp / "head"), head, use_safetensors=True)


def _versions() -> dict:
    import adapters
    import transformers

    return {"modxfer": __version__, "torch": torch.__version__, "transformers": transformers.__version__,
            "adapters": adapters.__version__, "python": platform.python_version()}
