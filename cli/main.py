"""Entry point: the click group, and the one place user errors become a message and exit code 2."""

from __future__ import annotations

import sys

import click

from modxfer.errors import ModxferError

from .cache_cmd import cache
from .data_cmd import data
from .sweep_cmd import sweep
from .evaluate_cmd import evaluate
from .noise_cmd import noise
from .report_cmd import report, similarity
from .select_cmd import select
from .zoo_cmd import zoo
from .tasks_cmd import tasks
from .train_cmd import train


class _Group(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ModxferError as e:
            click.secho(f"error: {e.problem}", fg="red", err=True)
            if e.fix:
                click.echo(f"  fix: {e.fix}", err=True)
            sys.exit(2)
        except Exception as e:  # a full disk wherever it strikes (a writer without its own message, sqlite, a library)
            from modxfer.io import is_disk_full

            if not (is_disk_full(e) or "database or disk is full" in str(e)):
                raise
            where = f" writing {e.filename}" if getattr(e, "filename", None) else ""
            click.secho(f"error: the disk is full{where} ({str(e).splitlines()[0][:200]})", fg="red", err=True)
            click.echo("  fix: free some space (`modxfer cache` shows what can be cleared), then run the same command "
                       "again: finished work is kept", err=True)
            sys.exit(2)


def _one_line(message, category, filename, lineno, line=None) -> str:
    """Warnings as one readable line, the way the CLI writes its other messages (Python's default shows the file,
    line number and source line of the code that warned: noise for a user, and a multi-line block in a log)."""
    return f"warning: {' '.join(str(message).split())}\n"


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="modxfer")
def cli():
    """modxfer: modular cross-lingual transfer with adapters."""
    import warnings

    warnings.formatwarning = _one_line


cli.add_command(tasks)
cli.add_command(data)
cli.add_command(sweep)
cli.add_command(train)
cli.add_command(evaluate)
cli.add_command(noise)
cli.add_command(report)
cli.add_command(similarity)
cli.add_command(select)
cli.add_command(zoo)
cli.add_command(cache)


def main():
    from modxfer.model.heap import tune_malloc

    try:
        tune_malloc()
    except ModxferError as e:
        click.secho(f"error: {e.problem}", fg="red", err=True)
        click.echo(f"  fix: {e.fix}", err=True)
        sys.exit(2)
    cli(prog_name="modxfer")


if __name__ == "__main__":
    main()
