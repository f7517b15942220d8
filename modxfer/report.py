"""Tables for people: robustness summaries (``modxfer.noise.robustness.summarize``) as rich tables, and the study
report of a sweep (``write_report``): every number with its 95% CI, findings only where a corrected test supports
them, and an evidence box saying what limits the run.
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
FLAGS = {"not learned": " †", "unknown": " ‡"}
LEGEND = ("Cells: estimate ±half the width of its 95% CI (paired bootstrap). † a model in it did not learn (its "
          "validation CI includes chance); ‡ competence unknown (card from an older modxfer); ~ the CI includes "
          "chance; ∅ the noise changed nothing there; (k) only k languages of the column have a value.")


def write_report(run_dir, out=None, *, similarity_examples: int | None = None, data_dir=None,
                 similarity: dict | None = None, n_resamples: int | None = None, seed: int | None = None,
                 correction: str = "holm") -> Path:
    """Write ``RUN_DIR/report`` (or ``out``): report.md with the evidence box, findings, tables and plots, and
    report.json (the card saying how it was made, the statistics' settings, and every number with its bounds).
    Written atomically: a failed report leaves no half-written folder.

    ``similarity`` ({(intermediate, target): value}) skips computing task similarity with the backbone;
    ``n_resamples`` (default 1000), ``seed`` (default 0) and ``correction`` ("holm" or "bh") set the statistics.
    """
    import datetime
    import time

    from . import __version__
    from . import stats as S
    from .analysis import analyse, pair_similarity, pairs_in, similarity_matrices
    from .errors import DataError
    from .io import atomic_dir, atomic_write_json, atomic_write_text, sha256_file
    from .noise.robustness import summarize
    from .report_plots import make_plots
    from .similarity import EXAMPLES
    from .provenance import source_commit
    from .sweeps.bundle import is_bundle, read_bundle, read_run
    from .sweeps.results import load_results
    from .sweeps.store import DB_NAME

    run_dir = Path(run_dir)
    bundle = read_bundle(run_dir) if is_bundle(run_dir) else None
    if bundle is not None:
        config, name, counts, artifacts, df = bundle.config, bundle.name, bundle.counts, bundle.artifacts, bundle.results
        source = {"bundle": name, "results_sha256": bundle.results_sha256,
                  "source": {"run": bundle.card.get("run_source"), "bundle": bundle.card.get("export_source")}}
    else:
        run = read_run(run_dir)
        config, name, counts, artifacts, run_source = (run["config"], run["name"], run["counts"], run["artifacts"],
                                                       run["source"])
        df = load_results(run_dir, outcomes=True)
        source = {"run_dir": str(run_dir.resolve()), "results_db_sha256": sha256_file(run_dir / DB_NAME),
                  "source": {"run": run_source, "report": source_commit()}}
    if df.empty:
        raise DataError(f"{run_dir} has no finished evaluation results yet",
                        f"run the sweep first (modxfer sweep run CONFIG), then report on {run_dir}")
    if data_dir is None and config.get("data_dir") and Path(str(config["data_dir"])).expanduser().is_dir():
        data_dir = Path(str(config["data_dir"])).expanduser()  # the run's own data, unless told otherwise
    backbone = {"name": config.get("backbone", "embedded"), "model_id": None, "weights_hash": None}
    pairs = pairs_in(df)
    matrices = None
    sim_examples = similarity_examples or EXAMPLES
    if bundle is not None and similarity is None:
        # measured when the bundle was written: no backbone needed, and the same numbers on every machine
        if similarity_examples and similarity_examples != bundle.card.get("similarity_examples"):
            raise ConfigError(f"{run_dir} holds similarity measured on {bundle.card.get('similarity_examples')} "
                              f"examples per task, not {similarity_examples}",
                              "leave out --similarity-examples, or export the bundle again with that number")
        matrices = bundle.similarity
        backbone.update(model_id=bundle.backbone.get("model_id"), weights_hash=bundle.backbone.get("weights_hash"))
        sim_examples = bundle.card.get("similarity_examples", sim_examples)
        similarity = pair_similarity(pairs, matrices.get("textemb"))
    elif similarity is None:
        from .backbone import load_backbone
        from .similarity import TRAINING_FREE

        bb = load_backbone(backbone["name"])
        backbone.update(model_id=bb.model_id, weights_hash=bb.weights_hash)
        # one set of matrices for the analysis and the selection section, as a bundle holds them
        matrices = similarity_matrices(pairs, bb, similarity_examples, data_dir, TRAINING_FREE)
        similarity = pair_similarity(pairs, matrices.get("textemb"))
    t0 = time.perf_counter()
    analysis = analyse(df, similarity, n_resamples=n_resamples or S.N_RESAMPLES, seed=S.SEED if seed is None else seed,
                       correction=correction, require_comparisons=False)
    seconds = time.perf_counter() - t0
    robust = summarize(df.drop(columns=["outcomes"]).to_dict("records"))
    card = {"kind": "modxfer-report", "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "modxfer": __version__, "run_name": name, **source, "rows": len(df), "backbone": backbone,
            "similarity": {"method": "TextEmb (Vu et al. 2020) with anisotropy correction: cosine of mean sentence embeddings of "
                                     "English training inputs, centred over the tasks compared"
                           if backbone["model_id"] else "given by the caller",
                           "examples": sim_examples},
            "statistics": dict(analysis.settings),
            # Durations, like `created`, differ from one writing to the next; everything else is reproducible.
            "timing": {"statistics_seconds": round(seconds, 3), "selection_seconds": None},
            "config": config}
    evidence = _evidence(df, analysis, artifacts, counts)
    out = Path(out) if out is not None else run_dir / "report"
    _check_replaceable(out)
    with atomic_dir(out) as tmp:
        t0 = time.perf_counter()
        selection = _selection_section(df, None if bundle else run_dir, tmp, data_dir=data_dir,
                                       base=backbone["name"], matrices=matrices)  # its heatmaps go with the report
        card["timing"]["selection_seconds"] = round(time.perf_counter() - t0, 3) if selection else None
        plots = make_plots(tmp, analysis)
        atomic_write_text(tmp / "report.md", _markdown(card, df, analysis, artifacts, evidence, similarity, plots,
                                                       selection))
        atomic_write_json(tmp / "report.json", {"card": card, "evidence": evidence, "competence": artifacts,
                                                "robustness": robust, "analysis": analysis.to_dict(),
                                                "selection": selection[1] if selection else None})
    return out


def _selection_section(df, run_dir, out_dir, data_dir=None, base=None, matrices=None) -> tuple[str, dict] | None:
    """The intermediate-task selection section (``modxfer.selection.report_section``)."""
    from . import selection

    return selection.report_section(df, run_dir, out_dir, data_dir=data_dir, base=base, matrices=matrices)


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


# ------------------------------------------------------------------------------------------ formatting
def _md(headers: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(v) for v in r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _pm(rec: dict | None, digits: int = 1, scale: float = 1.0, signed: bool = False) -> str:
    """``51.4 ±3.1`` (estimate ± half the CI width), ``51.4`` without a CI, ``-`` without a value."""
    if rec is None or _missing(rec.get("estimate")):
        return "-"
    est = rec["estimate"] * scale
    text = f"{est:+.{digits}f}" if signed else f"{est:.{digits}f}"
    low, high = rec.get("low"), rec.get("high")
    if not _missing(low) and not _missing(high):
        text += f" ±{(high - low) * scale / 2:.{digits}f}"
    return text


def _interval(rec, digits: int = 1) -> str:
    if _missing(rec.get("low")) or _missing(rec.get("high")):
        return f"{rec['estimate']:+.{digits}f} (no CI)"
    return f"{rec['estimate']:+.{digits}f} [{rec['low']:+.{digits}f}, {rec['high']:+.{digits}f}]"


def _p(p) -> str:
    if _missing(p):
        return "-"
    return "<0.0001" if p < 1e-4 else f"{p:.2g}" if p < 0.01 else f"{p:.3f}"


def _name(comp: str, competence: str | None) -> str:
    return f"`{comp}`" + FLAGS.get(competence or "", "")


def _index(table) -> dict:
    return {(r["measure"], r["task"], r["composition"], r["noise"], r["level"], r["group"]): r
            for r in table.to_dict("records")}


# ------------------------------------------------------------------------------------------ evidence
def _evidence(df, analysis, artifacts: list[dict], counts: dict) -> list[str]:
    """What limits this run's evidence: one line per limitation, plainly."""
    t, out = analysis.table, []
    st = analysis.settings
    if st["rows_with_outcomes"] == 0:
        out.append("This run kept no per-example outcomes (made before modxfer recorded them): scores are point "
                   "estimates without intervals, nothing is tested and no finding is stated. Rerun the sweep into a "
                   "new output folder to get them.")
    elif st["rows_with_outcomes"] < st["rows"]:
        out.append(f"Only {st['rows_with_outcomes']} of {st['rows']} result rows kept per-example outcomes; the "
                   "others have no intervals.")
    seeds = df.groupby(["task", "composition", "lang", "noise"])["seed"].nunique()
    if seeds.max() <= 1:
        out.append("One seed per model: intervals cover the sampling of test examples, not training randomness.")
    n_min, n_max = int(df["n"].min()), int(df["n"].max())
    if n_min < 200:
        clean = t[(t["measure"] == "score") & (t["level"] == "language") & (t["noise"] == "clean")]
        half = float(((clean["high"] - clean["low"]) / 2).median()) if clean["low"].notna().any() else float("nan")
        out.append(f"Cells hold {n_min}" + (f"-{n_max}" if n_max != n_min else "") + " examples (fewer than 200): "
                   f"one example moves a score by {100 / n_min:.1f} points"
                   + ("" if half != half else f"; a language's 95% CI is typically ±{half:.1f} points") + ".")
    for task, part in t[(t["level"] == "family") & (t["measure"] == "score")].groupby("task", sort=False):
        single = sorted(part.loc[part["languages"] <= 1, "group"].unique())
        if single:
            out.append(f"{task}: families with one zero-shot language, whose family mean is that language alone: "
                       f"{', '.join(single)}.")
    corr = analysis.correlations
    few = corr[corr["reason"].fillna("").str.startswith("too few pairs")]
    if not few.empty:
        shown = sorted({f"{r.task} ({r.kind}: {r.n_pairs})" for r in few.itertuples()})
        out.append(f"Fewer than 5 distinct (intermediate, target) pairs, so no correlation is computed for: "
                   f"{', '.join(shown)}. n counts distinct pairs, never pairs x languages.")
    ev = counts.get("eval", {})
    total, done = sum(ev.values()), ev.get("done", 0)
    if total and done < total:
        rest = ", ".join(f"{ev[s]} {s}" for s in ("failed", "blocked", "pending", "running") if ev.get(s))
        out.append(f"Unfinished grid: {done} of {total} evaluation cells done ({rest}); missing cells are left out.")
    bad = [a for a in artifacts if a["status"] == "not learned"]
    if bad:
        out.append("Models that did not learn (validation CI includes chance; flagged † and kept out of the tests): "
                   + "; ".join(f"{a['id']} ({_competence_text(a['competence'])})" for a in bad) + ".")
    unknown = [a["id"] for a in artifacts if a["status"] == "unknown"]
    if unknown:
        out.append(f"Competence unknown for {len(unknown)} trained model(s) (no validation check on the card, or "
                   f"not finished; flagged ‡): {', '.join(unknown[:8])}" + (" ..." if len(unknown) > 8 else "") + ".")
    near = t[(t["measure"] == "score") & (t["level"] == "zero-shot") & (t["noise"] == "clean")]
    near = near[near["near_chance"] == True] if "near_chance" in near else near.iloc[:0]  # noqa: E712
    if not near.empty:
        out.append("Near chance on clean zero-shot data (the CI includes chance; marked ~): "
                   + ", ".join(f"`{r.composition}` on {r.task}" for r in near.itertuples()) + ".")
    nothing = _changed_nothing(df)
    if nothing:
        out.append("Noise that changed nothing (realised rate 0; marked ∅ and not tested): "
                   + ", ".join(f"{noise} on {', '.join(langs)}" for noise, langs in nothing.items()) + ".")
    if analysis.notes:
        shown = analysis.notes[:6]
        out.append("Comparisons over what both sides have: " + "; ".join(shown)
                   + (f"; and {len(analysis.notes) - 6} more (report.json)" if len(analysis.notes) > 6 else "") + ".")
    return out


def _competence_text(c: dict | None) -> str:
    if not c:
        return "no check"
    low, high = c.get("ci", [float("nan")] * 2)
    return f"{c.get('metric', 'score')} {c.get('score', float('nan')):.1f} [{low:.1f}, {high:.1f}] vs chance " \
           f"{c.get('chance', float('nan')):.1f}, n={c.get('n')}"


def _changed_nothing(df) -> dict[str, list[str]]:
    if "noise_rate" not in df or df["noise_rate"].isna().all():
        return {}
    rates = df[df["noise"] != "clean"].groupby(["noise", "lang"], sort=False)["noise_rate"].max()
    out: dict[str, list[str]] = {}
    for (noise, lang), v in rates.items():
        if v == 0.0:
            out.setdefault(noise, []).append(lang)
    return out


# ------------------------------------------------------------------------------------------ markdown
def _markdown(card, df, analysis, artifacts, evidence, sims, plots, selection) -> str:
    b, st = card["backbone"], card["statistics"]
    parts = [f"# {card['run_name']}: intermediate-task transfer and robustness\n",
             (f"Run `{card['run_dir']}` ({card['rows']} result rows, sweep.db sha256 `{card['results_db_sha256'][:16]}`), "
              if "run_dir" in card else
              f"Results bundle of run `{card['bundle']}` ({card['rows']} result rows, results.parquet sha256 "
              f"`{card['results_sha256'][:16]}`), "),
             f"backbone `{b['model_id'] or b['name']}`" + (f" (weights `{b['weights_hash'][:12]}`)" if b["weights_hash"]
                                                           else "") +
             f", modxfer {card['modxfer']}, written {card['created']}. Recomputed from the run by `modxfer report`; "
             "`report.json` holds every number with its bounds.\n",
             "## Evidence\n",
             f"> **Method.** {st['method']}; B = {st['n_resamples']} resamples, seed {st['seed']}. Each gain, "
             f"degradation and robustness gain (zero-shot mean), correlation and interaction is tested and the "
             f"p-values are corrected together with {st['correction_name']}, alpha {st['alpha']}. English is reported "
             f"apart and {'included in' if st['include_english'] else 'left out of'} the zero-shot, family and "
             "script means.\n>"]
    parts += [f"> - {line}" for line in evidence] or ["> - Nothing limits this run beyond the sampling above."]
    parts.append("")
    parts += _findings(analysis)
    parts += _competence_section(artifacts)
    idx = _index(analysis.table)
    for task in dict.fromkeys(analysis.table["task"]):
        parts += _score_section(analysis, idx, task, df)
    if sims:
        parts += _similarity_section(sims)
    for task in dict.fromkeys(analysis.table["task"]):
        parts += _group_section(analysis, idx, task, "gain")
        parts += _group_section(analysis, idx, task, "degradation")
        parts += _group_section(analysis, idx, task, "robustness_gain")
    parts += _noise_rate_section(df)
    parts += _correlation_section(analysis)
    if selection:
        parts += [selection[0], ""]  # intermediate-task selection (modxfer.selection)
    for title, fname in plots:
        parts.append(f"## {title}\n\n![{title}]({fname})\n")
    return "\n".join(parts)


def _findings(analysis) -> list[str]:
    st, tests = analysis.settings, analysis.tests
    name = "Holm" if st["correction"] == "holm" else "Benjamini-Hochberg"
    out = [f"## Findings (surviving {name} correction over {int(tests['p_adjusted'].notna().sum())} tests, "
           f"alpha {st['alpha']})\n"]
    found = tests[tests["finding"]].sort_values("p_adjusted")
    for r in found.to_dict("records"):
        if r["kind"] in TEST_UNITS:
            out.append(f"- {r['task']}: {r['what']}: {_interval(r)} points (95% CI), corrected p = {_p(r['p_adjusted'])}, "
                       f"{int(r['languages'])} zero-shot languages.")
        elif r["kind"] == "correlation":
            out.append(f"- {r['task']}: {r['what']}: rho {_interval(r, 2)}, corrected p = {_p(r['p_adjusted'])}.")
        else:
            out.append(f"- {r['task']}: {r['what']}: the slope differs between families, corrected p = "
                       f"{_p(r['p_adjusted'])}.")
    if found.empty:
        out.append("- No comparison survives the correction: nothing here is a finding. The inconclusive list says how "
                   "large an effect this run could have detected.")
    out.append("")
    rest = tests[~tests["finding"] & tests["excluded"].isna()].sort_values("pvalue")
    if not rest.empty:
        out.append(f"### Inconclusive ({len(rest)})\n")
        out.append("MDE: the smallest true effect this run would detect with 80% power at alpha 0.05 (two-sided), "
                   "from its bootstrap SE.\n")
        out.append(_md(["task", "comparison", "estimate [95% CI]", "p", "corrected p", "MDE (points)"],
                       [[r["task"], r["what"], _interval(r, 2 if r["kind"] == "correlation" else 1), _p(r["pvalue"]),
                         _p(r["p_adjusted"]), "-" if _missing(r["mde"]) else f"{r['mde']:.1f}"]
                        for r in rest.to_dict("records")]))
    excluded = tests[tests["excluded"].notna()]
    if not excluded.empty:
        out.append(f"### Not tested ({len(excluded)})\n")
        out.append(_md(["task", "comparison", "estimate", "why"],
                       [[r["task"], r["what"], "-" if _missing(r["estimate"]) else f"{r['estimate']:+.2f}", r["excluded"]]
                        for r in excluded.to_dict("records")]))
    return out


TEST_UNITS = ("gain", "degradation", "robustness_gain")


def _competence_section(artifacts: list[dict]) -> list[str]:
    if not artifacts:
        return []
    rows = []
    for a in artifacts:
        c = a["competence"] or {}
        ci = c.get("ci") or [None, None]
        rows.append([a["id"], c.get("metric", "-"),
                     "-" if c.get("score") is None else f"{c['score']:.1f} [{ci[0]:.1f}, {ci[1]:.1f}]",
                     "-" if c.get("chance") is None else f"{c['chance']:.1f}", c.get("n", "-"),
                     "-" if a.get("examples") is None else f"{a['examples']} x {a.get('epochs') or 0:g}", a["status"]])
    return ["## Trained models: did they learn?\n",
            "Each model's score on a held-out English validation split of its own task, with its 95% CI; "
            "'not learned' when the CI includes chance. Budget: training examples x epochs.\n",
            _md(["model", "metric", "score [95% CI]", "chance", "n", "budget", "status"], rows)]


def _score_section(analysis, idx, task, df) -> list[str]:
    t = analysis.table
    part = t[(t["task"] == task) & (t["measure"] == "score") & (t["noise"] == "clean")]
    if part.empty:
        return []
    langs = list(dict.fromkeys(part.loc[part["level"] == "language", "group"]))
    english = [lang for lang in langs if lang == "en"]
    zero = [lang for lang in langs if lang != "en"]
    metric = df.loc[df["task"] == task, "metric"].iloc[0]
    rows = []
    for comp in dict.fromkeys(part["composition"]):
        rec = lambda level, group: idx.get(("score", task, comp, "clean", level, group))  # noqa: E731
        cells = []
        for lang in english + zero:
            r = rec("language", lang)
            cells.append(_pm(r) + (" ~" if r and r.get("near_chance") is True else ""))
        z = rec("zero-shot", "all")
        cells.append(_pm(z) + (" ~" if z and z.get("near_chance") is True else "") + _count(z, len(zero)))
        rows.append([_name(comp, part.loc[part["composition"] == comp, "competence"].iloc[0]), *cells])
    return [f"## {task}: clean {metric} by language\n",
            ("English (the training language) apart; " if english else "") + "zero-shot mean over "
            f"{len(zero)} languages. {LEGEND}\n",
            _md(["composition", *(f"{lang} (not zero-shot)" if lang == "en" else lang for lang in english), *zero,
                 "zero-shot mean"], rows)]


def _count(rec, expected: int) -> str:
    return "" if rec is None or rec["languages"] >= expected else f" ({rec['languages']})"


def _similarity_section(sims: dict) -> list[str]:
    inters = list(dict.fromkeys(a for a, _ in sims))
    targets = list(dict.fromkeys(t for _, t in sims))

    def cell(i, t):
        if (i, t) not in sims:
            return ""
        v = sims[(i, t)]
        return "n/a (no training data)" if _missing(v) else f"{v:.3f}"
    return ["## Task similarity (cosine of task embeddings)\n",
            "Targets without training data (retrieval) have no similarity: they are kept in every table and marked, "
            "and left out of correlations.\n",
            _md(["intermediate", *targets], [[i, *(cell(i, t) for t in targets)] for i in inters])]


TITLES = {"gain": "gain over the baseline without intermediates (points, clean)",
          "degradation": "degradation from clean (points; relative: share of the room above chance)",
          "robustness_gain": "robustness gain: the baseline's degradation minus the composition's (points)"}


def _group_section(analysis, idx, task, measure) -> list[str]:
    t = analysis.table
    part = t[(t["task"] == task) & (t["measure"] == measure)]
    if part.empty:
        return []
    fams = sorted(set(part.loc[part["level"] == "family", "group"]))
    counts = {f: int(part.loc[(part["level"] == "family") & (part["group"] == f), "languages"].max()) for f in fams}
    zero_n = int(part.loc[part["level"] == "zero-shot", "languages"].max()) if (part["level"] == "zero-shot").any() else 0
    has_en = bool(((part["level"] == "language") & (part["group"] == "en")).any())
    rows = []
    for comp, noise in dict.fromkeys(zip(part["composition"], part["noise"])):
        rec = lambda level, group, m=measure: idx.get((m, task, comp, noise, level, group))  # noqa: E731
        first = part[(part["composition"] == comp)].iloc[0]
        cells = [_name(comp, first["competence"])]
        if measure == "gain":
            cells.append("n/a (no training data)" if _missing(first["similarity"]) else f"{first['similarity']:.3f}")
        else:
            cells.append(noise)
        if measure == "degradation":
            z = rec("zero-shot", "all")
            rate = None if z is None else z.get("noise_rate")
            cells.append("-" if _missing(rate) else f"{100 * rate:.1f}%" + (" ∅" if z.get("changed_nothing") is True else ""))
        for f in fams:
            r = rec("family", f)
            cells.append(_pm(r, signed=True) + _count(r, counts[f]) + _nothing(r))
        z = rec("zero-shot", "all")
        cells.append(_pm(z, signed=True) + _count(z, zero_n))
        if measure == "degradation":
            rel = rec("zero-shot", "all", "rel_degradation")
            cells.append("-" if rel is None else "n/a (clean near chance)" if rel.get("room_includes_zero") is True
                         else _pm(rel, 0, 100.0) + "%")
        if has_en:
            cells.append(_pm(rec("language", "en"), signed=True))
        rows.append(cells)
    headers = ["composition", "similarity" if measure == "gain" else "noise"]
    if measure == "degradation":
        headers.append("chars changed")
    headers += [f"{f} ({counts[f]})" for f in fams] + [f"zero-shot ({zero_n})"]
    if measure == "degradation":
        headers.append("relative (zero-shot)")
    if has_en:
        headers.append("en (not zero-shot)")
    return [f"## {task}: {TITLES[measure]}, by language family\n",
            "Compared over the seeds and languages both sides have; family and zero-shot columns average languages "
            f"(each once; English apart). {LEGEND}\n", _md(headers, rows)]


def _nothing(rec) -> str:
    return " ∅" if rec is not None and rec.get("changed_nothing") is True else ""


def _noise_rate_section(df) -> list[str]:
    if "noise_rate" not in df or df["noise_rate"].isna().all():
        return []
    noisy = df[(df["noise"] != "clean") & df["noise_rate"].notna()]
    langs = list(dict.fromkeys(noisy["lang"]))
    chars = noisy.groupby(["noise", "lang"], sort=False)["noise_rate"].mean()
    words = noisy.groupby(["noise", "lang"], sort=False)["noise_words_rate"].mean() if "noise_words_rate" in noisy else {}
    rows = []
    for noise in dict.fromkeys(noisy["noise"]):
        cells = []
        for lang in langs:
            c = chars.get((noise, lang))
            w = words.get((noise, lang)) if len(words) else None
            if c is None or _missing(c):
                cells.append("-")
            else:
                cells.append(f"{100 * c:.1f}%" + ("" if w is None or _missing(w) else f" / {100 * w:.0f}%")
                             + (" ∅ changed nothing" if c == 0 else ""))
        rows.append([noise, *cells])
    return ["## Realised noise rate per language\n",
            "Share of characters / words the noise actually changed against the clean text (mean over the "
            "evaluated examples). A setting can change nothing in a script it has no edits for.\n",
            _md(["noise", *langs], rows)]


def _correlation_section(analysis) -> list[str]:
    corr, inter = analysis.correlations, analysis.interactions
    out = []
    if not corr.empty:
        rows = []
        for r in corr.to_dict("records"):
            reason = "" if _missing(r["reason"]) else str(r["reason"])
            rho = ("too few pairs" if reason.startswith("too few") else reason) if _missing(r["rho"]) else \
                _interval({"estimate": r["rho"], "low": r["low"], "high": r["high"]}, 2)
            rows.append([r["task"], r["kind"], r["measure"], r["noise"], r["n_pairs"], rho, _p(r["pvalue"]),
                         r["pairs"] + ("" if _missing(r["no_similarity"]) else f"; no similarity: {r['no_similarity']}")])
        out += ["## Similarity vs gain and robustness gain\n",
                "One point per distinct (intermediate, target) pair, its measure averaged over the zero-shot "
                "languages; n = distinct pairs. Pooled over targets, ranks are taken within each target. p: "
                "permutation test within targets (exact when the orderings are few; uncorrected here, corrected in "
                "the findings); CI: pairs and examples resampled. Fusions (several intermediates) are no single pair "
                "and are left out.\n",
                _md(["target", "kind", "measure", "noise", "n pairs", "rho [95% CI]", "p", "pairs"], rows)]
    if not inter.empty:
        rows = [[r["task"], r["kind"], r["measure"], r["noise"], r["languages"], r["families"],
                 ", ".join(f"{k} {v:+.1f}" for k, v in (r["slopes"] or {}).items()),
                 _p(r["pvalue"]) if _missing(r["reason"]) else r["reason"]] for r in inter.to_dict("records")]
        out += ["## Does the similarity slope differ between language families?\n",
                "Per language, the slope of the measure on similarity over its pairs; the test permutes family "
                "labels across languages (language is the unit). Families with one language cannot be told apart "
                "from that language.\n",
                _md(["target", "kind", "measure", "noise", "languages", "families", "mean slope per family",
                     "p (uncorrected) or why not"], rows)]
    return out
