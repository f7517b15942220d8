"""Progress of a running sweep: a live rich view, or one plain line per finished cell for logs (``--quiet``).

The bar advances by each cell's estimated cost rather than by cell count, so the ETA is not thrown off by a few long
training cells among hundreds of short evaluations.
"""

from __future__ import annotations

import sys
import time

from rich.console import Console
from rich.table import Column
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class SweepProgress:
    def __init__(self, total: int, done: int, failed: int, *, cost_total: float, cost_done: float,
                 quiet: bool = False, console: Console | None = None):
        self.total, self.done, self.failed, self.blocked = total, done, failed, 0
        self.running: dict[str, str] = {}  # key -> cell id
        self.quiet = quiet
        self.console = console or Console(stderr=True)
        self.t0 = time.time()
        self.cost_total, self.cost_done = max(cost_total, 1e-9), cost_done
        self._progress = None
        if not quiet:
            # The counts never wrap or shrink; the name of the running cell gives way on narrow terminals.
            self._progress = Progress(
                TextColumn("[bold]{task.fields[counts]}", table_column=Column(no_wrap=True)),
                BarColumn(bar_width=16, table_column=Column(no_wrap=True)),
                TimeElapsedColumn(table_column=Column(no_wrap=True)), TextColumn("ETA"),
                TimeRemainingColumn(table_column=Column(no_wrap=True)),
                TextColumn("[dim]{task.fields[current]}",
                           table_column=Column(no_wrap=True, overflow="ellipsis", max_width=28)),
                console=self.console, transient=False)
            self._task = self._progress.add_task("sweep", total=self.cost_total, completed=cost_done,
                                                 counts=self._counts(), current="")

    def _counts(self) -> str:
        return (f"{self.done}/{self.total} done, {len(self.running)} running, {self.failed} failed"
                + (f", {self.blocked} blocked" if self.blocked else ""))

    def __enter__(self) -> "SweepProgress":
        if self._progress is not None:
            self._progress.start()
        elif self.total:
            self._log(f"{self.done}/{self.total} cells already done; {self.total - self.done} to go")
        return self

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._refresh()
            self._progress.stop()

    def _log(self, text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)

    def _refresh(self) -> None:
        if self._progress is not None:
            current = ", ".join(list(self.running.values())[:2])
            self._progress.update(self._task, completed=self.cost_done, counts=self._counts(), current=current)

    def started(self, key: str, cell_id: str) -> None:
        self.running[key] = cell_id
        self._refresh()

    def finished(self, key: str, ok: bool, cost: float, seconds: float | None, error: str | None = None) -> None:
        cell_id = self.running.pop(key, key)
        self.cost_done += cost
        took = f" ({seconds:.1f}s)" if seconds is not None else ""
        if ok:
            self.done += 1
            if self.quiet:
                self._log(f"[{self.done + self.failed}/{self.total}] done {cell_id}{took}")
        else:
            self.failed += 1
            msg = f"[{self.done + self.failed}/{self.total}] FAILED {cell_id}{took}: {error}"
            self._log(msg) if self.quiet else self.console.print(f"[red]{msg}")
        self._refresh()

    def blocked_cells(self, n: int, cost: float, reason: str) -> None:
        if not n:
            return
        self.blocked += n
        self.cost_done += cost
        if self.quiet:
            self._log(f"{n} cell(s) blocked: {reason}")
        self._refresh()
