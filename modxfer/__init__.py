"""modxfer: modular cross-lingual transfer with adapters.

Heavy modules (torch, transformers) load on first use, so ``import modxfer`` and ``modxfer tasks`` stay fast.

The packages, from the bottom up (ARCHITECTURE.md; the layers are checked by import-linter in the test suite):
errors, io, languages, tasks, composition; scoring; store; model; noise; training; evaluation; stats; analysis;
similarity; sweeps; report; and the CLI (``modxfer_cli``) on top. Modules that moved into packages keep their old
import paths (``modxfer.metrics``, ``modxfer.zoo``, ``modxfer.backbone``, ...): ``_MOVED`` below.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

__version__ = "0.1.0"

_LAZY = {
    "get_task": ("modxfer.tasks", "get_task"),
    "list_tasks": ("modxfer.tasks", "list_tasks"),
    "check_data": ("modxfer.tasks", "check_data"),
    "load_backbone": ("modxfer.model.backbone", "load_backbone"),
    "ModxferError": ("modxfer.errors", "ModxferError"),
    "Composition": ("modxfer.composition", "Composition"),
    "train": ("modxfer.training", "train"),
    "evaluate": ("modxfer.evaluation.evaluator", "evaluate"),
    "Evaluator": ("modxfer.evaluation.evaluator", "Evaluator"),
    "analyse": ("modxfer.analysis", "analyse"),
    "write_report": ("modxfer.report", "write_report"),
}
_SUBMODULES = {"tasks", "metrics", "languages", "backbone", "noise", "errors", "io", "composition", "training",
               "store", "model", "scoring",
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


# Old module path -> where it lives now. A moved package's submodules follow it (modxfer.backbone.embedded). Modules
# that were renamed inside a package, not only moved (tasksim.compute -> similarity.engine, tasksim.runinfo ->
# sweeps.runinfo, tasksim.bundle_refresh -> sweeps.bundle_similarity), get no alias: importing one would set the old
# name on the new package (`modxfer.similarity.compute` is the measures' function) and shadow what is there.
_MOVED = {
    **{f"modxfer.{m}": f"modxfer.store.{m}" for m in ("artifacts", "cards", "cache", "checksums", "zoo", "provenance")},
    "modxfer.zoo_hub": "modxfer.store.hub", "modxfer.zoo_publish": "modxfer.store.publish",
    **{f"modxfer.{m}": f"modxfer.model.{m}" for m in ("host", "modeling", "trunk", "forward", "inference", "precision",
                                                     "heap", "batching", "lazy_embeddings", "weights_fit", "features",
                                                     "backbone")},
    **{f"modxfer.{m}": f"modxfer.scoring.{m}" for m in ("metrics", "xtreme_metric", "outcomes", "competence")},
    "modxfer.retrieval": "modxfer.evaluation.retrieval", "modxfer.hypotheses": "modxfer.stats.hypotheses",
    "modxfer.stats_similarity": "modxfer.stats.similarity", "modxfer.correlate": "modxfer.analysis.correlate",
    "modxfer.selection": "modxfer.similarity.selection", "modxfer.tasksim": "modxfer.similarity",
    **{f"modxfer.report_{m}": f"modxfer.report.{m}" for m in ("evidence", "sections", "plots", "format")},
}


def _moved(name: str) -> str | None:
    for old in sorted(_MOVED, key=len, reverse=True):  # the longest match: a renamed submodule of a moved package
        if name == old or name.startswith(old + "."):
            return _MOVED[old] + name[len(old):]
    return None


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports of an old path give the module at its new one: the same object, so patching either patches both."""

    def __init__(self):
        self._own: dict[str, object] = {}  # module name -> its own spec, kept (two old names may alias one module)

    def find_spec(self, fullname, path=None, target=None):
        if _moved(fullname) is None:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        module = importlib.import_module(_moved(spec.name))
        own = module.__spec__
        if own is not None and own.name == module.__name__:  # never an alias's spec stamped by a concurrent import
            self._own.setdefault(module.__name__, own)
        return module

    def exec_module(self, module):
        # importlib stamped the alias's spec on the module between create and exec: give it back its own.
        module.__spec__ = self._own.get(module.__name__, module.__spec__)


if not any(isinstance(f, _MovedModules) for f in sys.meta_path):
    sys.meta_path.insert(0, _MovedModules())
