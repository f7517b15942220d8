"""Options shared by several commands."""

import click

data_dir_option = click.option(
    "--data-dir", type=click.Path(file_okay=False), default=None, envvar="MODXFER_DATA_DIR",
    help="Folder with the task data (default: $MODXFER_DATA_DIR, ./data, ../shared/data).",
)
