"""The study report's plots: every point and bar with its 95% CI as an error bar, labels that fit (saved with a tight
bounding box, long tick labels rotated, legends outside the axes)."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .. import stats as S

MARKERS = {"stack": "o", "fusion": "s", "full": "^"}


def _errorbar(ax, x, rec, **kw) -> None:
    est, low, high = rec["estimate"], rec["low"], rec["high"]
    yerr = None if not (math.isfinite(low) and math.isfinite(high)) else [[est - low], [high - est]]
    ax.errorbar([x], [est], yerr=yerr, capsize=3, ls="", **kw)


LABEL_OFFSETS = [(5, 4), (5, -11), (5, 14), (5, -21), (-5, 4), (-5, -11), (5, 24), (5, -31), (-5, 14), (-5, -21),
                 (5, 34), (5, -41)]  # points from the marker: beside it first, then stepped up and down


def _changed_nothing(part) -> bool:
    """Every record of a panel was measured under noise that changed no example (realised rate 0)."""
    if part.empty or "changed_nothing" not in part:
        return False
    return bool(part["changed_nothing"].map(lambda v: v is True or v is np.True_).all())


def _annotate(ax, x, y, text, dx, dy, leader: bool = False):
    return ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", fontsize=8,
                       ha="left" if dx > 0 else "right", va="bottom",
                       arrowprops={"arrowstyle": "-", "lw": 0.4, "color": "0.55", "shrinkA": 0, "shrinkB": 3}
                       if leader else None)


def _place_labels(ax, items, renderer) -> None:
    """Annotate points so that no two labels overlap: each label takes the first offset in ``LABEL_OFFSETS``
    whose box clears the labels already placed (a simple adjustText); far offsets get a leader line."""
    placed = []
    for x, y, text in sorted(items, key=lambda it: (it[0], -it[1])):
        for k, (dx, dy) in enumerate(LABEL_OFFSETS):
            ann = _annotate(ax, x, y, text, dx, dy)  # measured without a leader: its box is the text's
            box = ann.get_window_extent(renderer).padded(1)
            if k == len(LABEL_OFFSETS) - 1 or not any(box.overlaps(other) for other in placed):
                break
            ann.remove()
        if abs(dy) > 14:
            ann.remove()
            _annotate(ax, x, y, text, dx, dy, leader=True)
        placed.append(box)


def similarity_figure(analysis, measure: str, title: str):
    """The figure of ``measure`` (zero-shot mean, with 95% CIs) against similarity, one panel per (noise, task);
    None when there is nothing to plot. Panels of noise that changed nothing say so instead of drawing a flat line."""
    import matplotlib.pyplot as plt

    from ..analysis.correlate import is_same_source

    t = analysis.table
    sub = t[(t["measure"] == measure) & (t["level"] == "zero-shot") & t["similarity"].notna()]
    if measure == "gain":
        sub = sub[sub["noise"] == "clean"]
    if sub.empty:
        return None
    tasks = list(dict.fromkeys(sub["task"]))
    panel = lambda noise, task: sub[(sub["task"] == task) & (sub["noise"] == noise)]  # noqa: E731
    # A noise row whose every panel changed nothing carries no information: left out, and said so below.
    noises = [n for n in dict.fromkeys(sub["noise"])
              if not all(_changed_nothing(panel(n, task)) for task in tasks if not panel(n, task).empty)]
    skipped = [n for n in dict.fromkeys(sub["noise"]) if n not in noises]
    if not noises:
        return None
    fig, axes = plt.subplots(len(noises), len(tasks), figsize=(5.2 * len(tasks), 3.8 * len(noises)), squeeze=False)
    labels = {}
    for i, noise in enumerate(noises):
        for j, task in enumerate(tasks):
            ax, part = axes[i][j], panel(noise, task)
            ax.set_title(f"{task}" + ("" if measure == "gain" else f", {noise}"), fontsize=10)
            if part.empty or _changed_nothing(part):
                ax.text(0.5, 0.5, "no comparison" if part.empty else "this noise changed nothing here\n"
                        "(realised rate 0): nothing to plot", ha="center", va="center", fontsize=9,
                        transform=ax.transAxes)
                ax.set_axis_off()
                continue
            labels[(i, j)] = []
            for r in part.to_dict("records"):
                color = {"stack": "tab:blue", "fusion": "tab:green", "full": "tab:red"}.get(r["kind"], "tab:grey")
                learned = r["competence"] != "not learned" and r.get("baseline_competence") != "not learned"
                shared = any(is_same_source(inter, task) for inter in r["intermediates"].split(",") if inter)
                # Hollow marker and a dagger: a model in this comparison did not learn.
                _errorbar(ax, r["similarity"], r, marker=MARKERS.get(r["kind"], "o"), color=color,
                          markerfacecolor=color if learned else "white")
                inters = r["intermediates"].split(",")
                # A fusion's full name runs across the panel; its members are in the tables.
                text = f"fusion of {len(inters)}" if len(inters) > 2 else "+".join(inters)
                labels[(i, j)].append((r["similarity"], r["estimate"], text + (" (full)" if r["kind"] == "full" else "")
                                       + (" ‡" if shared else "") + (" ~" if r.get("near_chance") is True else "")
                                       + ("" if learned else " † did not learn")))
            ax.axhline(0, color="grey", lw=0.6)
            ax.set_xlabel("task similarity (cosine)", fontsize=9)
            ax.set_ylabel(f"{measure.replace('_', ' ')} (points, zero-shot mean)", fontsize=9)
            ax.tick_params(labelsize=8)
            ax.margins(x=0.25, y=0.15)
    handles = [plt.Line2D([], [], marker=m, ls="", color=c, label=k) for k, m, c in
               (("stack", "o", "tab:blue"), ("fusion (mean similarity)", "s", "tab:green"), ("full (STILTs)", "^", "tab:red"))]
    legend = fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=3, fontsize=8,
                        frameon=False)
    note = ("‡ intermediate and target share a data source (their similarity measures shared data); "
            "hollow marker, †: a model in the comparison did not learn"
            + ("; ~ a model compared is near chance on clean data (not tested)" if measure != "gain" else ""))
    if skipped:
        note += f"\nnot drawn, the noise changed nothing (realised rate 0): {', '.join(skipped)}"
    fig.suptitle(title + " (bars: 95% CI)", fontsize=11)
    fig.tight_layout()
    # The note goes under the legend, wherever the figure's height puts it; labels last: their boxes are measured
    # against the final layout.
    renderer = fig.canvas.get_renderer()
    below = legend.get_window_extent(renderer).transformed(fig.transFigure.inverted()).y0
    fig.text(0.5, below - 0.01, note, ha="center", va="top", fontsize=8)
    for (i, j), items in labels.items():
        _place_labels(axes[i][j], items, renderer)
    return fig


def _similarity_plot(out: Path, analysis, measure: str, fname: str, title: str) -> tuple[str, str] | None:
    import matplotlib.pyplot as plt

    fig = similarity_figure(analysis, measure, title)
    if fig is None:
        return None
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
        if ax.get_legend_handles_labels()[0]:  # no bars when no model of this task learned
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

