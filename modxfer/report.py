"""Tables for people: robustness summaries (``modxfer.noise.robustness.summarize``) as rich tables.

The analysis that relates degradation to task similarity per language family builds on the same summaries.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from .errors import ConfigError

LEVELS = ("family", "script", "all")


def degradation_grid(summary: dict, level: str = "family") -> list[dict]:
    """Per task: the language groups (family or script, then "all") with their language counts, and rows of
    (composition, noise setting, one group record or None per group). What both the rich and markdown tables show."""
    if level not in LEVELS:
        raise ConfigError(f"unknown grouping level {level!r}", f"use one of: {', '.join(LEVELS)}")
    recs = [g for g in summary["groups"] if g["kind"] == "noise" and g["level"] in (level, "all")]
    grids = []
    for task in dict.fromkeys(g["task"] for g in recs):
        part = [g for g in recs if g["task"] == task]
        groups = ([] if level == "all" else sorted({g["group"] for g in part if g["level"] == level})) + ["all"]
        cell = {(g["composition"], g["setting"], g["group"]): g for g in part}
        rows = [(comp, setting, [cell.get((comp, setting, grp)) for grp in groups])
                for comp, setting in dict.fromkeys((g["composition"], g["setting"]) for g in part)]
        counts = {grp: max((g["languages"] for g in part if g["group"] == grp), default=0) for grp in groups}
        grids.append({"task": task, "groups": groups, "languages": counts, "rows": rows})
    return grids


def degradation_table(summary: dict, level: str = "family", *, relative: bool = False, title: str | None = None):
    """One rich table per task: (composition,) noise setting down, groups of languages (family or script) across,
    mean degradation from clean in cells.

    Absolute degradation is in points of the task's metric (positive = the noise hurt); relative is a percentage
    of the clean score. Attack settings add their success rate in brackets.
    """
    from rich.table import Table

    value = "rel_degradation" if relative else "abs_degradation"
    tables = []
    for grid in degradation_grid(summary, level):
        comps = list(dict.fromkeys(comp for comp, _, _ in grid["rows"]))
        unit = "% of clean" if relative else "points"
        t = Table(title=title or f"{grid['task']}: degradation from clean by {level} ({unit}; \\[attack success rate])")
        if len(comps) > 1:
            t.add_column("composition", no_wrap=True)
        t.add_column("noise", no_wrap=True)
        for grp in grid["groups"]:
            t.add_column(f"{grp} ({grid['languages'][grp]})", justify="right", style="bold" if grp == "all" else None)
        for i, (comp, setting, cells) in enumerate(grid["rows"]):
            t.add_row(*([comp] if len(comps) > 1 else []), setting, *(_fmt(c, value, relative) for c in cells))
            if len(comps) > 1 and i + 1 < len(grid["rows"]) and grid["rows"][i + 1][0] != comp:
                t.add_section()
        tables.append(t)
    return tables


def _fmt(rec: dict | None, value: str, relative: bool) -> str:
    if rec is None or _missing(rec[value]):
        return "-"
    v = 100.0 * rec[value] if relative else rec[value]
    rate = rec.get("attack_success_rate")
    return f"{v:.1f}" + ("" if _missing(rate) else f" [{rate:.0f}%]")


def _missing(v) -> bool:
    """NaN in memory, null once written as JSON."""
    return v is None or (isinstance(v, float) and math.isnan(v))


# ------------------------------------------------------------------------------ the study report
def write_report(run_dir, out=None, *, similarity_examples: int | None = None, data_dir=None) -> Path:
    """Write ``RUN_DIR/report`` (or ``out``): report.md with tables and findings, plots, and report.json (the
    card saying how it was made, plus every number behind the tables). Written atomically: a failed report leaves
    no half-written folder."""
    import datetime

    import yaml

    from . import __version__
    from .analysis import analyse, pairs_in, similarity_for
    from .backbone import load_backbone
    from .errors import DataError
    from .io import atomic_dir, atomic_write_json, atomic_write_text, sha256_file
    from .noise.robustness import summarize
    from .sweeps.results import load_results
    from .similarity import EXAMPLES
    from .sweeps.store import DB_NAME, Store

    run_dir = Path(run_dir)
    with Store(run_dir) as store:
        config = yaml.safe_load(store.meta("config") or "{}") or {}
        name = store.meta("name") or run_dir.name
    df = load_results(run_dir)
    if df.empty:
        raise DataError(f"{run_dir} has no finished evaluation results yet",
                        f"run the sweep first (modxfer sweep run CONFIG), then report on {run_dir}")
    if data_dir is None and config.get("data_dir") and Path(str(config["data_dir"])).expanduser().is_dir():
        data_dir = Path(str(config["data_dir"])).expanduser()  # the run's own data, unless told otherwise
    bb = load_backbone(config.get("backbone", "embedded"))
    records = df.to_dict("records")
    robust = summarize(records)
    pairs = pairs_in(df)
    sims = similarity_for(pairs, bb, similarity_examples, data_dir) if pairs else {}
    analysis = analyse(df, sims) if pairs else None
    card = {"kind": "modxfer-report", "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "modxfer": __version__, "run_dir": str(run_dir.resolve()), "run_name": name,
            "results_db_sha256": sha256_file(run_dir / DB_NAME), "rows": len(df),
            "backbone": {"name": config.get("backbone", "embedded"), "model_id": bb.model_id,
                         "weights_hash": bb.weights_hash},
            "similarity": {"method": "cosine of mean sentence embeddings of English training inputs (TextEmb)",
                           "examples": similarity_examples or EXAMPLES},
            "config": config}
    out = Path(out) if out is not None else run_dir / "report"
    _check_replaceable(out)
    with atomic_dir(out) as tmp:
        plots = _plots(tmp, df, robust, analysis)
        atomic_write_text(tmp / "report.md", _markdown(card, df, robust, analysis, sims, plots))
        atomic_write_json(tmp / "report.json", {"card": card, "robustness": robust,
                                                "analysis": analysis.to_dict() if analysis else None})
    return out


def _check_replaceable(out: Path) -> None:
    """A report replaces a previous report, never another folder's contents."""
    if not out.exists():
        return
    previous = out / "report.json"
    try:
        ok = out.is_dir() and (not any(out.iterdir()) or
                               json.loads(previous.read_text(encoding="utf-8"))["card"]["kind"] == "modxfer-report")
    except (OSError, ValueError, KeyError, TypeError):
        ok = False
    if not ok:
        raise ConfigError(f"{out} exists and does not hold a previous modxfer report",
                          "pass --out with a new folder (or one written by `modxfer report`)")


def _md(headers: list[str], rows: list[list], digits: dict[str, int] | None = None) -> str:
    """A markdown table; floats with one decimal unless ``digits`` names the column."""
    digits = digits or {}

    def cell(v, h):
        if isinstance(v, float):
            return "-" if math.isnan(v) else f"{v:.{digits.get(h, 1)}f}"
        return str(v)
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v, h) for v, h in zip(r, headers)) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _markdown(card, df, robust, analysis, sims, plots) -> str:
    b = card["backbone"]
    parts = [f"# {card['run_name']}: intermediate-task transfer and robustness\n",
             f"Run `{card['run_dir']}` ({card['rows']} result rows, sweep.db sha256 `{card['results_db_sha256'][:16]}`), "
             f"backbone `{b['model_id']}` (weights `{b['weights_hash'][:12]}`), modxfer {card['modxfer']}, "
             f"written {card['created']}. Everything below is recomputed from the run by `modxfer report`; "
             f"`report.json` holds every number.\n"]
    if analysis is not None:
        parts.append("## Findings\n")
        parts += [f"- {line}" for line in _findings(df, analysis)]
        parts.append("")
    for task, part in df.groupby("task", sort=False):
        metric = part["metric"].iloc[0]
        clean = part[part["noise"] == "clean"]
        langs = list(dict.fromkeys(clean["lang"]))
        table = clean.groupby(["composition", "lang"])["score"].mean()
        rows = []
        for comp in dict.fromkeys(clean["composition"]):
            vals = [table.get((comp, lang), math.nan) for lang in langs]
            rows.append([f"`{comp}`", *vals, sum(vals) / len(vals)])
        parts.append(f"## {task}: clean {metric} by language (zero-shot, mean over seeds)\n")
        parts.append(_md(["composition", *langs, "avg"], rows))
    if sims:
        inters = list(dict.fromkeys(a for a, _ in sims))
        targets = list(dict.fromkeys(t for _, t in sims))
        parts.append("## Task similarity (cosine of task embeddings)\n")
        parts.append(_md(["intermediate", *targets], [[i, *(sims.get((i, t), math.nan) for t in targets)]
                                                      for i in inters], {t: 3 for t in targets}))
    if analysis is not None:
        fam = analysis.by_family
        clean = fam[fam["noise"] == "clean"]
        for task, part in clean.groupby("task", sort=False):
            fams = sorted(set(part["family"]))
            parts.append(f"## {task}: gain over the baseline without intermediates, by language family (points)\n")
            g = part.set_index(["composition", "family"])["gain"]
            rows = [[f"`{c}`", part[part["composition"] == c]["similarity"].iloc[0],
                     *(g.get((c, f), math.nan) for f in fams)] for c in dict.fromkeys(part["composition"])]
            parts.append(_md(["composition", "similarity", *fams], rows, {"similarity": 3}))
    for grid in degradation_grid(robust, "family"):
        parts.append(f"## Degradation from clean by language family: {grid['task']} (points; mean over languages)\n")
        parts.append(_md(["composition", "noise", *(f"{g} ({grid['languages'][g]})" for g in grid["groups"])],
                         [[f"`{comp}`", setting, *(c["abs_degradation"] if c else math.nan for c in cells)]
                          for comp, setting, cells in grid["rows"]]))
    if analysis is not None and not analysis.correlations.empty:
        corr = analysis.correlations
        parts.append("## Similarity vs gain and robustness (Spearman's rho over composition x language points)\n")
        parts.append("Positive rho for `gain` or `robustness_gain`: more similar intermediate tasks help more; "
                     "positive rho for `degradation`: they leave the model more fragile. Small n: read as a "
                     "direction, not a test.\n")
        parts.append(_md(["task", "kind", "noise", "family", "measure", "n", "rho", "r"],
                         [[r.task, r.kind, r.noise, r.family, r.measure, r.n, r.spearman, r.pearson]
                          for r in corr.itertuples()], {"rho": 2, "r": 2}))
    for title, fname in plots:
        parts.append(f"## {title}\n\n![{title}]({fname})\n")
    return "\n".join(parts)


def _findings(df, analysis) -> list[str]:
    lines = []
    clean = df[df["noise"] == "clean"]
    for task, part in clean.groupby("task", sort=False):
        means = part.groupby("composition")["score"].mean().sort_values(ascending=False)
        pts = analysis.points
        gains = pts[(pts["task"] == task) & (pts["noise"] == "clean")].groupby("composition")["gain"].mean()
        best = gains.idxmax() if not gains.dropna().empty else None
        line = f"{task}: best clean average `{means.index[0]}` ({means.iloc[0]:.1f})"
        if best is not None:
            line += (f"; largest gain over its baseline `{best}` ({gains[best]:+.1f} points); "
                     f"{int((gains > 0).sum())} of {int(gains.notna().sum())} compositions with intermediates gain")
        lines.append(line + ".")
    corr = analysis.correlations
    if corr.empty:
        lines.append("No composition kind has two intermediates with different similarities to correlate.")
        return lines
    allf = corr[(corr["family"] == "all") & (corr["kind"] == "stack")]
    for r in allf.itertuples():
        if r.measure in ("gain", "robustness_gain") and not math.isnan(r.spearman):
            what = "transfer gain" if r.measure == "gain" else f"robustness gain under {r.noise}"
            lines.append(f"{r.task}, stacked adapters: similarity vs {what}: rho {r.spearman:+.2f} (n={r.n}).")
    return lines


def _plots(out, df, robust, analysis) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = []
    if analysis is not None:
        fam = analysis.by_family
        tasks = list(dict.fromkeys(fam["task"]))
        families = sorted(set(fam["family"]))
        colors = {f: plt.cm.tab10(i % 10) for i, f in enumerate(families)}
        markers = {"stack": "o", "fusion": "s", "full": "^"}
        for measure, fname, title in (("gain", "similarity_gain.png", "Similarity vs transfer gain"),
                                      ("robustness_gain", "similarity_robustness.png",
                                       "Similarity vs robustness gain (mean over noise settings)")):
            sub = fam[fam["noise"] == "clean"] if measure == "gain" else fam[fam["noise"] != "clean"]
            if sub.empty:
                continue
            sub = sub.groupby(["task", "composition", "kind", "similarity", "family"], sort=False)[measure].mean().reset_index()
            fig, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 4), squeeze=False)
            for ax, task in zip(axes[0], tasks):
                part = sub[sub["task"] == task]
                for r in part.itertuples():
                    ax.scatter(r.similarity, getattr(r, measure), color=colors[r.family], marker=markers.get(r.kind, "o"))
                for comp, cp in part.groupby("composition"):
                    ax.annotate(comp, (cp["similarity"].iloc[0], cp[measure].max()), fontsize=7)
                ax.axhline(0, color="grey", lw=0.5)
                ax.set(title=task, xlabel="task similarity", ylabel=f"{measure} (points)")
            handles = [plt.Line2D([], [], color=colors[f], marker="o", ls="", label=f) for f in families]
            fig.legend(handles=handles, loc="lower center", ncol=min(len(families), 6), fontsize=8)
            fig.suptitle(title)
            fig.tight_layout(rect=(0, 0.08, 1, 0.95))
            fig.savefig(out / fname, dpi=110)
            plt.close(fig)
            made.append((title, fname))
    groups = [g for g in robust["groups"] if g["kind"] == "noise" and g["level"] == "family"]
    if groups:
        import pandas as pd

        g = pd.DataFrame(groups).groupby(["task", "setting", "group"])["abs_degradation"].mean().unstack("group")
        fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(g)), 4))
        g.plot.bar(ax=ax)
        ax.set(ylabel="degradation (points, mean over compositions)", xlabel="")
        ax.axhline(0, color="grey", lw=0.5)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / "degradation_by_family.png", dpi=110)
        plt.close(fig)
        made.append(("Degradation by noise setting and language family", "degradation_by_family.png"))
    return made
