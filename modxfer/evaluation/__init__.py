"""Zero-shot evaluation: the ``Evaluator`` (compositions scored per language and noise setting, with per-example
outcomes) and retrieval (Tatoeba, BUCC, LAReQA, Mewsli-X).

May import: ``modxfer.training`` (to find, or train on request, the artifacts a composition uses), ``modxfer.noise``,
``modxfer.model``, ``modxfer.store``, ``modxfer.scoring`` and below.
"""
from .evaluator import EvalResult, Evaluator, evaluate

__all__ = ["EvalResult", "Evaluator", "evaluate"]


def __getattr__(name: str):  # the rest of the evaluator module, as `modxfer.evaluation` offered it before
    from . import evaluator

    return getattr(evaluator, name)
