"""Writers of the file formats the registry reads, for converters of Hub rows (``modxfer data fetch``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

from ..io import atomic_write_bytes, atomic_write_text
from .loaders import NLI_LABELS


def jsonl(rows: Iterable[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def tsv(rows: Iterable[Iterable]) -> str:
    return "".join("\t".join(str(x).replace("\t", " ").replace("\n", " ") for x in r) + "\n" for r in rows)


def conll(rows: Iterable[dict], names: tuple[str, ...], tokens="tokens", tags="ner_tags") -> str:
    out = []
    for r in rows:
        for tok, tag in zip(r[tokens], r[tags]):
            out.append(f"{tok}\t{names[tag] if isinstance(tag, int) else tag}\n")
        out.append("\n")
    return "".join(out)


def squad_json(rows: Iterable[dict]) -> str:
    articles: dict[str, dict[str, list]] = {}
    for r in rows:
        paras = articles.setdefault(r.get("title", ""), {})
        paras.setdefault(r["context"], []).append({
            "id": r["id"], "question": r["question"],
            "answers": [{"text": t, "answer_start": int(s)} for t, s in zip(r["answers"]["text"], r["answers"]["answer_start"])]})
    data = [{"title": t, "paragraphs": [{"context": c, "qas": q} for c, q in p.items()]} for t, p in articles.items()]
    return json.dumps({"version": "1.1", "data": data}, ensure_ascii=False)


def nli_label(v) -> str:
    return NLI_LABELS[v] if isinstance(v, int) and v >= 0 else ("-" if isinstance(v, int) else str(v))


def write(root: Path, rel: str, text: str) -> Path:
    return atomic_write_text(root / rel, text)


def write_bytes(root: Path, rel: str, data: bytes) -> Path:
    return atomic_write_bytes(root / rel, data)
