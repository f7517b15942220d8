"""`modxfer report` (the study's tables, plots and findings) and `modxfer similarity` (task similarity)."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from .options import EPOCHS, SEED, data_dir_option

MEASURE_CHOICES = ["textemb", "textemb-raw", "textemb-whiten", "lexical", "taskemb", "cka", "cka-delta", "format",
                   "all", "training-free"]


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Report folder (default: RUN_DIR/report).")
@click.option("--similarity-examples", type=click.IntRange(8), default=None,
              help="Training inputs embedded per task for task similarity (default 256).")
@click.option("--resamples", type=click.IntRange(100, 100_000), default=1000, show_default=True,
              help="Bootstrap resamples for every confidence interval and p-value.")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True, help="Bootstrap seed.")
@click.option("--correction", type=click.Choice(["holm", "bh"]), default="holm", show_default=True,
              help="Multiple-comparison control over all the report's tests: Holm (family-wise) or "
                   "Benjamini-Hochberg (false discovery rate).")
@data_dir_option
def report(run_dir, out, similarity_examples, resamples, seed, correction, data_dir):
    """Write the report of a sweep: scores, gains over baselines, degradation by language family, task similarity
    and how it relates to transfer and robustness, each with its CI and corrected p, plots and a card saying how it
    was made."""
    from pathlib import Path

    from modxfer.io import check_writable
    from modxfer.report import write_report

    check_writable(out or Path(run_dir) / "report")  # before the minutes the statistics take
    path = write_report(run_dir, out, similarity_examples=similarity_examples, data_dir=data_dir,
                        n_resamples=resamples, seed=seed, correction=correction)
    click.echo(f"report: {path / 'report.md'}")


@click.command()
@click.argument("tasks", nargs=-1, required=True)
@click.option("--measure", "-m", "measures", type=click.Choice(MEASURE_CHOICES), multiple=True,
              default=("textemb",), show_default=True,
              help="Similarity measure (repeatable); 'all' for every one, 'training-free' for those that train "
                   "no adapters.")
@click.option("--targets", default=None,
              help="Comma-separated column tasks (default: the target tasks among TASKS; rows are the "
                   "intermediate tasks; a square matrix if either group is empty).")
@click.option("--base", default="embedded", show_default=True, help="Backbone the measures use.")
@click.option("--examples", type=click.IntRange(8), default=256, show_default=True,
              help="English training inputs sampled per task.")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of the bootstrap (and of the adapters).")
@click.option("--resamples", type=click.IntRange(0), default=200, show_default=True,
              help="Bootstrap resamples of the sampled inputs (0: no intervals).")
@click.option("--ci", is_flag=True, help="Print 95% bootstrap intervals in the cells (default: ± SE below the table).")
@click.option("--lang", default=None, help="cka only: probe sentences in this language (Tatoeba lexicon split).")
@click.option("--store", type=click.Path(file_okay=False), default=None,
              help="Artifact store for the adapters taskemb/cka train (default: $MODXFER_STORE).")
@click.option("--train-examples", type=click.IntRange(1), default=2000, show_default=True,
              help="taskemb/cka: training examples per adapter.")
@click.option("--train-epochs", type=EPOCHS, default=2.0, show_default=True, help="taskemb/cka: adapter epochs.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="Also write the matrices (values, SEs, intervals, cards) to this JSON file.")
@data_dir_option
def similarity(tasks, measures, targets, base, examples, seed, resamples, ci, lang, store, train_examples,
               train_epochs, json_path, data_dir):
    """Task similarity matrices (intermediates x targets) from English training inputs, with bootstrap
    uncertainty. Pairs whose data share a source (mnli/xnli, ...) are marked ‡ (as in the report, where † marks a model that did not learn)."""
    from modxfer.io import atomic_write_json, check_writable
    from modxfer.similarity.measures import MEASURES, TRAINING_FREE, MeasureSettings, check_request, compute

    if json_path:
        check_writable(json_path, file=True)
    from modxfer.tasks import get_task
    from modxfer.training import TrainSettings

    names = [get_task(t).name for t in dict.fromkeys(tasks)]
    if targets:
        cols = [get_task(t.strip()).name for t in targets.split(",") if t.strip()]
        rows = [n for n in names if n not in cols] or names
    else:
        rows = [n for n in names if get_task(n).role == "intermediate"]
        cols = [n for n in names if get_task(n).role == "target"]
        if not rows or not cols:
            rows = cols = names
    chosen = []
    for m in measures:
        chosen += {"all": MEASURES, "training-free": TRAINING_FREE}.get(m, (m,))
    chosen = list(dict.fromkeys(chosen))
    # As the library does for one measure (--lang is refused, not dropped), and before anything is computed.
    check_request(chosen, rows, cols, lang=lang, data_dir=data_dir)
    settings = MeasureSettings(examples=examples, seed=seed, n_resamples=resamples)
    train = TrainSettings(base=base, examples=train_examples, epochs=train_epochs, seed=seed)
    console, out = Console(), {}
    for m in chosen:
        mat = compute(m, rows, cols, base=base, settings=settings, data_dir=data_dir, store=store, train=train,
                      lang=lang, progress=True)
        out[m] = mat.to_dict(replicates=False)
        console.print(_matrix_table(mat, ci))
        if mat.card.get("reference"):
            click.echo(f"{m}: {reference_line(mat.card['reference'])}")
        sep = mat.separation(exclude_same_source=True)
        if sep:
            ratio = "inf" if sep["ratio"] == float("inf") else f"{sep['ratio']:.1f}"
            click.echo(f"{m}: most vs least similar pair without ‡: {sep['max']:.3f} ({'/'.join(sep['max_pair'])}) "
                       f"vs {sep['min']:.3f} ({'/'.join(sep['min_pair'])}), {ratio} x the larger bootstrap SE")
    if json_path:
        atomic_write_json(json_path, out)
        click.echo(f"matrices: {json_path}")


def reference_line(ref: dict) -> str:
    """What a centred measure's values are relative to, in one line (values compare only under the same sha256)."""
    return (f"centred on the fixed reference of {len(ref['tasks'])} tasks x {ref['examples_per_task']} inputs "
            f"(sha256 {ref['sha256'][:12]}; values compare only under the same reference and backbone)")


def _matrix_table(mat, ci: bool):
    low, high = mat.confidence_interval()
    se, mask = mat.se, mat.same_source()
    n = mat.card.get("examples")
    lang = f", probes in {mat.lang}" if mat.lang else ""
    t = Table(title=f"{mat.measure}, {n} inputs per task{lang}",
              caption="‡ same data source; " + ("95% CI" if ci else "± bootstrap SE"))
    t.add_column("")
    for b in mat.targets:
        t.add_column(b, justify="right")
    for i, a in enumerate(mat.intermediates):
        cells = []
        for j in range(len(mat.targets)):
            v = f"{mat.values[i, j]:.3f}{'‡' if mask[i, j] else ''}"
            if se[i, j] > 0:
                v += f"\n[{low[i, j]:.3f}, {high[i, j]:.3f}]" if ci else f"\n±{se[i, j]:.3f}"
            cells.append(v)
        t.add_row(a, *cells)
    return t
