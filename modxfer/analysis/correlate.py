"""Does similarity predict transfer? Correlations over (intermediate, target) pairs and the family x similarity
interaction, for the analysis (``modxfer.analysis``).

Two kinds of pair are kept out or reported apart, because they would answer a different question:

- Same-source pairs (``tasksim.matrix.same_source``: mnli/xnli, udpos-en/udpos, panx-en/panx, squad/QA targets)
  share training data, so their high similarity measures shared data rather than alike tasks, and one such pair can
  carry a whole rank correlation. Every correlation and interaction whose scope holds one is computed twice, with
  and without them (``same_source`` "with"/"without"; "none" when the scope has none), and both enter the tests.
- Comparisons with a model that did not learn (its validation CI does not clear its floor) measure noise, not transfer:
  they are left out of every correlation and interaction, and named in its ``not_learned`` column.
- Robustness gains under noise that changed nothing in any language of a target are exactly 0 by construction:
  that target is left out of the correlations for that noise, and named in ``changed_nothing``.

A correlation or interaction whose smallest attainable permutation p-value is at or above its corrected threshold can
never be significant; ``hypotheses`` keeps it out of the family and says so.
"""
from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from .. import stats as S
from ..tasks.sources import same_source

CORR_COLUMNS = ["task", "kind", "measure", "noise", "same_source", "n_pairs", "rho", "low", "high", "pvalue",
                "min_pvalue", "pvalue_mc_error", "permutations", "reason", "exact", "no_similarity", "not_learned", "changed_nothing", "same_source_pairs",
                "pairs"]
INTER_COLUMNS = ["task", "kind", "measure", "noise", "same_source", "statistic", "contrast", "spread", "low", "high",
                 "pvalue",
                 "min_pvalue", "pvalue_mc_error", "permutations", "exact", "languages", "families", "family_rho",
                 "family_languages", "reason", "not_learned", "same_source_pairs"]
SUBSETS = {"with": "same-source pairs included", "without": "same-source pairs left out",
           "none": "no same-source pair"}


is_same_source = same_source  # the name the report and the analysis use


def _subsets(pairs) -> list[tuple[str, list]]:
    """("none", pairs) when no pair shares a source, else ("with", pairs) and ("without", the others) -- unless
    nothing is left without them (a scope of same-source pairs only): an empty subset is no test."""
    shared = [p for p in pairs if is_same_source(*p)]
    if not shared:
        return [("none", list(pairs))]
    rest = [p for p in pairs if p not in shared]
    return [("with", list(pairs))] + ([("without", rest)] if rest else [])


def _label(pairs) -> str | None:
    return ", ".join(f"{i}>{t}" for i, t in pairs) or None


def similarity_tests(study, seed: int, alpha: float = S.ALPHA):
    """(correlations, interactions) DataFrames, for gain and each noise's robustness gain; see the module docstring.

    ``study`` is the analysis's per-language view (``analysis._Study``): ``per_lang``, ``comps``, ``sims``,
    ``pooled``, ``info`` and ``learned(task, composition)``."""
    import pandas as pd

    zs = defaultdict(dict)             # (kind, measure, noise) -> {(intermediate, target): Estimate}
    nothing = _changed_nothing(study)  # {(task, noise)} where the noise changed no language's text
    lang_points = defaultdict(list)    # (task, kind, measure, noise) -> [(intermediate, similarity, value, lang)]
    skipped = defaultdict(set)         # (task, kind, measure, noise) -> compositions left out: did not learn
    for measure in ("gain", "robustness_gain"):
        by_pair: dict[tuple, list] = defaultdict(list)
        for (task, comp_s, lang, noise), est in study.per_lang[measure].items():
            comp = study.comps[comp_s]
            if len(comp.intermediates) != 1 or not study.pooled(lang):
                continue  # a fusion over several intermediates is no single pair
            if measure == "robustness_gain" and (task, noise) in nothing:
                continue
            if not study.learned(task, comp_s):
                skipped[(task, comp.kind, measure, noise)].add(comp_s)
                continue
            by_pair[(task, comp.kind, noise, comp_s)].append(est)
            inter = comp.intermediates[0]
            x = study.sims[(inter, task)]
            if math.isfinite(x) and math.isfinite(est.statistic):
                lang_points[(task, comp.kind, measure, noise)].append((inter, x, est.statistic, lang,
                                                                       est.bootstrap_distribution))
        for (task, kind, noise, comp_s), ests in by_pair.items():
            zs[(kind, measure, noise)][(study.comps[comp_s].intermediates[0], task)] = S.mean(ests)
    for task, kind, measure, noise in skipped:  # every pair there did not learn: still a row, saying so
        zs.setdefault((kind, measure, noise), {})
        lang_points.setdefault((task, kind, measure, noise), [])
    corr = _correlations(study, zs, skipped, nothing, seed, alpha)
    inter = _interactions(study, lang_points, skipped, seed)
    return pd.DataFrame(corr, columns=CORR_COLUMNS), pd.DataFrame(inter, columns=INTER_COLUMNS)


def _changed_nothing(study) -> set[tuple[str, str]]:
    rates = defaultdict(list)
    for (task, lang, noise), rate in study.noise_rate.items():
        if noise != "clean" and study.pooled(lang):
            rates[(task, noise)].append(rate)
    return {k for k, v in rates.items() if v and all(r == 0.0 for r in v)}


def _correlations(study, zs, skipped, nothing, seed: int, alpha: float) -> list[dict]:
    out = []
    for (kind, measure, noise), pts in zs.items():
        targets = list(dict.fromkeys([*(t for _, t in pts), *(t for (t, k, m, n) in skipped
                                                              if (k, m, n) == (kind, measure, noise))]))
        for scope in [*targets, *(["all targets"] if len(targets) > 1 else [])]:
            sel = {p: e for p, e in pts.items() if scope in ("all targets", p[1])}
            no_sim = sorted(f"{i}>{t}" for (i, t) in sel if not math.isfinite(study.sims[(i, t)]))
            sel = {p: e for p, e in sel.items() if math.isfinite(study.sims[p]) and math.isfinite(e.statistic)}
            left = sorted(c for (t, k, m, n), cs in skipped.items() for c in cs
                          if k == kind and m == measure and n == noise and scope in ("all targets", t))
            shared = [p for p in sel if is_same_source(*p)]
            for subset, pairs in _subsets(list(sel)):
                dists = [sel[p].bootstrap_distribution for p in pairs]
                reps = np.stack(dists, axis=1) if pairs and all(d is not None for d in dists) else None
                res = S.correlation([study.sims[p] for p in pairs], [sel[p].statistic for p in pairs], pairs=pairs,
                                    groups=[p[1] for p in pairs], y_replicates=reps, rng=seed)
                reason = res.reason
                low, high = res.confidence_interval()
                out.append({"task": scope, "kind": kind, "measure": measure, "noise": noise, "same_source": subset,
                            "n_pairs": res.n, "rho": res.statistic, "low": low, "high": high, "pvalue": res.pvalue,
                            "min_pvalue": res.min_pvalue, "pvalue_mc_error": res.pvalue_mc_error,
                            "permutations": res.permutations, "reason": reason, "exact": res.exact,
                            "no_similarity": ", ".join(no_sim) or None, "not_learned": ", ".join(left) or None,
                            "changed_nothing": ", ".join(sorted(t for t, n in nothing if n == noise and measure
                                                                != "gain" and scope in ("all targets", t))) or None,
                            "same_source_pairs": _label(shared), "pairs": _label(pairs) or ""})
    return out


def _interactions(study, lang_points, skipped, seed: int) -> list[dict]:
    out = []
    for (task, kind, measure, noise), pts in lang_points.items():
        pairs = list(dict.fromkeys((i, task) for i, *_ in pts))
        shared = [p for p in pairs if is_same_source(*p)]
        for subset, keep in _subsets(pairs):
            kept = [(x, y, lang, reps) for i, x, y, lang, reps in pts if (i, task) in keep]
            x, y, lang, reps = zip(*kept) if kept else ((), (), (), ())
            y_reps = np.stack(reps, axis=1) if reps and all(r is not None for r in reps) else None
            res = S.family_interaction(x, y, lang, {l: study.info[l]["family"] for l in lang}, rng=seed,
                                       y_replicates=y_reps)
            out.append({"task": task, "kind": kind, "measure": measure, "noise": noise, "same_source": subset,
                        **res.to_dict(), "not_learned": ", ".join(sorted(skipped.get((task, kind, measure, noise),
                                                                                     ()))) or None,
                        "same_source_pairs": _label(shared)})
    return out
