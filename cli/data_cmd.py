"""``modxfer data check`` and ``modxfer data fetch``."""

from __future__ import annotations

import sys

import click
from rich.console import Console
from rich.table import Table

from modxfer.tasks import check_data, get_task, resolve_data_dir

from .options import data_dir_option


@click.group()
def data():
    """Validate or download task data."""


@data.command("check")
@data_dir_option
@click.argument("task_names", nargs=-1)
def check(data_dir, task_names):
    """Validate files, counts and label sets (all tasks, or the given ones)."""
    for name in task_names:
        get_task(name)
    reports = check_data(data_dir, list(task_names) or None)
    table = Table(title=f"data check ({resolve_data_dir(data_dir)})")
    for col in ("task", "split", "lang", "examples", "labels", "status"):
        table.add_column(col, overflow="fold")
    bad = 0
    for r in reports:
        hub = r.split == "-"
        bad += (not r.ok) and not hub
        labels = " ".join(f"{k}:{v}" for k, v in sorted(r.labels.items())[:8])
        status = "[yellow]" + r.error + "[/yellow]" if hub else ("ok" if r.ok else f"[red]{r.error}[/red]")
        table.add_row(r.task, r.split, r.lang, str(r.examples), labels, status)
    Console(width=200).print(table)
    if bad:
        click.secho(f"{bad} split(s) failed the check", fg="red", err=True)
        sys.exit(2)
    click.echo(f"all {sum(r.ok for r in reports)} splits ok")


@data.command("fetch")
@click.argument("task_name")
@click.option("--languages", default="", help="Comma-separated language codes (target tasks).")
@data_dir_option
def fetch(task_name, languages, data_dir):
    """Download TASK from the Hugging Face Hub into the data directory, in the layout modxfer reads (online only)."""
    from pathlib import Path

    from modxfer.tasks.fetch import fetch as run

    root = Path(data_dir) if data_dir else resolve_data_dir(None)
    written = run(task_name, root, [l for l in languages.split(",") if l])
    for p in written:
        click.echo(f"wrote {p}")
