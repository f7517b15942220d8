"""Which tasks share a data source: a fact about the data (the registry's partitions), not about any measure.

MNLI dev_matched feeds both mnli and XNLI's English training set, udpos/panx train-en are split between the
intermediate and the target, XQuAD-en articles between squad and every QA target. A high similarity between such a
pair measures shared data, not similar tasks, so the analysis, the selection and the report treat them apart and mark
them ``MARK``.
"""
from __future__ import annotations

SAME_SOURCE = frozenset({("mnli", "xnli"), ("udpos-en", "udpos"), ("panx-en", "panx"), ("squad", "mlqa")})
QA_SOURCE = "squad"
MARK = "‡"  # the one mark for a same-source pair, in tables, plots and selection


def same_source(intermediate: str, target: str) -> bool:
    """Whether the two tasks' data come from the same source (either order; a task with itself counts)."""
    if intermediate == target or (intermediate, target) in SAME_SOURCE or (target, intermediate) in SAME_SOURCE:
        return True
    if QA_SOURCE in (intermediate, target):
        from ..errors import UnknownTaskError
        from .registry import get_task

        other = target if intermediate == QA_SOURCE else intermediate
        try:
            return get_task(other).head == "extractive_qa"  # every QA target trains on the other XQuAD-en half
        except UnknownTaskError:
            return False
    return False
