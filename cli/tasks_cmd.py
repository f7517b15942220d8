"""``modxfer tasks``: the registry as a table, with sizes read from the data directory."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from modxfer.errors import ModxferError
from modxfer.tasks import PER_LANGUAGE_SPLITS, data_profile, list_tasks, resolve_data_dir

from .options import data_dir_option


@click.command()
@data_dir_option
@click.option("--role", type=click.Choice(["intermediate", "target"]), default=None, help="Only tasks of this role.")
def tasks(data_dir, role):
    """List every task: role, head, languages and examples found on disk."""
    root = resolve_data_dir(data_dir)
    table = Table(title=f"modxfer tasks (data: {root})")
    for col in ("task", "role", "head", "metric", "languages", "train", "test examples (per language)"):
        table.add_column(col, overflow="fold")
    profile = data_profile(root)
    for t in list_tasks(role):
        if (t.needs_hub or profile != "offline") and not t.available(root):
            table.add_row(t.name, t.role, t.head, t.metric, "-", "-", f"needs Hub data: {t.fetch_command(profile)}")
            continue
        try:
            langs = t.languages(root)
            train = str(t.size("train", "en", root)) if "train" in t.splits else "-"
            per_lang = [s for s in t.splits if s in PER_LANGUAGE_SPLITS and s == "test"]
            test = ", ".join(f"{l}:{t.size('test', l, root)}" for l in langs) if per_lang else "-"
        except ModxferError as e:
            table.add_row(t.name, t.role, t.head, t.metric, "?", "?", f"[red]{e.problem}[/red]")
            continue
        table.add_row(t.name, t.role, t.head, t.metric, f"{len(langs)}: {' '.join(langs)}", train, test)
    Console(width=200).print(table)
