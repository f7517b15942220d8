"""Reading a run's results: a pandas DataFrame, CSV/Parquet export, and the summary tables printed after a run."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

from ..errors import ConfigError
from ..io import atomic_write_bytes
from .store import Store

COLUMNS = ["task", "composition", "kind", "lang", "family", "noise", "seed", "metric", "score", "n", "cell",
           "noise_rate", "noise_words_rate", "competence"]
FORMATS = ("csv", "parquet")
# What a trained model's card says about it (``card["competence"]["learned"]``: its validation CI lies above
# chance); "unknown" for cards written before modxfer checked, "n/a" for cells that use no trained artifact.
LEARNED, NOT_LEARNED, UNKNOWN, NOT_APPLICABLE = "learned", "not learned", "unknown", "n/a"


def load_results(run_dir: str | os.PathLike, *, outcomes: bool = False):
    """One row per (cell, language, noise setting) of the run's current plan, finished cells only.

    Columns: task, composition, kind (target/stack/fusion/full), lang, family, noise, seed, metric, score, n (examples
    scored), cell (its key), noise_rate and noise_words_rate (share of characters / words the noise changed; NaN for
    clean rows and runs that did not record it), competence (whether the trained models the cell uses learned: see
    ``LEARNED`` and friends), then every metric the task reports as ``metrics.<name>``. With ``outcomes`` an
    ``outcomes`` column holds each row's per-example outcomes (``modxfer.scoring.outcomes``), None where the run has none.
    """
    import pandas as pd

    from .. import languages as L
    from ..composition import Composition

    with Store(run_dir) as store:
        rows = store.results()
        details = {(d["cell"], d["lang"], d["noise"]): d for d in store.details()}
        competence = cell_competence(store)
    records = []
    for r in rows:
        lang = L.find(r["lang"])
        family = lang.family if lang else None
        d = details.get((r["cell"], r["lang"], r["noise"]), {})
        rec = {"task": r["task"], "composition": r["composition"], "kind": Composition.parse(r["composition"]).kind,
               "lang": r["lang"], "family": family, "noise": r["noise"], "seed": r["seed"], "metric": r["metric"],
               "score": r["score"], "n": r["n"], "cell": r["cell"], "noise_rate": _nan(d.get("noise_rate")),
               "noise_words_rate": _nan(d.get("noise_words_rate")),
               "competence": competence.get(r["cell"], {}).get("status", UNKNOWN)}
        if outcomes:
            rec["outcomes"] = d.get("outcomes")
        rec.update({f"metrics.{k}": v for k, v in json.loads(r["metrics"]).items()})
        records.append(rec)
    df = pd.DataFrame.from_records(records)
    if df.empty:
        return pd.DataFrame(columns=COLUMNS + (["outcomes"] if outcomes else []))
    return df


def _nan(v) -> float:
    return float("nan") if v is None else float(v)


def competence_status(card: dict | None) -> str:
    """LEARNED / NOT_LEARNED from a card's competence record (``competence.learned``: above its floor, and above the
    majority-class rate where one is recorded); UNKNOWN when it has none (an older card)."""
    from ..scoring.competence import learned

    ok = learned((card or {}).get("competence"))
    return UNKNOWN if ok is None else LEARNED if ok else NOT_LEARNED


def artifact_name(artifact_id: str) -> tuple[str, str]:
    """(composition, seed) of a train cell's id, ``"train mnli>xnli seed=0"``; ("", "") for anything else."""
    name, sep, seed = str(artifact_id).removeprefix("train ").rpartition(" seed=")
    return (name, seed) if sep else ("", "")


def restate_competence(df, artifacts: list[dict]):
    """A results bundle's rows with each row's competence judged again from the bundle's own competence records
    (rules can tighten after export, e.g. the majority-class floor): a row whose composition uses a model that has
    not learned by today's rule is NOT_LEARNED. Returns (rows, artifacts with their status restated)."""
    from ..composition import Composition

    restated, failed = [], set()
    for a in artifacts:
        a = dict(a)
        if a.get("finished", True) and a.get("competence") is not None:
            a["status"] = competence_status({"competence": a["competence"]})
        restated.append(a)
        name, seed = artifact_name(a.get("id", ""))
        if a["status"] == NOT_LEARNED and name:
            failed.add((name, seed))
    if not failed or df.empty:
        return df, restated

    def uses_failed(comp_s: str, seed) -> bool:
        comp = Composition.parse(comp_s)
        parts = {str(comp)} | {("full:" if comp.kind == "full" else "") + i for i in comp.intermediates}
        return any((p, str(int(seed))) in failed for p in parts)
    df = df.copy()
    mask = [uses_failed(c, s) for c, s in zip(df["composition"], df["seed"])]
    df.loc[mask, "competence"] = NOT_LEARNED
    return df, restated


def artifact_competence(store: Store) -> list[dict]:
    """Per train cell of the current plan: its id, key and status, and the card's competence record (None when the
    cell is unfinished or its card predates the check)."""
    cards = {a["cell"]: json.loads(a["card"]) for a in store.artifacts()}
    out = []
    for c in store.cells():
        if c["kind"] != "train":
            continue
        card = cards.get(c["key"])
        status = competence_status(card) if c["status"] == "done" and card is not None else UNKNOWN
        out.append({"cell": c["key"], "id": c["id"], "status": status,
                    "competence": (card or {}).get("competence"), "finished": c["status"] == "done",
                    # the budget it trained with: budgets differ by role and target, so the table says which
                    "examples": ((card or {}).get("data") or {}).get("examples"), "epochs": (card or {}).get("epochs")})
    return out


def cell_competence(store: Store) -> dict[str, dict]:
    """Per eval cell: the status of the trained models it uses, directly or through what they build on (the worst
    of them: not learned, then unknown), and the ids of the train cells behind a status other than learned."""
    cells = {c["key"]: c for c in store.cells()}
    trained = {a["cell"]: a for a in artifact_competence(store)}
    out = {}
    for key, c in cells.items():
        if c["kind"] != "eval":
            continue
        seen, todo = set(), list(json.loads(c["needs"]))
        while todo:
            k = todo.pop()
            if k not in seen and k in cells:
                seen.add(k)
                todo += json.loads(cells[k]["needs"])
        used = [trained[k] for k in seen if k in trained]
        statuses = {u["status"] for u in used}
        status = (NOT_LEARNED if NOT_LEARNED in statuses else UNKNOWN if UNKNOWN in statuses
                  else LEARNED if used else NOT_APPLICABLE)
        out[key] = {"status": status, "artifacts": sorted(u["id"] for u in used if u["status"] != LEARNED)}
    return out


def robustness(run_dir: str | os.PathLike) -> dict[str, list[dict]]:
    """The run's robustness summary: degradation from clean per language, curve areas, family/script averages
    (see :func:`modxfer.noise.robustness.summarize`); seeds are averaged."""
    from ..noise.robustness import summarize

    return summarize(load_results(run_dir).to_dict("records"))


def export(run_dir: str | os.PathLike, fmt: str, path: str | os.PathLike | None = None) -> Path:
    """Write the results table next to the database (or to ``path``), atomically."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}", f"use one of: {', '.join(FORMATS)}")
    df = load_results(run_dir)
    path = Path(path) if path is not None else Path(run_dir) / f"results.{fmt}"
    if fmt == "csv":
        data = df.to_csv(index=False).encode("utf-8")
    else:
        buf = io.BytesIO()
        df.to_parquet(buf, index=False)
        data = buf.getvalue()
    return atomic_write_bytes(path, data)


def summary_tables(df) -> list:
    """Rich tables per task: compositions x languages on clean text, and compositions x noise settings (mean over
    languages); scores are means over seeds."""
    from rich.table import Table

    tables = []
    for task, part in df.groupby("task", sort=False):
        metric = part["metric"].iloc[0]
        comps = list(dict.fromkeys(part["composition"]))
        langs = list(dict.fromkeys(part["lang"]))
        noises = list(dict.fromkeys(part["noise"]))
        base = part[part["noise"] == "clean"] if "clean" in noises else part[part["noise"] == noises[0]]
        by_lang = base.groupby(["composition", "lang"])["score"].mean()
        t = Table(title=f"{task}: {metric} by language ({base['noise'].iloc[0]}; mean over seeds)")
        t.add_column("composition")
        for lang in langs:
            t.add_column(lang, justify="right")
        t.add_column("avg", justify="right", style="bold")
        for c in comps:
            vals = [by_lang.get((c, lang)) for lang in langs]
            got = [v for v in vals if v is not None]
            t.add_row(c, *(f"{v:.1f}" if v is not None else "-" for v in vals),
                      f"{sum(got) / len(got):.1f}" if got else "-")
        tables.append(t)
        if len(noises) > 1:
            by_noise = part.groupby(["composition", "noise"])["score"].mean()
            t = Table(title=f"{task}: {metric} by noise setting (mean over languages and seeds)")
            t.add_column("composition")
            for n in noises:
                t.add_column(n, justify="right")
            for c in comps:
                t.add_row(c, *(f"{by_noise[(c, n)]:.1f}" if (c, n) in by_noise else "-" for n in noises))
            tables.append(t)
    return tables
