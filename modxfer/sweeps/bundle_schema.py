"""The shape of a results bundle, checked when it is read: a bundle comes from outside (a study's commit, another
machine), and its checksums only say that it was not changed after it was written, not that whoever wrote it wrote
what `modxfer report` reads. Every check fails with a DataError naming the file, the column or field, and the fix.

    results.parquet   the columns of ``results.load_results`` (RESULT_COLUMNS below, then ``metrics.<name>`` numbers)
                      and ``outcomes``: JSON text of a ``modxfer.scoring.outcomes`` record, or null
    run.json          ``counts`` (cell kind -> status -> number of cells), ``artifacts`` (ARTIFACT_FIELDS, with a
                      competence record of COMPETENCE_FIELDS or null), ``similarity`` (measure -> SIMILARITY_FIELDS)
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..store.cards import show
from ..composition import KINDS, Composition
from ..errors import DataError, ModxferError
from .results import LEARNED, NOT_APPLICABLE, NOT_LEARNED, UNKNOWN


def _expects(what: str):
    """Marks a value check with what it accepts, for the message when a value fails it."""
    def mark(check: Callable[[object], bool]) -> Callable[[object], bool]:
        check.what = what
        return check
    return mark


@_expects("text")
def _str(v) -> bool:
    return isinstance(v, str)


@_expects("text or null")
def _opt_str(v) -> bool:
    return v is None or isinstance(v, str) or (isinstance(v, float) and math.isnan(v))


@_expects("a whole number >= 0")
def _count(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) and v >= 0


@_expects("a number (NaN where there is none)")
def _number(v) -> bool:  # NaN: no noise rate (clean rows), no metric of that name (another task's)
    return (isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
            and not math.isinf(v))


@_expects("a finite number")
def finite_json(v) -> bool:  # a score: every finished row has one
    return _number(v) and not math.isnan(v)


@_expects("a number or null")
def _opt_number(v) -> bool:
    return v is None or _number(v)


@_expects("a whole number >= 0 or null")
def _opt_count(v) -> bool:
    return v is None or _count(v)


@_expects("true or false")
def _bool(v) -> bool:
    return isinstance(v, bool)


@_expects("a JSON object")
def _object(v) -> bool:
    return isinstance(v, dict)


@_expects("a competence record (JSON object) or null")
def _opt_object(v) -> bool:
    return v is None or isinstance(v, dict)


@_expects("a list of task names")
def _names(v) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


@_expects("a list of rows of numbers")
def _rows(v) -> bool:
    return isinstance(v, list) and all(isinstance(r, list) for r in v)


@_expects("a list of two numbers [low, high]")
def _interval(v) -> bool:
    return isinstance(v, list) and len(v) == 2 and all(_opt_number(x) for x in v)


def _one_of(*allowed: str) -> Callable[[object], bool]:
    return _expects("one of " + ", ".join(repr(a) for a in allowed))(lambda v: isinstance(v, str) and v in allowed)


_STATUSES = _one_of(LEARNED, NOT_LEARNED, UNKNOWN, NOT_APPLICABLE)
RESULT_COLUMNS = {"task": _str, "composition": _str, "kind": _one_of(*KINDS), "lang": _str, "family": _opt_str,
                  "noise": _str, "seed": _count, "metric": _str, "score": finite_json, "n": _count, "cell": _str,
                  "noise_rate": _number, "noise_words_rate": _number, "competence": _STATUSES}
# The rows that make one evaluation: two rows with the same would be counted twice.
ROW_KEY = ["task", "composition", "lang", "noise", "seed"]
# (check, required): what report, report_evidence and report_sections read from each trained model's entry.
ARTIFACT_FIELDS = {"id": (_str, True), "status": (_one_of(LEARNED, NOT_LEARNED, UNKNOWN), True),
                   "competence": (_opt_object, True), "cell": (_str, False), "finished": (_bool, False),
                   "examples": (_opt_count, False), "epochs": (_opt_number, False)}
COMPETENCE_FIELDS = {"metric": _str, "score": _opt_number, "ci": _interval, "n": _opt_count, "chance": _opt_number,
                     "floor": _opt_number, "floor_method": _str, "learned": _bool}
SIMILARITY_FIELDS = {"measure": _str, "intermediates": _names, "targets": _names, "values": _rows}


def check_results(df, file: Path, fix: str):
    """The results table with its columns checked and ``outcomes`` decoded (dicts, None where a row has none)."""
    if df.empty:
        raise DataError(f"{file} holds no result rows", fix)
    missing = [c for c in [*RESULT_COLUMNS, "outcomes"] if c not in df.columns]
    if missing:
        raise DataError(f"{file} lacks the column(s) {', '.join(map(repr, missing))} of a results table", fix)
    columns = {**RESULT_COLUMNS, **{c: _number for c in df.columns if str(c).startswith("metrics.")}}
    for column, check in columns.items():
        df[column] = _column(df[column], column, check, file, fix)
    from ..tasks import get_task

    for task, i in df.groupby("task", sort=False).groups.items():
        try:
            get_task(task)
        except ModxferError as e:
            raise DataError(f"{file}: column 'task', row {i[0]}: {e.problem}", fix) from None
    for (comp, kind), i in df.groupby(["composition", "kind"], sort=False).groups.items():
        try:
            parsed = Composition.parse(comp)
        except ModxferError as e:
            raise DataError(f"{file}: column 'composition', row {i[0]}: {e.problem}", fix) from None
        if parsed.kind != kind:
            raise DataError(f"{file}: column 'kind', row {i[0]}: {kind!r}, but composition {comp!r} is a "
                            f"{parsed.kind}", fix)
    repeated = df.duplicated(ROW_KEY)
    if repeated.any():
        i = int(np.flatnonzero(repeated.to_numpy())[0])
        raise DataError(f"{file}: row {i} repeats the {', '.join(ROW_KEY)} of an earlier row", fix)
    df["outcomes"] = [_outcomes(v, i, file, fix) for i, v in enumerate(df["outcomes"])]
    return df


def _column(col, name: str, check, file: Path, fix: str):
    import pandas as pd

    numeric = check in (_number, finite_json, _count)
    if numeric and pd.api.types.is_bool_dtype(col.dtype):
        raise DataError(f"{file}: column {name!r} holds true/false; it must hold {check.what}", fix)
    if check in (_number, finite_json) and pd.api.types.is_numeric_dtype(col.dtype):
        values = col.to_numpy(dtype=float)
        bad = np.flatnonzero(np.isinf(values) if check is _number else ~np.isfinite(values))
    elif check is _count and pd.api.types.is_integer_dtype(col.dtype):
        bad = np.flatnonzero(col.to_numpy() < 0)
    else:  # text columns, and numbers stored as objects: value by value
        bad = [i for i, v in enumerate(col.tolist()) if not check(v)]
    if len(bad):
        i = int(bad[0])
        value = col.iloc[i].item() if isinstance(col.iloc[i], np.generic) else col.iloc[i]
        raise DataError(f"{file}: column {name!r}, row {i}: {show(value)} is not {check.what}"
                        + (f" ({len(bad)} rows like it)" if len(bad) > 1 else ""), fix)
    if numeric and not pd.api.types.is_numeric_dtype(col.dtype):
        return col.astype("int64" if check is _count else float)  # numbers that came as objects, all checked
    return col


def _outcomes(value, row: int, file: Path, fix: str) -> dict | None:
    from ..scoring import outcomes as O

    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    where = f"{file}: column 'outcomes', row {row}"
    if not isinstance(value, str):
        raise DataError(f"{where}: {show(value)} is not JSON text of per-example outcomes", fix)
    try:
        record = json.loads(value)
        return O.check(record)
    except ValueError as e:
        raise DataError(f"{where} is not valid JSON ({str(e)[:80]})", fix) from None
    except RecursionError:
        raise DataError(f"{where} is nested too deeply to be per-example outcomes", fix) from None
    except DataError as e:
        raise DataError(f"{where}: {e.problem}", fix) from None


def check_meta(meta: dict, file: Path, fix: str) -> None:
    """``counts``, ``artifacts`` and ``similarity`` of run.json, and the card fields the report reads."""
    card = meta["card"]
    for key, check in (("run_name", _str), ("similarity_examples", _opt_count), ("rows", _count),
                       ("backbone", _object)):
        if key in card and not check(card[key]):
            raise DataError(f"{file}: card.{key} is {show(card[key])}, not {check.what}", fix)
    for kind, by_status in meta["counts"].items():
        if not isinstance(by_status, dict) or not all(_count(n) for n in by_status.values()):
            raise DataError(f"{file}: counts.{kind} is {show(by_status)}, not a mapping of status to a number of "
                            "cells", fix)
    for i, entry in enumerate(meta["artifacts"]):
        _fields(entry, ARTIFACT_FIELDS, f"artifacts[{i}]", file, fix)
        if entry["competence"] is not None:
            _fields(entry["competence"], {k: (c, False) for k, c in COMPETENCE_FIELDS.items()},
                    f"artifacts[{i}].competence", file, fix)
    for measure, d in meta["similarity"].items():
        _fields(d, {k: (c, True) for k, c in SIMILARITY_FIELDS.items()}, f"similarity.{measure}", file, fix)


def _fields(entry, fields: dict, where: str, file: Path, fix: str) -> None:
    if not isinstance(entry, dict):
        raise DataError(f"{file}: {where} is {show(entry)}, not a JSON object", fix)
    for key, (check, required) in fields.items():
        if key not in entry:
            if required:
                raise DataError(f"{file}: {where} has no '{key}' field (it must be {check.what})", fix)
            continue
        if not check(entry[key]):
            raise DataError(f"{file}: {where}.{key} is {show(entry[key])}, not {check.what}", fix)
