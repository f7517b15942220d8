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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from . import __version__
from .store import artifacts as art
from .scoring import metrics
from .model import precision as prec
from .model.batching import loss_units, micro_batches, train_batches
from .store.cards import FROZEN_PARTS, finite
from .composition import Composition
from .errors import AdapterMismatchError, ConfigError, DataError, ModxferError
from .io import progress_interval
from .model.features import featurize, length
from .model.inference import predict, references
from .model.forward import Forward
from .model.host import Host, host_for, trim_memory
from .model.lazy_embeddings import install as install_lazy, lazy_rows
from .model.modeling import add_head, backbone, fresh_model
from .tasks import data_profile, get_task
from .model.trunk import check_layers

log = logging.getLogger(__name__)

ADAPTER_LR = 2e-3  # small budgets (hundreds of steps) need a larger rate than full-data adapter recipes
FULL_LR = 3e-5
WARMUP = 0.1
VALIDATION_MAX = 500  # held-out English examples scored for the card's competence check
# On the CPU, a training forward of more padded tokens than this runs in parts, gradients accumulated and weighted to
# the batch's mean loss: the same update up to dropout draws and rounding, with the activation memory of a part (the
# longest batches set a process's peak). A GPU runs whole batches: there the parts would cost speed, not save memory.
MICRO_BATCH_TOKENS = 512
# Adapters, fusion and heads sit above the lowest half of the encoder by default; measured quality cost and speed for
# K = 0, 3, 6, 9 in benchmarks/README.md.
DEFAULT_TRUNK_FRACTION = 0.5


def default_trunk_layers(num_layers: int) -> int:
    return int(num_layers * DEFAULT_TRUNK_FRACTION)


@dataclass(frozen=True)
class TrainSettings:
    """Everything besides the composition that determines a trained artifact."""

    config: str = "seq_bn"
    examples: int | None = 2000
    epochs: float = 2.0
    seed: int = 0
    precision: str = "auto"
    base: str = "embedded"
    # 16, not 32: twice the optimisation steps for a small budget, and half the activation memory of the upper
    # layers' backward (`modxfer train mnli`: 1.37 GB peak vs 2.04 GB at 32; benchmarks/README.md)
    batch_size: int = 16
    learning_rate: float | None = None
    max_length: int = 128
    trunk_layers: int | None = None  # None: the backbone's default (DEFAULT_TRUNK_FRACTION of its layers)
    # A budget per role: an intermediate adapter is trained once and reused under every stack and fusion, so it
    # can afford more than each target adapter. None: the same examples/epochs as every other adapter.
    intermediate_examples: int | None = None
    intermediate_epochs: float | None = None
    # A budget per target task, for the adapters trained for it (its target-only adapter and every stack and fusion
    # on it), so a harder target can learn without retraining every other target: ((task, examples, epochs), ...),
    # None in either place keeps examples/epochs. Full fine-tuning keeps its own.
    target_budgets: tuple = ()
    # Full fine-tuning only: keep the word-embedding matrix frozen (four fifths of the embedded backbone's parameters,
    # and with their gradients and Adam states 1.1 GB of a fine-tuning's memory). A rationale for zero-shot transfer
    # too: only the rows of tokens seen in English training get gradients, which moves them away from the rest.
    freeze_embeddings: bool = False

    def __post_init__(self):
        if self.examples is not None and self.examples <= 0:
            raise ConfigError(f"examples must be positive, got {self.examples}", "pass --examples N with N >= 1")
        if self.intermediate_examples is not None and self.intermediate_examples <= 0:
            raise ConfigError(f"intermediate examples must be positive, got {self.intermediate_examples}",
                              "pass a number >= 1, or leave it unset to use examples")
        if self.intermediate_epochs is not None and not (finite(self.intermediate_epochs)
                                                         and self.intermediate_epochs > 0):
            raise ConfigError(f"intermediate epochs must be a positive finite number, got {self.intermediate_epochs}",
                              "pass a number > 0, or leave it unset to use epochs")
        for name, value in (("epochs", self.epochs), ("learning rate", self.learning_rate)):
            if value is not None and not finite(value):
                raise ConfigError(f"{name} must be a finite number, got {value}", f"pass a finite {name}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed < 2**32:
            raise ConfigError(f"seed must be a whole number from 0 to 2**32 - 1, got {self.seed!r}", "pass --seed N")
        if self.learning_rate is not None and self.learning_rate <= 0:
            raise ConfigError(f"learning rate must be positive, got {self.learning_rate}", "pass --lr with a value > 0")
        if self.epochs <= 0:
            raise ConfigError(f"epochs must be positive, got {self.epochs}", "pass --epochs E with E > 0")
        if self.batch_size <= 0:
            raise ConfigError(f"batch size must be positive, got {self.batch_size}", "pass a batch size >= 1")
        if self.trunk_layers is not None and (isinstance(self.trunk_layers, bool) or not isinstance(self.trunk_layers, int)
                                              or self.trunk_layers < 0):
            raise ConfigError(f"trunk layers must be a whole number >= 0, got {self.trunk_layers!r}",
                              "pass --trunk-layers K with 0 <= K < the backbone's number of layers")
        if not isinstance(self.freeze_embeddings, bool):
            raise ConfigError(f"freeze_embeddings must be true or false, got {self.freeze_embeddings!r}",
                              "pass --freeze-embeddings, or budget.full.freeze_embeddings: true in a sweep config")
        object.__setattr__(self, "target_budgets", _target_budgets(self.target_budgets))
        prec.resolve(self.precision)

    def lr(self, full: bool) -> float:
        return self.learning_rate or (FULL_LR if full else ADAPTER_LR)

    def for_role(self, role: str, kind: str, task: str | None = None) -> "TrainSettings":
        """The settings one trained piece gets: an intermediate adapter takes the intermediate budget, a target's
        adapter its target budget, if set (full fine-tuning keeps its own)."""
        if kind == "full":
            return self
        if role == "intermediate":
            return replace(self, examples=self.intermediate_examples or self.examples,
                           epochs=self.intermediate_epochs or self.epochs)
        for name, n, e in self.target_budgets:
            if name == task:
                return replace(self, examples=n or self.examples, epochs=e or self.epochs)
        return self


def _target_budgets(entries) -> tuple:
    """Validated ``target_budgets``: ((task, examples or None, float epochs or None), ...), each a target task with
    training data, named once."""
    out, seen = [], set()
    for entry in entries or ():
        if not (isinstance(entry, (tuple, list)) and len(entry) == 3 and isinstance(entry[0], str)):
            raise ConfigError(f"a target budget is (task, examples, epochs), got {entry!r}",
                              "give each target budget as (task, examples or None, epochs or None)")
        name, n, e = entry
        task = get_task(name)  # an unknown name fails here, with the closest task names
        if task.role == "intermediate":
            raise ConfigError(f"{name} is an intermediate task: a target budget does not apply to it",
                              "give its budget as intermediate_examples / intermediate_epochs")
        if "train" not in task.splits:
            raise ConfigError(f"{name} has no training data, so no adapter of its own to budget",
                              f"remove the target budget for {name}")
        if name in seen:
            raise ConfigError(f"the target budget for {name} is given twice", "give each target one budget")
        seen.add(name)
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n <= 0):
            raise ConfigError(f"target budget examples for {name!r} must be a whole number >= 1, got {n!r}",
                              "pass a positive number of examples, or None to keep examples")
        if e is not None and (isinstance(e, bool) or not isinstance(e, (int, float)) or not finite(e) or e <= 0):
            raise ConfigError(f"target budget epochs for {name!r} must be a positive finite number, got {e!r}",
                              "pass a number > 0, or None to keep epochs")
        out.append((name, n, None if e is None else float(e)))
    return tuple(out)


def composition_for(task: str, on: Sequence[str] = (), fuse: bool = False, full: bool = False) -> Composition:
    on = tuple(on)
    if fuse and full:
        raise ConfigError("--fuse and --full cannot be combined", "pick one: fusion of adapters, or full fine-tuning")
    if fuse and len(on) < 2:
        raise ConfigError("fusion needs at least two intermediate adapters", "pass --on A --on B [--on C ...] with --fuse")
    kind = "full" if full else "fusion" if fuse else "stack" if on else "target"
    return Composition(task, on, kind).validate()


def adapter_config(name: str, trunk_layers: int = 0):
    """The ``adapters`` config object, with the trunk's layers left out (the adapter lives in layers K..L-1 only)."""
    from adapters import AdapterConfig, ConfigUnion

    try:
        config = AdapterConfig.load(name)
    except Exception as e:  # adapters raises a bare ValueError/TypeError for unknown names
        raise ConfigError(f"unknown adapter config {name!r} ({e})",
                          "use an `adapters` config name such as seq_bn, seq_bn_inv, lora, prefix_tuning, compacter") from None
    if not trunk_layers:
        return config
    parts = list(config.configs) if isinstance(config, ConfigUnion) else [config]
    for part in parts:
        if part.get("inv_adapter") or part.get("architecture") == "prompt_tuning":
            raise ConfigError(f"adapter config {name!r} changes the embeddings, so the layers below it cannot be a "
                              "frozen trunk", "pass --trunk-layers 0 with this config, or use seq_bn, lora, ...")
    leave_out = list(range(trunk_layers))
    try:
        parts = [p.replace(leave_out=sorted(set(p.get("leave_out") or []) | set(leave_out))) for p in parts]
    except TypeError:  # configs without leave_out (ReFT) cannot stay out of the trunk's layers
        raise ConfigError(f"adapter config {name!r} cannot leave out layers, so it cannot sit above a frozen trunk",
                          "pass --trunk-layers 0 with this config, or use seq_bn, lora, prefix_tuning, ...") from None
    return ConfigUnion(*parts) if isinstance(config, ConfigUnion) else parts[0]


def data_fingerprint(rows: list[dict]) -> str:
    h = hashlib.sha256()
    for r in rows:
        h.update(json.dumps(r, sort_keys=True, ensure_ascii=False).encode("utf-8"))
    return h.hexdigest()


class TrainingPlan:
    """The resolved training request: composition, settings, rows, dependencies and the key."""

    def __init__(self, comp: Composition, requested: TrainSettings, data_dir, store):
        self.task = get_task(comp.target)
        s = requested.for_role(self.task.role, comp.kind, self.task.name)
        self.comp, self.s, self.store, self.data_dir = comp, s, store, data_dir
        if "train" not in self.task.splits:
            raise ConfigError(f"task {self.task.name!r} has no training data", "it is evaluated zero-shot only, on top of intermediates")
        # the data first, the dependencies' too: missing data is reported before a backbone is converted or loaded
        ds = self.task.load("train", "en", data_dir=data_dir, limit=s.examples)
        self.deps = [TrainingPlan(d, requested, data_dir, store) for d in _dependencies(comp)]
        self.bb = backbone(s.base)
        self.rows = ds.to_list()
        self.precision = prec.resolve(s.precision, prec.default_device())
        # Full fine-tuning trains the whole encoder: no frozen trunk under it.
        self.trunk_layers = 0 if comp.kind == "full" else check_layers(
            default_trunk_layers(self.bb.num_layers) if s.trunk_layers is None else s.trunk_layers, self.bb.num_layers)
        self.adapter_config = None if comp.kind == "full" else adapter_config(s.config, self.trunk_layers)
        self.spec = {
            "modxfer": __version__,
            "base": {"model_id": self.bb.model_id, "weights_hash": self.bb.weights_hash, "hidden_size": self.bb.hidden_size},
            "task": self.task.name,
            "partition": self.task.partition_for(data_dir),
            "data": {"split": "train", "examples": len(self.rows), "sha256": data_fingerprint(self.rows),
                     "profile": data_profile(data_dir)},
            "composition": str(comp),
            "depends_on": [d.key for d in self.deps],
            "adapter_config": None if comp.kind == "full" else {"name": s.config, **self.adapter_config.to_dict()},
            "seed": s.seed, "epochs": s.epochs, "batch_size": s.batch_size, "learning_rate": s.lr(comp.kind == "full"),
            "max_length": s.max_length, "precision": self.precision,
        }
        if comp.kind == "full" and s.freeze_embeddings:
            self.spec["frozen"] = list(FROZEN_PARTS)
        # the zoo re-derives keys from cards with these lists
        assert set(art.SPEC_FIELDS) <= set(self.spec) <= set(art.SPEC_FIELDS) | set(art.OPTIONAL_SPEC_FIELDS)
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
    if settings.get("freeze_embeddings") and not full:
        raise ConfigError("--freeze-embeddings applies to full fine-tuning only (adapters keep the whole encoder frozen)",
                          "add --full (full=True), or drop --freeze-embeddings")
    plan = TrainingPlan(composition_for(task, on, fuse, full), TrainSettings(**settings), data_dir, store)
    return _run(plan, progress=progress, force=force)


def _run(plan: TrainingPlan, *, progress: bool, force: bool) -> art.Artifact:
    deps = [_run(d, progress=progress, force=False) for d in plan.deps]
    if not force and (found := art.find(plan.store, plan.task.name, plan.key)):
        log.info("reusing %s (%s)", found.path, plan.comp)
        return found
    session = None
    try:
        session = _Session(plan, deps)
        _check_space(plan, session)
        t0 = time.perf_counter()
        stats = _fit(session, plan, progress=progress)
        stats["train_seconds"] = round(time.perf_counter() - t0, 2)
        stats.update(_validate(session, plan))
        card = {**plan.spec, "key": plan.key, "kind": plan.comp.kind, "trainable_parameters": session.trainable,
                "adapter_name": session.head, "trunk_layers": plan.trunk_layers,
                "precision_choice": prec.describe(plan.s.precision, prec.default_device()),
                "dependencies": [{"key": d.key, "path": str(d.path), "composition": str(d.composition)} for d in deps],
                **stats, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "library_versions": _versions()}
        found = _save(plan, card, session, force)
    except BaseException:
        if session is not None:
            session.discard()
        else:  # setup itself failed, perhaps after adding the adapter: nothing may stay under its name
            host_for(plan.bb, prec.default_device()).drop(art.adapter_name(plan.task.name, plan.key))
        raise
    finally:
        if session is not None:
            session.close()
        trim_memory()
    if not (found.card.get("competence") or {}).get("learned", True):
        comp = card["competence"]
        log.warning("%s did not learn: validation %s, 95%% CI %s, floor %s (%s)", plan.comp, comp["score"], comp["ci"],
                    comp.get("floor", comp["chance"]), comp.get("floor_method", "chance"))
    return found


# ------------------------------------------------------------------------------ saving on a full disk
def _artifact_bytes(plan: TrainingPlan, session: "_Session") -> int:
    """About what the artifact will take on disk: the whole encoder for full fine-tuning, else what was trained."""
    n = sum(p.numel() for p in session.model.parameters()) if plan.comp.kind == "full" else session.trainable
    return int(n * 4 * 1.1) + (1 << 20)


def _check_space(plan: TrainingPlan, session: "_Session") -> None:
    """Refuse before minutes of training when the store cannot hold the result (it is checked again at the end)."""
    import shutil

    from .io import ensure_dir

    store = ensure_dir(plan.store or art.default_store())
    need, free = _artifact_bytes(plan, session), shutil.disk_usage(store).free
    if free < need:
        raise ModxferError(f"the artifact store {store} has {free / 1e6:,.1f} MB free; {plan.comp} needs about "
                           f"{need / 1e6:,.1f} MB", "free some space, or pass --store (MODXFER_STORE) a folder on "
                           "a disk with room")


def _save(plan: TrainingPlan, card: dict, session: "_Session", force: bool) -> art.Artifact:
    """Save to the store; if that fails (a full disk), keep the trained weights in a folder elsewhere and say how to
    move them into the store, so the training is not lost."""
    try:
        return art.save(plan.store, card, session.write, replace=force)
    except DataError:  # weights refused (non-finite): nothing worth keeping
        # A diverged run is a failed cell, not a model flagged "not learned": a sweep marks it failed, and the cells
        # that build on it blocked, rather than storing weights that would score at chance under a valid key.
        raise
    except ModxferError as e:  # the store cannot be written (io.cannot_write: full, read-only)
        failure = e
    import tempfile

    from .io import cache_dir

    dest = art.path_for(plan.store or art.default_store(), plan.task.name, plan.key)
    kept = None
    # the cache first (`cache clear` never touches "unsaved"), then the temporary folder, often another disk
    for rescue in (cache_dir() / "unsaved", Path(tempfile.gettempdir()) / "modxfer-unsaved"):
        try:
            kept = art.save(rescue, card, session.write, replace=True).path
            break
        except (ModxferError, OSError):
            continue
    if kept is None:
        raise ModxferError(f"{failure.problem}; the trained weights of {plan.comp} could not be kept anywhere else "
                           "either", f"{failure.fix}, then train again") from failure
    raise ModxferError(f"{failure.problem}; the trained weights of {plan.comp} are kept, complete, in {kept}",
                       f"{failure.fix}, then move them into the store: mkdir -p {dest.parent} && mv {kept} {dest} "
                       f"(the next `modxfer train` with the same settings reuses them)") from failure


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class _Session:
    """The model one training run works on, with only its own parameters trainable.

    Adapter kinds train inside the process's shared host (the frozen backbone is never copied); the trained pieces
    stay loaded there under the artifact's name, where evaluation finds them. Full fine-tuning gets a model of its own
    and the host is released meanwhile, so two copies of the encoder never coexist.
    """

    def __init__(self, plan: TrainingPlan, deps: list[art.Artifact]):
        from adapters.composition import Fuse

        self.plan, self.deps = plan, deps
        comp = plan.comp
        self.head = art.adapter_name(plan.task.name, plan.key)
        for d in deps:
            d.check_backbone(plan.bb.weights_hash, plan.bb.hidden_size, plan.bb.model_id)
        self.host: Host | None = None
        self.inter: list[str] = []
        if comp.kind == "full":
            host_for(plan.bb, prec.default_device()).release()
            model = full_encoder(plan.bb, deps[0] if deps else None, lazy=plan.s.freeze_embeddings,
                                 device=prec.default_device())
            _seed_everything(plan.s.seed)  # after loading, which may draw random numbers: new weights start alike
            add_head(model, plan.task, self.head)
            model.requires_grad_(True)
            if plan.s.freeze_embeddings:
                model.get_input_embeddings().requires_grad_(False)
            model.active_head = self.head
            self.model = model.to(prec.default_device())
            self.runner = model
        else:
            self.host = host_for(plan.bb, prec.default_device())
            model = self.host.model
            self.inter = [self.host.load_adapter(d) for d in deps]
            self.host.drop(self.head)  # a forced or earlier failed run must not leave its pieces behind
            _seed_everything(plan.s.seed)  # whatever the host drew when it loaded: new weights start alike
            model.add_adapter(self.head, config=plan.adapter_config)
            add_head(model, plan.task, self.head)
            model.train_adapter(self.head)  # freezes everything else, intermediates included
            for name, head in model.heads.items():
                head.requires_grad_(name == self.head)
            if comp.kind == "fusion":
                self.host.drop_fusion(self.inter)
                model.add_adapter_fusion(Fuse(*self.inter))
                fusion = ",".join(self.inter)
                for n, p in model.named_parameters():
                    if f"adapter_fusion_layer.{fusion}." in n:
                        p.requires_grad = True
            self.host.activate(comp.to_adapters(dict(zip(comp.intermediates, self.inter)), target=self.head), self.head)
            self.model = model
            self.runner = self.host
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.trainable = sum(p.numel() for p in self.params)
        self.forward = Forward(plan.bb, plan.trunk_layers, plan.precision, prec.default_device())

    def write(self, tmp: Path) -> None:
        from safetensors.torch import save_file

        model, plan = self.model, self.plan
        if plan.comp.kind == "full":
            if (rows := lazy_rows(model.get_input_embeddings())) is not None:
                trim_memory()  # the loop's freed activations go back first: the whole matrix is read next
                rows.materialize()  # the artifact holds the whole encoder, as every full artifact does
            # adapters keeps an alias of the word embeddings for prompt tuning; safetensors refuses shared storage
            state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()
                     if not k.startswith("heads.") and "prompt_tuning.base_model_embeddings" not in k}
            save_file(state, str(tmp / "model.safetensors"))
        else:
            model.save_adapter(str(tmp / "adapter"), self.head, with_head=False, use_safetensors=True)
            if plan.comp.kind == "fusion":
                model.save_adapter_fusion(str(tmp / "fusion"), ",".join(self.inter), use_safetensors=True)
        model.save_head(str(tmp / "head"), self.head, use_safetensors=True)

    def discard(self) -> None:
        """Training failed or was interrupted: nothing half-trained may stay loaded under the artifact's name."""
        self.failed = True
        if self.host is not None:
            self.host.drop(self.head)
            if self.plan.comp.kind == "fusion":
                self.host.drop_fusion(self.inter)

    def close(self) -> None:
        self.model.requires_grad_(False)
        self.model.eval()
        if self.host is not None and self.plan.comp.kind == "fusion" and not getattr(self, "failed", False):
            self.host.fusion_trained(self.inter, self.plan.key)
        if self.host is None:  # a fine-tuned encoder is not kept: evaluation loads it from the store when needed
            self.model = self.runner = None
            import gc

            gc.collect()


def keeps_backbone_embeddings(artifact: art.Artifact) -> bool:
    """Whether a fine-tuned encoder's word embeddings are still the backbone's (trained with them frozen)."""
    return "word_embeddings" in (artifact.card.get("frozen") or ())


def full_encoder(bb, artifact: art.Artifact | None, *, lazy: bool, device: str):
    """A model of its own for full fine-tuning or its evaluation: the backbone, then ``artifact``'s weights if given.
    With ``lazy`` (on the CPU), word embeddings that stay the backbone's are read by row (``lazy_embeddings``)."""
    model = fresh_model(bb)
    if lazy and device == "cpu" and (artifact is None or keeps_backbone_embeddings(artifact)):
        install_lazy(model, bb.path)  # resident only for the tokens used
    if artifact is not None:
        load_full_encoder(model, artifact)
    return model


def _same_rows(f, suffix: str, rows) -> bool:
    """Whether sampled rows of the artifact's word embeddings equal the backbone's (a card alone is a claim)."""
    names = [k for k in f.keys() if k.endswith(suffix)]
    if len(names) != 1:
        return False
    stored = f.get_slice(names[0])
    return list(stored.get_shape()) == list(rows.shape) and rows.agrees(lambda i: stored[i:i + 1][0])


def load_full_encoder(model, artifact: art.Artifact) -> None:
    """Load a fine-tuned encoder's weights into ``model``; word embeddings that ``model`` reads lazily from the
    backbone are skipped when the artifact kept them frozen (they are the same rows)."""
    from safetensors import safe_open

    if artifact.kind != "full":
        raise AdapterMismatchError(f"{artifact.path} is an adapter, not a fully fine-tuned encoder",
                                   "STILTs (full:A>B) builds on full:A; train it with `modxfer train A --full`")
    rows = lazy_rows(model.get_input_embeddings())
    skip = "embeddings.word_embeddings.weight" if rows is not None else None
    with safe_open(str(artifact.path / "model.safetensors"), framework="pt") as f:
        if skip and not (keeps_backbone_embeddings(artifact) and _same_rows(f, skip, rows)):
            raise AdapterMismatchError(f"{artifact.path}: its word embeddings are not the backbone's, though a model "
                                       "reading the backbone's was asked to load it (its card says they were frozen)",
                                       "retrain it with `modxfer train ... --full --freeze-embeddings`, or use an "
                                       "artifact whose card and weights agree")
        state = {k: f.get_tensor(k) for k in f.keys() if not (skip and k.endswith(skip))}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not (skip and k.endswith(skip))]
    if unexpected or [k for k in missing if not k.startswith("heads.") and "prompt_tuning" not in k]:
        raise AdapterMismatchError(f"{artifact.path} does not fit this backbone's architecture",
                                   "use the backbone it was trained on")


def _fit(session: _Session, plan: TrainingPlan, *, progress: bool) -> dict:
    from tqdm.auto import tqdm
    from transformers import get_linear_schedule_with_warmup

    s, fwd, head = plan.s, session.forward, session.head
    feats = featurize(plan.task, plan.rows, plan.bb.tokenizer, s.max_length, train=True)
    t0 = time.perf_counter()
    prepared = fwd.prepare(feats)  # the trunk's states, computed once for every epoch (or read from the cache)
    trunk_seconds = time.perf_counter() - t0
    lengths = [length(f) for f in feats]
    feats_units = [loss_units(f) for f in feats]
    micro = MICRO_BATCH_TOKENS if prec.default_device() == "cpu" else None
    per_epoch = math.ceil(len(feats) / s.batch_size)
    total = max(1, math.ceil(per_epoch * s.epochs))
    params = session.params
    # fused: one kernel per step, without foreach's temporary copies of every parameter (full fine-tuning's peak)
    opt = torch.optim.AdamW(params, lr=s.lr(plan.comp.kind == "full"), weight_decay=0.01, fused=True)
    sched = get_linear_schedule_with_warmup(opt, int(WARMUP * total), total)
    session.model.train()
    losses, step, epoch, tokens = [], 0, 0, 0
    bar = tqdm(total=total, desc=f"train {plan.comp}", unit="step", disable=not progress, leave=False,
               mininterval=progress_interval())
    while step < total:
        for idx in train_batches(lengths, s.batch_size, s.seed, epoch):
            if step >= total:
                break
            units = sum(feats_units[i] for i in idx)
            loss_value, n = backward(fwd, session.runner, prepared, head, micro_batches(idx, lengths, micro),
                                     feats_units)
            tokens += n
            if units:  # a batch without a labelled unit (tagging only) leaves the weights alone
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                opt.step()
                losses.append(loss_value)
            sched.step()
            opt.zero_grad(set_to_none=True)
            step += 1
            bar.update(1)
            if losses:
                bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}", refresh=False)  # drawn at the bar's interval
        epoch += 1
    bar.close()
    session.model.eval()
    return {"steps": step, "examples_seen": min(step * s.batch_size, len(feats) * epoch), "train_tokens": tokens,
            "final_loss": round(float(np.mean(losses[-20:])), 4) if losses else None,
            "trunk_seconds": round(trunk_seconds, 2), "micro_batch_tokens": micro}


def backward(fwd: Forward, runner, prepared, head: str, parts: list[list[int]], units: list[int]) -> tuple[float, int]:
    """Accumulate one batch's gradients, given as ``parts`` (``micro_batches``), each part's loss weighted by its
    share of the batch's loss units (``loss_units``) so the sum is the whole batch's mean loss and its gradient.
    Returns (that loss, real tokens seen)."""
    total = sum(units[i] for p in parts for i in p)
    loss_value, tokens = 0.0, 0
    for part in parts:
        part_units = sum(units[i] for i in part)
        if not part_units:  # nothing labelled: its mean loss is undefined and its gradient nothing
            continue
        batch = fwd.batch(prepared, part, targets=True)
        tokens += int(batch["attention_mask"].sum())
        loss = fwd(runner, batch, head).loss
        if part_units != total:
            loss = loss * (part_units / total)
        loss.backward()
        loss_value += loss.item()
    return loss_value, tokens


def _validate(session: _Session, plan: TrainingPlan) -> dict:
    """Score the artifact on held-out English validation data of its own task: the card's competence check."""
    from .scoring.competence import assess

    task = plan.task
    if "validation" not in task.splits:
        return {"competence": None}
    rows = task.load("validation", "en", data_dir=plan.data_dir, limit=VALIDATION_MAX).to_list()
    preds = predict(session.runner, task, rows, session.head, tokenizer=plan.bb.tokenizer, max_length=plan.s.max_length,
                    forward=session.forward)
    refs = references(task, rows)
    scores = metrics.score_kind(task.metric, preds, refs, lang="en")
    return {"metrics": {"validation": {k: round(v, 2) for k, v in scores.items()}, "validation_examples": len(rows)},
            "competence": assess(task, rows, preds, refs, lang="en", seed=plan.s.seed)}


def _versions() -> dict:
    import adapters
    import transformers

    return {"modxfer": __version__, "torch": torch.__version__, "transformers": transformers.__version__,
            "adapters": adapters.__version__, "python": platform.python_version()}
