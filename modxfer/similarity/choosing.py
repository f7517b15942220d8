"""The one-call ``select``: intermediates ranked for one target, with what each did in a run."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from .matrix import SimilarityMatrix, same_source


@dataclass(frozen=True)
class Selection:
    """Intermediates ranked for one target by one measure; with a run, their measured outcomes and the ranking's
    NDCG@k / Regret@k (and a random ranking's) per outcome. Regret@k is in percent of the best composition's score
    (Poth et al.'s O_max). A metric that cannot tell rankings apart with this few candidates is NaN, and
    ``undefined`` says why ({outcome: {"regret@3": reason}}); ``candidates`` counts them per outcome. Compositions
    left out because a model did not learn are in ``excluded`` (and their ranking rows say so)."""

    target: str
    measure: str
    lang: str | None
    ranking: tuple[dict, ...]
    scores: dict = field(default_factory=dict)
    matrix: SimilarityMatrix | None = field(default=None, repr=False)
    candidates: dict = field(default_factory=dict)
    undefined: dict = field(default_factory=dict)
    excluded: tuple = ()

    @property
    def best(self) -> str | None:
        return self.ranking[0]["intermediate"] if self.ranking else None

    def to_pandas(self):
        import pandas as pd

        return pd.DataFrame(list(self.ranking))


def run_context_of(run) -> dict:
    """A run's context as ``modxfer.sweeps.runinfo.run_context`` gives it. Similarity reads no run folder itself (it
    sits below the sweeps that write them): a folder's path is refused with the call that reads it."""
    from collections.abc import Mapping

    from ..errors import ConfigError

    if isinstance(run, Mapping) and "results" in run:
        return dict(run)
    raise ConfigError(f"run={run!r} is not a run's context",
                      "pass modxfer.sweeps.runinfo.run_context(RUN_FOLDER), as `modxfer select --run` does")


def select(target: str, *, by: str = "textemb", lang: str | None = None, run=None,
           intermediates: Sequence[str] | None = None, exclude_same_source: bool = False, kind: str = "stack",
           base=None, settings=None, data_dir=None, store=None, train=None, ks: Sequence[int] = (1, 3)) -> Selection:
    """Rank intermediates for ``target`` by similarity ``by``; with ``run`` (what a sweep's folder holds:
    ``modxfer.sweeps.runinfo.run_context(folder)``), also what each measurably did for the target (in ``lang``, or averaged over the run's languages) and the ranking's regret.
    Compositions where a model did not learn keep their place in the ranking but get no outcome.

    Raises:
        DataError: the run has no single-intermediate compositions for the target, or not in ``lang``.
        ConfigError, UnknownTaskError: bad measure or task names.
    """
    from . import measures as S
    from ..errors import DataError
    from .ranks import excluded as excluded_of
    from .ranks import outcomes as outcome_table
    from ..tasks import get_task

    target = get_task(target).name
    outs, ctx, skipped = None, {}, []
    if run is not None:
        ctx = run_context_of(run)
        run = ctx.get("path", "the run")
        skipped = [e for e in excluded_of(ctx["results"], kind=kind) if e["target"] == target]
        outs = outcome_table(ctx["results"], kind=kind, include_english=lang is not None)  # asked for by name
        outs = outs[outs["target"] == target]
        if outs.empty:
            if skipped:  # the target is there, but nothing it measured may be used: say which model to fix
                why = "; ".join(f"`{e['composition']}`: {e['reason']}" for e in skipped)
                raise DataError(f"run {run} has {len(skipped)} {kind} composition(s) with one intermediate for target "
                                f"{target!r}, all left out because a model did not learn ({why})",
                                "retrain the models that did not learn with a larger budget (their cards say by how "
                                "much they missed the floor), or use a backbone on which the task learns")
            raise DataError(f"run {run} has no {kind} composition with one intermediate for target {target!r}",
                            f"pick a target the run composes intermediates for ({_targets(ctx['results'])})")
        if lang is not None:
            if lang not in set(outs["lang"]):
                raise DataError(f"run {run} has no {target} results in language {lang!r}",
                                f"pick one of: {', '.join(sorted(set(outs['lang'])))}")
            outs = outs[outs["lang"] == lang]
    cands = list(intermediates) if intermediates else (
        list(dict.fromkeys([*outs["intermediate"], *(e["intermediate"] for e in skipped)])) if outs is not None
        else _offline_intermediates(data_dir))
    cands = [get_task(a).name for a in cands if get_task(a).name != target]
    m = S.compute(by, cands, [target], base=base or ctx.get("base", "embedded"), settings=settings,
                  data_dir=data_dir or ctx.get("data_dir"), store=store or ctx.get("store"),
                  train=train or ctx.get("train"), lang=lang if by.startswith("cka") else None)
    return _selection(m, target, by, lang, outs, exclude_same_source, ks, skipped)


def _selection(m, target, by, lang, outs, exclude_same_source, ks, skipped=()) -> Selection:
    from .ranks import ndcg_at_k, random_ndcg_at_k, random_regret_at_k, regret_at_k, vacuous

    low, high = m.confidence_interval()
    se = m.se
    j = m.targets.index(target)
    measured = (outs.groupby(["outcome", "intermediate"])[["value", "level"]].mean() if outs is not None else None)
    why_out = {e["intermediate"]: e["reason"] for e in skipped}
    ranking = []
    for a, v in m.ranking(target, exclude_same_source=exclude_same_source):
        i = m.intermediates.index(a)
        row = {"intermediate": a, "similarity": v, "se": float(se[i, j]), "low": float(low[i, j]),
               "high": float(high[i, j]), "same_source": same_source(a, target), "excluded": why_out.get(a)}
        if measured is not None:
            for o in ("clean_gain", "noisy_score", "robustness_gain"):
                row[o] = float(measured.loc[(o, a), "value"]) if (o, a) in measured.index else math.nan
        ranking.append(row)
    scores, counts, undefined = {}, {}, {}
    if measured is not None:
        for o in dict.fromkeys(outs["outcome"]):
            sub = [r for r in ranking if not math.isnan(r[o])]
            if len(sub) < 2:
                continue
            s = np.array([r["similarity"] for r in sub])
            v = np.array([r[o] for r in sub])
            scale = float(np.nanmax([measured.loc[(o, r["intermediate"]), "level"] for r in sub]))
            fns = {"ndcg": lambda k: ndcg_at_k(s, v, k), "regret": lambda k: regret_at_k(s, v, k, scale=scale),
                   "random_ndcg": lambda k: random_ndcg_at_k(v, k),
                   "random_regret": lambda k: random_regret_at_k(v, k, scale=scale)}
            scores[o], counts[o], undefined[o] = {}, len(sub), {}
            for k in ks:
                for name, fn in fns.items():
                    why = vacuous(name.removeprefix("random_"), k, len(sub))
                    scores[o][f"{name}@{k}"] = math.nan if why else fn(k)
                    if why:
                        undefined[o][f"{name}@{k}"] = why
    return Selection(target, by, lang, tuple(ranking), scores, m, counts, undefined, tuple(skipped))


def _targets(results) -> str:
    import pandas as pd

    df = results if isinstance(results, pd.DataFrame) else pd.DataFrame(list(results))
    return ", ".join(sorted(set(df["task"]))) if "task" in df else "none"


def _offline_intermediates(data_dir) -> list[str]:
    from ..tasks import list_tasks

    return [t.name for t in list_tasks("intermediate") if "train" in t.splits and not t.needs_hub
            and t.available(data_dir)]
