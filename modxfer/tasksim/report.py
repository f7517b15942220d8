"""The report section "which similarity predicts transfer, and which predicts robustness" (markdown, heatmaps)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..errors import ModxferError
from .matrix import SimilarityMatrix

TITLE = "## Which similarity predicts transfer, and which predicts robustness"
OUTCOME_NAMES = {"clean_gain": "clean gain over the target-only baseline", "noisy_score": "score under noise",
                 "robustness_gain": "robustness gain (baseline's degradation minus the composition's)"}
DAGGER = "†"


def report_section(results, run_dir=None, out_dir=None, *, measures=None, base=None, data_dir=None, settings=None,
                   train=None, store=None, kind: str | None = None, n_resamples: int = 500, seed: int = 0,
                   confidence_level: float = 0.95, matrices: dict | None = None) -> tuple[str, dict]:
    """Markdown and data for the section; one heatmap per measure in ``out_dir`` (default ``RUN_DIR/report``).

    ``results`` are evaluation rows (``modxfer.sweeps.load_results``; loaded from ``run_dir`` when None). The
    backbone, data and training settings default to the run's. Measures default to the training-free ones;
    a measure that cannot be computed is reported as skipped, not raised. ``matrices`` ({measure: SimilarityMatrix},
    e.g. a results bundle's) are used as given instead of computing them.
    """
    from .. import similarity as S
    from ..selection import evaluate, outcomes
    from .selecting import agreement

    ctx = _context(run_dir, results)
    results = ctx["results"] if results is None else results
    outs, kind = _outcomes(outcomes, results, kind)
    if outs is None:
        text = (f"{TITLE}\n\nNo composition with a single intermediate task and its baseline in these results, so "
                "there is no ranking of intermediates to score.\n")
        return text, {"skipped": "no single-intermediate compositions with baselines"}
    inter = list(dict.fromkeys(outs["intermediate"]))
    targets, no_train = _targets(outs)
    out_dir = Path(out_dir) if out_dir is not None else (Path(run_dir) / "report" if run_dir else None)
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
    ev = evaluate(results, matrices, kind=kind, n_resamples=n_resamples, seed=seed, confidence_level=confidence_level)
    plots = {m: heatmap(mat, out_dir / f"similarity_{m}.png").name for m, mat in matrices.items()} if out_dir else {}
    agree = agreement(matrices)
    sep = {m: {"all": mat.separation(), "without_same_source": mat.separation(exclude_same_source=True)}
           for m, mat in matrices.items()}
    md = _markdown(ev, matrices, plots, agree, sep, skipped, no_train, kind, confidence_level)
    data = {"kind": kind, "intermediates": inter, "targets": targets, "targets_without_training_data": no_train,
            "measures": {m: mat.to_dict(replicates=False) for m, mat in matrices.items()}, "skipped": skipped,
            "selection": ev.to_dict(), "agreement": {a: {b: _num(agree.loc[a, b]) for b in agree.columns}
                                                     for a in agree.index},
            "separation": sep, "plots": plots}
    return md, data


def _context(run_dir, results) -> dict:
    if run_dir is None:
        return {}
    from .runinfo import run_context

    try:
        return run_context(run_dir)
    except ModxferError:
        if results is None:
            raise
        return {}


def _outcomes(outcomes, results, kind):
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
    """One measure's matrix: values written in the cells, same-source pairs hatched and marked with a dagger."""
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
            text = f"{v:.2f}" + (f"\n±{se[i, j]:.2f}" if se[i, j] > 0 else "") + (DAGGER if mask[i, j] else "")
            ax.text(j, i, text, ha="center", va="center", fontsize=8, color="white" if dark else "black")
            if mask[i, j]:
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="//", edgecolor="0.5", lw=0))
    ax.set_xticks(range(nt), m.targets, rotation=45, ha="right")
    ax.set_yticks(range(ni), m.intermediates)
    ax.set(xlabel="target", ylabel="intermediate")
    n = m.card.get("examples")
    ax.set_title(f"{m.measure}\n{n} training inputs per task; ± bootstrap SE; {DAGGER} hatched: same data source",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    return path


# ------------------------------------------------------------------------------------------ markdown
def _ci(v, lo, hi, pct=False) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    f = (lambda x: f"{x:.1f}") if pct else (lambda x: f"{x:.2f}")
    if lo is None or (isinstance(lo, float) and math.isnan(lo)):
        return f(v)
    return f"{f(v)} [{f(lo)}, {f(hi)}]"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows]) + "\n"


def _selection_rows(t, measures, ks, label=None) -> list[list[str]]:
    rows = []
    for m in measures:
        sub = t[t["measure"] == m].set_index("k")
        if sub.empty:
            continue
        cells = [_ci(sub.loc[k, "ndcg"], sub.loc[k, "ndcg_low"], sub.loc[k, "ndcg_high"]) if k in sub.index else "-"
                 for k in ks]
        cells += [_ci(sub.loc[k, "regret"], sub.loc[k, "regret_low"], sub.loc[k, "regret_high"], pct=True)
                  if k in sub.index else "-" for k in ks]
        rows.append(([label] if label is not None else []) + [f"`{m}`" if m not in ("random", "oracle") else m]
                    + cells)
    return rows


def _markdown(ev, matrices, plots, agree, sep, skipped, no_train, kind, level) -> str:
    t = ev.table
    ks = sorted(set(t["k"]))
    order = [*matrices, "random", "oracle"]
    head = [*(f"NDCG@{k}" for k in ks), *(f"Regret@{k} (%)" for k in ks)]
    pct = f"{int(level * 100)}%"
    parts = [TITLE + "\n",
             f"Each measure ranks the intermediates of every `{kind}` composition for its target; the ranking is "
             "scored against what was measured (Poth et al. 2021): NDCG@k (relevance = the outcome shifted so the "
             "worst candidate is 0, log2 discount) and Regret@k (best outcome minus the best among the top k, in "
             "percent of the best score). `random` is the exact expectation of a random ranking, `oracle` the "
             f"measured order. Means over targets; {pct} intervals resample each target's languages. "
             f"{DAGGER} marks pairs whose data share a source (e.g. mnli/xnli): their similarity measures shared "
             "data, so results are also given without them.\n"]
    if no_train:
        parts.append(f"Targets without training data (no similarity defined): {', '.join(no_train)}.\n")
    if skipped:
        parts.append("Measures not computed: " + "; ".join(f"`{m}` ({why})" for m, why in skipped.items()) + ".\n")
    parts.append("### The measures\n")
    rows = []
    for m, mat in matrices.items():
        s, s2 = sep[m]["all"], sep[m]["without_same_source"]
        rows.append([f"`{m}`", str(mat.card.get("examples", "-")), _sep(s), _sep(s2)])
    parts.append(_table(["measure", "inputs per task", "most vs least similar pair (separation in SEs)",
                         f"same, without {DAGGER} pairs"], rows))
    parts += [f"![{m}]({p})\n" for m, p in plots.items()]
    for outcome in [o for o in OUTCOME_NAMES if o in set(t["outcome"])]:
        parts.append(f"### Selection by {OUTCOME_NAMES[outcome]}\n")
        for ss, label in (("with", "all candidates"), ("without", f"without {DAGGER} same-source pairs")):
            sub = ev.summary(outcome, same_source=ss)
            if not sub.empty:
                parts.append(f"Mean over targets, all languages, {label}:\n")
                parts.append(_table(["measure", *head], _selection_rows(sub, order, ks)))
        fam = t[(t["outcome"] == outcome) & (t["target"] == "mean") & (t["scope_kind"] == "family")
                & (t["same_source"] == "with")]
        if not fam.empty:
            rows = [r for f in sorted(set(fam["scope"]))
                    for r in _selection_rows(fam[fam["scope"] == f], [*matrices, "random"], ks, label=f)]
            parts.append("<details><summary>Per language family (mean over targets with languages in the "
                         "family)</summary>\n\n" + _table(["family", "measure", *head], rows) + "\n</details>\n")
    parts.append(_correlations(ev.correlations))
    parts.append("### Agreement between measures\n\nSpearman's rho between two measures over the "
                 "(intermediate, target) pairs:\n")
    parts.append(_table(["", *(f"`{c}`" for c in agree.columns)],
                        [[f"`{a}`", *(("-" if math.isnan(agree.loc[a, b]) else f"{agree.loc[a, b]:+.2f}")
                                      for b in agree.columns)] for a in agree.index]))
    return "\n".join(parts)


def _sep(s) -> str:
    if not s:
        return "-"
    r = "inf" if math.isinf(s["ratio"]) else ("-" if math.isnan(s["ratio"]) else f"{s['ratio']:.1f}")
    return (f"{s['max']:.3f} ({'/'.join(s['max_pair'])}) vs {s['min']:.3f} ({'/'.join(s['min_pair'])}): "
            f"{r}")


def _correlations(c) -> str:
    if c.empty:
        return ""
    sub = c[c["target"] == "all"]
    rows = [[f"`{r.measure}`", r.outcome, "with" if r.same_source == "with" else f"without {DAGGER}", str(r.n),
             _ci(r.spearman, r.spearman_low, r.spearman_high) + ("" if math.isnan(r.spearman_p) else
                                                                 f", p={r.spearman_p:.2g}"),
             _ci(r.kendall, r.kendall_low, r.kendall_high) + ("" if math.isnan(r.kendall_p) else
                                                               f", p={r.kendall_p:.2g}")]
            for r in sub.itertuples()]
    return ("### Correlation with the measured outcomes\n\nOne point per (intermediate, target) pair, the outcome "
            "averaged over the target's languages, all targets pooled:\n\n"
            + _table(["measure", "outcome", "pairs", "n", "Spearman", "Kendall"], rows))
