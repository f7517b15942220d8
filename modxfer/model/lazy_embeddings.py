"""A frozen encoder's word embeddings, read from its weights file row by row as tokens first occur.

A multilingual vocabulary is most of the encoder (the embedded backbone: 250k rows x 384 floats, 384 MB of its 470),
and a process uses a few thousand rows. Memory-mapping the weights file does not keep that small: the kernel maps
the pages around every row read (fault-around, large page-cache folios), so scattered rows put the whole matrix in
resident memory (measured here: 2,000 random reads of the mapped file made 432 MB resident, with or without
``MADV_RANDOM``). Reading rows with ``pread`` into an untouched anonymous tensor keeps resident only the pages of the
rows used, about 4 KB each.

Only frozen matrices are lazy (the host's, and a trunk encoder's view of them): anything that reads the whole weight
(a dtype copy, a state dict) must call ``materialize`` first; ``install`` refuses what it cannot read exactly.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import numpy as np
import torch

_SUFFIX = "embeddings.word_embeddings.weight"
_CHUNK_ROWS = 4096  # rows per read: materialize never holds more than this beside the matrix
_CHECK_ROWS = 32  # rows compared with the loaded weights before they are let go


class LazyRows:
    """Fills ``weight`` (``[V, H]``, any float dtype) from a safetensors file's fp32 rows before each lookup.

    The file stays open for the object's life, so a backbone re-converted or replaced meanwhile cannot change the
    rows still to be read."""

    def __init__(self, path: Path, offset: int, shape: tuple[int, int], dtype: torch.dtype = torch.float32,
                 file=None):
        self.path, self.offset, self.shape = Path(path), offset, shape
        self.file = file if file is not None else open(self.path, "rb", buffering=0)
        self.weight = torch.empty(shape, dtype=dtype)  # pages untouched until a row is written: not resident
        self.loaded = torch.zeros(shape[0], dtype=torch.bool)

    def read(self, first: int, n: int) -> torch.Tensor:
        """Rows ``first``..``first+n-1`` as stored (fp32)."""
        width = self.shape[1] * 4
        raw = os.pread(self.file.fileno(), n * width, self.offset + first * width)
        if len(raw) != n * width:
            raise OSError(f"{self.path}: short read of embedding rows {first}..{first + n - 1}")
        return torch.from_numpy(np.frombuffer(raw, dtype=np.float32).reshape(n, self.shape[1]).copy())

    def fill(self, ids: torch.Tensor) -> None:
        need = torch.unique(ids.detach().reshape(-1).cpu())
        need = need[(need >= 0) & (need < self.shape[0])]  # out of range: the lookup itself raises, as it would
        need = need[~self.loaded[need]]
        if not len(need):
            return
        rows = need.tolist()
        start = 0
        while start < len(rows):  # runs of consecutive ids, one read each
            end = start + 1
            while end < len(rows) and rows[end] == rows[end - 1] + 1 and end - start < _CHUNK_ROWS:
                end += 1
            first, n = rows[start], end - start
            self.weight[first:first + n] = self.read(first, n).to(self.weight.dtype)
            start = end
        self.loaded[need] = True

    def materialize(self) -> torch.Tensor:
        """Every row read: the whole matrix, for whatever must see all of it."""
        if not bool(self.loaded.all()):
            self.fill(torch.nonzero(~self.loaded).reshape(-1))
        return self.weight

    def attach(self, module: torch.nn.Embedding) -> None:
        """Make ``module`` look up this matrix, filling the rows each call needs first."""
        module.weight = torch.nn.Parameter(self.weight, requires_grad=False)
        module._lazy_rows = self
        module.register_forward_pre_hook(_fill_before_lookup)

    def agrees(self, row) -> bool:
        """Whether ``row(i)`` (a ``[H]`` tensor) equals the file's row i at both ends and a seeded spread between:
        the check before loaded weights are let go, or a card's claim of frozen embeddings is believed."""
        picks = {0, self.shape[0] - 1, *np.random.default_rng(0).integers(0, self.shape[0], _CHECK_ROWS).tolist()}
        return all(torch.equal(row(i).float(), self.read(i, 1)[0]) for i in sorted(picks))

    def like(self, dtype: torch.dtype) -> "LazyRows":
        """The same rows in another dtype (a bf16 trunk), filled on its own lookups."""
        return LazyRows(self.path, self.offset, self.shape, dtype, file=self.file)


def _fill_before_lookup(module, args) -> None:
    rows = module._lazy_rows
    if module.weight.data_ptr() != rows.weight.data_ptr():
        # moved to another device or dtype, or replaced: the rows would be filled where the lookup never reads
        raise RuntimeError("a lazily read embedding matrix was moved or replaced after install; install after moving")
    if args and args[0] is not None:
        rows.fill(args[0])


def lazy_rows(module: torch.nn.Module) -> LazyRows | None:
    return getattr(module, "_lazy_rows", None)


def _locate(folder: Path, shape: tuple[int, int]) -> tuple[Path, int] | None:
    """(file, byte offset) of the fp32 word-embedding matrix of ``shape`` among the folder's safetensors files."""
    index = folder / "model.safetensors.index.json"
    try:
        if index.is_file():
            weight_map = json.loads(index.read_text(encoding="utf-8")).get("weight_map", {})
            files = sorted({folder / f for k, f in weight_map.items() if k.endswith(_SUFFIX)})
        else:
            files = [folder / "model.safetensors"]
    except (OSError, ValueError, AttributeError):
        return None
    for path in files:
        try:
            with open(path, "rb") as f:
                (n,) = struct.unpack("<Q", f.read(8))
                header = json.loads(f.read(n))
        except (OSError, ValueError, struct.error):
            continue
        matches = [info for key, info in header.items() if key.endswith(_SUFFIX) and isinstance(info, dict)
                   and info.get("dtype") == "F32" and tuple(info.get("shape", ())) == shape]
        if len(matches) == 1:
            return path, 8 + n + int(matches[0]["data_offsets"][0])
    return None


def install(model, folder: str | os.PathLike) -> bool:
    """Make ``model``'s frozen fp32 word embeddings (on the CPU: install after any move) lazy, read from the weights
    in ``folder``; False, and nothing changed, when they cannot be: no single fp32 safetensors matrix of that shape,
    or one whose sampled rows differ from the weights loaded."""
    module = model.get_input_embeddings()
    weight = module.weight
    if weight.device.type != "cpu" or weight.dtype != torch.float32 or weight.requires_grad or lazy_rows(module):
        return False
    found = _locate(Path(folder), tuple(weight.shape))
    if found is None:
        return False
    rows = LazyRows(found[0], found[1], tuple(weight.shape))
    if not rows.agrees(lambda i: weight[i]):
        rows.file.close()
        return False
    rows.attach(module)
    return True
