"""``modxfer cache``: what modxfer keeps on disk, part by part, and clearing what is made again on use."""

from __future__ import annotations

import click


@click.group(invoke_without_command=True)
@click.pass_context
def cache(ctx):
    """Sizes of modxfer's cache ($MODXFER_CACHE, default ~/.cache/modxfer), part by part (`modxfer cache clear`
    removes the parts that are made again on use)."""
    if ctx.invoked_subcommand is not None:
        return
    from rich.console import Console
    from rich.table import Table

    from modxfer.store.cache import human, usage
    from modxfer.io import cache_dir

    parts, root = usage(), cache_dir()
    t = Table(title=f"modxfer cache: {root}")
    for col, just in (("part", "left"), ("size", "right"), ("files", "right"), ("cleared", "left"), ("holds", "left")):
        t.add_column(col, justify=just)
    for p in parts:
        where = "" if p.path == root / p.name else f" ({p.path})"  # a part moved elsewhere by its variable
        t.add_row(p.name, human(p.bytes), f"{p.files:,}", "link" if p.link else "yes" if p.clearable else "never", p.what + where)
    out = Console()
    out.print(t)
    total = sum(p.bytes for p in parts if p.clearable)
    out.print(f"{human(total)} can be cleared (made again on next use): `modxfer cache clear PART...` or "
              "`modxfer cache clear --all`; trained models and fetched data are never cleared")


@cache.command()
@click.argument("parts", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Every part that is made again on use.")
def clear(parts, everything):
    """Remove the cache PARTS (e.g. trunk similarity); the next use rebuilds what it needs. Trained models (the
    artifact store) and fetched task data are never removed here."""
    from modxfer.store.cache import PARTS, clear as run, human
    from modxfer.errors import ConfigError

    if everything == bool(parts):
        raise ConfigError("name the parts to clear, or pass --all, not both" if parts else "nothing to clear named",
                          "e.g. `modxfer cache clear trunk similarity`, or `modxfer cache clear --all` "
                          "(`modxfer cache` lists the parts)")
    def said(name, done):  # each part as it goes: a later part's failure does not hide what was freed
        click.echo(f"{name}: already empty" if done is None else f"{name}: {human(done.freed)} freed" + (
            f"; what could not be deleted is in {done.left}" if done.left else ""))
        if done is not None and done.kept:
            from modxfer.store.cache import part_path
            from modxfer.store.cards import show

            click.echo(f"  left in place in {part_path(name)}: {show(list(done.kept), 160)} ({len(done.kept)} "
                       "entr" + ("y" if len(done.kept) == 1 else "ies") + " modxfer cannot prove it wrote: no "
                       "marker); if they are modxfer's from an older release, delete them yourself")

    run([n for n, (_, regenerable) in PARTS.items() if regenerable] if everything else parts, on_each=said)
