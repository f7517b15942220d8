"""Readers for the file formats of the task data (XTREME layout). Each returns a list of row dicts in
modxfer's column schema for its head type and names the file and line of any malformed row."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from ..errors import DataError

_FIX = "use an unmodified copy of the file (see the data README), or re-create it with `modxfer data fetch TASK`"


def _bad(path: Path, line: int | None, what: str) -> DataError:
    where = f"{path}:{line}" if line is not None else str(path)
    return DataError(f"malformed data in {where}: {what}", _FIX)


def _open(path: Path):
    if not path.is_file():
        raise DataError(
            f"missing data file {path}",
            "set MODXFER_DATA_DIR (or --data-dir) to the folder holding the task data, "
            "or download it with `modxfer data fetch TASK`",
        )
    return open(path, encoding="utf-8", newline="")


def read_jsonl(path: Path) -> list[dict]:
    rows = []
    with _open(path) as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise _bad(path, i, f"not valid JSON ({e.msg})") from None
            if not isinstance(obj, dict):
                raise _bad(path, i, "each line must be a JSON object")
            obj["_line"] = i
            rows.append(obj)
    return rows


def read_json(path: Path):
    with _open(path) as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as e:
            raise _bad(path, e.lineno, f"not valid JSON ({e.msg})") from None


def read_tsv(path: Path, n_fields: int, names: str) -> list[tuple[int, list[str]]]:
    out = []
    with _open(path) as f:
        for i, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line:
                continue
            fields = line.split("\t")
            if len(fields) != n_fields:
                raise _bad(path, i, f"expected {n_fields} tab-separated fields ({names}), got {len(fields)}")
            out.append((i, fields))
    return out


def read_csv(path: Path, required: list[str]) -> list[dict]:
    with _open(path) as f:
        reader = csv.DictReader(f)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise _bad(path, 1, f"missing column(s) {', '.join(missing)}")
        rows = []
        for row in reader:
            row["_line"] = reader.line_num
            rows.append(row)
        return rows


def read_conll(path: Path) -> list[tuple[int, list[str], list[str]]]:
    """``token<TAB>TAG`` per line, blank line between sentences -> (first line, tokens, tags)."""
    sents, tokens, tags, start = [], [], [], None
    with _open(path) as f:
        for i, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line.strip():
                if tokens:
                    sents.append((start, tokens, tags))
                tokens, tags, start = [], [], None
                continue
            fields = line.split("\t")
            if len(fields) != 2:
                raise _bad(path, i, f"expected 'token<TAB>TAG', got {len(fields)} field(s)")
            tok, tag = fields
            if start is None:
                start = i
            tokens.append(tok)
            tags.append(tag)
    if tokens:
        sents.append((start, tokens, tags))
    return sents


def read_squad(path: Path) -> list[dict]:
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise _bad(path, None, "expected SQuAD JSON with a top-level 'data' list")
    rows = []
    for art in data["data"]:
        title = art.get("title", "")
        for par in art.get("paragraphs", []):
            ctx = par.get("context")
            if not isinstance(ctx, str):
                raise _bad(path, None, f"paragraph without a 'context' string in article {title!r}")
            for qa in par.get("qas", []):
                try:
                    answers = qa["answers"]
                    row = {
                        "id": str(qa["id"]),
                        "title": title,
                        "context": ctx,
                        "question": qa["question"],
                        "answers": {
                            "text": [a["text"] for a in answers],
                            "answer_start": [int(a["answer_start"]) for a in answers],
                        },
                    }
                except (KeyError, TypeError, ValueError) as e:
                    raise _bad(path, None, f"question {qa.get('id', '?')} lacks a valid field ({e})") from None
                rows.append(row)
    return rows


def read_lines(path: Path) -> list[str]:
    with _open(path) as f:
        return [line.rstrip("\r\n") for line in f]
