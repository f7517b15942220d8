"""Running a sweep: sync the plan into the store, then hand ready cells to an executor until none are left.

Resuming is the same call: cells already done (by key) are skipped, cells a killed process left 'running' are
rerun, failed cells stay failed (their error kept) unless ``retry_failed``, and cells that need a failed one are
marked blocked. Only this driver writes the store.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import yaml

from .. import __version__
from .config import SweepConfig
from .executors import make_executor
from .plan import Plan, cell_costs
from .prepare import prepare
from .progress import SweepProgress
from .store import RunLock, Store
from .worker import runner_settings


@dataclass
class RunSummary:
    run_dir: str
    total: int
    done: int
    failed: int
    blocked: int
    ran: int  # cells this call ran (done or failed)
    seconds: float

    @property
    def complete(self) -> bool:
        return self.done == self.total


def run_sweep(config: SweepConfig, *, executor: str = "local", address: str | None = None,
              retry_failed: bool = False, quiet: bool = False, console=None) -> RunSummary:
    t0 = time.time()
    # Everything that can fail on the config or the data runs before the folder is touched: a refused config
    # leaves no run directory (or the previous run's, unchanged) behind.
    prep = prepare(config)
    plan, keys = prep.plan, prep.keys
    specs = {keys[c.id]: _spec(c, prep.artifacts) for c in plan.cells}
    costs = {keys[cid]: sec for cid, (_, sec) in cell_costs(plan).items()}
    with RunLock(config.output), Store(config.output, create=True) as store:
        _sync(store, plan, keys, specs, costs, config)
        store.reopen(retry_failed=retry_failed)
        return _schedule(store, plan, keys, specs, costs, config, executor, address, quiet, console, t0)


def _spec(cell, artifacts: dict[str, str]) -> dict:
    spec = cell.spec()
    if cell.kind == "train":
        spec["artifact"] = artifacts[cell.id]  # lets the worker check that train() builds what was planned
    return spec


def _sync(store: Store, plan: Plan, keys: dict[str, str], specs: dict[str, dict], costs: dict[str, float],
          config: SweepConfig) -> None:
    rows = [(keys[c.id], c.id, c.kind, specs[keys[c.id]], [keys[n] for n in c.needs], costs[keys[c.id]])
            for c in plan.cells]
    from ..store.provenance import source_commit

    meta = {"name": config.name, "config": yaml.safe_dump(config.raw, sort_keys=False), "modxfer": __version__,
            "output": str(config.output), "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "source": json.dumps(source_commit())}
    store.sync_plan(rows, meta)


def _schedule(store, plan, keys, specs, costs, config, executor_name, address, quiet, console, t0) -> RunSummary:
    status = {row["key"]: row["status"] for row in store.cells()}
    by_key = {keys[c.id]: c for c in plan.cells}
    dependents = plan.dependents()
    todo = [keys[c.id] for c in plan.cells if status[keys[c.id]] == "pending"]
    needs = {k: [keys[n] for n in by_key[k].needs] for k in todo}

    def block_dependents(key: str, reason: str, prog: SweepProgress | None) -> None:
        hit = [keys[d] for d in dependents[by_key[key].id] if status[keys[d]] == "pending"]
        if hit:
            store.block(hit, reason)
            for k in hit:
                status[k] = "blocked"
            if prog is not None:
                prog.blocked_cells(len(hit), sum(costs[k] for k in hit), reason)

    done0 = sum(s == "done" for s in status.values())
    failed0 = sum(s == "failed" for s in status.values())
    ran = 0
    prog = SweepProgress(len(status), done0, failed0, quiet=quiet, console=console,
                         cost_total=sum(costs.values()),
                         cost_done=sum(costs[k] for k, s in status.items() if s in ("done", "failed")))
    executor = None
    with prog:
        # Cells needing a cell that failed in an earlier run (and is not being retried) cannot run.
        for key, s in list(status.items()):
            if s == "failed":
                block_dependents(key, f"needs {by_key[key].id}, which failed", prog)
        todo = [k for k in todo if status[k] == "pending"]
        if todo:
            executor = make_executor(executor_name, runner_settings(config), resources=config.resources,
                                     address=address)
        try:
            in_flight: set[str] = set()
            while todo or in_flight:
                ready = [k for k in todo if all(status[n] == "done" for n in needs[k])]
                for key in ready[: max(0, executor.slots - len(in_flight))]:
                    todo.remove(key)
                    cell = by_key[key]
                    store.start(key)
                    status[key] = "running"
                    in_flight.add(key)
                    prog.started(key, cell.id)
                    executor.submit(key, specs[key])
                if not in_flight:
                    break  # nothing can run: what is left waits on blocked cells
                for key, out in executor.wait():
                    in_flight.discard(key)
                    ran += 1
                    if out["ok"]:
                        store.finish(key, rows=out.get("rows", []), artifact=out.get("artifact"), seconds=out["seconds"],
                                     worker=out.get("worker"))
                        status[key] = "done"
                        prog.finished(key, True, costs[key], out["seconds"])
                    else:
                        store.fail(key, out["error"], seconds=out["seconds"], worker=out.get("worker"))
                        status[key] = "failed"
                        prog.finished(key, False, costs[key], out["seconds"], out["summary"])
                        block_dependents(key, f"needs {by_key[key].id}, which failed: {out['summary']}", prog)
                todo = [k for k in todo if status[k] == "pending"]
        finally:
            if executor is not None:
                executor.close()
    counts = {s: sum(v == s for v in status.values()) for s in ("done", "failed", "blocked")}
    return RunSummary(str(config.output), len(status), counts["done"], counts["failed"], counts["blocked"], ran,
                      time.time() - t0)
