"""Executors run cells and report outcomes; the scheduler (``runner.py``) alone decides what runs and writes the store.

An executor has ``slots`` (how many cells may be in flight), ``submit(key, spec)`` and ``wait()`` (block until at
least one submitted cell finishes; return ``[(key, outcome)]``), and ``close()``.
"""

from __future__ import annotations

from ...errors import ConfigError

EXECUTORS = ("local", "ray")


def make_executor(name: str, settings: dict, *, resources: dict | None = None, address: str | None = None):
    if name == "local":
        if address is not None:
            raise ConfigError("--address is for the ray executor", "drop --address, or add --executor ray")
        from .local import LocalExecutor

        return LocalExecutor(settings)
    if name == "ray":
        from .ray import RayExecutor

        return RayExecutor(settings, resources=resources, address=address)
    raise ConfigError(f"unknown executor {name!r}", f"use one of: {', '.join(EXECUTORS)}")
