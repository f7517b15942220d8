"""``modxfer data check`` and ``modxfer data fetch``."""

from __future__ import annotations

import sys

import click
from rich.console import Console
from rich.markup import escape
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
    """Validate files, counts and label sets (all tasks, or the given ones), and sizes and checksums against the
    data's MANIFEST.txt files where there are any. Every bad file is reported; exit code 2 if any."""
    from modxfer.tasks import readers
    from modxfer.tasks.base import cached_rows
    from modxfer.tasks.manifest import check_manifest

    for name in task_names:
        get_task(name)
    root = resolve_data_dir(data_dir)
    cached_rows.cache_clear()  # check the files as they are now, not rows an earlier call kept in memory
    with readers.recording() as seen:
        reports = check_data(root, list(task_names) or None)
    # With task names, compare the folders those tasks read from; without, every file the manifests list.
    folders = None
    if task_names:
        folders = {p.resolve().parent.relative_to(root.resolve()).as_posix() for p in seen
                   if p.resolve().is_relative_to(root.resolve())}
    drift = check_manifest(root, folders)
    table = Table(title=f"data check ({resolve_data_dir(data_dir)})")
    for col in ("task", "split", "lang", "examples", "labels", "status"):
        table.add_column(col, overflow="fold")
    bad = 0
    for r in reports:
        hub = r.split == "-"
        bad += (not r.ok) and not hub
        labels = " ".join(f"{k}:{v}" for k, v in sorted(r.labels.items())[:8])
        error = escape(r.error or "")  # messages quote file contents: never rich markup
        status = f"[yellow]{error}[/yellow]" if hub else ("ok" if r.ok else f"[red]{error}[/red]")
        table.add_row(r.task, r.split, r.lang, str(r.examples), escape(labels), status)
    Console(width=200).print(table)
    fixes = []
    for r in reports:  # unwrapped, one per line: the table folds long paths
        if not r.ok and r.split != "-":
            click.secho(f"{r.task} {r.split} {r.lang}: {r.error}", fg="red", err=True)
            fixes.append(r.fix or "see the data README for the expected layout")
    for d in drift:
        click.secho(f"{d.path}: {d.problem}", fg="red", err=True)
    if drift:
        fixes.append("use unmodified copies of the files the manifests list (`modxfer data fetch TASK` re-creates "
                     "fetched ones)")
    if bad or drift:
        parts = [f"{bad} split(s) failed the check"] * bool(bad) + [f"{len(drift)} file(s) differ from the manifest"
                                                                   ] * bool(drift)
        click.secho("; ".join(parts), fg="red", err=True)
        for fix in dict.fromkeys(fixes):  # each distinct fix once
            click.echo(f"  fix: {fix}", err=True)
        sys.exit(2)
    listed = (root / "MANIFEST.txt").is_file() or any(root.glob("*/MANIFEST.txt"))
    click.echo(f"all {sum(r.ok for r in reports)} splits ok" + (", files match the manifests" if listed else ""))


@data.command("fetch")
@click.argument("task_name")
@click.option("--languages", default="", help="Comma-separated language codes (target tasks), or 'all'.")
@click.option("--profile", type=click.Choice(["offline", "paper"]), default=None,
              help="offline: the shared layout (dev sets stand in for training data); paper: Phang et al.'s full "
                   "training splits and XTREME-R's test splits. Default: the data directory's own.")
@data_dir_option
def fetch(task_name, languages, profile, data_dir):
    """Download TASK from the Hugging Face Hub into the data directory, in the layout modxfer reads (online only)."""
    from pathlib import Path

    from modxfer.tasks.fetch import fetch as run

    root = Path(data_dir) if data_dir else resolve_data_dir(None, must_exist=False)  # fetch creates it
    written = run(task_name, root, [l for l in languages.split(",") if l], profile=profile)
    for p in written:
        click.echo(f"wrote {p}")
