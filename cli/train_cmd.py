"""``modxfer train``: an intermediate adapter, a target adapter composed on others, or full fine-tuning."""

from __future__ import annotations

import click

from .options import data_dir_option, training_options


@click.command()
@click.argument("task")
@click.option("--on", "on", multiple=True, metavar="INTERMEDIATE", help="Intermediate task(s) to compose on (repeat).")
@click.option("--fuse", is_flag=True, help="AdapterFusion over the --on adapters, then the target adapter.")
@click.option("--full", is_flag=True, help="Full fine-tuning (STILTs): the whole encoder, on --on first if given.")
@training_options
@data_dir_option
@click.option("--store", type=click.Path(file_okay=False), default=None, envvar="MODXFER_STORE",
              help="Artifact store (default: $MODXFER_STORE or $MODXFER_CACHE/artifacts).")
@click.option("--force", is_flag=True, help="Train again even if the same artifact exists.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def train(task, on, fuse, full, data_dir, store, force, quiet, **settings):
    """Train TASK's adapter (or fine-tune the encoder) and save it with a card; reuse it if it exists."""
    from modxfer.store.artifacts import default_store
    from modxfer.io import check_writable
    from modxfer.training import train as run

    check_writable(store or default_store())  # not after the training it would lose
    artifact = run(task, on=on, fuse=fuse, full=full, data_dir=data_dir, store=store, progress=not quiet,
                   force=force, **settings)
    card = artifact.card
    click.echo(f"{card['composition']}: {artifact.path}")
    val = card.get("metrics", {}).get("validation")
    click.echo(f"  {card['data']['examples']} examples, {card.get('steps')} steps, {card.get('train_seconds')} s, "
               f"precision {card['precision']}, trainable parameters {card.get('trainable_parameters'):,}"
               + (f", validation {val}" if val else ""))
