"""Physical keyboard layouts and the key-adjacency graph a keyboard typo draws from.

Rows are written from the key under the US "1" (number row), "Q", "A" and "Z" (ISO layouts
start the bottom row one key earlier, at the <> key). '·' marks a key with nothing relevant on
it; it keeps the geometry but is never produced. Cased layouts list the lower case only; shift
gives the upper case. Uncased layouts list the shift layer too, and a shift slip (the other
character on the same key) counts as a neighbour.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# x offset (in key widths) of each row's first key on a staggered ANSI/ISO board.
_ROW_X = {"num": 1.0, "top": 1.5, "home": 1.75, "bottom": 2.25, "bottom_iso": 1.25}
_GAP = "·"


@dataclass(frozen=True)
class Layout:
    name: str
    script: str
    rows: tuple[tuple[str, str], ...]  # (row kind, keys)
    shift_rows: tuple[tuple[str, str], ...] = ()
    cased: bool = False


def _rows(**rows: str) -> tuple[tuple[str, str], ...]:
    return tuple(rows.items())


LAYOUTS: dict[str, Layout] = {}


def _add(layout: Layout) -> None:
    LAYOUTS[layout.name] = layout


_add(Layout("qwerty", "Latin", _rows(top="qwertyuiop", home="asdfghjkl", bottom="zxcvbnm"), cased=True))
_add(Layout("qwerty-es", "Latin", _rows(top="qwertyuiop", home="asdfghjklñ", bottom="zxcvbnm"), cased=True))
_add(Layout("qwerty-pt", "Latin", _rows(top="qwertyuiop", home="asdfghjklç", bottom="zxcvbnm"), cased=True))
_add(Layout("qwerty-fi", "Latin", _rows(top="qwertyuiopå", home="asdfghjklöä", bottom="zxcvbnm"), cased=True))
_add(Layout("qwerty-et", "Latin", _rows(top="qwertyuiopüõ", home="asdfghjklöä", bottom="zxcvbnm"), cased=True))
_add(Layout("qwertz", "Latin", _rows(top="qwertzuiopü", home="asdfghjklöä", bottom="yxcvbnm"), cased=True))
_add(Layout("qwertz-hu", "Latin", _rows(top="qwertzuiopőú", home="asdfghjkléáű", bottom_iso="íyxcvbnm"),
            cased=True))
_add(Layout("azerty", "Latin", _rows(top="azertyuiop", home="qsdfghjklmù", bottom="wxcvbn"), cased=True))
_add(Layout("turkish-q", "Latin", _rows(top="qwertyuıopğü", home="asdfghjklşi", bottom="zxcvbnmöç"),
            cased=True))
_add(Layout("jcuken", "Cyrillic", _rows(top="йцукенгшщзхъ", home="фывапролджэ", bottom="ячсмитьбю"),
            cased=True))
_add(Layout("jcuken-uk", "Cyrillic", _rows(top="йцукенгшщзхї", home="фівапролджє", bottom="ячсмитьбю"),
            cased=True))
_add(Layout("greek", "Greek", _rows(top="·ςερτυθιοπ", home="ασδφγηξκλ", bottom="ζχψωβνμ"), cased=True))
_add(Layout("georgian", "Georgian", _rows(top="ქწერტყუიოპ", home="ასდფგჰჯკლ", bottom="ზხცვბნმ"),
            shift_rows=_rows(top="·ჭ·ღთ", home="·შ····ჟ", bottom="ძ·ჩ")))
_add(Layout("arabic", "Arabic", _rows(top="ضصثقفغعهخحجد", home="شسيبلاتنمكط", bottom="ئءؤر·ىةوزظ")))
_add(Layout("hebrew", "Hebrew", _rows(top="··קראטוןםפ", home="שדגכעיחלךף", bottom="זסבהנמצתץ")))
_add(Layout("dubeolsik", "Hangul", _rows(top="ㅂㅈㄷㄱㅅㅛㅕㅑㅐㅔ", home="ㅁㄴㅇㄹㅎㅗㅓㅏㅣ", bottom="ㅋㅌㅊㅍㅠㅜㅡ"),
            shift_rows=_rows(top="ㅃㅉㄸㄲㅆ···ㅒㅖ")))
# Kedmanee's unshifted layer only: it holds the common consonants and vowel signs.
_add(Layout("kedmanee", "Thai",
            _rows(num="ๅ··ภถุึคตจขช", top="ๆไำพะัีรนยบลฃ", home="ฟหกดเ้่าสวง", bottom="ผปแอิืทมใฝ")))

# InScript is one key map for all Brahmic scripts (ISCII-parallel), so the Devanagari board
# shifted by each script's block offset is that script's official InScript layout.
_INSCRIPT_TOP = "\u094c\u0948\u093e\u0940\u0942\u092c\u0939\u0917\u0926\u091c\u0921\u093c"
_INSCRIPT_HOME = "ोे्िुपरकतचट"
_INSCRIPT_BOTTOM = "ॆंमनवलस··य"
_INSCRIPT_SHIFT_TOP = "औऐआईऊभङघधझढञ"
_INSCRIPT_SHIFT_HOME = "ओएअइउफऱखथछठ"
_INSCRIPT_SHIFT_BOTTOM = "\u090e\u0901\u0923\u00b7\u00b7\u0933\u0936\u0937\u00b7\u00b7"
_BRAHMIC_OFFSETS = {"Devanagari": 0, "Bengali": 0x80, "Gurmukhi": 0x100, "Gujarati": 0x180, "Oriya": 0x200,
                    "Tamil": 0x280, "Telugu": 0x300, "Kannada": 0x380, "Malayalam": 0x400}


def _shift_block(keys: str, offset: int, script: str) -> str:
    from .scripts import script_of_char

    out = []
    for ch in keys:
        if ch == _GAP or not 0x900 <= ord(ch) < 0x980:
            out.append(_GAP)
            continue
        moved = chr(ord(ch) + offset)
        # Each script lacks some Devanagari letters (Tamil most); those keys are blank there.
        ok = unicodedata.category(moved) != "Cn" and script_of_char(moved) == script
        out.append(moved if ok else _GAP)
    return "".join(out)


for _script, _off in _BRAHMIC_OFFSETS.items():
    _add(Layout(
        "inscript" if _off == 0 else f"inscript-{_script.lower()}", _script,
        _rows(top=_shift_block(_INSCRIPT_TOP, _off, _script), home=_shift_block(_INSCRIPT_HOME, _off, _script),
              bottom=_shift_block(_INSCRIPT_BOTTOM, _off, _script)),
        _rows(top=_shift_block(_INSCRIPT_SHIFT_TOP, _off, _script),
              home=_shift_block(_INSCRIPT_SHIFT_HOME, _off, _script),
              bottom=_shift_block(_INSCRIPT_SHIFT_BOTTOM, _off, _script))))

# The layout a speaker of each language types on. Languages missing here fall back to
# script-level substitution (and say so), rather than borrowing a layout that is not theirs.
LANG_LAYOUT = {
    **dict.fromkeys(("en", "nl", "it", "id", "ms", "jv", "sw", "tl", "af", "pl", "ro", "yo", "vi", "lt"), "qwerty"),
    **dict.fromkeys(("es", "eu", "qu"), "qwerty-es"),
    "pt": "qwerty-pt", "fi": "qwerty-fi", "et": "qwerty-et", "de": "qwertz", "hu": "qwertz-hu",
    **dict.fromkeys(("fr", "wo"), "azerty"),
    "tr": "turkish-q", "ru": "jcuken", "uk": "jcuken-uk", "el": "greek", "ka": "georgian",
    "ar": "arabic", "he": "hebrew", "ko": "dubeolsik", "th": "kedmanee",
    **dict.fromkeys(("hi", "mr", "ne"), "inscript"),
    "bn": "inscript-bengali", "pa": "inscript-gurmukhi", "gu": "inscript-gujarati", "or": "inscript-oriya",
    "ta": "inscript-tamil", "te": "inscript-telugu", "kn": "inscript-kannada", "ml": "inscript-malayalam",
}
# Layout for text whose language is not given, and for words in another script than the
# language's own (English names inside Hindi text are typed on the Latin board).
SCRIPT_LAYOUT = {layout.script: name for name, layout in reversed(LAYOUTS.items())
                 if not name.startswith(("qwerty-", "qwertz", "azerty", "turkish", "jcuken-"))}
SCRIPT_LAYOUT["Latin"] = "qwerty"


def _positions(rows: tuple[tuple[str, str], ...]) -> dict[tuple[str, int], str]:
    return {(kind, i): ch for kind, keys in rows for i, ch in enumerate(keys)}


def _coords(kind: str, i: int) -> tuple[int, float]:
    row = {"num": 0, "top": 1, "home": 2, "bottom": 3, "bottom_iso": 3}[kind]
    return row, _ROW_X[kind] + i


@lru_cache(maxsize=None)
def neighbours(layout_name: str) -> dict[str, tuple[str, ...]]:
    """char -> characters on physically adjacent keys (same row +-1, adjacent rows overlapping)."""
    layout = LAYOUTS[layout_name]
    layers = [_positions(layout.rows)]
    if layout.shift_rows:
        layers.append(_positions(layout.shift_rows))
    keys = sorted({pos for layer in layers for pos in layer})
    coords = {pos: _coords(*pos) for pos in keys}
    graph: dict[str, set[str]] = {}
    for pos in keys:
        r, x = coords[pos]
        near = [q for q in keys if q != pos and (
            (coords[q][0] == r and abs(coords[q][1] - x) == 1) or
            (abs(coords[q][0] - r) == 1 and abs(coords[q][1] - x) < 1))]
        for li, layer in enumerate(layers):
            ch = layer.get(pos, _GAP)
            if ch == _GAP:
                continue
            out = graph.setdefault(ch, set())
            # Neighbours on the same layer, plus the shift slip on the same key.
            out.update(layer.get(q, _GAP) for q in near)
            for other in layers[:li] + layers[li + 1:]:
                out.add(other.get(pos, _GAP))
            out.discard(_GAP)
            out.discard(ch)
    return {ch: tuple(sorted(n)) for ch, n in graph.items()}


def layout_for(lang: str | None, script: str, dominant: bool) -> tuple[str | None, str | None]:
    """(layout name or None, fallback note or None) for graphemes of `script`.

    `dominant` says whether `script` is the text's main script. A language with a layout uses it
    for its own script and the script's default board for foreign words; a language without one
    falls back to script-level substitution on its own script (None + a note), rather than
    borrowing a board its speakers do not use (Bulgarian is not typed on the Russian ЙЦУКЕН).
    """
    if lang is not None:
        name = LANG_LAYOUT.get(lang.lower().replace("_", "-").split("-")[0])
        if name is not None and LAYOUTS[name].script == script:
            return name, None
        if name is None and dominant:
            return None, f"no keyboard layout for language '{lang}': script-level substitution on {script}"
    if script in SCRIPT_LAYOUT:
        return SCRIPT_LAYOUT[script], None
    return None, f"no keyboard layout for {script} script: script-level substitution"
