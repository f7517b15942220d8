"""The study report's plots: every point and bar with its 95% CI as an error bar, labels that fit (saved with a tight
bounding box, long tick labels rotated, legends outside the axes)."""
from __future__ import annotations

import math
from pathlib import Path

from . import stats as S

MARKERS = {"stack": "o", "fusion": "s", "full": "^"}


def _errorbar(ax, x, rec, **kw) -> None:
    est, low, high = rec["estimate"], rec["low"], rec["high"]
    yerr = None if not (math.isfinite(low) and math.isfinite(high)) else [[est - low], [high - est]]
    ax.errorbar([x], [est], yerr=yerr, capsize=3, ls="", **kw)


def _similarity_plot(out: Path, analysis, measure: str, fname: str, title: str) -> tuple[str, str] | None:
    import matplotlib.pyplot as plt

    t = analysis.table
    sub = t[(t["measure"] == measure) & (t["level"] == "zero-shot") & t["similarity"].notna()]
    if measure == "gain":
        sub = sub[sub["noise"] == "clean"]
    if sub.empty:
        return None
    tasks = list(dict.fromkeys(sub["task"]))
    noises = list(dict.fromkeys(sub["noise"]))
    fig, axes = plt.subplots(len(noises), len(tasks), figsize=(5.2 * len(tasks), 3.8 * len(noises)), squeeze=False)
    for i, noise in enumerate(noises):
        for j, task in enumerate(tasks):
            ax = axes[i][j]
            part = sub[(sub["task"] == task) & (sub["noise"] == noise)]
            for r in part.to_dict("records"):
                color = {"stack": "tab:blue", "fusion": "tab:green", "full": "tab:red"}.get(r["kind"], "tab:grey")
                learned = r["competence"] != "not learned" and r.get("baseline_competence") != "not learned"
                # Hollow marker and a dagger: a model in this comparison did not learn.
                _errorbar(ax, r["similarity"], r, marker=MARKERS.get(r["kind"], "o"), color=color,
                          markerfacecolor=color if learned else "white")
                label = (r["intermediates"].replace(",", "+") + (" (full)" if r["kind"] == "full" else "")
                         + ("" if learned else " † did not learn"))
                # Below the point for STILTs: it often shares its stack twin's similarity and lands beside it.
                ax.annotate(label, (r["similarity"], r["estimate"]), xytext=(5, -11 if r["kind"] == "full" else 4),
                            textcoords="offset points", fontsize=8)
            ax.axhline(0, color="grey", lw=0.6)
            ax.set_title(f"{task}" + ("" if measure == "gain" else f", {noise}"), fontsize=10)
            ax.set_xlabel("task similarity (cosine)", fontsize=9)
            ax.set_ylabel(f"{measure.replace('_', ' ')} (points, zero-shot mean)", fontsize=9)
            ax.tick_params(labelsize=8)
            ax.margins(x=0.25, y=0.15)
    handles = [plt.Line2D([], [], marker=m, ls="", color=c, label=k) for k, m, c in
               (("stack", "o", "tab:blue"), ("fusion (mean similarity)", "s", "tab:green"), ("full (STILTs)", "^", "tab:red"))]
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=3, fontsize=8, frameon=False)
    fig.suptitle(title + " (bars: 95% CI)", fontsize=11)
    fig.tight_layout()
    fig.savefig(out / fname, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return title, fname


def _degradation_plot(out: Path, analysis) -> tuple[str, str] | None:
    """Per task: degradation under each noise setting by language family, averaged over compositions (the mean of
    their paired replicates, so the bars' CIs are the mean's)."""
    import matplotlib.pyplot as plt

    t = analysis.table
    sub = t[(t["measure"] == "degradation") & (t["level"].isin(["family", "zero-shot"]))]
    if sub.empty:
        return None
    tasks = list(dict.fromkeys(sub["task"]))
    fig, axes = plt.subplots(len(tasks), 1, figsize=(9, 3.6 * len(tasks)), squeeze=False)
    for ax, task in zip(axes[:, 0], tasks):
        part = sub[sub["task"] == task]
        noises = list(dict.fromkeys(part["noise"]))
        groups = sorted(set(part.loc[part["level"] == "family", "group"])) + ["all zero-shot"]
        width = 0.8 / len(groups)
        for k, grp in enumerate(groups):
            level, name = ("zero-shot", "all") if grp == "all zero-shot" else ("family", grp)
            for i, noise in enumerate(noises):
                sel = part[(part["level"] == level) & (part["group"] == name) & (part["noise"] == noise)]
                comps = sel.loc[sel["competence"] != "not learned", "composition"]  # models that learned (or unknown)
                ests = [analysis.estimate("degradation", task, c, noise, level, name) for c in comps]
                if not ests:
                    continue
                est = S.mean(ests)
                low, high = est.confidence_interval()
                rec = {"estimate": est.statistic, "low": low, "high": high}
                ax.bar(i + (k - (len(groups) - 1) / 2) * width, est.statistic, width, color=plt.cm.tab10(k % 10),
                       label=grp if i == 0 else None)
                _errorbar(ax, i + (k - (len(groups) - 1) / 2) * width, rec, color="black", elinewidth=0.8)
        ax.set_xticks(range(len(noises)))
        ax.set_xticklabels(noises, rotation=20, ha="right", fontsize=8)
        ax.axhline(0, color="grey", lw=0.6)
        ax.set_title(f"{task}: degradation from clean (mean over the compositions whose models learned; bars: 95% CI)",
                     fontsize=10)
        ax.set_ylabel("points (clean - noisy)", fontsize=9)
        ax.tick_params(axis="y", labelsize=8)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    fig.savefig(out / "degradation_by_family.png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return "Degradation by noise setting and language family", "degradation_by_family.png"


def make_plots(out: Path, analysis) -> list[tuple[str, str]]:
    """Write the plots into ``out``; (title, file name) of each written."""
    import matplotlib

    matplotlib.use("Agg")
    made = [_similarity_plot(out, analysis, "gain", "similarity_gain.png", "Similarity vs transfer gain"),
            _similarity_plot(out, analysis, "robustness_gain", "similarity_robustness.png",
                             "Similarity vs robustness gain"),
            _degradation_plot(out, analysis)]
    return [m for m in made if m is not None]

