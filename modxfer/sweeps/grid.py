"""What a sweep's grid may hold, checked by `sweep plan` (and every other reader of a config) before anything runs.

The grid's size is computed from the config's counts, never by expanding it: a typo such as ten thousand seeds would
otherwise be expanded in memory (30 million cells took 3 minutes and 7.8 GB before failing). Every code-switching
cell needs a lexicon, induced on first use from the language's Tatoeba pairs: a language without them is refused
here, not cell by cell at run time.
"""
from __future__ import annotations

from ..store.cards import show
from ..errors import ConfigError, ModxferError

# Cells one sweep may plan: the quickstart has 286, a large study a few thousand; 100k cells are days of computing.
MAX_CELLS = 100_000


def grid_size(targets, compositions, noise, seeds) -> int:
    """Evaluation cells the grid expands to (an upper bound: code-switching has no English cells), from the counts."""
    langs = {t.task: len(t.languages) for t in targets}
    return len(seeds) * len(noise) * sum(langs.get(c.target, 0) for c in compositions)


def check_grid(targets, compositions, noise, seeds, where: str) -> int:
    n = grid_size(targets, compositions, noise, seeds)
    if n > MAX_CELLS:
        langs = sum(len(t.languages) for t in targets)
        raise ConfigError(f"{where}: the grid has {n:,} evaluation cells ({len(seeds):,} seeds x {len(noise):,} noise "
                          f"settings x {len(compositions):,} compositions over {langs:,} target languages), more "
                          f"than the {MAX_CELLS:,} one sweep may plan",
                          "list fewer seeds, noise settings or languages, or split the study into several configs")
    return n


def check_lexicons(targets, noise: tuple[str, ...], root, where: str) -> None:
    """Every code-switching cell needs Tatoeba pairs of its language to induce a lexicon from (evaluation does so
    on first use): refused here, before a run, rather than failing cell by cell."""
    from pathlib import Path

    from ..noise import parse_spec
    from ..noise.apply import applies_to_language
    from ..noise.codeswitch import tatoeba_code

    for spec in noise:
        if not spec.startswith("codeswitch"):
            continue
        given = parse_spec(spec).get("lexicon")
        if given:  # a lexicon file of the user's own: it must exist; no Tatoeba pairs are needed then
            if not Path(str(given)).expanduser().is_file():
                raise ConfigError(f"{where}: noise {spec} names the lexicon file {given}, which does not exist",
                                  "give the path of an existing lexicon file, or leave lexicon= out to induce one "
                                  "from Tatoeba pairs")
            continue
        missing = []
        for t in targets:
            for lang in t.languages:
                if not applies_to_language(spec, lang):
                    continue
                try:
                    tatoeba_code(lang, root)
                except ModxferError:
                    missing.append(f"{t.task}/{lang}")
        if missing:
            raise ConfigError(f"{where}: noise {spec} needs a code-switching lexicon for each language, and there are "
                              f"no Tatoeba pairs to induce one from for {show(missing, 200)}",
                              "remove those languages or the codeswitch setting, add their "
                              "tatoeba/tatoeba.<iso3>-eng.{<iso3>,eng} files to the data directory, or give a lexicon "
                              "of your own (codeswitch:RATE,lexicon=FILE)")
