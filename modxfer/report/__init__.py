"""Tables for people: robustness summaries (``modxfer.noise.robustness.summarize``) as rich tables, and the study
report of a sweep (``write_report``): every number with its 95% CI, findings only where a corrected test supports
them, and an evidence box saying what limits the run. The report's sections live in ``report_sections``, its
evidence box in ``report_evidence``, cell formatting and the legend's marks in ``report_format``, plots in
``report_plots``.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import ConfigError
from .format import SAME_SOURCE, missing as _missing

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


# ------------------------------------------------------------------------------ the study report
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

    from .. import __version__
    from .. import stats as S
    from ..analysis import analyse
    from ..similarity.pairs import pair_similarity, pairs_in, similarity_matrices
    from ..errors import DataError
    from ..io import atomic_dir, atomic_write_json, atomic_write_text, sha256_file
    from ..noise.robustness import summarize
    from . import evidence as report_evidence
    from .plots import make_plots
    from ..similarity.measures import EXAMPLES
    from ..store.provenance import source_commit
    from ..sweeps.bundle import is_bundle, read_bundle, read_run
    from ..sweeps.results import load_results, restate_competence
    from ..sweeps.store import DB_NAME

    run_dir = Path(run_dir)
    bundle = read_bundle(run_dir) if is_bundle(run_dir) else None
    if bundle is not None:
        config, name, counts, artifacts, df = bundle.config, bundle.name, bundle.counts, bundle.artifacts, bundle.results
        df, artifacts = restate_competence(df, artifacts)  # today's competence rule on the bundle's own records
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
        from ..model.backbone import load_backbone
        from ..similarity.measures import TRAINING_FREE

        bb = load_backbone(backbone["name"])
        backbone.update(model_id=bb.model_id, weights_hash=bb.weights_hash)
        # one set of matrices for the analysis and the selection section, as a bundle holds them
        matrices = similarity_matrices(pairs, bb, similarity_examples, data_dir, TRAINING_FREE)
        similarity = pair_similarity(pairs, matrices.get("textemb"))
    t0 = time.perf_counter()
    n_resamples, seed = n_resamples or S.N_RESAMPLES, S.SEED if seed is None else seed
    floors = task_floors(artifacts, list(dict.fromkeys(df["task"])), data_dir)
    analysis = analyse(df, similarity, n_resamples=n_resamples, seed=seed, correction=correction,
                       require_comparisons=False, floors={t: f for t, (f, _) in floors.items()})
    seconds = time.perf_counter() - t0
    robust = summarize(df.drop(columns=["outcomes"]).to_dict("records"))
    card = {"kind": "modxfer-report", "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "modxfer": __version__, "run_name": name, **source, "rows": len(df), "backbone": backbone,
            "similarity": {"method": "TextEmb (Vu et al. 2020) with anisotropy correction: cosine of mean sentence embeddings of "
                                     "English training inputs, centred on a fixed reference set of tasks "
                                     "(modxfer.similarity.reference), so a pair's value does not depend on the other "
                                     "tasks compared"
                           if backbone["model_id"] else "given by the caller",
                           "examples": sim_examples,
                           "reference": (getattr((matrices or {}).get("textemb"), "card", None) or {}).get("reference")},
            "statistics": {**analysis.settings, "floors": {t: {"floor": f, "method": how}
                                                           for t, (f, how) in floors.items()}},
            # Durations, like `created`, differ from one writing to the next; everything else is reproducible.
            "timing": {"statistics_seconds": round(seconds, 3), "selection_seconds": None},
            "config": config}
    evidence = report_evidence.evidence(df, analysis, artifacts, counts)
    out = Path(out) if out is not None else run_dir / "report"
    _check_replaceable(out)
    with atomic_dir(out) as tmp:
        t0 = time.perf_counter()
        selection = _selection_section(df, None if bundle else run_dir, tmp, data_dir=data_dir, base=backbone["name"],
                                       matrices=matrices, analysis=analysis, n_resamples=n_resamples,
                                       seed=seed)  # its heatmaps go with the report
        card["timing"]["selection_seconds"] = round(time.perf_counter() - t0, 3) if selection else None
        plots = make_plots(tmp, analysis)
        atomic_write_text(tmp / "report.md", _markdown(card, df, analysis, artifacts, evidence, similarity, plots,
                                                       selection))
        atomic_write_json(tmp / "report.json", {"card": card, "evidence": evidence, "competence": artifacts,
                                                "robustness": robust, "analysis": analysis.to_dict(),
                                                "selection": selection[1] if selection else None})
    return out


def task_floors(artifacts: list[dict], tasks: list[str], data_dir=None) -> dict[str, tuple[float, str]]:
    """{task: (competence floor, how it was found)} for relative degradation: the floor on the card of the task's
    target-only model; for a card that predates recorded floors (an F1 task), the floor measured now on the task's
    English validation split (seeded, as training measures it) when the data is here; else none (chance is used)."""
    from ..scoring.competence import floor, floor_of
    from ..errors import ModxferError
    from ..sweeps.results import artifact_name
    from ..tasks import get_task

    out = {}
    for task in tasks:
        records = [a["competence"] for a in artifacts
                   if artifact_name(a.get("id", ""))[0] == task and isinstance(a.get("competence"), dict)]
        recorded = [r for r in records if "floor" in r or "majority" in r]
        if recorded:
            out[task] = floor_of(recorded[0])  # the target-only model's; seeds share the validation split
            continue
        try:
            t = get_task(task)
            if t.head != "tagging" and t.head != "extractive_qa":
                continue  # chance (or the majority rate, recorded when there is one) needs no measuring
            rows = t.rows("validation", "en", data_dir=data_dir)
            refs = ({r["id"]: r["answers"] for r in rows} if t.head == "extractive_qa" else [r["tags"] for r in rows])
            bar = floor(t, rows, refs)
            out[task] = (float(bar["floor"]), f"measured on the English validation split: {bar['floor_method']}")
        except (ModxferError, OSError, KeyError):
            continue
    return out


def _selection_section(df, run_dir, out_dir, *, n_resamples: int, seed: int, data_dir=None, base=None, matrices=None,
                       analysis=None) -> tuple[str, dict] | None:
    """The intermediate-task selection section (``modxfer.similarity.selection.report_section``); it reuses the report's
    analysis for the outcomes' bootstrap replicates instead of recomputing it, with the report's resamples and seed."""
    from ..errors import ModxferError
    from ..similarity import selection
    from ..sweeps.runinfo import run_context

    try:  # the run's store, data and training settings, for measures that train or probe models
        run = run_context(run_dir) if run_dir is not None else None
    except ModxferError:
        run = None  # the rows given are enough for the section; model-based measures use their defaults
    return selection.report_section(df, run, out_dir, data_dir=data_dir, base=base, matrices=matrices,
                                    analysis=analysis, n_resamples=n_resamples, seed=seed)


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


# ------------------------------------------------------------------------------------------ markdown
def _method(st: dict) -> str:
    return (f"> **Method.** {st['method']}; B = {st['n_resamples']} resamples, seed {st['seed']}. "
            + (f"Standard errors and p-values: {st['se_method']}. " if st.get("se_method") else "")
            + "Each gain, "
            "degradation and robustness gain (zero-shot mean), correlation and interaction is tested and the "
            f"p-values are corrected together with {st['correction_name']}, alpha {st['alpha']}. Kept out of the "
            "family and listed under 'Not tested' with the reason: comparisons with a model that did not learn; "
            "degradations and robustness gains under noise that changed nothing; the degradation of a model, and any "
            "robustness gain involving a model, that is near chance on clean zero-shot data (its lower 95% bound does not clear the competence floor: "
            "it has no room to lose, so these comparisons are excluded rather than tested on relative degradation, "
            "which is undefined there); correlations with too few pairs; every test whose smallest attainable p is "
            "at or above the corrected threshold it would face (it could never pass, and would only lower the "
            "threshold for the others). Similarity "
            f"correlations and family interactions are computed with and without same-source pairs ({SAME_SOURCE}), "
            "and both enter the family. English is reported apart and "
            f"{'included in' if st['include_english'] else 'left out of'} the zero-shot, family and script means.\n>")


def _markdown(card, df, analysis, artifacts, evidence, sims, plots, selection) -> str:
    from . import sections as R
    from .format import index

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
             "## Evidence\n", _method(st)]
    parts += [f"> - {line}" for line in evidence] or ["> - Nothing limits this run beyond the sampling above."]
    parts.append("")
    parts += R.findings(analysis)
    parts += R.competence_section(artifacts, card["statistics"].get("floors"))
    idx = index(analysis.table)
    for task in dict.fromkeys(analysis.table["task"]):
        parts += R.score_section(analysis, idx, task, df)
    if sims:
        parts += R.similarity_section(sims)
    for task in dict.fromkeys(analysis.table["task"]):
        for measure in ("gain", "degradation", "robustness_gain"):
            parts += R.group_section(analysis, idx, task, measure)
    parts += R.noise_rate_section(df)
    parts += R.correlation_section(analysis)
    if selection:
        parts += [selection[0], ""]  # intermediate-task selection (modxfer.similarity.selection)
    for title, fname in plots:
        parts.append(f"## {title}\n\n![{title}]({fname})\n")
    return "\n".join(parts)


# The sections moved to report_sections/report_evidence; these names stay importable for existing callers.
from .evidence import competence_text as _competence_text  # noqa: E402,F401
from .sections import competence_section as _competence_section  # noqa: E402,F401
