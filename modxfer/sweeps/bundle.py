"""A run's results as a portable bundle: everything `modxfer report` reads, without artifacts, caches or sweep.db.

    results.parquet   one row per evaluation cell x language x noise setting (``load_results`` columns), with the
                      row's per-example outcomes (``modxfer.scoring.outcomes``) as JSON text
    run.json          how the results were made: the run's name and config, the cells per status, each trained
                      model's competence record, the similarity matrices the report relates results to (measured
                      once, with the backbone, when the bundle is written), and the sha256 of results.parquet

A study commits its bundle; `modxfer report BUNDLE` then recomputes every statistic from it, on any machine, without
the backbone's floating-point differences between CPUs reaching the report. Nothing here is pickled: Parquet and
strict JSON only, and the parquet's checksum is verified before it is read.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..store.cards import show
from ..errors import DataError, ModxferError

KIND = "modxfer-results"
VERSION = 1
RESULTS, META = "results.parquet", "run.json"


@dataclass
class Bundle:
    path: Path
    name: str
    config: dict
    counts: dict
    artifacts: list[dict]
    results: object  # pandas DataFrame, with an ``outcomes`` column of dicts (None where a row has none)
    results_sha256: str
    similarity: dict = field(default_factory=dict)  # measure -> SimilarityMatrix
    backbone: dict = field(default_factory=dict)
    card: dict = field(default_factory=dict)


def is_bundle(path: str | os.PathLike) -> bool:
    """Whether ``path`` is meant as a bundle (its run.json, no sweep.db): ``read_bundle`` then names what is wrong
    with it, a missing results.parquet included."""
    p = Path(path)
    return (p / META).is_file() and not (p / "sweep.db").exists()


def _whole_bundle(path: Path) -> bool:
    return is_bundle(path) and (path / RESULTS).is_file()


def read_run(run_dir: str | os.PathLike) -> dict:
    """What a run's store says about it besides its results: config, name, cells per status, each trained model's
    competence, and the modxfer version and commit it last ran at."""
    import yaml

    from .results import artifact_competence
    from .store import Store

    with Store(run_dir) as store:
        return {"config": yaml.safe_load(store.meta("config") or "{}") or {},
                "name": store.meta("name") or Path(run_dir).name, "counts": store.counts(),
                "artifacts": artifact_competence(store), "source": json.loads(store.meta("source") or "null"),
                "modxfer": store.meta("modxfer")}


def _check_writable(out: Path, run_dir: Path) -> None:
    """A bundle replaces a previous bundle, never the run or another folder's contents."""
    from ..errors import ConfigError

    out_r, run_r = out.resolve(), run_dir.resolve()
    if out_r == run_r or run_r.is_relative_to(out_r):
        raise ConfigError(f"the bundle folder {out} would replace the run {run_dir}",
                          "pass -o with a new folder outside the run (default: RUN_DIR/results)")
    if out.exists() and not (out.is_dir() and (not any(out.iterdir()) or _whole_bundle(out))):
        raise ConfigError(f"{out} exists and does not hold a results bundle",
                          "pass -o with a new folder (or one written by `modxfer sweep export --format bundle`)")


def digest(meta: dict) -> str:
    """sha256 of run.json's content sections as written (NaN as null, as ``atomic_write_json`` writes it)."""
    from ..io import finite_json

    body = finite_json({k: meta.get(k) for k in ("config", "counts", "artifacts", "similarity")})
    return hashlib.sha256(json.dumps(body, sort_keys=True, allow_nan=False).encode("utf-8")).hexdigest()


def write_bundle(run_dir: str | os.PathLike, out: str | os.PathLike, *, data_dir=None,
                 similarity_examples: int | None = None, measures=None) -> Path:
    """Write ``out`` (a folder, replaced atomically) from the run in ``run_dir``; similarity matrices are computed
    with the run's backbone on the English training inputs of its tasks (training-free measures only)."""

    from .. import __version__
    from ..similarity import measures as S
    from ..similarity.pairs import pairs_in, similarity_matrices
    from ..model.backbone import load_backbone
    from ..io import atomic_dir, atomic_write_bytes, atomic_write_json, sha256_file
    from ..store.provenance import source_commit
    from .results import load_results
    from .store import DB_NAME

    run_dir, out = Path(run_dir), Path(out)
    _check_writable(out, run_dir)
    run = read_run(run_dir)
    config, name, counts, artifacts = run["config"], run["name"], run["counts"], run["artifacts"]
    run_source, run_version = run["source"], run["modxfer"]
    df = load_results(run_dir, outcomes=True)
    if df.empty:
        raise DataError(f"{run_dir} has no finished evaluation results to bundle",
                        f"run the sweep first (modxfer sweep run CONFIG), then bundle {run_dir}")
    if data_dir is None and config.get("data_dir") and Path(str(config["data_dir"])).expanduser().is_dir():
        data_dir = Path(str(config["data_dir"])).expanduser()
    bb = load_backbone(config.get("backbone", "embedded"))
    matrices = {m: mat.to_dict() for m, mat in similarity_matrices(pairs_in(df), bb, similarity_examples, data_dir,
                                                                   measures or S.TRAINING_FREE).items()}
    examples = similarity_examples or S.EXAMPLES
    table = df.copy()
    table["outcomes"] = [None if o is None else json.dumps(o, sort_keys=True, separators=(",", ":"))
                         for o in table["outcomes"]]
    buf = io.BytesIO()
    table.to_parquet(buf, index=False, compression="zstd")
    data = buf.getvalue()
    meta = {"card": {"kind": KIND, "version": VERSION, "modxfer": __version__, "run_modxfer": run_version,
                     "run_source": run_source, "export_source": source_commit(),
                     "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                     "run_name": name, "sweep_db_sha256": sha256_file(run_dir / DB_NAME),
                     "results_sha256": hashlib.sha256(data).hexdigest(), "rows": len(table),
                     "backbone": {"name": config.get("backbone", "embedded"), "model_id": bb.model_id,
                                  "weights_hash": bb.weights_hash},
                     "similarity_examples": examples},
            "config": config, "counts": counts, "artifacts": artifacts, "similarity": matrices}
    meta["card"]["digest"] = digest(meta)
    with atomic_dir(out) as tmp:
        atomic_write_bytes(tmp / RESULTS, data)
        atomic_write_json(tmp / META, meta)
    return Path(out)


# Limits checked from the file's size and the parquet footer before a row is read: a 512 KB parquet can declare
# millions of rows (a decompression bomb). A sweep plans at most config.MAX_CELLS evaluation cells, one row each.
MAX_ROWS = 200_000
MAX_RESULT_BYTES = 128 << 20  # uncompressed, as the footer declares it (the committed study's: 3 MB)
# Decoded, as rows are read: a dictionary-encoded column declares its one long value once, however many rows repeat
# it (10 rows of one 45 MB string declared 47 MB and decoded to 450 MB), so the read itself is bounded too.
MAX_DECODED_BYTES = 256 << 20
_READ_ROWS = 4  # rows decoded at a time: at most 4 x MAX_RESULT_BYTES even if every row repeats the longest value


def _check_rows(file: Path, rows, fix: str) -> None:
    """The rows and bytes the parquet's footer declares, against run.json's count and the limits, before reading."""
    import pyarrow.parquet as pq

    try:
        md = pq.ParquetFile(file).metadata  # the footer only
    except Exception as e:  # ArrowInvalid, OSError: not a parquet file at all
        raise DataError(f"{file} cannot be read as a results table ({type(e).__name__}: {str(e)[:120]})", fix) from None
    declared = sum(md.row_group(i).total_byte_size for i in range(md.num_row_groups))
    if rows is not None and md.num_rows != rows:
        raise DataError(f"{file} holds {md.num_rows:,} rows, but {META} says {show(rows)}", fix)
    if md.num_rows > MAX_ROWS or declared > MAX_RESULT_BYTES:
        raise DataError(f"{file} declares {md.num_rows:,} rows and {declared:,} bytes uncompressed, more than a "
                        f"results table may have ({MAX_ROWS:,} rows, {MAX_RESULT_BYTES:,} bytes)", fix)


def _read_bounded(file: Path, fix: str):
    """The results table, decoded a few rows at a time and refused once it passes ``MAX_DECODED_BYTES``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(file)
        batches, decoded = [], 0
        for batch in pf.iter_batches(batch_size=_READ_ROWS):
            decoded += batch.nbytes
            if decoded > MAX_DECODED_BYTES:
                raise DataError(f"{file} decodes to more than {MAX_DECODED_BYTES:,} bytes (a few rows repeating very "
                                "long values), more than a results table may have", fix)
            batches.append(batch)
        return pa.Table.from_batches(batches, schema=pf.schema_arrow).to_pandas()
    except ModxferError:
        raise
    except (ValueError, OSError, KeyError, TypeError, pa.ArrowException) as e:
        raise DataError(f"{file} cannot be read as a results table ({str(e)[:120]})", fix) from None


def read_bundle(path: str | os.PathLike) -> Bundle:
    """The bundle in ``path``, its parquet checked against the recorded sha256 first, then every file against the
    bundle's schema (``bundle_schema``).

    Raises:
        DataError: a file is missing, damaged, changed since it was written, or not shaped as a bundle's.
    """
    from ..io import read_json, sha256_file
    from ..similarity.matrix import SimilarityMatrix
    from .bundle_schema import check_meta, check_results

    path = Path(path)
    fix = "write it again with `modxfer sweep export RUN_DIR --format bundle -o FOLDER`"
    missing = [name for name in (META, RESULTS) if not (path / name).is_file()]
    if missing:
        raise DataError(f"{path} is a results bundle without its {' and '.join(missing)}",
                        "copy the whole bundle folder (results.parquet and run.json), or " + fix)
    meta = read_json(path / META, fix)
    card = meta.get("card") if isinstance(meta, dict) else None
    if not isinstance(card, dict) or card.get("kind") != KIND:
        raise DataError(f"{path / META} is not a modxfer results bundle (card.kind is not {KIND!r})", fix)
    for key, kind in (("config", dict), ("counts", dict), ("artifacts", list), ("similarity", dict)):
        if not isinstance(meta.get(key), kind):
            raise DataError(f"{path / META}: '{key}' is missing or not a JSON {kind.__name__}", fix)
    if card.get("digest") != digest(meta):
        raise DataError(f"{path / META} does not match its own digest (config, competence or similarity changed)", fix)
    if card.get("version") != VERSION:
        raise DataError(f"{path / META}: bundle version {card.get('version')!r}, this modxfer reads {VERSION}",
                        "use the modxfer version that wrote it, or " + fix)
    check_meta(meta, path / META, fix)
    size = (path / RESULTS).stat().st_size
    if size > MAX_RESULT_BYTES:  # before hashing it
        raise DataError(f"{path / RESULTS} is {size:,} bytes, more than a results table may have "
                        f"({MAX_RESULT_BYTES:,})", fix)
    results_digest = sha256_file(path / RESULTS)
    if results_digest != card.get("results_sha256"):
        raise DataError(f"{path / RESULTS} does not match the sha256 in {META} (changed or damaged)", fix)
    _check_rows(path / RESULTS, card.get("rows"), fix)
    df = _read_bounded(path / RESULTS, fix)
    df = check_results(df, path / RESULTS, fix)
    sims = {}
    for measure, d in meta["similarity"].items():
        try:
            sims[measure] = SimilarityMatrix.from_dict(d)
        except (KeyError, TypeError, ValueError) as e:
            raise DataError(f"{path / META}: similarity.{measure} is malformed ({str(e)[:120]})", fix) from None
        reps = sims[measure].replicates
        if reps is not None and (reps.ndim != 3 or reps.shape[1:] != sims[measure].values.shape):
            raise DataError(f"{path / META}: similarity.{measure}.replicates has shape {reps.shape}, not "
                            f"(resamples, {', '.join(map(str, sims[measure].values.shape))})", fix)
    return Bundle(path=path, name=str(card.get("run_name", path.name)), config=meta.get("config") or {},
                  counts=meta.get("counts") or {}, artifacts=meta.get("artifacts") or [], results=df,
                  results_sha256=results_digest, similarity=sims, backbone=card.get("backbone") or {}, card=card)
