"""The process heap: glibc keeps memory a phase freed unless told otherwise (no torch import here: the CLI calls
this before anything big is loaded)."""

from __future__ import annotations


def trim_memory() -> None:
    """Hand freed heap back to the system (glibc keeps it otherwise): after a phase that allocated and freed a lot,
    later peaks start from what is really in use."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def tune_malloc() -> None:
    """Two malloc arenas and a 128 MB trim threshold (glibc's own knobs, set before the big allocations): each thread
    otherwise gets an arena that keeps what it freed, which cost 0.75 GB of peak memory in `modxfer train`
    (benchmarks/README.md). For a process that owns its heap: the CLI calls it, a library import does not."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-8, 2)  # M_ARENA_MAX
        libc.mallopt(-1, 128 * 2**20)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):
        pass
