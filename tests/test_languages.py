import importlib.util
import json
import math
import re
from pathlib import Path

import pytest

from modxfer import languages
from modxfer.errors import ModxferError, UnknownLanguageError

RESOURCE = Path(languages.__file__).parent / "resources" / "languages.json"

# (code, ISO 639-3, name, script, family, branch): textbook facts, checked by hand.
FACTS = [
    ("de", "deu", "German", "Latin", "Indo-European", "Germanic"),
    ("en", "eng", "English", "Latin", "Indo-European", "Germanic"),
    ("nl", "nld", "Dutch", "Latin", "Indo-European", "Germanic"),
    ("fr", "fra", "French", "Latin", "Indo-European", "Romance"),
    ("es", "spa", "Spanish", "Latin", "Indo-European", "Romance"),
    ("ru", "rus", "Russian", "Cyrillic", "Indo-European", "Slavic"),
    ("bg", "bul", "Bulgarian", "Cyrillic", "Indo-European", "Slavic"),
    ("uk", "ukr", "Ukrainian", "Cyrillic", "Indo-European", "Slavic"),
    ("lt", "lit", "Lithuanian", "Latin", "Indo-European", "Baltic"),
    ("el", "ell", "Greek", "Greek", "Indo-European", "Greek"),
    ("hi", "hin", "Hindi", "Devanagari", "Indo-European", "Indo-Aryan"),
    ("mr", "mar", "Marathi", "Devanagari", "Indo-European", "Indo-Aryan"),
    ("bn", "ben", "Bengali", "Bengali", "Indo-European", "Indo-Aryan"),
    ("ur", "urd", "Urdu", "Arabic", "Indo-European", "Indo-Aryan"),
    ("fa", "fas", "Persian", "Arabic", "Indo-European", "Iranian"),
    ("zh", "zho", "Chinese", "Han", "Sino-Tibetan", "Sinitic"),
    ("ar", "ara", "Arabic", "Arabic", "Afro-Asiatic", "Semitic"),
    ("he", "heb", "Hebrew", "Hebrew", "Afro-Asiatic", "Semitic"),
    ("sw", "swa", "Swahili", "Latin", "Niger-Congo", "Bantu"),
    ("yo", "yor", "Yoruba", "Latin", "Niger-Congo", "Defoid"),
    ("fi", "fin", "Finnish", "Latin", "Uralic", "Finnic"),
    ("et", "est", "Estonian", "Latin", "Uralic", "Finnic"),
    ("hu", "hun", "Hungarian", "Latin", "Uralic", "Ugric"),
    ("tr", "tur", "Turkish", "Latin", "Turkic", "Common Turkic"),
    ("kk", "kaz", "Kazakh", "Cyrillic", "Turkic", "Common Turkic"),
    ("ja", "jpn", "Japanese", "Japanese", "Japonic", "Japanese"),
    ("ko", "kor", "Korean", "Hangul", "Koreanic", "Koreanic"),
    ("ta", "tam", "Tamil", "Tamil", "Dravidian", "South Dravidian"),
    ("te", "tel", "Telugu", "Telugu", "Dravidian", "Central Dravidian"),
    ("qu", "que", "Quechua", "Latin", "Quechuan", "Quechua II"),
    ("ht", "hat", "Haitian Creole", "Latin", "Creole", "French-based"),
    ("eu", "eus", "Basque", "Latin", "Basque", "Basque"),
    ("id", "ind", "Indonesian", "Latin", "Austronesian", "Malayo-Sumbawan"),
    ("th", "tha", "Thai", "Thai", "Tai-Kadai", "Kam-Tai"),
    ("vi", "vie", "Vietnamese", "Latin", "Austroasiatic", "Vietic"),
    ("ka", "kat", "Georgian", "Georgian", "Kartvelian", "Georgian-Zan"),
]


@pytest.mark.parametrize("code,iso3,name,script,family,branch", FACTS)
def test_hand_checked_facts(code, iso3, name, script, family, branch):
    lang = languages.get(code)
    assert (lang.code, lang.iso3, lang.name, lang.script, lang.family, lang.branch) == (
        code, iso3, name, script, family, branch)
    assert lang.iso1 == code
    assert languages.get(iso3) is lang


def test_script_codes_are_iso_15924():
    assert languages.get("de").script_code == "Latn"
    assert languages.get("ru").script_code == "Cyrl"
    assert languages.get("zh").script_code == "Hani"
    assert languages.get("ja").script_code == "Jpan"
    assert languages.get("ko").script_code == "Hang"


def test_both_code_styles_give_the_same_language():
    assert languages.get("deu") is languages.get("de")
    assert languages.to_iso1("deu") == "de"
    assert languages.to_iso3("de") == "deu"
    # Tatoeba's individual-language codes
    for tatoeba, iso1 in {"cmn": "zh", "pes": "fa", "swh": "sw", "ara": "ar", "ell": "el", "ron": "ro"}.items():
        assert languages.normalize(tatoeba) == iso1
        assert languages.to_iso1(tatoeba) == iso1
    # ISO 639-3 means the standard code of the language, not the individual variety a dataset used
    assert languages.to_iso3("cmn") == "zho"
    assert languages.get("zh").uriel == "cmn"
    assert languages.get("qu").uriel == "quz"


def test_normalize_accepts_case_tags_and_names():
    assert languages.normalize(" DE ") == "de"
    assert languages.normalize("pt-BR") == "pt"
    assert languages.normalize("zh_CN") == "zh"
    assert languages.normalize("sr-Latn") == "sr"
    assert languages.normalize("German") == "de"
    assert languages.normalize("haitian creole") == "ht"
    assert languages.normalize("ger") == "de"  # ISO 639-2/B


def test_language_without_iso1_keeps_its_iso3_code():
    yue = languages.get("yue")
    assert yue.code == "yue" and yue.iso1 is None and languages.to_iso1("yue") is None
    assert yue.family == "Sino-Tibetan" and yue.script == "Han"


def test_unknown_code_names_the_problem_and_the_fix():
    with pytest.raises(UnknownLanguageError) as e:
        languages.get("deuu")
    assert isinstance(e.value, KeyError)
    assert "'deuu'" in e.value.problem and "'deu'" in e.value.problem  # close match suggested
    assert "all_codes()" in e.value.fix and "LANGUAGE_SPECS" in e.value.fix
    with pytest.raises(UnknownLanguageError):
        languages.normalize("xx")
    with pytest.raises(UnknownLanguageError):
        languages.normalize(None)


def test_families_and_groups():
    assert languages.by_family("Uralic") == ["et", "fi", "hu"]
    assert languages.by_family("dravidian") == ["kn", "ml", "ta", "te"]
    indo_european = languages.by_family("Indo-European")
    assert {"de", "en", "ru", "hi", "fa", "el"} <= set(indo_european)
    assert "ht" not in indo_european and "ht" in languages.by_family("Creole")
    assert languages.by_family("Atlantic-Congo") == languages.by_family("Niger-Congo")
    assert set(languages.by_branch("Slavic")) == {"be", "bg", "cs", "hr", "mk", "pl", "ru", "sk", "sl", "sr", "uk"}
    fams = languages.families()
    assert fams == sorted(fams) and {"Indo-European", "Japonic", "Koreanic", "Turkic"} <= set(fams)
    with pytest.raises(languages.UnknownFamilyError) as e:
        languages.by_family("Uralik")
    assert "'Uralic'" in e.value.problem
    grouped = languages.group_by_family(["deu", "fr", "cmn", "fin"])
    assert grouped == {"Indo-European": ["de", "fr"], "Sino-Tibetan": ["zh"], "Uralic": ["fi"]}


def test_all_codes_cover_xtreme_r():
    codes = languages.all_codes()
    assert codes == sorted(codes) and len(codes) == len(set(codes))
    assert len(languages.XTREME_R_LANGUAGES) == 50
    for code in languages.XTREME_R_LANGUAGES:
        assert languages.normalize(code) == code and code in codes


def test_distances_to_english():
    en = languages.get("en")
    assert set(en.distance_to_en) == set(languages.DISTANCE_KINDS)
    assert languages.DEFAULT_DISTANCE in languages.DISTANCE_KINDS
    assert all(v == 0.0 for v in en.distance_to_en.values())
    for code in languages.all_codes():
        d = languages.get(code).distance_to_en
        assert all(0.0 <= v <= 1.0 for v in d.values()), code
        assert d["syntactic"] == languages.distance(code, "en", "syntactic")

    def syn(code):
        return languages.get(code).distance_to_en["syntactic"]

    # Germanic word order is closer to English than Romance, which is closer than SOV Japanese/Korean/Turkish
    assert syn("nl") < syn("fr") < syn("ja")
    assert syn("de") < syn("ja") and syn("de") < syn("ko") and syn("de") < syn("tr")


def test_genetic_distance_counts_shared_glottolog_nodes():
    en, de = languages.get("en"), languages.get("de")
    # English and German share Indo-European > Germanic > Northwest Germanic > West Germanic; English's
    # lineage is 9 nodes deep (down to Macro-English), German's 6.
    assert en.lineage[:4] == de.lineage[:4] == ("Indo-European", "Germanic", "Northwest Germanic", "West Germanic")
    assert len(en.lineage) == 9 and len(de.lineage) == 6
    assert de.distance_to_en["genetic"] == round(1 - 4 / 9, 4)
    assert languages.get("ja").distance_to_en["genetic"] == 1.0
    assert languages.get("eu").distance_to_en["genetic"] == 1.0  # isolate
    assert languages.distance("de", "nl", "genetic") < languages.distance("de", "en", "genetic")


def test_geographic_distance_is_great_circle_over_antipodal():
    # Glottolog places English near Nottingham and Japanese near Kobe: about 9,400 km apart.
    en, ja = languages.get("en"), languages.get("ja")
    assert en.latitude == pytest.approx(53, abs=0.5) and en.longitude == pytest.approx(-1, abs=0.5)
    assert ja.latitude == pytest.approx(35, abs=0.5) and ja.longitude == pytest.approx(135, abs=0.5)
    km = ja.distance_to_en["geographic"] * math.pi * 6371
    assert 9000 < km < 9800
    assert languages.get("fr").distance_to_en["geographic"] < 0.05


def test_distance_is_symmetric_and_checks_kind():
    for kind in languages.DISTANCE_KINDS:
        assert languages.distance("hi", "ur", kind) == languages.distance("urd", "hin", kind)
        assert languages.distance("sw", "sw", kind) == 0.0
    assert languages.get("de").distance("ja") == languages.distance("de", "ja", languages.DEFAULT_DISTANCE)
    with pytest.raises(ModxferError) as e:
        languages.distance("de", "en", "lexical")
    assert "syntactic" in e.value.fix


def test_languages_are_immutable_values():
    de = languages.get("de")
    with pytest.raises(AttributeError):
        de.family = "Uralic"
    with pytest.raises(TypeError):
        de.distance_to_en["syntactic"] = 0.0


@pytest.mark.skipif(importlib.util.find_spec("lang2vec") is None, reason="lang2vec not installed")
def test_resource_equals_a_fresh_build():
    committed = json.loads(RESOURCE.read_text(encoding="utf-8"))
    fresh = json.loads(json.dumps(languages.build_language_table()))
    for code in ("de", "zh", "sw", "qu", "ht", "ja"):
        assert fresh["languages"][code] == committed["languages"][code], code
    assert fresh == committed, "languages.json is stale: run `python -m modxfer.languages`"


# File names that carry language codes, across the task folders (ISO 639-1 and Tatoeba's 639-3).
CODE_PATTERNS = [
    re.compile(r"^(?:dev|train|test|val)-([a-z]{2,3})\.(?:tsv|jsonl|json)$"),
    re.compile(r"^(?:dev|train|test|val)\.([a-z]{2,3})\.jsonl$"),
    re.compile(r"^dev-context-([a-z]{2,3})-question-([a-z]{2,3})\.json$"),
    re.compile(r"^tatoeba\.([a-z]{3})-([a-z]{3})\.[a-z]{3}$"),
    re.compile(r"^xquad\.([a-z]{2,3})\.json$"),
]


def _codes_in(data_dir: Path) -> dict[str, list[Path]]:
    found: dict[str, list[Path]] = {}
    for path in data_dir.rglob("*"):
        for pattern in CODE_PATTERNS:
            if m := pattern.match(path.name):
                for code in m.groups():
                    found.setdefault(code, []).append(path)
    return found


def test_every_code_in_the_data_resolves(data_dir):
    found = _codes_in(data_dir)
    expected = set("ar bg de el en es fr hi ru sw th tr ur vi zh ja ko et ht id it qu ta yo fi he nl".split())
    expected |= set("afr ara ben bul cmn deu ell est fin fra heb hin hun ind ita jav jpn kor mar nld pes pol "
                    "por ron rus spa swh tam tel tha tur ukr vie eng".split())
    assert expected <= set(found), expected - set(found)
    unresolved = []
    for code, paths in found.items():
        try:
            languages.normalize(code)
        except UnknownLanguageError:
            unresolved.append((code, str(paths[0])))
    assert not unresolved


def _sample_text(path: Path, limit: int = 400) -> str:
    """Text fields only: labels and tags are English words that would outvote short CJK tokens."""
    name = path.name
    with path.open(encoding="utf-8") as f:
        if name.startswith("tatoeba."):
            return " ".join(line for _, line in zip(range(limit), f))
        if name.endswith(".tsv") and path.parent.name in ("udpos", "panx"):
            return " ".join(line.split("\t")[0] for _, line in zip(range(limit * 5), f))
        if name.endswith(".tsv"):
            return " ".join(" ".join(line.split("\t")[:2]) for _, line in zip(range(limit), f))
        if name.endswith(".jsonl"):
            rows = [json.loads(line) for _, line in zip(range(limit), f)]
            return " ".join(r["premise"] + " " + r["choice1"] + " " + r["choice2"] for r in rows)
        data = json.load(f)["data"]
        return " ".join(p["context"] for article in data[:5] for p in article["paragraphs"])


def test_each_data_file_is_in_its_languages_script(data_dir):
    checked = 0
    for code, paths in sorted(_codes_in(data_dir).items()):
        for path in paths:
            if path.name.startswith("tatoeba.") and not path.name.endswith("." + code):
                continue  # the .eng side of a pair is English
            if path.name.startswith("dev-context-") and code != path.name.split("-")[2]:
                continue  # the question language; the context language is checked
            expected = languages.get(code).script
            assert languages.script_of_text(_sample_text(path)) == expected, path
            checked += 1
    assert checked >= 60


@pytest.mark.parametrize("text,script", [
    ("The quick brown fox jumps over the lazy dog.", "Latin"),
    ("Съешь же ещё этих мягких французских булок.", "Cyrillic"),
    ("ذهب الولد إلى المدرسة صباحا.", "Arabic"),
    ("यह एक हिंदी वाक्य है।", "Devanagari"),
    ("我们今天去北京。", "Han"),
    ("これは日本語の文です。", "Japanese"),
    ("コンピューター", "Japanese"),
    ("오늘 날씨가 좋습니다.", "Hangul"),
    ("ภาษาไทยเป็นภาษาที่สวยงาม", "Thai"),
    ("Η γρήγορη καφέ αλεπού.", "Greek"),
    ("שלום עולם", "Hebrew"),
    ("தமிழ் ஒரு மொழி", "Tamil"),
    ("తెలుగు భాష", "Telugu"),
    ("আমি বাংলায় গান গাই", "Bengali"),
    ("ქართული ენა", "Georgian"),
    ("Ｆｕｌｌｗｉｄｔｈ", "Latin"),
    ("cafe\u0301 na\u0308ive", "Latin"),  # decomposed accents count with their base letters
    ("Путин посетил New York.", "Cyrillic"),  # mixed: the majority wins
])
def test_script_of_text(text, script):
    assert languages.script_of_text(text) == script


def test_script_of_text_without_letters():
    assert languages.script_of_text("") is None
    assert languages.script_of_text("1990 — 2024, 42%!") is None
    assert languages.script_counts("ab1 вг") == {"Latin": 2, "Cyrillic": 2}
    # a tie is broken by name, not by which script came first
    assert languages.script_of_text("ab вг") == languages.script_of_text("вг ab") == "Cyrillic"
