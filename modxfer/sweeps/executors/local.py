"""The local executor: cells one after another in this process, sharing one backbone and evaluator."""

from __future__ import annotations

from collections import deque

from ..worker import CellRunner


class LocalExecutor:
    slots = 1

    def __init__(self, settings: dict):
        self.runner = CellRunner(settings)
        self.queue: deque[tuple[str, dict]] = deque()

    def submit(self, key: str, spec: dict) -> None:
        self.queue.append((key, spec))

    def wait(self) -> list[tuple[str, dict]]:
        key, spec = self.queue.popleft()
        return [(key, self.runner.run(spec))]

    def close(self) -> None:
        self.queue.clear()
