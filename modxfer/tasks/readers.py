"""Readers for the file formats of the task data (XTREME layout). Each returns a list of row dicts in
modxfer's column schema for its head type and names the file and line of any malformed row.

Files are decoded strictly as UTF-8 (an invalid byte is reported with its line and byte offset), JSON may not nest
past ``MAX_JSON_DEPTH``, and tagging rows may not have empty tokens (a token with no characters has no word start,
so every later tag would shift by one word). Readers are strict where a lenient reader would change the data
silently: a byte-order mark, a NUL byte, NaN or a number past float range, a duplicate JSON key (json keeps the
last) are errors naming the file and line, and so is a line longer than ``MAX_LINE_CHARS`` in a line-based file (no
sentence is that long; it would make noise and tokenization crawl).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from pathlib import Path
from typing import Iterator

from ..errors import DataError
from ..io import MAX_JSON_DEPTH, STRICT_JSON, depth

MAX_LINE_CHARS = 100_000  # the longest line of a line-based task file is a few thousand characters

_FIX = "use an unmodified copy of the file (see the data README), or re-create it with `modxfer data fetch TASK`"


def _bad(path: Path, line: int | None, what: str) -> DataError:
    where = f"{path}:{line}" if line is not None else str(path)
    return DataError(f"malformed data in {where}: {what}", _FIX)


_RECORDERS: list[set[Path]] = []


@contextlib.contextmanager
def recording() -> Iterator[set[Path]]:
    """Collect the paths of the data files read inside the block (``data check`` compares them with manifests)."""
    seen: set[Path] = set()
    _RECORDERS.append(seen)
    try:
        yield seen
    finally:
        _RECORDERS.remove(seen)


def _open(path: Path) -> io.StringIO:
    """The file's text, decoded strictly; iterating it splits lines exactly as ``open(..., newline="")`` does."""
    if not path.is_file():
        raise DataError(
            f"missing data file {path}",
            "set MODXFER_DATA_DIR (or --data-dir) to the folder holding the task data, "
            "or download it with `modxfer data fetch TASK`",
        )
    for seen in _RECORDERS:
        seen.add(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DataError(f"cannot read data file {path} ({e.strerror})", _FIX) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _bad(path, data.count(b"\n", 0, e.start) + 1, f"not UTF-8 text (byte offset {e.start})") from None
    if text.startswith("\ufeff"):
        raise DataError(f"malformed data in {path}:1: the file starts with a byte-order mark (BOM), which would "
                        "become part of the first example's text", "save the file as UTF-8 without a BOM "
                        "(e.g. `sed -i '1s/^\\xEF\\xBB\\xBF//' FILE`), or use an unmodified copy")
    if (nul := text.find("\x00")) >= 0:
        raise _bad(path, text.count("\n", 0, nul) + 1, "a NUL byte (\\x00) in the text: the file is damaged or binary")
    return io.StringIO(text, newline="")


def _lines(f, path: Path) -> Iterator[tuple[int, str]]:
    for i, line in enumerate(f, 1):
        if len(line) > MAX_LINE_CHARS:
            raise _bad(path, i, f"a line of {len(line):,} characters, more than the {MAX_LINE_CHARS:,} a line of task "
                                "data may have (damaged, or not this task's file)")
        yield i, line


def read_jsonl(path: Path) -> list[dict]:
    rows = []
    with _open(path) as f:
        for i, line in _lines(f, path):
            if not line.strip():
                continue
            obj = _loads(line, path, i)
            if not isinstance(obj, dict):
                raise _bad(path, i, "each line must be a JSON object")
            obj["_line"] = i
            rows.append(obj)
    return rows


def _loads(text: str, path: Path, line: int | None):
    try:
        obj = json.loads(text, **STRICT_JSON)
    except json.JSONDecodeError as e:
        raise _bad(path, e.lineno if line is None else line, f"not valid JSON ({e.msg})") from None
    except RecursionError:
        raise _bad(path, line, "JSON nested too deeply") from None
    except ValueError as e:  # e.g. an integer too long to convert
        raise _bad(path, line, f"not acceptable JSON ({str(e)[:100]})") from None
    if depth(obj, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise _bad(path, line, f"JSON nested more than {MAX_JSON_DEPTH} levels deep")
    return obj


def read_json(path: Path):
    with _open(path) as f:
        return _loads(f.read(), path, None)


def read_tsv(path: Path, n_fields: int, names: str) -> list[tuple[int, list[str]]]:
    out = []
    with _open(path) as f:
        for i, line in _lines(f, path):
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
        reader = csv.DictReader(line for _, line in _lines(f, path))
        rows = []
        try:
            missing = [c for c in required if c not in (reader.fieldnames or [])]
            if missing:
                raise _bad(path, 1, f"missing column(s) {', '.join(missing)}")
            for row in reader:
                row["_line"] = reader.line_num
                rows.append(row)
        except csv.Error as e:  # e.g. a field past csv's size limit; raised before the line is counted
            raise _bad(path, reader.line_num + 1, f"not valid CSV ({e})") from None
        return rows


def read_conll(path: Path) -> list[tuple[int, list[str], list[str]]]:
    """``token<TAB>TAG`` per line, blank line between sentences -> (first line, tokens, tags)."""
    sents, tokens, tags, start = [], [], [], None
    with _open(path) as f:
        for i, line in _lines(f, path):
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
            # Whitespace-only only: real data has tokens such as U+200B, which the features must place themselves.
            if not tok.strip() or not tag.strip():
                raise _bad(path, i, f"empty {'tag' if tok.strip() else 'token'} in {line!r} (each line is one word "
                                    "and its tag; an empty word has no position to tag)")
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
        return [line.rstrip("\r\n") for _, line in _lines(f, path)]
