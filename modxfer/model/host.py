"""The host: one adapter model per backbone and process, whose frozen weights every adapter composition shares.

Adapters, heads and fusion layers are small and are loaded into the host under their artifact's unique name
(``artifacts.adapter_name``), so training and evaluating any number of compositions costs one copy of the backbone.
Fully fine-tuned encoders (STILTs) cannot share weights: they get a model of their own, and the host is released
while one trains so that two full copies never sit in memory together.

``upper(K)`` runs the host above a frozen trunk of K layers: the embeddings become a pass-through for the cached
states given as ``inputs_embeds`` and only layers K..L-1 run (see ``trunk.py``). Adapters are only ever added with
the full layer list in place, so their layer indices (and ``leave_out``) stay those of the whole encoder.
"""

from __future__ import annotations

import contextlib
import gc
import logging

import torch

from ..store import artifacts as art
from .heap import trim_memory, tune_malloc  # noqa: F401  (re-exported)
from .lazy_embeddings import install

log = logging.getLogger(__name__)


class _PassThrough(torch.nn.Module):
    """Stands in for the embeddings: the input already is the hidden state after the trunk."""

    def forward(self, input_ids=None, position_ids=None, token_type_ids=None, inputs_embeds=None, **kwargs):
        return inputs_embeds


def load_model(path: str):
    """A fresh adapter model with the backbone's weights and no adapters or heads, in eval mode."""
    from adapters import AutoAdapterModel

    from .heads import MEAN_POOLED_HEADS

    tf_log = logging.getLogger("transformers.modeling_utils")
    level = tf_log.level
    tf_log.setLevel(logging.ERROR)  # the pooler is deliberately absent; don't warn about it
    try:
        model = AutoAdapterModel.from_pretrained(path)
    finally:
        tf_log.setLevel(level)
    for name, head in MEAN_POOLED_HEADS.items():
        model.register_custom_head(name, head)
    return model.eval().requires_grad_(False)


_ON_RELEASE: list = []


def on_release(forget) -> None:
    """Call ``forget()`` before any host releases its model: for holders of the host's tensors (``trunk``), which
    register themselves, so the host needs to know none of them."""
    if forget not in _ON_RELEASE:
        _ON_RELEASE.append(forget)


class Host:
    def __init__(self, bb, device: str = "cpu"):
        self.bb, self.device = bb, device
        self._model = None
        # fusion name (its adapters, comma-joined) -> (key, weights digest) of the artifact loaded; digest None for a
        # fusion trained in this process and not yet read back
        self._fusions: dict[str, tuple[str, str | None]] = {}
        # adapter/head name -> digest of the stored weights loaded under it: names come from keys, which name the
        # training request, so a copy replaced in the store (`zoo install --force`) must be loaded again
        self._weights: dict[str, str] = {}

    @property
    def model(self):
        if self._model is None:
            model = load_model(self.bb.path).to(self.device)
            install(model, self.bb.path)  # the frozen vocabulary: resident only for the tokens used
            self._model = model
            self._fusions.clear()
        return self._model

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def release(self) -> None:
        """Free the model (adapters and heads included); the next use loads it again from disk."""
        for forget in _ON_RELEASE:  # what shares the host's tensors (the trunk encoders) lets go of them first
            forget()
        self._model = None
        self._fusions.clear()
        self._weights.clear()
        gc.collect()
        trim_memory()

    # ------------------------------------------------------------------ pieces
    def load_adapter(self, artifact: art.Artifact) -> str:
        """Load an artifact's adapter (no head) under its unique name; returns that name."""
        from ..errors import AdapterMismatchError

        if artifact.kind == "full":
            raise AdapterMismatchError(f"{artifact.path} is a fully fine-tuned encoder, not an adapter",
                                       "compose adapters with adapters (A>B), or use full:A>B for STILTs")
        name = artifact.adapter_name
        self._stale(name, artifact)
        if name not in self.model.adapters_config:
            with self.damaged(artifact, "adapter", lambda: self.drop(name)):
                self.model.load_adapter(str(artifact.path / "adapter"), load_as=name, with_head=False,
                                        use_safetensors=True)
            self._weights[name] = _weights_of(artifact)
        return name

    def load_head(self, artifact: art.Artifact) -> str:
        name = artifact.adapter_name
        self._stale(name, artifact)
        if name not in self.model.heads:
            with self.damaged(artifact, "head", lambda: name in self.model.heads and self.model.delete_head(name)):
                self.model.load_head(str(artifact.path / "head"), load_as=name, use_safetensors=True)
            self._weights[name] = _weights_of(artifact)
        return name

    def _stale(self, name: str, artifact: art.Artifact) -> None:
        if name in self._weights and self._weights[name] != _weights_of(artifact):
            self.drop(name)  # the store holds other weights under this key now

    def load_fusion(self, artifact: art.Artifact, adapters: list[str]) -> str:
        """The fusion layer of ``artifact`` over ``adapters``; another artifact's fusion of the same adapters goes."""
        name = ",".join(adapters)
        loaded = (artifact.key, _weights_of(artifact))  # a copy replaced under the same key is loaded again
        have = self._fusions.get(name)
        if have is not None and have[0] == artifact.key and have[1] is None:  # trained here: its weights are these
            self._fusions[name] = have = loaded
        if have != loaded:
            self.drop_fusion(adapters)
            with self.damaged(artifact, "fusion", lambda: self.drop_fusion(adapters)):
                self.model.load_adapter_fusion(str(artifact.path / "fusion"), load_as=name, with_head=False,
                                               use_safetensors=True)
            self._fusions[name] = loaded
        return name

    @staticmethod
    @contextlib.contextmanager
    def damaged(artifact: art.Artifact, part: str, undo):
        """A piece that will not load is a damaged artifact (a message with the fix), and leaves nothing behind:
        a half-loaded adapter would otherwise be found by name next time and run with random weights."""
        from ..errors import DataError, ModxferError

        try:
            yield
        except (KeyboardInterrupt, SystemExit, ModxferError, MemoryError):
            raise
        except BaseException as e:  # size mismatch, unreadable safetensors, bad config; pyo3 panics included
            if "out of memory" in str(e).lower():  # the machine's limit, not the artifact's fault
                raise
            try:
                undo()
            except Exception:  # noqa: BLE001 - the load error is the one to report
                log.debug("could not remove the half-loaded %s of %s", part, artifact.path, exc_info=True)
            entry = (artifact.card.get("provenance") or {}).get("entry")
            reinstall = f"`modxfer zoo install {entry} --force`" if entry else "`modxfer zoo install NAME --force`"
            # torch's first line is only "Error(s) in loading state_dict": the line naming the tensor is the one to show
            lines = [x.strip() for x in str(e).splitlines() if x.strip()]
            detail = next((x for x in lines if "mismatch" in x or x.startswith(("Missing", "Unexpected"))),
                          lines[0] if lines else "")[:240]
            raise DataError(f"artifact at {artifact.path} is damaged (its {part} does not load: {type(e).__name__}: "
                            f"{detail})", f"reinstall it with {reinstall} or retrain it "
                            f"(`modxfer train ... --force`)") from None

    def drop_fusion(self, adapters: list[str]) -> None:
        name = ",".join(adapters)
        if self._model is not None and self.model.adapters_config.get_fusion(name)[0] is not None:
            self.model.delete_adapter_fusion(name)
        self._fusions.pop(name, None)

    def drop(self, name: str) -> None:
        """Remove an adapter and head of that name (a failed or repeated training run must not leave them)."""
        if self._model is None:
            return
        if name in self.model.adapters_config:
            self.model.delete_adapter(name)
        if name in self.model.heads:
            self.model.delete_head(name)
        self._weights.pop(name, None)

    def fusion_trained(self, adapters: list[str], key: str, weights: str | None = None) -> None:
        self._fusions[",".join(adapters)] = (key, weights)

    def activate(self, setup, head: str | None) -> None:
        model = self.model
        model.set_active_adapters(setup)
        model.active_head = head

    # ------------------------------------------------------------------ the upper layers
    @contextlib.contextmanager
    def upper(self, layers: int):
        """Run only layers ``layers``..L-1, reading the trunk's states from ``inputs_embeds``."""
        if layers == 0:
            yield self.model
            return
        encoder = self.model.base_model
        embeddings, stack = encoder.embeddings, encoder.encoder.layer
        encoder.embeddings = _PassThrough()
        encoder.encoder.layer = torch.nn.ModuleList(list(stack)[layers:])
        try:
            yield self.model
        finally:
            encoder.embeddings, encoder.encoder.layer = embeddings, stack


def _weights_of(artifact: art.Artifact) -> str:
    from ..store.checksums import expected, weights_digest

    return weights_digest(expected(artifact.card) or {})


_HOSTS: dict[tuple[str, str], Host] = {}


def host_for(bb, device: str = "cpu") -> Host:
    key = (bb.path, device)
    if key not in _HOSTS:
        _HOSTS[key] = Host(bb, device)
    return _HOSTS[key]


def release_all() -> None:
    for h in _HOSTS.values():
        h.release()
