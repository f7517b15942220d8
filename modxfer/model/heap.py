"""The process heap: glibc keeps memory a phase freed unless told otherwise (no torch import here: the CLI calls
this before anything big is loaded)."""

from __future__ import annotations

import os

# glibc's mallopt parameter numbers (malloc.h)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8

# One arena: each thread otherwise gets an arena that keeps what it freed (0.75 GB of peak memory in `modxfer
# train` once). A 32 MB trim threshold hands a freed top of the heap back. A 32 MB mmap threshold (where glibc's own
# adaptive one stops): setting the trim threshold switches off glibc's dynamic mmap threshold, which leaves it at
# 128 KB, so every activation tensor became a fresh mmap whose pages the kernel faulted in at each step and unmapped
# after; a quarter of the quickstart's CPU time went to page faults. The price is the heap's fragmentation: about
# 0.4 GB more peak memory in `modxfer train`. "lean" is the other side of that trade, for a machine short of memory:
# that peak back, `modxfer train` 1.4x slower. Measured side by side in benchmarks/heap.py (benchmarks/README.md).
KNOBS = {"arena_max": 1, "trim_threshold": 32 * 2**20, "mmap_threshold": 32 * 2**20}
PROFILES = {"fast": KNOBS, "lean": {"arena_max": 2, "trim_threshold": 128 * 2**20}}
ENV = "MODXFER_HEAP"
_PARAMS = {"arena_max": M_ARENA_MAX, "trim_threshold": M_TRIM_THRESHOLD, "mmap_threshold": M_MMAP_THRESHOLD}


def trim_memory() -> None:
    """Hand freed heap back to the system (glibc keeps it otherwise): after a phase that allocated and freed a lot,
    later peaks start from what is really in use."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def profile_knobs() -> dict:
    """The knobs of the profile ``$MODXFER_HEAP`` names (default "fast"); ConfigError names the choices."""
    name = os.environ.get(ENV, "").strip().lower() or "fast"
    if name not in PROFILES:
        from ..errors import ConfigError

        raise ConfigError(f"{ENV}={os.environ[ENV]!r} is not a heap profile",
                          f"set it to one of {', '.join(PROFILES)} (fast: the default; lean: less peak memory, "
                          "slower training), or unset it")
    return PROFILES[name]


def tune_malloc(knobs: dict | None = None) -> None:
    """Set glibc's malloc knobs (the ``$MODXFER_HEAP`` profile's, or the given ones; a knob left out keeps glibc's
    default) before the big allocations. For a process that owns its heap: the CLI calls it, a library import does
    not."""
    knobs = profile_knobs() if knobs is None else knobs
    unknown = set(knobs) - set(_PARAMS)  # a programming error, not user input
    if unknown:
        raise ValueError(f"unknown malloc knobs {sorted(unknown)}; known: {sorted(_PARAMS)}")
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
    except (OSError, AttributeError):
        return
    for name, value in knobs.items():
        libc.mallopt(_PARAMS[name], int(value))
