"""Numeric precision: bf16 autocast where the hardware runs it fast, fp32 exact otherwise."""

from __future__ import annotations

import contextlib
from functools import lru_cache

import torch

from .errors import ConfigError

PRECISIONS = ("auto", "bf16", "fp32")


@lru_cache(maxsize=1)
def cpu_supports_bf16() -> bool:
    """True on CPUs with AMX tiles, where oneDNN's bf16 matmul runs several times faster than fp32.

    AVX512-BF16 alone is not enough: measured here (2 cores, no AMX) bf16 matmul ran slower than fp32, so "auto"
    stays exact on such machines (see benchmarks/README.md).
    """
    try:
        if not torch.ops.mkldnn._is_mkldnn_bf16_supported():
            return False
    except (AttributeError, RuntimeError):
        return False
    try:
        flags = open("/proc/cpuinfo", encoding="ascii", errors="ignore").read()
    except OSError:
        return False
    return "amx_bf16" in flags


def resolve(precision: str, device: str = "cpu") -> str:
    if precision not in PRECISIONS:
        raise ConfigError(f"unknown precision {precision!r}", f"use one of {', '.join(PRECISIONS)}")
    if precision != "auto":
        return precision
    if device.startswith("cuda"):
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if cpu_supports_bf16() else "fp32"


def autocast(precision: str, device: str = "cpu"):
    """Context manager for a resolved precision ("bf16" or "fp32")."""
    if precision == "bf16":
        return torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16)
    return contextlib.nullcontext()


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"
