"""Numeric precision: bf16 autocast where this machine was measured to run it faster, fp32 otherwise."""

from __future__ import annotations

import contextlib
import hashlib
import json
import platform
import time
from functools import lru_cache

import torch

from ..errors import ConfigError, ModxferError
from ..io import atomic_write_text, cache_dir

PRECISIONS = ("auto", "bf16", "fp32")
TRAINED = ("fp32", "bf16")  # what an artifact can have been trained in: one request, found in either


# The shape that dominates the embedded encoder's cost (its FFN: tokens x 384 by 384 x 1536); a larger backbone has
# larger matmuls, where bf16's advantage only grows.
_BENCH_SHAPE = (512, 384, 1536)
_MIN_SPEEDUP = 1.3  # bf16 must be clearly faster to be worth its rounding


@lru_cache(maxsize=1)
def cpu_choice() -> dict:
    """bf16 or fp32 on this CPU, decided by timing both at the encoder's shapes (cached per CPU, torch and threads).

    CPU flags do not decide it: on an AMD EPYC with AVX512-BF16 and no AMX bf16 runs ~4x fp32, on one without
    AVX512 bf16 is emulated and ~15x slower (both measured; see benchmarks/README.md).
    """
    ident = _cpu_ident()
    memo = cache_dir() / "precision" / (hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:24] + ".json")
    try:
        found = json.loads(memo.read_text(encoding="utf-8"))
        if found.get("ident") == ident and found.get("choice") in ("bf16", "fp32"):
            return found
    except (OSError, ValueError):
        pass
    fp32 = _time_matmul(torch.float32)
    bf16 = _time_matmul(torch.bfloat16, give_up_after=fp32 * 4) if _bf16_kernels() else None
    speedup = (fp32 / bf16) if bf16 else None
    found = {"ident": ident, "choice": "bf16" if speedup and speedup >= _MIN_SPEEDUP else "fp32",
             "bf16_speedup": round(speedup, 2) if speedup else None,
             "reason": "timed" if bf16 else "oneDNN reports no bf16 kernels on this CPU", "fp32_seconds": round(fp32, 5),
             "bf16_seconds": round(bf16, 5) if bf16 else None, "shape": list(_BENCH_SHAPE)}
    try:
        atomic_write_text(memo, json.dumps(found, indent=1))
        from ..io import mark

        mark(memo)  # `cache clear` deletes only entries their writer marked
    except (OSError, ModxferError):  # the memo only saves a re-timing: a full or read-only cache must not stop a run
        pass
    return found


def _bf16_kernels() -> bool:
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return True  # unknown: let the timing decide


def _cpu_ident() -> dict:
    model = ""
    try:
        for line in open("/proc/cpuinfo", encoding="ascii", errors="ignore"):
            if line.startswith("model name") or line.startswith("flags"):
                model += line.split(":", 1)[1].strip() + "|"
    except OSError:
        model = platform.processor()
    return {"cpu": hashlib.sha256(model.encode()).hexdigest()[:16], "machine": platform.machine(),
            "torch": torch.__version__}


def _time_matmul(dtype: torch.dtype, reps: int = 5, give_up_after: float | None = None) -> float:
    """Median seconds of one matmul at the benchmark shape; stops early once clearly slower than ``give_up_after``."""
    m, k, n = _BENCH_SHAPE
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(m, k, generator=gen).to(dtype)
    b = torch.randn(k, n, generator=gen).to(dtype)
    times = []
    for i in range(reps + 1):
        t0 = time.perf_counter()
        a @ b
        dt = time.perf_counter() - t0
        if i:  # the first call pays for kernel selection
            times.append(dt)
        if i and give_up_after is not None and dt > give_up_after:
            return dt
    return sorted(times)[len(times) // 2]


def cpu_supports_bf16() -> bool:
    """True where bf16 was measured to be faster than fp32 on this CPU."""
    return cpu_choice()["choice"] == "bf16"


def resolve(precision: str, device: str = "cpu") -> str:
    if precision not in PRECISIONS:
        raise ConfigError(f"unknown precision {precision!r}", f"use one of {', '.join(PRECISIONS)}")
    if precision != "auto":
        return precision
    if device.startswith("cuda"):
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if cpu_supports_bf16() else "fp32"


def describe(precision: str, device: str = "cpu") -> dict:
    """What a card records about the precision: what was asked, what ran, and why."""
    out = {"requested": precision, "resolved": resolve(precision, device), "device": device}
    if precision == "auto" and not device.startswith("cuda"):
        choice = cpu_choice()
        out.update(decided_by=f"matmul timing at the encoder's shapes ({choice.get('reason', 'timed')})",
                   bf16_speedup=choice["bf16_speedup"])
    return out


def autocast(precision: str, device: str = "cpu"):
    """Context manager for a resolved precision ("bf16" or "fp32")."""
    if precision == "bf16":
        return torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16)
    return contextlib.nullcontext()


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"
