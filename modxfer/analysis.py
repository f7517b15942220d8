"""Does intermediate-task training help transfer, and robustness, more when the tasks are alike?

Input: evaluation rows (a sweep's ``load_results`` frame, or ``EvalResult.rows``). Every composition that uses
intermediate tasks is compared with its baseline of the same kind without them: a stack or a fusion with the
target adapter alone, STILTs (``full:mnli>xnli``) with full fine-tuning on the target alone (``full:xnli``).
Per language and noise setting:

  gain             clean score minus the baseline's clean score (positive: the intermediate helped); on the
                   clean rows
  degradation      clean score minus the noisy score (positive: the noise hurt); on the noisy rows
  robustness_gain  the baseline's degradation minus the composition's (positive: the intermediate made the
                   model more robust); on the noisy rows

Each composition carries the similarity of its intermediate task to the target (``modxfer.similarity``; the mean
over intermediates for a fusion). ``correlations`` relates similarity to each measure per target task, kind,
noise setting and language family (and all languages): Spearman's and Pearson's r over (composition, language)
points, with n, wherever at least two compositions with different similarities can be compared. Scores of repeated rows (seeds) are averaged first.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

from .composition import Composition
from .errors import DataError

MEASURES = ("gain", "degradation", "robustness_gain")


def baseline_of(comp: Composition) -> Composition | None:
    """The same kind of model without intermediate tasks; None for compositions that have none."""
    if not comp.intermediates:
        return None
    return Composition(comp.target, (), "full" if comp.kind == "full" else "target")


@dataclass
class Analysis:
    points: object        # pandas DataFrame, one row per (task, composition, lang, noise)
    by_family: object     # the measures averaged per (task, composition, noise, family)
    correlations: object  # similarity vs each measure per (task, kind, noise, family)
    similarity: dict      # {(intermediate, target): cosine}

    def to_dict(self) -> dict:
        return {"points": _records(self.points), "by_family": _records(self.by_family),
                "correlations": _records(self.correlations),
                "similarity": [{"intermediate": a, "target": b, "similarity": s} for (a, b), s in self.similarity.items()]}


def _records(df) -> list[dict]:
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
            for r in df.to_dict("records")]


def analyse(rows, similarity: Mapping[tuple[str, str], float] | Callable[[str, str], float]) -> Analysis:
    """Gains, degradations and their correlation with task similarity; see the module docstring.

    ``similarity`` maps (intermediate, target) to a similarity, or is a function of the two task names.
    """
    import pandas as pd

    from . import languages as L
    from .noise.robustness import summarize

    df = rows.copy() if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    needed = {"task", "composition", "lang", "noise", "score"}
    if df.empty or not needed <= set(df.columns):
        raise DataError(f"no evaluation rows to analyse (need columns {', '.join(sorted(needed))})",
                        "run a sweep or an evaluation with stack/fusion/full compositions and their baselines first")
    score = df.groupby(["task", "composition", "lang", "noise"], sort=False)["score"].mean().to_dict()
    # Degradation (clean - noisy, seeds averaged) is defined once, by the robustness summary.
    summary = summarize(df.to_dict("records"))["degradation"]
    degradation = {(r["task"], r["composition"], r["lang"], r["noise"]): r for r in summary}
    sim_of = similarity if callable(similarity) else (lambda a, b: similarity[(a, b)])
    sims: dict[tuple[str, str], float] = {}
    points = []
    for (task, comp_s, lang, noise), s in score.items():
        comp = Composition.parse(comp_s)
        base = baseline_of(comp)
        if base is None:
            continue
        for inter in comp.intermediates:
            if (inter, comp.target) not in sims:
                sims[(inter, comp.target)] = float(sim_of(inter, comp.target))
        clean = score.get((task, comp_s, lang, "clean"))
        b_clean = score.get((task, str(base), lang, "clean"))
        own, ref = degradation.get((task, comp_s, lang, noise)), degradation.get((task, str(base), lang, noise))
        gain = clean - b_clean if noise == "clean" and clean is not None and b_clean is not None else math.nan
        deg = own["abs_degradation"] if own else math.nan
        b_deg = ref["abs_degradation"] if ref else math.nan
        lg = L.find(lang)
        points.append({
            "task": task, "composition": comp_s, "kind": comp.kind, "intermediates": ",".join(comp.intermediates),
            "baseline": str(base), "similarity": sum(sims[(i, comp.target)] for i in comp.intermediates) / len(comp.intermediates),
            "lang": lang, "family": lg.family if lg else "unknown", "noise": noise, "score": s, "clean": clean,
            "baseline_score": score.get((task, str(base), lang, noise)), "gain": gain, "degradation": deg,
            "robustness_gain": b_deg - deg})
    pts = pd.DataFrame(points)
    if pts.empty:
        raise DataError("no composition with intermediate tasks among the rows",
                        "include stack, fusion or full:INTERMEDIATE>TARGET compositions (and their baselines)")
    keys = ["task", "composition", "kind", "intermediates", "similarity", "noise", "family"]
    fam = pts.groupby(keys, sort=False).agg(gain=("gain", "mean"), degradation=("degradation", "mean"),
                                            robustness_gain=("robustness_gain", "mean"),
                                            languages=("lang", "nunique")).reset_index()
    return Analysis(pts, fam, _correlations(pts), sims)


def _correlations(pts):
    import pandas as pd

    out = []
    for (task, kind, noise), part in pts.groupby(["task", "kind", "noise"], sort=False):
        for fam, sub in [("all", part), *part.groupby("family", sort=True)]:
            if sub["similarity"].nunique() < 2:
                continue  # one similarity value (e.g. a single fusion): nothing to correlate
            for measure in (("gain",) if noise == "clean" else MEASURES[1:]):
                xy = sub[["similarity", measure]].dropna()
                out.append({"task": task, "kind": kind, "noise": noise, "family": fam, "measure": measure,
                            "n": len(xy), "compositions": sub["composition"].nunique(),
                            "spearman": _corr(xy["similarity"].rank(), xy[measure].rank()),
                            "pearson": _corr(xy["similarity"], xy[measure])})
    return pd.DataFrame(out, columns=["task", "kind", "noise", "family", "measure", "n", "compositions", "spearman",
                                      "pearson"])


def _corr(x, y) -> float:
    """Pearson's r; NaN when fewer than 3 points or either side is constant (r is undefined)."""
    if len(x) < 3 or x.nunique() < 2 or y.nunique() < 2:
        return math.nan
    return float(x.corr(y))


def similarity_for(tasks: Iterable[tuple[str, str]], backbone, examples: int | None = None, data_dir=None) -> dict:
    """{(intermediate, target): similarity} computed with ``backbone`` for the given pairs."""
    from . import similarity as S
    from .tasks import get_task

    kw = {"examples": examples} if examples else {}
    out = {}
    for a, b in dict.fromkeys(tasks):
        if "train" not in get_task(a).splits or "train" not in get_task(b).splits:
            out[(a, b)] = math.nan  # a retrieval target has no training inputs; left out of correlations
        else:
            out[(a, b)] = S.similarity(a, b, backbone, data_dir=data_dir, **kw)
    return out


def pairs_in(rows) -> list[tuple[str, str]]:
    """The (intermediate, target) pairs used by the compositions among ``rows``."""
    import pandas as pd

    df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    out = []
    for c in dict.fromkeys(df["composition"]):
        comp = Composition.parse(c)
        out += [(i, comp.target) for i in comp.intermediates]
    return list(dict.fromkeys(out))
