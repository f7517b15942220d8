"""The frozen trunk: hidden states after the encoder's lowest K layers, computed once per input and reused.

Adapters, fusion layers and heads live in layers K..L-1 only (adapters' ``leave_out``), so below layer K the encoder
is a pure function of the token ids. AdapterDrop (Rücklé et al. 2021) shares those layers across tasks at inference;
modxfer goes further and stores their output, so every epoch, seed, composition and evaluation of the same input
runs only the upper layers.

Entries are content-addressed: the key hashes the backbone's weights, K, the storage dtype and the token ids of every
sequence, so any change of backbone, tokenizer setting (max length, truncation), noise (setting or seed) or K misses
the cache by construction. An entry is three files under ``<cache>/trunk/<key>/``: ``states.bin`` (every sequence's
states back to back, fp32 or bf16 bit patterns, memory-mapped on read), ``spans.npy`` (each sequence's start and
length) and ``meta.json``. Entries
appear by one rename. The cache is bounded (``MODXFER_TRUNK_CACHE_GB``, default 8; the folder is ``MODXFER_TRUNK_CACHE``, default
``$MODXFER_CACHE/trunk``): when a write takes it past the
bound, the least recently used entries (by the mtime of ``meta.json``, touched on every read) are deleted first.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import ConfigError
from ..io import file_lock
from . import host as host_module
from .lazy_embeddings import lazy_rows

log = logging.getLogger(__name__)

VERSION = 2
DEFAULT_BUDGET_GB = 8.0
STALE_SECONDS = 3600  # a temporary entry folder this old belongs to a writer that was killed
_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
_STORAGE = {"fp32": np.float32, "bf16": np.int16}  # numpy has no bfloat16: keep the bit patterns


def check_layers(layers: int, num_layers: int) -> int:
    if isinstance(layers, bool) or not isinstance(layers, int) or not 0 <= layers < num_layers:
        raise ConfigError(f"trunk layers must be an integer from 0 to {num_layers - 1} for this {num_layers}-layer "
                          f"backbone, got {layers!r}",
                          "pass --trunk-layers K (0 puts adapters in every layer; the default suits the backbone)")
    return layers


def sequences(features: list[dict]) -> tuple[list[list[int]], list[list[int]]]:
    """Flatten features into token-id sequences; returns (sequences, per feature the indices of its sequences)."""
    seqs: list[list[int]] = []
    index: list[list[int]] = []
    for f in features:
        ids = f["input_ids"]
        parts = ids if ids and isinstance(ids[0], list) else [ids]  # multiple choice: one sequence per choice
        index.append(list(range(len(seqs), len(seqs) + len(parts))))
        seqs.extend(parts)
    return seqs, index


class TrunkEncoder:
    """The backbone's embeddings and lowest K layers as a plain (adapter-free) encoder, frozen, in the trunk dtype."""

    # 4096, not 8192: a cold `modxfer train mnli` peaked 0.11 GB lower, no slower (benchmarks/README.md, Memory)
    def __init__(self, bb, layers: int, precision: str, *, device: str = "cpu", batch_tokens: int = 4096):
        self.bb, self.layers, self.precision = bb, check_layers(layers, bb.num_layers), precision
        self.dtype = _DTYPES[precision]
        self.device, self.batch_tokens = device, batch_tokens
        self._model = None

    @property
    def model(self):
        if self._model is None:
            self._model = self._build().to(self.device).eval().requires_grad_(False)
        return self._model

    def _build(self):
        """Embeddings + K layers whose fp32 weights are the host model's own tensors (no second copy of the
        embedding matrix, which is most of a multilingual encoder's parameters); bf16 takes a converted copy."""
        from transformers import AutoModel

        from .host import host_for

        config = copy.deepcopy(self.bb.config)
        config.num_hidden_layers = self.layers
        with torch.device("meta"):
            model = AutoModel.from_config(config, add_pooling_layer=False)
        host = host_for(self.bb, self.device).model.base_model
        source = {**dict(host.named_parameters()), **dict(host.named_buffers())}
        wanted = {**dict(model.named_parameters()), **dict(model.named_buffers())}
        rows = lazy_rows(host.get_input_embeddings())
        for name in wanted:
            if rows is not None and name == "embeddings.word_embeddings.weight":
                # the host reads its vocabulary row by row as tokens occur: the trunk shares those rows (a bf16
                # trunk keeps its own, filled the same way), never a copy of the whole matrix
                (rows if self.dtype == torch.float32 else rows.like(self.dtype)).attach(model.get_input_embeddings())
                continue
            value = source[name]
            if value.is_floating_point() and self.dtype != torch.float32:
                value = value.to(self.dtype)
            module_name, _, attr = name.rpartition(".")
            module = model.get_submodule(module_name)
            if attr in module._parameters:
                module._parameters[attr] = torch.nn.Parameter(value, requires_grad=False)
            else:
                module._buffers[attr] = value
        return model

    def fingerprint(self) -> str:
        return f"trunk-v{VERSION}|{self.bb.weights_hash}|{self.bb.model_id}|K={self.layers}|{self.precision}"

    @torch.no_grad()
    def batches(self, seqs: list[list[int]]):
        """Yield (indices, states) per length-sorted batch: states after layer K-1, unpadded ``[len, H]``."""
        from .batching import eval_batches, pad

        pad_id = self.bb.tokenizer.pad_token_id
        for idx in eval_batches([len(s) for s in seqs], 256, max_tokens=self.batch_tokens):
            ids = pad([seqs[i] for i in idx], pad_id).to(self.device)
            lens = [len(seqs[i]) for i in idx]
            mask = torch.zeros_like(ids)
            for row, n in enumerate(lens):
                mask[row, :n] = 1
            hidden = self.model(input_ids=ids, attention_mask=mask).last_hidden_state.cpu()
            yield idx, [hidden[row, :n] for row, n in enumerate(lens)]

    def encode(self, seqs: list[list[int]]) -> list[torch.Tensor]:
        """The states of each sequence, in input order (in memory: for small one-off inputs)."""
        out: list[torch.Tensor | None] = [None] * len(seqs)
        for idx, states in self.batches(seqs):
            for i, state in zip(idx, states):
                out[i] = state.clone()
        return out  # type: ignore[return-value]


def _storage(state: torch.Tensor, precision: str) -> np.ndarray:
    return (state.view(torch.int16) if precision == "bf16" else state.float()).contiguous().numpy()


@dataclass
class TrunkStates:
    """Trunk states of a list of sequences: one flat ``[tokens, H]`` array and each sequence's (start, length)."""

    flat: np.ndarray  # float32, or int16 holding bf16 bit patterns
    spans: np.ndarray  # int64 [n, 2]
    precision: str

    @classmethod
    def from_tensors(cls, states: list[torch.Tensor], precision: str, hidden: int) -> "TrunkStates":
        lengths = np.array([s.shape[0] for s in states], dtype=np.int64)
        spans = np.stack([np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths], axis=1) if len(states) else \
            np.zeros((0, 2), dtype=np.int64)
        flat = np.concatenate([_storage(s, precision) for s in states]) if states else \
            np.zeros((0, hidden), dtype=_STORAGE[precision])
        return cls(flat, spans, precision)

    def __len__(self) -> int:
        return len(self.spans)

    def sequence(self, i: int) -> torch.Tensor:
        start, n = self.spans[i]
        t = torch.from_numpy(np.array(self.flat[start:start + n]))  # a copy: memmaps are read-only
        return t.view(torch.bfloat16) if self.precision == "bf16" else t

    def batch(self, seq_index: list[int], width: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """``[n, width, H]`` states of the given sequences, zero beyond each sequence's end (masked anyway)."""
        hidden = self.flat.shape[1]
        out = torch.zeros(len(seq_index), width, hidden, dtype=dtype)
        for row, i in enumerate(seq_index):
            s = self.sequence(i)
            out[row, : s.shape[0]] = s[:width].to(dtype)
        return out


class TrunkCache:
    """Content-addressed, size-bounded, memory-mapped store of trunk states (see the module docstring)."""

    def __init__(self, root: str | os.PathLike | None = None, budget_gb: float | None = None, memory_entries: int = 8):
        self.root = Path(root) if root is not None else default_root()
        if budget_gb is None:
            budget_gb = float(os.environ.get("MODXFER_TRUNK_CACHE_GB", DEFAULT_BUDGET_GB))
        self.budget = int(budget_gb * 2**30)
        self._recent: OrderedDict[str, TrunkStates] = OrderedDict()
        self._memory_entries = memory_entries
        self.hits = self.misses = 0

    @staticmethod
    def key(encoder: TrunkEncoder, seqs: list[list[int]]) -> str:
        h = hashlib.sha256(encoder.fingerprint().encode())
        lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
        h.update(lengths.tobytes())
        h.update(np.fromiter((t for s in seqs for t in s), dtype=np.int64, count=int(lengths.sum())).tobytes())
        return h.hexdigest()

    def states(self, encoder: TrunkEncoder, seqs: list[list[int]]) -> TrunkStates:
        """The trunk states of ``seqs``: from memory, from disk, or computed once and stored."""
        key = self.key(encoder, seqs)
        if key in self._recent:
            self._recent.move_to_end(key)
            self.hits += 1
            return self._recent[key]
        found = self._read(key, encoder.precision)
        if found is None:
            self.misses += 1
            found = self._write(key, encoder, seqs)
        else:
            self.hits += 1
        self._recent[key] = found
        while len(self._recent) > self._memory_entries:
            self._recent.popitem(last=False)
        return found

    # ---------------------------------------------------------------- disk
    def _read(self, key: str, precision: str) -> TrunkStates | None:
        folder = self.root / key
        meta_file = folder / "meta.json"
        try:
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
            if meta.get("precision") != precision or meta.get("version") != VERSION:
                return None
            spans = np.load(folder / "spans.npy", allow_pickle=False)
            flat = np.memmap(folder / "states.bin", dtype=_STORAGE[precision], mode="r",
                             shape=(int(meta["tokens"]), int(meta["hidden"])))
            os.utime(meta_file)  # recently used: evicted last
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return TrunkStates(flat, spans, precision)

    def _write(self, key: str, encoder: TrunkEncoder, seqs: list[list[int]]) -> TrunkStates:
        """Encode batch by batch straight into the entry's file: memory holds one batch, never all the states."""
        t0 = time.perf_counter()
        hidden = encoder.bb.hidden_size
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{key[:16]}.", suffix=".tmp", dir=self.root))
            mask = os.umask(0)
            os.umask(mask)
            os.chmod(tmp, 0o777 & ~mask)  # mkdtemp is owner-only; a shared cache is not
        except OSError as e:  # a full or read-only disk costs speed, not results
            log.warning("trunk cache not written (%s); continuing from memory", e)
            return TrunkStates.from_tensors(encoder.encode(seqs), encoder.precision, hidden)
        spans = np.zeros((len(seqs), 2), dtype=np.int64)
        tokens = 0
        stored = False
        try:
            with open(tmp / "states.bin", "wb") as f:
                for idx, states in encoder.batches(seqs):
                    for i, state in zip(idx, states):
                        f.write(_storage(state, encoder.precision).tobytes())
                        spans[i] = (tokens, state.shape[0])
                        tokens += state.shape[0]
            np.save(tmp / "spans.npy", spans, allow_pickle=False)
            size = tokens * hidden * np.dtype(_STORAGE[encoder.precision]).itemsize
            meta = {"version": VERSION, "key": key, "fingerprint": encoder.fingerprint(), "hidden": hidden,
                    "precision": encoder.precision, "sequences": len(seqs), "tokens": tokens, "bytes": size,
                    "seconds": round(time.perf_counter() - t0, 3)}
            (tmp / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
            from ..io import mark

            mark(tmp)  # `cache clear` deletes only entries their writer marked
            try:
                os.rename(tmp, self.root / key)
                stored = True
            except OSError:  # another process stored the same entry first: identical content, keep theirs
                pass
        except OSError as e:
            log.warning("trunk cache not written (%s); continuing from memory", e)
            return TrunkStates.from_tensors(encoder.encode(seqs), encoder.precision, hidden)
        finally:
            if not stored:  # failed, interrupted, or another process won: no partial entry stays behind
                shutil.rmtree(tmp, ignore_errors=True)
        try:
            self._evict(keep=key)
        except OSError as e:  # a bound not enforced this time costs disk, not results
            log.warning("trunk cache eviction skipped (%s)", e)
        from .host import trim_memory

        trim_memory()  # the encoder's activations are freed: give them back before the next phase
        found = self._read(key, encoder.precision)
        if found is None:  # evicted at once (a cache smaller than this entry): serve it from memory
            return TrunkStates.from_tensors(encoder.encode(seqs), encoder.precision, hidden)
        return found

    def _evict(self, keep: str) -> None:
        with file_lock(self.root / ".lock"):
            entries = []
            for folder in self.root.iterdir():
                try:
                    if folder.name.startswith(".") and folder.name.endswith(".tmp") and folder.is_dir():
                        # a killed writer's leftovers: nothing in it has been written to for an hour
                        newest = max([folder.stat().st_mtime] + [p.stat().st_mtime for p in folder.iterdir()])
                        if time.time() - newest > STALE_SECONDS:
                            shutil.rmtree(folder, ignore_errors=True)
                        continue
                    meta = folder / "meta.json"
                    if folder.name.startswith(".") or not meta.is_file():
                        continue
                    size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
                    entries.append((meta.stat().st_mtime, size, folder))
                except FileNotFoundError:  # renamed or evicted by another process meanwhile
                    continue
            total = sum(size for _, size, _ in entries)
            for _, size, folder in sorted(entries):
                if total <= self.budget:
                    break
                if folder.name == keep:
                    continue
                shutil.rmtree(folder, ignore_errors=True)
                self._recent.pop(folder.name, None)
                total -= size

    def size(self) -> int:
        if not self.root.is_dir():
            return 0
        return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())


_DEFAULT: TrunkCache | None = None


def default_root() -> Path:
    from ..store.cache import part_path

    return part_path("trunk")  # MODXFER_TRUNK_CACHE, else $MODXFER_CACHE/trunk


def default_cache() -> TrunkCache:
    """The process's trunk cache (disk under the modxfer cache, recent entries in memory), shared by all users."""
    global _DEFAULT
    if _DEFAULT is None or _DEFAULT.root != default_root():
        _DEFAULT = TrunkCache()
    return _DEFAULT


_ENCODERS: OrderedDict[tuple, TrunkEncoder] = OrderedDict()


def encoder_for(bb, layers: int, precision: str, device: str = "cpu") -> TrunkEncoder:
    """The process's trunk encoder for (backbone, K, precision): at most two are kept, each loaded on first use."""
    key = (bb.path, bb.weights_hash, layers, precision, device)
    if key in _ENCODERS:
        _ENCODERS.move_to_end(key)
    else:
        _ENCODERS[key] = TrunkEncoder(bb, layers, precision, device=device)
        while len(_ENCODERS) > 2:
            _ENCODERS.popitem(last=False)
    return _ENCODERS[key]


def forget_encoders() -> None:
    """Drop the trunk encoders (they share the host's tensors, which are being released)."""
    _ENCODERS.clear()


host_module.on_release(forget_encoders)
