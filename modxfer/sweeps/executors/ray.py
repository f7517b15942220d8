"""The Ray executor: each cell is a Ray task with its CPU/GPU request; the driver keeps the store.

Workers write artifacts straight into the artifact store, so on a multi-node cluster the run directory (or the
config's ``artifacts``) must be on storage every node sees. Each worker process keeps its ``CellRunner`` between
tasks, so the backbone is loaded once per worker, not once per cell.
"""

from __future__ import annotations

import json
import os

from ...errors import ModxferError
from ..worker import CellRunner

_RUNNERS: dict[str, CellRunner] = {}
# Passed to workers of a cluster this driver starts or joins, so they read the same data and cache.
_ENV = ("MODXFER_DATA_DIR", "MODXFER_CACHE", "MODXFER_STORE", "MODXFER_TRUNK_CACHE", "MODXFER_TRUNK_CACHE_GB",
        "MODXFER_HEAP", "HF_HOME", "HF_HUB_OFFLINE")


def _run_cell(settings: dict, spec: dict) -> dict:
    key = json.dumps(settings, sort_keys=True)
    if key not in _RUNNERS:
        from ...errors import ModxferError
        from ...model.heap import tune_malloc

        try:
            tune_malloc()  # a Ray worker owns its process's heap as the CLI does
        except ModxferError:  # a bad MODXFER_HEAP there (the driver checked its own): glibc's defaults, not a crash
            pass
        _RUNNERS[key] = CellRunner(settings)
    return _RUNNERS[key].run(spec)


class RayExecutor:
    def __init__(self, settings: dict, *, resources: dict | None = None, address: str | None = None):
        try:
            import ray
        except ImportError:
            raise ModxferError("the ray executor needs Ray, which is not installed",
                               'pip install "modxfer[ray]" (or "ray[default]"), or use --executor local') from None
        self.ray = ray
        self.settings = settings
        self.resources = resources or {"train": {"num_cpus": 1, "num_gpus": 0}, "eval": {"num_cpus": 1, "num_gpus": 0}}
        self.started = False
        if not ray.is_initialized():
            env = {k: os.environ[k] for k in _ENV if k in os.environ}
            try:
                ray.init(address=address, runtime_env={"env_vars": env} if env else None, log_to_driver=False,
                         include_dashboard=False)
            except ConnectionError as e:
                raise ModxferError(f"cannot reach a Ray cluster at {address!r}: {e}",
                                   "start one with `ray start --head`, or leave out --address to run Ray locally") from None
            self.started = True
        self.remote = ray.remote(_run_cell)
        cluster = ray.cluster_resources()
        cpus = max(float(self.resources["eval"].get("num_cpus", 1)), 1e-3)
        for kind, req in self.resources.items():
            for res, name in (("num_cpus", "CPU"), ("num_gpus", "GPU")):
                if req.get(res, 0) > cluster.get(name, 0):
                    raise ModxferError(f"{kind} cells ask for {req[res]} {name} but the Ray cluster has "
                                       f"{cluster.get(name, 0)}", f"lower resources.{kind}.{res} in the config")
        # As many in flight as can actually run, so 'running' in the store means running.
        self.slots = max(1, int(cluster.get("CPU", 1) // cpus))
        self.pending: dict = {}  # ObjectRef -> cell key

    def submit(self, key: str, spec: dict) -> None:
        req = self.resources["train" if spec["kind"] == "train" else "eval"]
        ref = self.remote.options(num_cpus=req.get("num_cpus", 1), num_gpus=req.get("num_gpus", 0),
                                  max_retries=0).remote(self.settings, spec)
        self.pending[ref] = key

    def wait(self) -> list[tuple[str, dict]]:
        done, _ = self.ray.wait(list(self.pending), num_returns=1)
        out = []
        for ref in done:
            key = self.pending.pop(ref)
            try:
                outcome = self.ray.get(ref)
            except Exception as e:  # the worker died (OOM, node lost): record it like any failure
                outcome = {"ok": False, "error": f"{type(e).__name__}: {e}", "summary": f"Ray task failed: {type(e).__name__}",
                           "seconds": None, "worker": "ray"}
            out.append((key, outcome))
        return out

    def close(self) -> None:
        for ref in self.pending:
            self.ray.cancel(ref, force=True)
        self.pending.clear()
        if self.started:
            self.ray.shutdown()
