"""Validate the data directory: every task's files parse, counts and label sets are as expected."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ..errors import ModxferError
from .base import PER_LANGUAGE_SPLITS, Task, resolve_data_dir
from .registry import list_tasks


@dataclass
class SplitReport:
    task: str
    split: str
    lang: str
    examples: int = 0
    labels: dict = field(default_factory=dict)
    error: str | None = None
    fix: str | None = None  # what the error's own fix says

    @property
    def ok(self) -> bool:
        return self.error is None


def _label_counts(task: Task, rows: list[dict]) -> dict:
    if task.head == "classification":
        return dict(Counter(task.labels[r["label"]] for r in rows))
    if task.head == "multiple_choice":
        return dict(Counter(str(r["label"]) for r in rows))
    if task.head == "tagging":
        return dict(Counter(t for r in rows for t in r["tags"]))
    return {}


def check_data(data_dir=None, tasks: list[str] | None = None) -> list[SplitReport]:
    """Load every split of every task (or of ``tasks``) and report counts, label sets and errors."""
    root = resolve_data_dir(data_dir)
    reports = []
    for task in list_tasks():
        if tasks and task.name not in tasks:
            continue
        if task.needs_hub and not task.available(root):
            reports.append(SplitReport(task.name, "-", "-", error=f"needs Hub data (`modxfer data fetch {task.name}`)"))
            continue
        for split in task.splits:
            langs = task.languages(root) if split in PER_LANGUAGE_SPLITS else ("en",)
            for lang in langs:
                rep = SplitReport(task.name, split, lang)
                try:
                    rows = task.rows(split, lang, data_dir=root)
                    rep.examples = len(rows)
                    rep.labels = _label_counts(task, rows)
                    if not rows:
                        rep.error = "no examples"
                    elif task.head == "multiple_choice" and any(len(r["choices"]) != task.num_choices for r in rows):
                        rep.error = f"some examples do not have {task.num_choices} choices"
                except ModxferError as e:
                    rep.error, rep.fix = e.problem, e.fix
                reports.append(rep)
    return reports
