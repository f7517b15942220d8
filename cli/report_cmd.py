"""`modxfer report` (the study's tables, plots and findings) and `modxfer similarity` (task similarity)."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from .options import data_dir_option


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Report folder (default: RUN_DIR/report).")
@click.option("--similarity-examples", type=click.IntRange(8), default=None,
              help="Training inputs embedded per task for task similarity (default 256).")
@data_dir_option
def report(run_dir, out, similarity_examples, data_dir):
    """Write the report of a sweep: scores, gains over baselines, degradation by language family, task similarity
    and how it relates to transfer and robustness, with plots and a card saying how it was made."""
    from modxfer.report import write_report

    path = write_report(run_dir, out, similarity_examples=similarity_examples, data_dir=data_dir)
    click.echo(f"report: {path / 'report.md'}")


@click.command()
@click.argument("tasks", nargs=-1, required=True)
@click.option("--base", default="embedded", show_default=True, help="Backbone whose embeddings define similarity.")
@click.option("--examples", type=click.IntRange(8), default=256, show_default=True,
              help="Training inputs embedded per task.")
@data_dir_option
def similarity(tasks, base, examples, data_dir):
    """Cosine similarity of the tasks' embeddings (mean sentence embedding of English training inputs)."""
    from modxfer.backbone import load_backbone
    from modxfer.similarity import similarity_matrix
    from modxfer.tasks import get_task

    names = [get_task(t).name for t in tasks]
    m = similarity_matrix(names, load_backbone(base), examples, data_dir)
    t = Table(title=f"task similarity ({base}, {examples} training inputs per task)")
    t.add_column("")
    for n in names:
        t.add_column(n, justify="right")
    for a in names:
        t.add_row(a, *(f"{m[(a, b)]:.3f}" for b in names))
    Console().print(t)
