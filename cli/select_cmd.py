"""`modxfer select`: the intermediate tasks ranked for a target, with measured outcomes and regret from a run."""

from __future__ import annotations

import math

import click
from rich.console import Console
from rich.table import Table

from .options import data_dir_option
from .report_cmd import MEASURE_CHOICES, reference_line


@click.command("select")
@click.argument("target")
@click.option("--by", "measure", type=click.Choice([m for m in MEASURE_CHOICES if m not in ("all", "training-free")]),
              default="textemb", show_default=True, help="Similarity measure that ranks the intermediates.")
@click.option("--lang", default=None, help="Outcomes in this language only (default: averaged over the run's).")
@click.option("--run", "run_dir", type=click.Path(file_okay=False), default=None,
              help="A sweep's run folder: print each intermediate's measured outcomes and the ranking's regret.")
@click.option("--intermediates", default=None,
              help="Comma-separated candidates (default: the run's, else every intermediate task with data).")
@click.option("--exclude-same-source", is_flag=True,
              help="Leave out intermediates whose data share the target's source.")
@click.option("--kind", type=click.Choice(["stack", "full"]), default="stack", show_default=True,
              help="Which run compositions give the outcomes: a>t stacks or full:a>t (STILTs).")
@click.option("--base", default=None, help="Backbone (default: the run's, else embedded).")
@click.option("--examples", type=click.IntRange(8), default=256, show_default=True,
              help="English training inputs sampled per task.")
@click.option("--resamples", type=click.IntRange(0), default=200, show_default=True,
              help="Bootstrap resamples for the similarity intervals (0: none).")
@data_dir_option
def select(target, measure, lang, run_dir, intermediates, exclude_same_source, kind, base, examples, resamples,
           data_dir):
    """Rank intermediate tasks for TARGET by similarity; with --run, what each did and what the ranking loses."""
    from modxfer.similarity.measures import MeasureSettings
    from modxfer.similarity.selection import select as run_select
    from modxfer.sweeps.runinfo import run_context

    cands = [x.strip() for x in intermediates.split(",") if x.strip()] if intermediates else None
    run = run_context(run_dir) if run_dir else None  # selection reads no run folder itself
    sel = run_select(target, by=measure, lang=lang, run=run, intermediates=cands, kind=kind, base=base,
                     exclude_same_source=exclude_same_source, data_dir=data_dir,
                     settings=MeasureSettings(examples=examples, n_resamples=resamples))
    Console().print(_ranking_table(sel, run_dir))
    if sel.matrix is not None and sel.matrix.card.get("reference"):
        click.echo(f"{sel.measure}: {reference_line(sel.matrix.card['reference'])}")
    for outcome, s in sel.scores.items():
        ks = sorted({int(k.split("@")[1]) for k in s})
        why = sel.undefined.get(outcome, {})
        regret = ", ".join(_undefined(why, f"regret@{k}") or f"Regret@{k} {_pct(s[f'regret@{k}'])} "
                           f"(random {_pct(s[f'random_regret@{k}'])})" for k in ks)
        ndcg = ", ".join(_undefined(why, f"ndcg@{k}") or f"NDCG@{k} {_num(s[f'ndcg@{k}'])} "
                         f"(random {_num(s[f'random_ndcg@{k}'])})" for k in ks)
        click.echo(f"{outcome}: {regret}; {ndcg}  (Regret in % of the best composition's score)")
    for item in sel.excluded:
        click.echo(f"left out (a model did not learn): {_excluded(item)}")


def _ranking_table(sel, run_dir):
    from modxfer.similarity.selection import SAME_SOURCE_MARK

    where = f" in {sel.lang}" if sel.lang else (" (mean over the run's languages)" if run_dir else "")
    t = Table(title=f"intermediates for {sel.target}, ranked by {sel.measure}{where}",
              caption=f"± bootstrap SE; {SAME_SOURCE_MARK} same data source as the target"
              + ("; outcomes in points" if run_dir else ""))
    for col in ("rank", "intermediate", "similarity"):
        t.add_column(col, justify="right" if col != "intermediate" else "left")
    outcomes = ("clean_gain", "noisy_score", "robustness_gain") if run_dir else ()
    for o in outcomes:
        t.add_column(o.replace("_", " "), justify="right")
    for r, row in enumerate(sel.ranking, 1):
        se = f" ±{row['se']:.3f}" if row["se"] > 0 else ""
        t.add_row(str(r), row["intermediate"] + (f" {SAME_SOURCE_MARK}" if row["same_source"] else ""), f"{row['similarity']:.3f}{se}",
                  *(_signed(row.get(o), o) for o in outcomes))
    return t


def _signed(v, outcome):
    if v is None or math.isnan(v):
        return "-"
    return f"{v:.1f}" if outcome == "noisy_score" else f"{v:+.1f}"


def _undefined(why: dict, key: str) -> str:
    """'Regret@3 n/a (reason)' where this many candidates cannot tell rankings apart; '' otherwise."""
    if key not in why:
        return ""
    name = key.replace("regret", "Regret").replace("ndcg", "NDCG")
    return f"{name} n/a ({why[key]})"


def _excluded(item) -> str:
    if isinstance(item, dict):
        return ", ".join(f"{k} {v}" for k, v in item.items())
    return str(item)


def _pct(v):
    return "-" if v is None or math.isnan(v) else f"{v:.1f}%"


def _num(v):
    return "-" if v is None or math.isnan(v) else f"{v:.2f}"
