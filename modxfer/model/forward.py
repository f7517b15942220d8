"""How batches of features reach a model: through the whole encoder, or from cached trunk states through the upper
layers only. Training, prediction, validation and the attack all go through ``Forward``, so the trunk is computed
once per distinct input whichever of them asks first.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import torch

from . import precision as prec
from .batching import collate
from .trunk import TrunkCache, TrunkStates, default_cache, encoder_for, sequences

MEMO_TOKENS = 200_000  # in-memory trunk states of recent one-off sequences (attack candidates): ~300 MB at H=384
_MODEL_INPUTS = ("input_ids", "attention_mask")
_TARGETS = ("labels", "start_positions", "end_positions")


@dataclass
class Prepared:
    """Features ready to be batched: their trunk states (None without a trunk) and each feature's sequences."""

    features: list[dict]
    states: TrunkStates | None
    seq_index: list[list[int]]


class Forward:
    """Batches for one (backbone, trunk layers, precision): ``prepare`` once per feature list, then ``__call__``."""

    def __init__(self, bb, layers: int = 0, precision: str = "fp32", device: str = "cpu",
                 cache: TrunkCache | None = None):
        self.bb, self.layers, self.precision, self.device = bb, layers, precision, device
        self.cache = cache if cache is not None else (default_cache() if layers else None)
        self.pad_id = bb.tokenizer.pad_token_id

    @classmethod
    def plain(cls, pad_id: int, precision: str = "fp32", device: str = "cpu") -> "Forward":
        """The whole encoder, no trunk: for a standalone model (fine-tuned encoders, callers without a backbone)."""
        self = cls.__new__(cls)
        self.bb, self.layers, self.precision, self.device = None, 0, precision, device
        self.cache = None
        self.pad_id = pad_id
        return self

    @property
    def encoder(self):
        """The process's trunk encoder, looked up each time: it is rebuilt after the host is released."""
        return encoder_for(self.bb, self.layers, self.precision, self.device) if self.layers else None

    def prepare(self, features: list[dict], *, persist: bool = True) -> Prepared:
        """Trunk states for ``features``: from the cache (computed and stored once), or, with ``persist=False``, in
        memory only: the attack's one-off candidate texts, where a repeated sequence is still computed once."""
        if not self.layers:
            return Prepared(features, None, [])
        seqs, index = sequences(features)
        if persist:
            return Prepared(features, self.cache.states(self.encoder, seqs), index)
        return Prepared(features, self._in_memory(seqs), index)

    def _in_memory(self, seqs: list[list[int]]) -> TrunkStates:
        memo = self.__dict__.setdefault("_memo", OrderedDict())
        keys = [tuple(s) for s in seqs]
        todo = list(dict.fromkeys(k for k in keys if k not in memo))
        for k, state in zip(todo, self.encoder.encode([list(k) for k in todo])):
            memo[k] = state
        parts = [memo[k] for k in keys]
        for k in keys:
            memo.move_to_end(k)
        tokens = sum(v.shape[0] for v in memo.values())
        while memo and tokens > MEMO_TOKENS:
            tokens -= memo.popitem(last=False)[1].shape[0]
        return TrunkStates.from_tensors(parts, self.precision, self.bb.hidden_size)

    def batch(self, prepared: Prepared, idx: list[int], *, targets: bool = False) -> dict[str, torch.Tensor]:
        feats = [prepared.features[i] for i in idx]
        batch = collate(feats, self.pad_id)
        keep = _MODEL_INPUTS + (_TARGETS if targets else ())
        out = {k: v.to(self.device) for k, v in batch.items() if k in keep}
        if prepared.states is not None:
            ids = out.pop("input_ids")
            flat = [s for i in idx for s in prepared.seq_index[i]]
            hidden = prepared.states.batch(flat, ids.shape[-1])
            out["inputs_embeds"] = hidden.view(*ids.shape, hidden.shape[-1]).to(self.device)
        return out

    def __call__(self, host_or_model, inputs: dict[str, torch.Tensor], head: str | None, **kwargs):
        """Run ``inputs`` (from ``batch``) through the host's upper layers (with a trunk) or a whole model."""
        from .host import Host

        with prec.autocast(self.precision, self.device):
            if isinstance(host_or_model, Host):
                with host_or_model.upper(self.layers if "inputs_embeds" in inputs else 0) as model:
                    return model(**inputs, head=head, **kwargs)
            if "inputs_embeds" in inputs:
                raise ValueError("trunk states need the host's upper layers, not a standalone model")
            return host_or_model(**inputs, head=head, **kwargs)
