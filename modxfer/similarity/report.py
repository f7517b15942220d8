"""The report section "which similarity predicts transfer, and which predicts robustness" (markdown, heatmaps)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..errors import ModxferError
from .ranks import SAME_SOURCE_MARK as MARK
from .matrix import SimilarityMatrix
from .report_text import TITLE, markdown


def report_section(results, run=None, out_dir=None, *, measures=None, base=None, data_dir=None, settings=None,
                   train=None, store=None, kind: str | None = None, n_resamples: int = 500, seed: int = 0,
                   confidence_level: float = 0.95, matrices: dict | None = None, analysis=None) -> tuple[str, dict]:
    """Markdown and data for the section; one heatmap per measure in ``out_dir`` (default ``RUN_DIR/report``).

    ``results`` are evaluation rows (``modxfer.sweeps.load_results``; the ``run`` context's when None: see
    ``modxfer.sweeps.runinfo.run_context``). The
    backbone, data and training settings default to the run's. Measures default to the training-free ones;
    a measure that cannot be computed is reported as skipped, not raised. ``matrices`` ({measure: SimilarityMatrix},
    e.g. a results bundle's) are used as given instead of computing them. ``analysis`` (the report's
    ``modxfer.analysis.Analysis`` of the same rows) supplies the outcomes' bootstrap replicates; without it they are
    computed here from the rows' per-example outcomes (see :func:`modxfer.similarity.selection.evaluate`).
    """
    from . import measures as S
    from .evaluating import evaluate
    from .ranks import excluded, outcomes
    from .correlating import agreement

    ctx = _context(run, results)
    results = ctx["results"] if results is None else results
    outs, kind = _outcomes(outcomes, results, kind)
    if outs is None:
        gone = [e for k in ([kind] if kind else ["stack", "full"]) for e in excluded(results, kind=k)]
        why = (" (" + "; ".join(f"`{e['composition']}`: {e['reason']}" for e in gone) + ")") if gone else ""
        text = (f"{TITLE}\n\nNo composition with a single intermediate task and its baseline, both from models that "
                f"learned, in these results{why}, so there is no ranking of intermediates to score.\n")
        return text, {"skipped": "no single-intermediate compositions with baselines", "excluded": gone}
    inter = list(dict.fromkeys(outs["intermediate"]))
    targets, no_train = _targets(outs)
    out_dir = Path(out_dir) if out_dir is not None else (Path(ctx["path"]) / "report" if ctx.get("path") else None)
    given, use_given = matrices or {}, matrices is not None
    matrices, skipped = {}, {}
    order = list(S.MEASURES) + sorted(set(given) - set(S.MEASURES))  # the same order however the matrices came
    for m in measures or (sorted(given, key=order.index) if use_given else S.TRAINING_FREE):
        if m in given:
            matrices[m] = given[m]
            continue
        try:
            matrices[m] = S.compute(m, inter, targets, base=base or ctx.get("base", "embedded"), settings=settings,
                                    data_dir=data_dir or ctx.get("data_dir"), store=store or ctx.get("store"),
                                    train=train or ctx.get("train"))
        except ModxferError as e:
            skipped[m] = e.problem
    if not matrices:
        return f"{TITLE}\n\nNo similarity measure could be computed: {skipped}\n", {"skipped": skipped}
    ev = evaluate(results, matrices, kind=kind, n_resamples=n_resamples, seed=seed, confidence_level=confidence_level,
                  analysis=analysis)
    plots = {m: heatmap(mat, out_dir / f"similarity_{m}.png").name for m, mat in matrices.items()} if out_dir else {}
    agree = agreement(matrices)
    sep = {m: {"all": mat.separation(), "without_same_source": mat.separation(exclude_same_source=True)}
           for m, mat in matrices.items()}
    md = markdown(ev, matrices, plots, agree, sep, skipped, no_train, kind, confidence_level)
    data = {"kind": kind, "intermediates": inter, "targets": targets, "targets_without_training_data": no_train,
            "measures": {m: mat.to_dict(replicates=False) for m, mat in matrices.items()}, "skipped": skipped,
            "selection": ev.to_dict(), "agreement": {a: {b: _num(agree.loc[a, b]) for b in agree.columns}
                                                     for a in agree.index},
            "separation": sep, "plots": plots, "same_source_mark": MARK}
    return md, data


def _context(run, results) -> dict:
    if run is None:
        return {}
    from .choosing import run_context_of

    return run_context_of(run)


def _outcomes(outcomes, results, kind):  # the first kind with any single-intermediate composition
    for k in ([kind] if kind else ["stack", "full"]):
        outs = outcomes(results, kind=k)
        if not outs.empty:
            return outs, k
    return None, kind


def _targets(outs) -> tuple[list[str], list[str]]:
    from ..tasks import get_task

    names = list(dict.fromkeys(outs["target"]))
    return [t for t in names if "train" in get_task(t).splits], [t for t in names if "train" not in get_task(t).splits]


def _num(v):
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


# ------------------------------------------------------------------------------------------ heatmap
def heatmap(m: SimilarityMatrix, path: Path) -> Path:
    """One measure's matrix: values written in the cells, same-source pairs hatched and marked with ``MARK``."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    path.parent.mkdir(parents=True, exist_ok=True)
    ni, nt = len(m.intermediates), len(m.targets)
    fig = Figure(figsize=(max(4.5, 1.0 * nt + 3), max(3.5, 0.5 * ni + 2)))
    ax = fig.add_subplot()
    vals = np.ma.masked_invalid(m.values)
    im = ax.imshow(vals, cmap="viridis", aspect="auto")
    fig.colorbar(im, ax=ax, label=m.measure)
    se, mask = m.se, m.same_source()
    lo, hi = np.nanmin(m.values), np.nanmax(m.values)
    for i in range(ni):
        for j in range(nt):
            v = m.values[i, j]
            if not np.isfinite(v):
                continue
            dark = (v - lo) / (hi - lo) < 0.6 if hi > lo else True
            text = f"{v:.2f}" + (f" {MARK}" if mask[i, j] else "") + (f"\n±{se[i, j]:.2f}" if se[i, j] > 0 else "")
            ax.text(j, i, text, ha="center", va="center", fontsize=8, color="white" if dark else "black")
            if mask[i, j]:
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="//", edgecolor="0.5", lw=0))
    ax.set_xticks(range(nt), m.targets, rotation=45, ha="right")
    ax.set_yticks(range(ni), m.intermediates)
    ax.set(xlabel="target", ylabel="intermediate")
    n = m.card.get("examples")
    ax.set_title(f"{m.measure}\n{n} training inputs per task; ± bootstrap SE; {MARK} hatched: same data source",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    return path
