"""Converters for the XTREME-R targets fetched online: XQuAD, TyDiQA-GoldP, BUCC, LAReQA, Mewsli-X (layouts in
``xtreme_r.py``). Where the Hugging Face copy lacks what the benchmark needs, the official files are downloaded:

- BUCC: the Hub's ``google/xtreme`` ``bucc18.XX`` keeps only the gold pairs, which turns mining into Tatoeba-style
  matching; the official BUCC 2018 archives hold the full monolingual corpora the pairs must be mined from.
- LAReQA: the Hub's ``xquad_r`` drops ``sentence_breaks``, which define the candidate sentences; the official
  google-research-datasets/lareqa files keep them.
- Mewsli-X: the XTREME-processed files mirrored on the Hub (``izhx/mewsli-x``), fetched as files.
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

from ..errors import DataError
from .convert_paper import squad_rows
from .formats import jsonl, squad_json, write, write_bytes

TYDIQA_ISO = {"arabic": "ar", "bengali": "bn", "english": "en", "finnish": "fi", "indonesian": "id", "korean": "ko",
              "russian": "ru", "swahili": "sw", "telugu": "te"}
BUCC_URL = "https://comparable.limsi.fr/bucc2018/bucc2018-{lang}-en.{kind}-gold.tar.bz2"
LAREQA_URL = "https://raw.githubusercontent.com/google-research-datasets/lareqa/master/xquad-r/{lang}.json"
MEWSLIX_REPO = "hf://datasets/izhx/mewsli-x/"


def _xquad(src, root, lang):
    if lang == "en-files":  # the paper profile's English QA training data (XQuAD is evaluation only)
        return squad_rows(src, root, None)
    return [write(root, f"xquad/xquad.{lang}.json", squad_json(src.load("google/xquad", f"xquad.{lang}", "validation")))]


def _tydiqa_lang(row_id: str) -> str | None:
    return TYDIQA_ISO.get(str(row_id).split("-", 1)[0])


def _tydiqa(src, root, lang):
    if lang == "train-en":
        rows = [r for r in src.load("google-research-datasets/tydiqa", "secondary_task", "train") if _tydiqa_lang(r["id"]) == "en"]
        return [write(root, "tydiqa/train-en.json", squad_json(rows))]
    if lang not in TYDIQA_ISO.values():
        raise DataError(f"TyDiQA-GoldP has no language {lang!r}", f"use one of: {', '.join(TYDIQA_ISO.values())}")
    rows = [r for r in src.load("google-research-datasets/tydiqa", "secondary_task", "validation") if _tydiqa_lang(r["id"]) == lang]
    return [write(root, f"tydiqa/dev-{lang}.json", squad_json(rows))]


def _members(path: Path, suffixes: dict[str, str]) -> dict[str, bytes]:
    """The archive members whose names end in the given suffixes (never extracted to disk by their own paths)."""
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(path, "r:*") as tf:
            for m in tf:
                for suffix, key in suffixes.items():
                    if m.isfile() and m.name.endswith(suffix):
                        found[key] = tf.extractfile(m).read()
    except (tarfile.TarError, OSError, EOFError) as e:
        raise DataError(f"{path} is not a readable archive ({e})", "delete it and fetch again") from None
    missing = sorted(set(suffixes.values()) - set(found))
    if missing:
        raise DataError(f"{path} lacks {', '.join(missing)}", "delete it and fetch again (the download may be truncated)")
    return found


def _bucc(src, root, lang):
    out = []
    for kind, name in (("training", "test"), ("sample", "dev")):  # XTREME's renaming
        archive = src.download(BUCC_URL.format(lang=lang, kind=kind))
        files = _members(archive, {f"{lang}-en.{kind}.{ext}": ext for ext in (lang, "en", "gold")})
        out += [write_bytes(root, f"bucc2018/{lang}-en.{name}.{ext}", data) for ext, data in sorted(files.items())]
    return out


def _lareqa(src, root, lang):
    data = src.download(LAREQA_URL.format(lang=lang)).read_bytes()
    try:
        obj = json.loads(data)
        assert all("sentence_breaks" in p for a in obj["data"] for p in a["paragraphs"])
    except (ValueError, KeyError, TypeError, AssertionError):
        raise DataError(f"the XQuAD-R file for {lang!r} is not SQuAD JSON with sentence_breaks",
                        "check the language code (ar de el en es hi ru th tr vi zh)") from None
    return [write_bytes(root, f"lareqa/xquad-r/{lang}.json", data)]


def _nested(line: bytes, where: str) -> dict:
    """A context with its mentions; unnested single-mention records are nested (the inverse XTREME also applies)."""
    try:
        obj = json.loads(line)
    except ValueError:
        obj = None
    if isinstance(obj, dict) and "mentions" not in obj and "mention" in obj:
        obj = {"context": obj["context"], "mentions": [obj["mention"]]}
    if not isinstance(obj, dict) or not isinstance(obj.get("context"), dict) or not isinstance(obj.get("mentions"), list):
        raise DataError(f"{where} is not Mewsli-X mention data (context + mentions per line)",
                        "fetch again, or place XTREME's mewslix files in the data directory by hand")
    return obj


def _mewslix(src, root, lang):
    if lang == "pool":
        rel = "mewslix/candidate_set_entities.jsonl"
        if (root / rel).is_file():  # about 600 MB, the same for every language
            return []
        data = _members(src.download(MEWSLIX_REPO + "candidate_entities.jsonl.tar.gz"), {".jsonl": "entities"})["entities"]
        return [write_bytes(root, rel, data)]
    out = []
    for split in ("dev", "test"):
        path = src.download(f"{MEWSLIX_REPO}wikinews_mentions/{lang}/{split}.jsonl")
        docs = [_nested(line, f"{path}:{i}") for i, line in enumerate(path.read_bytes().splitlines(), 1) if line.strip()]
        out.append(write(root, f"mewslix/wikinews_mentions/{split}-{lang}.jsonl", jsonl(docs)))
    return out


XTREME_R_CONVERTERS = {"xquad": _xquad, "tydiqa": _tydiqa, "bucc": _bucc, "lareqa": _lareqa, "mewslix": _mewslix}
# Calls made before the per-language ones, per profile (the shared or English files).
XTREME_R_EXTRAS = {"offline": {"tydiqa": ["train-en"], "mewslix": ["pool"]},
                   "paper": {"xquad": ["en-files"], "tydiqa": ["train-en"], "mewslix": ["pool"]}}
