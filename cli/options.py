"""Options shared by several commands."""

import click

data_dir_option = click.option(
    "--data-dir", type=click.Path(file_okay=False), default=None, envvar="MODXFER_DATA_DIR",
    help="Folder with the task data (default: $MODXFER_DATA_DIR, ./data, ../shared/data).",
)


def training_options(f):
    """The settings that identify a trained artifact (the same for train and evaluate)."""
    opts = [
        click.option("--config", default="seq_bn", show_default=True, help="adapters config name (seq_bn, lora, ...)."),
        click.option("--examples", type=int, default=2000, show_default=True, help="Training examples per task."),
        click.option("--epochs", type=float, default=2.0, show_default=True),
        click.option("--seed", type=int, default=0, show_default=True),
        click.option("--precision", type=click.Choice(["auto", "bf16", "fp32"]), default="auto", show_default=True),
        click.option("--base", default="embedded", show_default=True, help="Backbone: embedded, a HF id or a path."),
        click.option("--batch-size", type=int, default=32, show_default=True),
        click.option("--lr", "learning_rate", type=float, default=None, help="Default: 2e-3 adapters, 3e-5 full."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f
