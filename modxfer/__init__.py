"""modxfer: modular cross-lingual transfer with adapters.

Heavy modules (torch, transformers) load on first use, so ``import modxfer`` and ``modxfer tasks`` stay fast.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {
    "get_task": ("modxfer.tasks", "get_task"),
    "list_tasks": ("modxfer.tasks", "list_tasks"),
    "check_data": ("modxfer.tasks", "check_data"),
    "load_backbone": ("modxfer.backbone", "load_backbone"),
    "ModxferError": ("modxfer.errors", "ModxferError"),
    "Composition": ("modxfer.composition", "Composition"),
    "train": ("modxfer.training", "train"),
    "evaluate": ("modxfer.evaluation", "evaluate"),
    "Evaluator": ("modxfer.evaluation", "Evaluator"),
    "analyse": ("modxfer.analysis", "analyse"),
    "write_report": ("modxfer.report", "write_report"),
}
_SUBMODULES = {"tasks", "metrics", "languages", "backbone", "noise", "errors", "io", "composition", "training",
               "evaluation", "sweeps", "artifacts", "similarity", "analysis", "report", "zoo", "stats", "outcomes",
               "selection", "trunk", "competence"}

__all__ = sorted(set(_LAZY) | _SUBMODULES)


def __getattr__(name: str):
    if name in _LAZY:
        mod, attr = _LAZY[name]
        value = getattr(importlib.import_module(mod), attr)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"modxfer.{name}")
    else:
        raise AttributeError(f"module 'modxfer' has no attribute {name!r}")
    globals()[name] = value
    return value
