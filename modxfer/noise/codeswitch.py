"""Code-switching: words replaced by their translation from a caller-supplied bilingual lexicon.

A lexicon maps words of the text's language to words of another language. It is registered per
text language (set_lexicon("de", {"Hund": "dog"})) or passed directly (CodeSwitch(rate=0.3,
lexicon=...)), or named in the spec (codeswitch:0.3,lexicon=path) as a two-column file (MUSE
format: source and target per line, tab or space separated). Lookups ignore surrounding
punctuation and fall back to case-folded forms; a capitalised source word gets a capitalised
translation. In unspaced scripts lexicon entries are matched longest-first over graphemes, and
a translation into a spaced script is set off with spaces. `rate` is the fraction of the words
that have a translation which are switched.
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Mapping

import regex

from ..errors import ModxferError
from .registry import Param, Perturbation, rate_param, register
from .rng import choose
from .segment import is_unspaced, join_words, segment_words

_LEXICONS: dict[str, dict[str, str]] = {}
_EDGE_RE = regex.compile(r"^([\p{P}\p{S}]*)(.*?)([\p{P}\p{S}]*)$", regex.S)
_HOW_TO = ("register one with modxfer.noise.set_lexicon(lang, {source_word: target_word}) (e.g. induced "
           "from the backbone's embeddings or a MUSE dictionary), pass lexicon= to CodeSwitch, or name a "
           "two-column file in the spec: codeswitch:0.3,lexicon=path/to/dict.txt")


def _normalise(lexicon: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for src, tgt in lexicon.items():
        if not isinstance(src, str) or not isinstance(tgt, str) or not src.strip() or not tgt.strip():
            raise ModxferError(f"codeswitch lexicon entry {src!r} -> {tgt!r} is not a pair of non-empty words",
                               "give the lexicon as {source_word: target_word} with non-empty strings")
        out.setdefault(src.strip(), tgt.strip())
        out.setdefault(src.strip().casefold(), tgt.strip())
    return out


def set_lexicon(lang: str, lexicon: Mapping[str, str]) -> None:
    """Register the lexicon used to code-switch text in language `lang`."""
    _LEXICONS[lang] = _normalise(lexicon)


def get_lexicon(lang: str | None) -> dict[str, str] | None:
    return _LEXICONS.get(lang) if lang is not None else None


def tatoeba_code(lang: str, data_dir=None) -> str:
    """The code Tatoeba files use for `lang` (de -> deu, zh -> cmn, fa -> pes): the pairs a lexicon is induced from
    (``lexicon.py``); here, without torch, so `sweep plan` can check every codeswitch cell has one."""
    from .. import languages
    from ..tasks import get_task

    available = get_task("tatoeba").languages(data_dir)
    info = languages.get(lang)
    for code in (lang, info.iso3, info.uriel, *info.aliases):
        if code in available:
            return code
    raise ModxferError(f"no Tatoeba pairs for language '{lang}' ({info.name}) to induce a code-switching lexicon from",
                       "give codeswitch a lexicon file instead (codeswitch:0.3,lexicon=path/to/dict.txt, MUSE format), "
                       f"or add tatoeba/tatoeba.{info.iso3}-eng.{{{info.iso3},eng}} to the data directory")


def load_lexicon(path: str | Path) -> dict[str, str]:
    p = Path(path)
    if not p.is_file():
        raise ModxferError(f"codeswitch lexicon {p} " + ("is a folder; a lexicon is a file" if p.is_dir()
                                                          else "does not exist"), _HOW_TO)
    pairs: dict[str, str] = {}
    from ..io import read_text

    for line in read_text(p, _HOW_TO, max_bytes=256 << 20).splitlines():  # MUSE dictionaries: a few MB
        parts = line.split("\t") if "\t" in line else line.split()
        if len(parts) >= 2 and parts[0].strip() and parts[1].strip():
            pairs.setdefault(parts[0].strip(), parts[1].strip())  # first translation wins (MUSE order)
    if not pairs:
        raise ModxferError(f"codeswitch lexicon file {p} has no 'source<TAB>target' lines", _HOW_TO)
    return pairs


def translate_word(word: str, lexicon: dict[str, str]) -> str | None:
    lead, core, trail = _EDGE_RE.match(word).groups()
    if not core:
        return None
    tgt = lexicon.get(core) or lexicon.get(core.casefold())
    if tgt is None:
        return None
    if core[0].isupper() and tgt[0].islower():
        tgt = tgt[0].upper() + tgt[1:]
    return lead + tgt + trail


def translatable_spans(words: list[str], seps: list[str], lexicon: dict[str, str]) -> list[tuple[int, int, str]]:
    """(first word, end word, translation) for every run of words the lexicon translates, left to right."""
    longest = max((len(k) for k in lexicon), default=1)
    spans: list[tuple[int, int, str]] = []
    i = 0
    while i < len(words):
        if is_unspaced(words[i]):
            # Longest match over consecutive unspaced graphemes with nothing between them.
            j = i + 1
            while j < len(words) and j - i < longest and is_unspaced(words[j]) and not seps[j]:
                j += 1
            for end in range(j, i, -1):
                tgt = lexicon.get("".join(words[i:end]))
                if tgt is not None:
                    spans.append((i, end, tgt))
                    i = end
                    break
            else:
                i += 1
            continue
        tgt = translate_word(words[i], lexicon)
        if tgt is not None:
            spans.append((i, i + 1, tgt))
        i += 1
    return spans


def switch(words: list[str], seps: list[str], start: int, end: int, tgt: str) -> None:
    """Replace words[start:end] by `tgt` in place, spacing a spaced-script translation inside unspaced text."""
    words[start:end] = [tgt]
    seps[start + 1:end + 1] = [seps[end]]
    if not is_unspaced(tgt):
        if start > 0 and not seps[start]:
            seps[start] = " "
        if start + 1 < len(words) and not seps[start + 1]:
            seps[start + 1] = " "


@register
class CodeSwitch(Perturbation):
    name = "codeswitch"
    summary = "replaces `rate` of the translatable words with their translation from a bilingual lexicon"
    params = {"rate": rate_param("fraction of translatable words switched"),
              "lexicon": Param(str, None, check=lambda v: bool(v.strip()), expect="a lexicon file path")}
    primary = "rate"
    within_token = True  # a tagging token is replaced whole; multi-word translations are skipped there

    def __init__(self, lexicon: Mapping[str, str] | str | None = None, **params):
        super().__init__(**params)
        self.lexicon_path = lexicon if isinstance(lexicon, (str, Path)) else None
        self._given = _normalise(lexicon) if isinstance(lexicon, Mapping) else None
        self._loaded: dict[str, str] | None = None

    def lexicon_for(self, lang: str | None) -> dict[str, str]:
        if self._given is not None:
            return self._given
        if self.lexicon_path is not None:
            if self._loaded is None:
                self._loaded = _normalise(load_lexicon(self.lexicon_path))
            return self._loaded
        lexicon = get_lexicon(lang)
        if lexicon is None:
            which = f"language '{lang}'" if lang else "text with no language given (pass lang=)"
            raise ModxferError(f"codeswitch has no bilingual lexicon for {which}", _HOW_TO)
        return lexicon

    def apply(self, text: str, rng: random.Random, lang: str | None) -> str:
        words, seps = segment_words(text)
        for span in reversed(choose(rng, translatable_spans(words, seps, self.lexicon_for(lang)), self.rate)):
            switch(words, seps, *span)
        return join_words(words, seps)

    def describe(self, lang: str | None = None) -> str:
        source = (f"lexicon file {self.lexicon_path}" if self.lexicon_path else
                  "the lexicon given" if self._given is not None else
                  f"the lexicon registered for '{lang}'" if get_lexicon(lang) is not None else
                  f"no lexicon registered for '{lang}' yet" if lang else "the lexicon registered for the language")
        return f"{self.summary} ({source})"
