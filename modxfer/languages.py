"""Languages of the tasks: codes, names, scripts, families and typological distance to English.

Every language a task file can name is here, under either code style: ISO 639-1 (``de``; XNLI, PAWS-X,
XCOPA, UD POS, PAN-X, MLQA) or ISO 639-3 (``deu``; Tatoeba, which also uses individual-language codes
such as ``cmn``, ``pes``, ``swh``). The canonical code is the ISO 639-1 code where one exists.

Family, branch, coordinates and distances come from URIEL (Littell et al., 2017) as shipped inside the
``lang2vec`` package. Reading URIEL takes about a second and ``lang2vec`` 1.1.2 cannot even be imported
on current setuptools (it needs the removed ``pkg_resources``), so the facts are precomputed into
``modxfer/resources/languages.json`` by :func:`build_language_table`, which reads lang2vec's ``.npz``
files directly. Runtime needs only the JSON. To add a language, add it to ``LANGUAGE_SPECS`` and run
``python -m modxfer.languages`` to regenerate the resource.

Distances (all in [0, 1], 0 for a language and itself):

- ``syntactic``, ``phonological``, ``inventory``: cosine distance between URIEL's kNN-imputed
  ``syntax_knn`` (103 features), ``phonology_knn`` (28) and ``inventory_knn`` (158) vectors.
- ``featural``: cosine distance over those three concatenated. URIEL's own featural distance also folds
  in family and location; we leave those out so it does not double-count ``genetic``/``geographic``.
- ``genetic``: 1 - shared/deepest, where shared is the number of Glottolog tree nodes (URIEL ``fam``
  features) both languages descend from and deepest the larger of the two lineages' lengths; 1.0 for
  unrelated languages and for isolates.
- ``geographic``: great-circle distance divided by the antipodal distance (URIEL's definition). URIEL
  ships locations only as distances to 299 fixed points, from which the coordinates are solved exactly
  (least squares on the unit sphere; residual < 0.004 of a half circumference).

``DEFAULT_DISTANCE`` is ``syntactic``: it is the URIEL distance most used to explain zero-shot transfer
(e.g. Lin et al. 2019, Lauscher et al. 2020), and because the kNN vectors are complete it separates every
pair of languages, whereas ``genetic`` is 1.0 for all languages unrelated to English.
"""

from __future__ import annotations

import difflib
import functools
import importlib.metadata
import importlib.resources
import importlib.util
import json
import math
import os
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Iterable, Mapping

from .errors import ModxferError, UnknownLanguageError

DISTANCE_KINDS = ("syntactic", "phonological", "inventory", "featural", "genetic", "geographic")
DEFAULT_DISTANCE = "syntactic"

RESOURCE = "resources/languages.json"

# The 50 languages of XTREME-R (Ruder et al., 2021); every XTREME task's languages are a subset.
XTREME_R_LANGUAGES = (
    "af ar az bg bn de el en es et eu fa fi fr gu he hi ht hu id it ja jv ka kk ko lt ml mr ms "
    "my nl pa pl pt qu ro ru sw ta te th tl tr uk ur vi wo yo zh"
).split()

# ISO 15924 four-letter codes for the script names used here. Names are Unicode's Script property
# values (what script_of_text returns), except "Japanese" (Jpan: Han + Hiragana + Katakana).
SCRIPT_CODES = {
    "Latin": "Latn", "Cyrillic": "Cyrl", "Greek": "Grek", "Armenian": "Armn", "Georgian": "Geor",
    "Hebrew": "Hebr", "Arabic": "Arab", "Devanagari": "Deva", "Bengali": "Beng", "Gurmukhi": "Guru",
    "Gujarati": "Gujr", "Tamil": "Taml", "Telugu": "Telu", "Kannada": "Knda", "Malayalam": "Mlym",
    "Sinhala": "Sinh", "Thai": "Thai", "Lao": "Laoo", "Myanmar": "Mymr", "Khmer": "Khmr",
    "Ethiopic": "Ethi", "Hangul": "Hang", "Han": "Hani", "Japanese": "Jpan",
}

# code (ISO 639-1, or 639-3 where there is none), ISO 639-3, English name, main script,
# URIEL code, other codes. The ISO 639-3 code is the standard one for the ISO 639-1 code (the
# macrolanguage for zh, ar, fa, ...); the URIEL code is the individual language the task data is
# actually in (Mandarin, Standard Arabic, Iranian Persian, ...), which also carries richer URIEL
# features than the macrolanguage entry. Other codes: individual-language codes some datasets use
# (Tatoeba's cmn/pes/swh), ISO 639-2/B codes, and retired ISO 639-1 codes.
LANGUAGE_SPECS: tuple[tuple[str, str, str, str, str, tuple[str, ...]], ...] = (
    ("af", "afr", "Afrikaans", "Latin", "afr", ()),
    ("am", "amh", "Amharic", "Ethiopic", "amh", ()),
    ("ar", "ara", "Arabic", "Arabic", "arb", ("arb",)),
    ("az", "aze", "Azerbaijani", "Latin", "azj", ("azj",)),
    ("be", "bel", "Belarusian", "Cyrillic", "bel", ()),
    ("bg", "bul", "Bulgarian", "Cyrillic", "bul", ()),
    ("bn", "ben", "Bengali", "Bengali", "ben", ()),
    ("ca", "cat", "Catalan", "Latin", "cat", ()),
    ("cs", "ces", "Czech", "Latin", "ces", ("cze",)),
    ("cy", "cym", "Welsh", "Latin", "cym", ("wel",)),
    ("da", "dan", "Danish", "Latin", "dan", ()),
    ("de", "deu", "German", "Latin", "deu", ("ger",)),
    ("el", "ell", "Greek", "Greek", "ell", ("gre",)),
    ("en", "eng", "English", "Latin", "eng", ()),
    ("es", "spa", "Spanish", "Latin", "spa", ()),
    # URIEL's entry for the individual code ekk is empty; est carries the Uralic lineage.
    ("et", "est", "Estonian", "Latin", "est", ("ekk",)),
    ("eu", "eus", "Basque", "Latin", "eus", ("baq",)),
    ("fa", "fas", "Persian", "Arabic", "pes", ("pes", "per")),
    ("fi", "fin", "Finnish", "Latin", "fin", ()),
    ("fr", "fra", "French", "Latin", "fra", ("fre",)),
    ("ga", "gle", "Irish", "Latin", "gle", ()),
    ("gl", "glg", "Galician", "Latin", "glg", ()),
    ("gu", "guj", "Gujarati", "Gujarati", "guj", ()),
    ("ha", "hau", "Hausa", "Latin", "hau", ()),
    ("he", "heb", "Hebrew", "Hebrew", "heb", ("iw",)),
    ("hi", "hin", "Hindi", "Devanagari", "hin", ()),
    ("hr", "hrv", "Croatian", "Latin", "hrv", ()),
    ("ht", "hat", "Haitian Creole", "Latin", "hat", ()),
    ("hu", "hun", "Hungarian", "Latin", "hun", ()),
    ("hy", "hye", "Armenian", "Armenian", "hye", ("arm",)),
    ("id", "ind", "Indonesian", "Latin", "ind", ("in",)),
    ("ig", "ibo", "Igbo", "Latin", "ibo", ()),
    ("is", "isl", "Icelandic", "Latin", "isl", ("ice",)),
    ("it", "ita", "Italian", "Latin", "ita", ()),
    ("ja", "jpn", "Japanese", "Japanese", "jpn", ()),
    ("jv", "jav", "Javanese", "Latin", "jav", ()),
    ("ka", "kat", "Georgian", "Georgian", "kat", ("geo",)),
    ("kk", "kaz", "Kazakh", "Cyrillic", "kaz", ()),
    ("km", "khm", "Khmer", "Khmer", "khm", ()),
    ("kn", "kan", "Kannada", "Kannada", "kan", ()),
    ("ko", "kor", "Korean", "Hangul", "kor", ()),
    ("ky", "kir", "Kyrgyz", "Cyrillic", "kir", ()),
    ("lo", "lao", "Lao", "Lao", "lao", ()),
    ("lt", "lit", "Lithuanian", "Latin", "lit", ()),
    ("lv", "lav", "Latvian", "Latin", "lav", ("lvs",)),
    ("mk", "mkd", "Macedonian", "Cyrillic", "mkd", ("mac",)),
    ("ml", "mal", "Malayalam", "Malayalam", "mal", ()),
    ("mn", "mon", "Mongolian", "Cyrillic", "khk", ("khk",)),
    ("mr", "mar", "Marathi", "Devanagari", "mar", ()),
    ("ms", "msa", "Malay", "Latin", "zsm", ("zsm", "may")),
    ("my", "mya", "Burmese", "Myanmar", "mya", ("bur",)),
    ("ne", "nep", "Nepali", "Devanagari", "npi", ("npi",)),
    ("nl", "nld", "Dutch", "Latin", "nld", ("dut",)),
    # URIEL's nob entry is empty; the macrolanguage entry carries the lineage.
    ("no", "nor", "Norwegian", "Latin", "nor", ("nb", "nob")),
    ("pa", "pan", "Punjabi", "Gurmukhi", "pan", ()),
    ("pl", "pol", "Polish", "Latin", "pol", ()),
    ("ps", "pus", "Pashto", "Arabic", "pbt", ("pbt",)),
    ("pt", "por", "Portuguese", "Latin", "por", ()),
    # XCOPA's Quechua is Southern (Cusco) Quechua; URIEL's macrolanguage entry que has no lineage.
    ("qu", "que", "Quechua", "Latin", "quz", ("quz",)),
    ("ro", "ron", "Romanian", "Latin", "ron", ("rum",)),
    ("ru", "rus", "Russian", "Cyrillic", "rus", ()),
    ("si", "sin", "Sinhala", "Sinhala", "sin", ()),
    ("sk", "slk", "Slovak", "Latin", "slk", ("slo",)),
    ("sl", "slv", "Slovenian", "Latin", "slv", ()),
    ("so", "som", "Somali", "Latin", "som", ()),
    ("sq", "sqi", "Albanian", "Latin", "als", ("als", "alb")),
    ("sr", "srp", "Serbian", "Cyrillic", "srp", ()),
    ("sv", "swe", "Swedish", "Latin", "swe", ()),
    ("sw", "swa", "Swahili", "Latin", "swh", ("swh",)),
    ("ta", "tam", "Tamil", "Tamil", "tam", ()),
    ("te", "tel", "Telugu", "Telugu", "tel", ()),
    ("th", "tha", "Thai", "Thai", "tha", ()),
    ("tl", "tgl", "Tagalog", "Latin", "tgl", ("fil",)),
    ("tr", "tur", "Turkish", "Latin", "tur", ()),
    ("uk", "ukr", "Ukrainian", "Cyrillic", "ukr", ()),
    ("ur", "urd", "Urdu", "Arabic", "urd", ()),
    ("uz", "uzb", "Uzbek", "Latin", "uzn", ("uzn",)),
    ("vi", "vie", "Vietnamese", "Latin", "vie", ()),
    ("wo", "wol", "Wolof", "Latin", "wol", ()),
    ("xh", "xho", "Xhosa", "Latin", "xho", ()),
    ("yo", "yor", "Yoruba", "Latin", "yor", ()),
    ("yue", "yue", "Cantonese", "Han", "yue", ()),
    ("zh", "zho", "Chinese", "Han", "cmn", ("cmn", "chi")),
    ("zu", "zul", "Zulu", "Latin", "zul", ()),
)

# Glottolog does not accept Niger-Congo as a proven family and tops out at Atlantic-Congo; the
# transfer literature (and XTREME's tables) group these languages as Niger-Congo.
FAMILY_NAMES = {"Atlantic-Congo": "Niger-Congo"}

# Genus-level nodes (comparable to WALS genera), shallowest match wins; the value is the display name.
# Without them the branch would be the node right under the family, which for many languages is an
# uninformative level ("Balto-Slavic", "Indo-Iranian", "Nuclear Austronesian", "Volta-Congo").
GENUS_NODES = {
    "Germanic": "Germanic", "Romance": "Romance", "Slavic": "Slavic", "Eastern Baltic": "Baltic",
    "Celtic": "Celtic", "Greek": "Greek", "Albanian": "Albanian", "Armenian": "Armenian",
    "Indo-Aryan": "Indo-Aryan", "Iranian": "Iranian", "Semitic": "Semitic", "Cushitic": "Cushitic",
    "Chadic": "Chadic", "Narrow Bantu": "Bantu", "Defoid": "Defoid", "Igboid": "Igboid",
    "Finnic": "Finnic", "Sinitic": "Sinitic", "Malayo-Sumbawan": "Malayo-Sumbawan",
    "Javanesic": "Javanese", "Greater Central Philippine": "Greater Central Philippine",
}

# Where URIEL's lineage cannot give the grouping analyses need. Haitian Creole: Glottolog files
# creoles under their lexifier (Romance), but they are typologically unlike it and XCOPA treats it as
# a creole, so pooling it with Romance would skew per-family averages; its URIEL lineage (and so its
# genetic distance) is kept. Basque is an isolate (no URIEL lineage). Hungarian's URIEL lineage stops
# at Uralic; Ugric is the standard branch.
FAMILY_OVERRIDES = {
    "ht": {"family": "Creole", "branch": "French-based"},
    "eu": {"family": "Basque", "branch": "Basque"},
    "hu": {"branch": "Ugric"},
}


class UnknownFamilyError(ModxferError, KeyError):
    pass


@dataclass(frozen=True, eq=False)
class Language:
    """One language. Instances are shared: ``get("de") is get("deu")``."""

    code: str
    iso1: str | None
    iso3: str
    name: str
    script: str
    script_code: str
    family: str
    branch: str
    uriel: str
    lineage: tuple[str, ...]
    latitude: float
    longitude: float
    aliases: tuple[str, ...]
    distance_to_en: Mapping[str, float]

    def distance(self, other: str | Language, kind: str = DEFAULT_DISTANCE) -> float:
        return distance(self, other, kind)

    def __repr__(self) -> str:
        return (f"Language(code={self.code!r}, iso3={self.iso3!r}, name={self.name!r}, script={self.script!r}, "
                f"family={self.family!r}, branch={self.branch!r})")


# --------------------------------------------------------------------------------------------- build


def _lang2vec_data_dir() -> Path:
    # find_spec locates the package without executing it: lang2vec's __init__ imports pkg_resources,
    # which current setuptools no longer provides.
    spec = importlib.util.find_spec("lang2vec")
    if spec is None or not spec.submodule_search_locations:
        raise ModxferError("lang2vec is not installed; it is needed only to rebuild the language table",
                           "pip install lang2vec==1.1.2")
    path = Path(next(iter(spec.submodule_search_locations))) / "data"
    if not (path / "family_features.npz").exists():
        raise ModxferError(f"lang2vec's URIEL data files are missing from {path}",
                           "reinstall it: pip install --force-reinstall lang2vec==1.1.2")
    return path


def _unit_vector(lat: float, lon: float) -> tuple[float, float, float]:
    la, lo = math.radians(lat), math.radians(lon)
    return (math.cos(la) * math.cos(lo), math.cos(la) * math.sin(lo), math.sin(la))


def build_language_table(data_dir: str | os.PathLike | None = None) -> dict:
    """Compute the language table from lang2vec's URIEL files; the result is what languages.json holds."""
    import numpy as np

    data_dir = Path(data_dir) if data_dir is not None else _lang2vec_data_dir()

    fam = np.load(data_dir / "family_features.npz")
    fam_langs = {str(code): i for i, code in enumerate(fam["langs"])}
    fam_names = [str(f)[2:] for f in fam["feats"]]  # strip URIEL's "F_" prefix
    fam_data = fam["data"][:, :, 0]
    # Ancestors have more member languages than descendants, so sorting by membership gives the path
    # from the top-level family down; ties (a node with a single child) keep URIEL's order, root first.
    members = (fam_data == 1).sum(axis=0)

    knn = np.load(data_dir / "feature_predictions.npz")
    knn_langs = {str(code): i for i, code in enumerate(knn["langs"])}
    knn_feats = [str(f) for f in knn["feats"]]
    knn_data = knn["data"][:, :, 0]
    groups = {"syntax": "S_", "phonology": "P_", "inventory": "INV_"}

    geo = np.load(data_dir / "geocoord_features.npz")
    geo_langs = {str(code): i for i, code in enumerate(geo["langs"])}
    geo_data = geo["data"][:, :, 0].astype(float)  # NpzFile decompresses on every key access
    anchors = np.array([_unit_vector(*map(float, str(f)[3:].split("_"))) for f in geo["feats"]])

    languages: dict[str, dict] = {}
    for code, iso3, name, script, uriel, extra in LANGUAGE_SPECS:
        for table, what in ((fam_langs, "family"), (knn_langs, "kNN feature"), (geo_langs, "location")):
            if uriel not in table:
                raise ModxferError(f"URIEL has no {what} entry for {uriel!r} ({name})",
                                   f"pick another URIEL code for {code!r} in LANGUAGE_SPECS")
        row = fam_data[fam_langs[uriel]]
        nodes = sorted(np.flatnonzero(row == 1), key=lambda j: (-members[j], j))
        lineage = [fam_names[j] for j in nodes]

        family = FAMILY_NAMES.get(lineage[0], lineage[0]) if lineage else name
        genus = next((GENUS_NODES[n] for n in lineage[1:] if n in GENUS_NODES), None)
        branch = genus or (lineage[1] if len(lineage) > 1 else family)
        override = FAMILY_OVERRIDES.get(code, {})
        family, branch = override.get("family", family), override.get("branch", branch)

        features = {}
        vector = knn_data[knn_langs[uriel]]
        for group, prefix in groups.items():
            values = [vector[j] for j, f in enumerate(knn_feats) if f.startswith(prefix)]
            if any(v not in (0.0, 1.0) for v in values) or not any(values):
                raise ModxferError(f"URIEL's {group} kNN vector for {uriel!r} is not a non-empty binary vector",
                                   "check the lang2vec version: modxfer expects lang2vec 1.1.2's data")
            features[group] = "".join("1" if v == 1.0 else "0" for v in values)

        # URIEL stores each location as its distances (fractions of a half circumference) to fixed
        # points; cos(pi * d_i) = anchor_i . x is linear in the unknown unit vector x.
        distances = geo_data[geo_langs[uriel]]
        x, *_ = np.linalg.lstsq(anchors, np.cos(np.pi * distances), rcond=None)
        x = x / np.linalg.norm(x)
        latitude = round(math.degrees(math.asin(max(-1.0, min(1.0, x[2])))), 4)
        longitude = round(math.degrees(math.atan2(x[1], x[0])), 4)

        iso1 = code if len(code) == 2 else None
        aliases = sorted({iso3, uriel, *extra} - {code})
        languages[code] = {
            "iso1": iso1, "iso3": iso3, "name": name, "script": script, "script_code": SCRIPT_CODES[script],
            "family": family, "branch": branch, "uriel": uriel, "lineage": lineage,
            "latitude": latitude, "longitude": longitude, "aliases": aliases, "features": features,
        }

    _check_codes_unique(languages)
    for record in languages.values():
        record["distance_to_en"] = {kind: _record_distance(record, languages["en"], kind) for kind in DISTANCE_KINDS}
    try:
        version = importlib.metadata.version("lang2vec")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return {
        "about": "Generated by modxfer.languages.build_language_table() from URIEL as shipped in lang2vec; "
                 "regenerate with `python -m modxfer.languages`, do not edit by hand.",
        "lang2vec_version": version,
        "default_distance": DEFAULT_DISTANCE,
        "languages": languages,
    }


def _check_codes_unique(languages: Mapping[str, Mapping]) -> None:
    seen: dict[str, str] = {}
    for code, record in languages.items():
        for key in (code, *record["aliases"]):
            if seen.setdefault(key, code) != code:
                raise ModxferError(f"code {key!r} names both {seen[key]!r} and {code!r}",
                                   "give each code to one language in LANGUAGE_SPECS")


def write_language_table(path: str | os.PathLike | None = None) -> Path:
    from .io import atomic_write_json

    path = Path(path) if path is not None else Path(__file__).parent / RESOURCE
    return atomic_write_json(path, build_language_table())


# ------------------------------------------------------------------------------------------ distances


def _cosine_distance(a: str, b: str) -> float:
    dot = sum(x == y == "1" for x, y in zip(a, b, strict=True))
    return 1.0 - dot / math.sqrt(a.count("1") * b.count("1"))


def _record_distance(a: Mapping, b: Mapping, kind: str) -> float:
    fa, fb = a["features"], b["features"]
    if kind == "syntactic":
        d = _cosine_distance(fa["syntax"], fb["syntax"])
    elif kind == "phonological":
        d = _cosine_distance(fa["phonology"], fb["phonology"])
    elif kind == "inventory":
        d = _cosine_distance(fa["inventory"], fb["inventory"])
    elif kind == "featural":
        d = _cosine_distance(fa["syntax"] + fa["phonology"] + fa["inventory"],
                             fb["syntax"] + fb["phonology"] + fb["inventory"])
    elif kind == "genetic":
        if a["uriel"] == b["uriel"]:
            d = 0.0
        else:
            deepest = max(len(a["lineage"]), len(b["lineage"]))
            shared = len(set(a["lineage"]) & set(b["lineage"]))
            d = 1.0 - shared / deepest if deepest else 1.0
    elif kind == "geographic":
        ua, ub = _unit_vector(a["latitude"], a["longitude"]), _unit_vector(b["latitude"], b["longitude"])
        cos = max(-1.0, min(1.0, sum(x * y for x, y in zip(ua, ub))))
        d = math.acos(cos) / math.pi
    else:
        raise ModxferError(f"unknown distance kind {kind!r}", f"use one of: {', '.join(DISTANCE_KINDS)}")
    # Four decimals, as URIEL publishes its distances; also absorbs float noise so en->en is exactly 0.
    return round(max(0.0, d), 4)


def distance(a: str | Language, b: str | Language, kind: str = DEFAULT_DISTANCE) -> float:
    """Typological distance between two languages (see the module docstring for the kinds)."""
    table = _table()["languages"]
    ca = a.code if isinstance(a, Language) else normalize(a)
    cb = b.code if isinstance(b, Language) else normalize(b)
    return _record_distance(table[ca], table[cb], kind)


# ------------------------------------------------------------------------------------------- look-up


@functools.cache
def _table() -> dict:
    try:
        with importlib.resources.files(__package__).joinpath(RESOURCE).open("r", encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise ModxferError(f"the language table modxfer/{RESOURCE} is missing from this install",
                           "reinstall modxfer, or regenerate it with `python -m modxfer.languages`") from None


@functools.cache
def _languages() -> dict[str, Language]:
    out = {}
    for code, r in _table()["languages"].items():
        out[code] = Language(
            code=code, iso1=r["iso1"], iso3=r["iso3"], name=r["name"], script=r["script"],
            script_code=r["script_code"], family=r["family"], branch=r["branch"], uriel=r["uriel"],
            lineage=tuple(r["lineage"]), latitude=r["latitude"], longitude=r["longitude"],
            aliases=tuple(r["aliases"]), distance_to_en=MappingProxyType(dict(r["distance_to_en"])),
        )
    return out


@functools.cache
def _index() -> dict[str, str]:
    index = {}
    for code, lang in _languages().items():
        index[code] = code
        for alias in lang.aliases:
            index[alias] = code
        index.setdefault(lang.name.lower(), code)
    return index


def normalize(code: str) -> str:
    """Canonical code (ISO 639-1 where one exists) for a code in either style, a tag like ``pt-BR``,
    or an English name."""
    if not isinstance(code, str):
        raise UnknownLanguageError(f"language code must be a string, got {type(code).__name__} {code!r}",
                                   "pass a code such as 'de' or 'deu'")
    index = _index()
    key = code.strip().lower().replace("_", "-")
    if key in index:
        return index[key]
    primary = key.split("-")[0]  # BCP 47 tags: zh-CN, pt-BR, sr-Latn
    if primary in index:
        return index[primary]
    close = difflib.get_close_matches(key, list(index), n=5, cutoff=0.6)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise UnknownLanguageError(
        f"unknown language {code!r}{hint}",
        "use an ISO 639-1 code ('de'), an ISO 639-3 code ('deu') or an English name; the known languages "
        "are modxfer.languages.all_codes(), listed in modxfer/resources/languages.json. To add one, add it "
        "to LANGUAGE_SPECS in modxfer/languages.py and run `python -m modxfer.languages`",
    )


def get(code: str | Language) -> Language:
    if isinstance(code, Language):
        return code
    return _languages()[normalize(code)]


def find(code: str) -> Language | None:
    """``get``, or None for a code the table does not know (results keep such languages, ungrouped)."""
    try:
        return get(code)
    except UnknownLanguageError:
        return None


def to_iso1(code: str) -> str | None:
    """ISO 639-1 code, or None for a language that has none (e.g. Cantonese)."""
    return get(code).iso1


def to_iso3(code: str) -> str:
    """ISO 639-3 code: the standard one for the language (``zh`` -> ``zho``, not Tatoeba's ``cmn``)."""
    return get(code).iso3


def all_codes() -> list[str]:
    return sorted(_languages())


def families() -> list[str]:
    return sorted({lang.family for lang in _languages().values()})


def _match_group(name: str, attr: str) -> list[str]:
    values = {getattr(lang, attr) for lang in _languages().values()}
    wanted = FAMILY_NAMES.get(name, name) if attr == "family" else name
    by_lower = {v.lower(): v for v in values}
    if wanted.lower() not in by_lower:
        close = difflib.get_close_matches(wanted, sorted(values), n=5, cutoff=0.5)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise UnknownFamilyError(f"no language here has {attr} {name!r}{hint}",
                                 f"use one of: {', '.join(sorted(values))}")
    value = by_lower[wanted.lower()]
    return sorted(code for code, lang in _languages().items() if getattr(lang, attr) == value)


def by_family(family: str) -> list[str]:
    """Canonical codes of the languages in a top-level family (case-insensitive)."""
    return _match_group(family, "family")


def by_branch(branch: str) -> list[str]:
    return _match_group(branch, "branch")


def group_by_family(codes: Iterable[str]) -> dict[str, list[str]]:
    """Family -> the given codes in it (canonicalized), for per-family result tables."""
    out: dict[str, list[str]] = {}
    for code in codes:
        lang = get(code)
        out.setdefault(lang.family, []).append(lang.code)
    return out


# ---------------------------------------------------------------------------------------- scripts

# Checked in this order; Unicode assigns each code point one script, so the order only affects speed.
_SCRIPTS = (
    "Latin", "Cyrillic", "Han", "Arabic", "Devanagari", "Hiragana", "Katakana", "Hangul", "Greek",
    "Hebrew", "Thai", "Bengali", "Tamil", "Telugu", "Georgian", "Armenian", "Gurmukhi", "Gujarati",
    "Kannada", "Malayalam", "Sinhala", "Myanmar", "Khmer", "Lao", "Ethiopic", "Oriya", "Tibetan",
    "Thaana", "Syriac", "Mongolian", "Tifinagh", "Cherokee", "Canadian_Aboriginal", "Nko", "Javanese",
    "Balinese", "Sundanese", "Ol_Chiki", "Yi", "Bopomofo", "Coptic", "Runic", "Ogham",
)


@functools.cache
def _script_patterns():
    import regex

    return tuple((name, regex.compile(rf"\p{{Script={name}}}")) for name in _SCRIPTS)


@functools.cache
def _shared_pattern():
    import regex

    return regex.compile(r"[\p{Script=Common}\p{Script=Inherited}]")


@functools.lru_cache(maxsize=65536)
def _char_script(ch: str) -> str | None:
    # Letters and combining marks only: digits, punctuation and spaces are shared across scripts
    # (Unicode's Common/Inherited) and would make "1990." look Latin.
    if unicodedata.category(ch)[0] not in "LM":
        return None
    for name, pattern in _script_patterns():
        if pattern.match(ch):
            return name
    if _shared_pattern().match(ch):
        return None  # e.g. the kana length mark, or combining accents that take their base's script
    # A script missing from _SCRIPTS: Unicode character names start with the script ("OSAGE LETTER A").
    return unicodedata.name(ch, "Unknown").split(" ")[0].title()


def script_counts(text: str) -> Counter:
    """Number of letters (and script-specific marks) per Unicode script."""
    counts: Counter = Counter()
    for ch, n in Counter(text).items():
        script = _char_script(ch)
        if script is not None:
            counts[script] += n
    return counts


def script_of_text(text: str) -> str | None:
    """The dominant script of ``text``, named as in :attr:`Language.script`; None if it has no letters.

    Japanese mixes Han with kana, so text whose Han + kana letters dominate and are at least 10% kana is
    "Japanese" (matching ``get("ja").script``); Chinese text has no kana, Japanese prose is mostly kana.
    """
    counts = script_counts(text)
    if not counts:
        return None
    kana = counts["Hiragana"] + counts["Katakana"]
    if kana:
        cjk = kana + counts["Han"]
        others = [n for s, n in counts.items() if s not in ("Han", "Hiragana", "Katakana")]
        if cjk >= max(others, default=0) and kana >= 0.1 * cjk:
            return "Japanese"
    # Ties break alphabetically so the result does not depend on character order.
    return min(counts, key=lambda s: (-counts[s], s))


if __name__ == "__main__":
    print(write_language_table())
