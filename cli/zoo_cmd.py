"""`modxfer zoo`: publish trained adapters with their cards, list, install, and share them through the hub."""

from __future__ import annotations

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

ZOO = click.option("--zoo", default=None,
                   help="Zoo folder or hub repository id (default: $MODXFER_ZOO or ./adapters_zoo).")
STORE = click.option("--store", type=click.Path(file_okay=False), default=None, envvar="MODXFER_STORE",
                     help="Artifact store (default: $MODXFER_STORE or the cache).")


@click.group()
def zoo():
    """Share adapters: every entry is a trained artifact with its card, checksums and dependencies."""


@zoo.command("list")
@ZOO
def list_(zoo):
    """The adapters in a zoo (a folder, or a hub repository id to download first)."""
    from modxfer.store import zoo as Z
    from modxfer.store.checksums import weights_digest

    root = Z.pull(zoo) if zoo else Z.default_zoo()
    entries = Z.read_index(root)
    t = Table(title=f"adapter zoo {root} ({len(entries)} entries)")
    # key: the training request's hash; weights: one sha256 over every file's (what the store checks on each use)
    t.add_column("name", no_wrap=True, min_width=14)  # what `zoo install` takes: never cut
    for col in ("composition", "adapter", "base", "validation", "stacks on", "size", "key", "weights"):
        t.add_column(col)
    for e in entries:
        val = e.metrics.get("validation") or {}
        val = ", ".join(f"{k} {v}" for k, v in val.items()) if isinstance(val, dict) else str(val)
        # Index text is a stranger's: printed as text, never as rich markup.
        cells = (e.name, e.composition, e.adapter, e.base["model_id"], val or "-", ", ".join(e.depends_on) or "-",
                 f"{e.size_bytes / 1e6:.1f} MB", e.key[:12], weights_digest(e.files)[:12])
        t.add_row(*(escape(c[:200]) for c in cells))
    Console().print(t)


@zoo.command()
@click.argument("artifact")
@ZOO
@STORE
@click.option("--name", default=None, help="Entry name (default: composition and key prefix).")
def publish(artifact, zoo, store, name):
    """Publish ARTIFACT (a folder, or 8+ leading characters of its key) and what it stacks on."""
    from modxfer.store import zoo as Z

    e = Z.publish(artifact, zoo, name=name, store=store)
    click.echo(f"published {e.name} ({e.composition}, {len(e.files)} files, {e.size_bytes / 1e6:.1f} MB) "
               f"to {zoo or Z.default_zoo()}")


@zoo.command()
@click.argument("name")
@ZOO
@STORE
@click.option("--base", default="embedded", show_default=True, help="Backbone it must have been trained on.")
@click.option("--revision", default=None, help="Hub branch, tag or commit (a hub zoo only); recorded in the card.")
@click.option("--force", is_flag=True, help="Replace the store's copy even if it exists (e.g. a damaged one).")
def install(name, zoo, store, base, revision, force):
    """Verify NAME (checksums, card, weights, backbone) and copy it, with its dependencies, into the artifact store."""
    from pathlib import Path

    from modxfer.store import zoo as Z
    from modxfer.model.backbone import load_backbone

    root = Z.pull(zoo, revision=revision) if zoo else None
    hub = zoo is not None and not Path(zoo).expanduser().is_dir()
    a = Z.install(name, root, store=store, backbone=load_backbone(base), force=force,
                  source=zoo if hub else None, revision=revision)
    click.echo(f"installed {name} as {a.path}; {_next_step(a.card)}")


def _next_step(card: dict) -> str:
    """What to run next. An intermediate adapter has no test data of its own: it is used under a target task."""
    from modxfer.tasks import TASKS

    comp, opts = card["composition"], _options(card)
    task = TASKS.get(card["task"])
    if task is None or task.role != "intermediate":
        return f"`modxfer evaluate \"{comp}\"{opts}` uses it"
    # A target with the same kind of head (a classifier transfers to a classification target), else xnli.
    target = next((n for n, t in TASKS.items() if t.role == "target" and t.head == task.head), "xnli")
    return (f"{comp} is an intermediate adapter, used under a target task: `modxfer train {target} --on {comp}"
            f"{opts}` then `modxfer evaluate \"{comp}>{target}\"{opts}`, or with no training on a retrieval "
            f"target: `modxfer evaluate \"{comp}>tatoeba\"{opts}`")


def _options(card: dict) -> str:
    """The evaluate options that differ from today's defaults and are part of the artifact's key."""
    from modxfer.training import TrainSettings

    d = TrainSettings()
    pairs = (("--batch-size", card.get("batch_size"), d.batch_size), ("--epochs", card.get("epochs"), d.epochs),
             ("--examples", (card.get("data") or {}).get("examples"), d.examples))
    return "".join(f" {flag} {value:g}" for flag, value, default in pairs if value is not None and value != default)


@zoo.command()
@click.argument("repo_id")
@ZOO
@click.option("--private", is_flag=True)
def push(repo_id, zoo, private):
    """Upload the zoo folder to the Hugging Face Hub model repository REPO_ID (needs `huggingface-cli login`)."""
    from modxfer.store import zoo as Z

    click.echo(Z.push(repo_id, zoo, private=private))


@zoo.command()
@click.argument("source")
@click.option("--revision", default=None)
def pull(source, revision):
    """Download a zoo from the hub (REPO_ID) into the cache and print its folder."""
    from modxfer.store import zoo as Z

    click.echo(str(Z.pull(source, revision=revision)))
