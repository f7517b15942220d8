"""A synthetic study with known effects: evaluation rows with per-example outcomes, and a run store holding them.

Per (task, language) every model sees the same examples; an example's outcome for a model is drawn from a latent
difficulty shared by all models half of the time (so comparisons are paired, as real ones are) and independently
otherwise. True accuracies: the target's ``BASE``, plus the composition's ``GAIN`` on every language, minus the
noise setting's ``DROP`` (minus the composition's ``ROBUST`` advantage).
"""
from __future__ import annotations

import json

import numpy as np

TASKS = {"xnli": ("en", "de", "ru", "hi", "zh", "tr", "sw"), "xcopa": ("id", "et", "zh")}
BASE = {"xnli": 0.55, "xcopa": 0.60}
COMPS = {"xnli": ["xnli", "mnli>xnli", "qqp>xnli", "siqa>xnli", "fuse(mnli,qqp,siqa)>xnli", "full:xnli",
                  "full:mnli>xnli"],
         "xcopa": ["xcopa", "mnli>xcopa", "qqp>xcopa", "siqa>xcopa"]}
GAIN = {"mnli>xnli": 0.15, "qqp>xnli": 0.0, "siqa>xnli": 0.0, "fuse(mnli,qqp,siqa)>xnli": 0.0, "full:mnli>xnli": 0.0}
DROP = {"clean": 0.0, "typo:0.1": 0.10, "homoglyph:0.1": 0.0}
ROBUST = {"mnli>xnli": 0.05}
NOISE_RATE = {"clean": None, "typo:0.1": 0.1, "homoglyph:0.1": 0.05}


def study_rows(n: int = 200, seed: int = 0, seeds=(0,), tasks=TASKS, noises=tuple(DROP)) -> list[dict]:
    from modxfer.scoring import outcomes as O
    from modxfer.scoring.metrics import primary

    gen = np.random.default_rng(seed)
    rows = []
    for task, langs in tasks.items():
        for lang in langs:
            u = gen.random(n)
            ids = [f"{task}/{lang}:{i}" for i in range(n)]
            for s in seeds:
                for noise in noises:
                    for comp in COMPS[task]:
                        drop = DROP[noise] - (ROBUST.get(comp, 0.0) if DROP[noise] else 0.0)
                        p = BASE[task] + GAIN.get(comp, 0.0) - drop
                        own = np.where(gen.random(n) < 0.5, u, gen.random(n))
                        correct = (own < p).astype(int)
                        refs = gen.integers(0, 2, n).tolist()
                        preds = [r if c else 1 - r for r, c in zip(refs, correct)]
                        rec = O.collect(task, [{"id": i} for i in ids], preds, refs)
                        score = O.rescore(rec)
                        rate = NOISE_RATE[noise]
                        if noise == "homoglyph:0.1" and lang == "zh":
                            rate = 0.0  # no look-alikes in Han text: the setting changes nothing there
                        rows.append({"task": task, "composition": comp, "lang": lang, "noise": noise, "seed": s,
                                     "metric": primary("accuracy"), "score": round(score, 4),
                                     "metrics": {"accuracy": round(score, 4)}, "n": n, "outcomes": rec,
                                     "noise_rate": rate, "noise_words_rate": rate})
    return rows


def write_store(run_dir, rows, learned: dict | None = None, unfinished: int = 0):
    """A run store as a sweep leaves it: train cells (with cards, competence from ``learned``: artifact id ->
    True/False/None for an old card) and eval cells finished with ``rows``; the last ``unfinished`` eval cells are
    left pending."""
    from modxfer.composition import Composition
    from modxfer.sweeps.store import Store

    learned = learned or {}
    cells, train, evals = [], {}, {}

    def train_cell(comp: Composition, seed: int, needs=()) -> str:
        cid = f"train {comp} seed={seed}"
        if cid not in train:
            train[cid] = (f"k-{cid}", list(needs), comp, seed)
        return train[cid][0]

    for r in rows:
        comp = Composition.parse(r["composition"])
        needs = [train_cell(Composition(i), r["seed"]) for i in comp.intermediates] if comp.kind != "full" else (
            [train_cell(Composition(comp.intermediates[0], (), "full"), r["seed"])] if comp.intermediates else [])
        key = train_cell(comp, r["seed"], needs)
        cid = f"eval {comp} {r['lang']} {r['noise']} seed={r['seed']}"
        evals.setdefault(cid, (f"k-{cid}", [key], []))[2].append(r)
    for cid, (key, needs, comp, seed) in train.items():
        cells.append((key, cid, "train", {"composition": str(comp), "seed": seed}, needs))
    for cid, (key, needs, _) in evals.items():
        cells.append((key, cid, "eval", {"cell": cid}, needs))
    with Store(run_dir, create=True) as store:
        store.sync_plan(cells, {"name": "synthetic", "config": "name: synthetic\nbackbone: embedded\n"})
        for cid, (key, needs, comp, seed) in train.items():
            card = {"task": comp.target, "composition": str(comp), "seed": seed}
            status = learned.get(cid, True)
            if status is not None:
                card["competence"] = {"metric": "accuracy", "score": 70.0 if status else 34.0,
                                      "ci": [65.0, 75.0] if status else [29.0, 39.0], "chance": 33.3, "n": 300,
                                      "learned": status}
            store.start(key)
            store.finish(key, artifact={"key": key, "path": "/nowhere", "sha256": "0" * 64, "card": card})
        done = list(evals.items())[:len(evals) - unfinished]
        for cid, (key, needs, rs) in done:
            store.start(key)
            store.finish(key, rows=rs)
    return run_dir


def old_store(run_dir, rows):
    """A run made before outcomes and competence were recorded: no details, cards without competence."""
    stripped = [{k: v for k, v in r.items() if k not in ("outcomes", "noise_rate", "noise_words_rate")} for r in rows]
    write_store(run_dir, stripped, learned={})
    from modxfer.sweeps.store import Store

    with Store(run_dir) as s, s.transaction() as db:
        db.execute("DELETE FROM row_details")
        for a in s.artifacts():
            card = json.loads(a["card"])
            card.pop("competence", None)
            db.execute("UPDATE artifacts SET card=? WHERE cell=?", (json.dumps(card), a["cell"]))
    return run_dir
