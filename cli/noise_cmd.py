"""``modxfer noise``: see what a noise setting does to text, list the perturbations, build code-switching lexicons."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from .options import SEED, data_dir_option


@click.group()
def noise():
    """Text noise for robustness evaluation: show, list, lexicon."""


@noise.command("list")
def list_cmd():
    """Every perturbation, its parameters and what it does."""
    from modxfer.noise import PERTURBATIONS

    table = Table(title="noise settings (spec: name:PRIMARY,key=value)")
    for col in ("name", "parameters", "what it does"):
        table.add_column(col, overflow="fold")
    for name in sorted(PERTURBATIONS):
        cls = PERTURBATIONS[name]
        params = ", ".join((f"[bold]{k}[/bold]" if k == cls.primary else k)
                           + (f"={p.default}" if p.default is not None else "")
                           + (f" ({p.doc})" if p.doc else "") for k, p in cls.params.items())
        summary = cls.summary + (" [dim](runs in evaluation, with the model)[/dim]" if cls.model_dependent else "")
        table.add_row(name, params or "-", summary)
    Console(width=160).print(table)


@noise.command("show")
@click.argument("spec")
@click.argument("texts", nargs=-1, required=True)
@click.option("--lang", default=None, help="Language of the text (keyboard layout, lexicon), e.g. hi, de, zh.")
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option("--base", default="embedded", show_default=True, help="Backbone whose lexicon codeswitch uses.")
@data_dir_option
def show(spec, texts, lang, seed, base, data_dir):
    """Print each TEXT and its perturbation under SPEC side by side (e.g. `keyboard:0.1 --lang hi "..."`)."""
    from modxfer.noise import describe, parse_spec, perturb_text
    from modxfer.noise.spec import check_language

    parsed = parse_spec(spec)
    check_language(parsed, lang)
    _check_lexicon_file(parsed)
    if parsed.name == "codeswitch" and parsed.get("lexicon") is None:
        if lang is None:
            from modxfer.errors import ModxferError

            raise ModxferError("codeswitch needs the language of the text to pick its lexicon",
                               "pass --lang (e.g. --lang de), or name a lexicon file: codeswitch:0.3,lexicon=path")
        from modxfer.noise.lexicon import ensure_lexicon

        ensure_lexicon(lang, base, data_dir=data_dir)
    out = [perturb_text(t, parsed, seed=seed, example_id=i, lang=lang) for i, t in enumerate(texts)]
    table = Table(title=f"{parsed} (seed {seed}{', ' + lang if lang else ''})", show_lines=True)
    table.add_column("original", overflow="fold")
    table.add_column("perturbed", overflow="fold")
    for a, b in zip(texts, out):
        table.add_row(a, b)
    console = Console(width=160)
    console.print(table)
    # After perturbing: fallbacks taken for this text (e.g. no keyboard layout) are part of the description.
    console.print(describe(parsed, lang), markup=False)


def _check_lexicon_file(parsed) -> None:
    """A folder given as lexicon= would be reported as missing by the loader; say what is wrong with it."""
    from pathlib import Path

    from modxfer.errors import ModxferError

    path = parsed.get("lexicon") if parsed.name == "codeswitch" else None
    if path is not None and Path(path).expanduser().is_dir():
        raise ModxferError(f"codeswitch lexicon={path} is a folder; a lexicon is a file",
                           "name a two-column 'source<TAB>target' text file: codeswitch:0.3,lexicon=path/to/dict.txt")


@noise.command("lexicon")
@click.argument("lang")
@click.option("--base", default="embedded", show_default=True, help="Backbone whose embeddings are aligned.")
@click.option("--method", type=click.Choice(["itermax", "argmax"]), default="itermax", show_default=True)
@click.option("--layer", type=int, default=None, help="Encoder layer (default: 2/3 of the depth, SimAlign's choice).")
@click.option("--min-count", type=int, default=2, show_default=True, help="Alignments a word pair needs to be kept.")
@click.option("--show", "n_show", type=int, default=12, show_default=True, help="Entries to print.")
@click.option("--force", is_flag=True, help="Induce again even if a cached lexicon exists.")
@data_dir_option
def lexicon(lang, base, method, layer, min_count, n_show, force, data_dir):
    """Induce (or load) the LANG -> English lexicon codeswitch noise uses, and report its estimated precision."""
    from modxfer.noise.lexicon import Settings, build_lexicon, lexicon_path

    lex = build_lexicon(lang, base, data_dir, Settings(layer=layer, method=method, min_count=min_count), force=force)
    precision = "n/a" if lex.precision is None else f"{lex.precision:.1f}%"
    click.echo(f"{lang} ({lex.lang}) -> en: {lex.size} entries, precision {precision} on {lex.checked} held-out "
               f"words (coverage {lex.coverage:.1f}%); {lex.method}, layer {lex.layer}, {lex.pairs_used} pairs "
               f"induced + {lex.pairs_heldout} held back (Tatoeba lexicon split)")
    click.echo(f"  cached at {lexicon_path(lex.backbone, lex.lang)}")
    for src, tgt in list(lex.entries.items())[:max(n_show, 0)]:
        click.echo(f"  {src}\t{tgt}")
