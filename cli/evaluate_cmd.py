"""``modxfer evaluate``: zero-shot scores of a composition per language and noise setting."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from .options import EXAMPLES, data_dir_option, training_options


@click.command()
@click.argument("composition")
@click.option("--task", default=None, help="Target task (default: the composition's target).")
@click.option("--languages", default="all", show_default=True, help="Comma-separated codes, or 'all'.")
@click.option("--noise", default="clean", show_default=True, help="Comma-separated noise specs, e.g. clean,typo:0.1.")
@click.option("--eval-examples", type=EXAMPLES, default=None, help="At most this many test examples per language.")
@click.option("--layer", type=int, default=-1, show_default=True, help="Retrieval: hidden layer to mean-pool.")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Where predictions and results.json go (default: runs/evaluate/<composition>).")
@training_options
@data_dir_option
@click.option("--store", type=click.Path(file_okay=False), default=None, envvar="MODXFER_STORE")
@click.option("--quiet", is_flag=True)
def evaluate(composition, task, languages, noise, eval_examples, layer, out, data_dir, store, quiet, examples,
             base, precision, **settings):
    """Evaluate COMPOSITION (e.g. "mnli>xnli") zero-shot; the training options name the trained artifacts."""
    from modxfer.composition import Composition
    from modxfer.io import atomic_write_json, check_writable

    comp = Composition.parse(composition)
    out = check_writable(Path(out or Path("runs") / "evaluate" / comp.slug))  # before training and scoring

    # torch and transformers take seconds to import: only once the output is known to be writable
    from modxfer.evaluation.evaluator import Evaluator

    ev = Evaluator(base, precision=precision, store=store, data_dir=data_dir)
    result = ev.evaluate(comp, task, languages=languages, noise=noise, examples=eval_examples, layer=layer,
                         out_dir=out, progress=not quiet, train_examples=examples, **settings)
    console = Console()
    console.print(result.table())
    atomic_write_json(out / "results.json", result.rows)
    if any(r["noise"] != "clean" for r in result.rows) and any(r["noise"] == "clean" for r in result.rows):
        from modxfer.report import degradation_table

        summary = result.robustness()
        atomic_write_json(out / "robustness.json", summary)
        for t in degradation_table(summary, "family"):
            console.print(t)
    click.echo(f"predictions and results: {out}")
