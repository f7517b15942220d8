"""Options shared by several commands, and the number types that validate them.

Every number from the command line is checked where it is parsed: finite (click turns "nan" and "1e999" into
floats happily), in range (seeds < 2**32, examples >= 1), so a bad value is a usage error (exit 2), never a
traceback or a silently odd run (``--eval-examples -1`` used to drop one row).
"""

import math

import click


class Number(click.ParamType):
    """An int or float in ``[low, high]`` (``low`` excluded when ``open_low``), finite."""

    def __init__(self, kind: type, low: float, high: float, *, open_low: bool = False):
        self.kind, self.low, self.high, self.open_low = kind, low, high, open_low
        self.name = "integer" if kind is int else "float"

    def convert(self, value, param, ctx):
        if isinstance(value, self.kind) and not isinstance(value, bool):
            number = value
        else:
            try:
                number = self.kind(str(value).strip())
            except ValueError:
                self.fail(f"{value!r} is not a{'n integer' if self.kind is int else ' number'}", param, ctx)
        if self.kind is float and not math.isfinite(number):
            self.fail(f"{value} is not a finite number", param, ctx)
        below = number <= self.low if self.open_low else number < self.low
        if below or number > self.high:
            self.fail(f"{value} is not in the range {self._range()}", param, ctx)
        return number

    def _range(self) -> str:
        fmt = (lambda x: str(int(x))) if self.kind is int else (lambda x: f"{x:g}")
        return f"{'(' if self.open_low else '['}{fmt(self.low)}, {fmt(self.high)}]"

    def get_metavar(self, param, ctx=None) -> str:
        return self.name.upper()


# Shared so that every command taking these numbers checks them the same way.
EXAMPLES = Number(int, 1, 10**9)             # training or evaluation examples (per language)
EPOCHS = Number(float, 0, 10_000, open_low=True)
SEED = Number(int, 0, 2**32 - 1)             # numpy's seed range
BATCH_SIZE = Number(int, 1, 1 << 16)
LEARNING_RATE = Number(float, 0, 10.0, open_low=True)
LAYERS = Number(int, 0, 1023)                # the upper bound is the backbone's depth, checked when it loads

# No envvar= here: modxfer.tasks.resolve_data_dir reads MODXFER_DATA_DIR itself, so a variable pointing at a missing
# folder is reported as such instead of as a --data-dir the user never passed.
data_dir_option = click.option(
    "--data-dir", type=click.Path(file_okay=False), default=None,
    help="Folder with the task data (default: $MODXFER_DATA_DIR, ./data, ../shared/data, the cache's data/).",
)


def training_options(f):
    """The settings that identify a trained artifact (the same for train and evaluate)."""
    opts = [
        click.option("--config", default="seq_bn", show_default=True, help="adapters config name (seq_bn, lora, ...)."),
        click.option("--examples", type=EXAMPLES, default=2000, show_default=True, help="Training examples per task."),
        click.option("--epochs", type=EPOCHS, default=2.0, show_default=True),
        click.option("--intermediate-examples", "intermediate_examples", type=EXAMPLES, default=None,
                     help="Intermediate adapters' own training examples (a sweep's budget.intermediate; default: "
                          "--examples)."),
        click.option("--intermediate-epochs", "intermediate_epochs", type=EPOCHS, default=None,
                     help="Intermediate adapters' own epochs (default: --epochs)."),
        click.option("--seed", type=SEED, default=0, show_default=True),
        click.option("--precision", type=click.Choice(["auto", "bf16", "fp32"]), default="auto", show_default=True),
        click.option("--base", default="embedded", show_default=True, help="Backbone: embedded, a HF id or a path."),
        click.option("--batch-size", type=BATCH_SIZE, default=16, show_default=True),
        click.option("--lr", "learning_rate", type=LEARNING_RATE, default=None,
                     help="Default: 2e-3 adapters, 3e-5 full."),
        click.option("--trunk-layers", "trunk_layers", type=LAYERS, default=None,
                     help="Frozen layers below the first adapter, computed once and cached (default: the backbone's "
                          "recommended value; 0 puts adapters in every layer)."),
        click.option("--freeze-embeddings", "freeze_embeddings", is_flag=True,
                     help="Full fine-tuning keeps the word embeddings frozen (a sweep's budget.full.freeze_embeddings)."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f
