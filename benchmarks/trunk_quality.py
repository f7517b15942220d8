"""What a frozen trunk costs in quality: `xnli` and `mnli>xnli` trained with adapters above K = 0, 3, 6, 9 frozen
layers at the same budget, scored on English validation (held out, with the competence CI) and zero-shot on XNLI.

    python benchmarks/trunk_quality.py [--ks 0,3,6,9] [--examples 2000] [--epochs 2] [--batch-size 32]
                                       [--eval-examples 300] [--rerun]

Zero-shot: the mean over the languages below (English excluded) with a 95% bootstrap CI over examples, stratified by
language. Everything is fp32 and seed 0; artifacts go to --store (reused on rerun). Results: stdout and
benchmarks/results/trunk_quality.json, written after each (K, composition) and resumed from: an entry measured with
the same settings is kept unless --rerun.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

LANGS = ("de", "ru", "ar", "hi", "zh", "tr", "sw", "vi")


def zero_shot(rows, seed: int = 0, n_resamples: int = 1000) -> dict:
    """Mean accuracy over languages with a CI from resampling examples within each language."""
    rng = np.random.default_rng(seed)
    per_lang = [np.asarray(r["outcomes"]["correct"], dtype=float) for r in rows]
    boot = np.mean([c[rng.integers(0, len(c), size=(n_resamples, len(c)))].mean(1) for c in per_lang], axis=0)
    est = float(np.mean([c.mean() for c in per_lang]))
    return {"mean": round(100 * est, 2), "ci": [round(100 * float(np.quantile(boot, q)), 2) for q in (0.025, 0.975)]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ks", default="0,3,6,9")
    ap.add_argument("--examples", type=int, default=2000)
    ap.add_argument("--epochs", type=float, default=2.0)
    ap.add_argument("--batch-size", type=int, default=32)  # the recorded run's; the library default is now 16
    ap.add_argument("--eval-examples", type=int, default=300)
    ap.add_argument("--rerun", action="store_true", help="measure again entries the results file already has")
    ap.add_argument("--base", default="embedded")
    ap.add_argument("--store", default=str(Path(tempfile.gettempdir()) / "modxfer-quality-store"))
    args = ap.parse_args()
    from modxfer.evaluation.evaluator import Evaluator
    from modxfer.io import atomic_write_text
    from modxfer.training import train

    budget = dict(examples=args.examples, epochs=args.epochs, precision="fp32", base=args.base,
                  batch_size=args.batch_size)
    settings = {k: v for k, v in vars(args).items() if k not in ("store", "ks", "rerun")}
    path = Path(__file__).parent / "results" / "trunk_quality.json"
    old = json.loads(path.read_text()) if path.is_file() else {}
    kept = [r for r in old.get("results", []) if old.get("settings") == settings and not args.rerun]
    out = {"command": "python benchmarks/trunk_quality.py " + " ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in settings.items()), "settings": settings, "languages": LANGS,
        "results": kept}
    for k in [int(x) for x in args.ks.split(",")]:
        for comp in ("xnli", "mnli>xnli"):
            if any(r["trunk_layers"] == k and r["composition"] == comp for r in out["results"]):
                continue
            on = ["mnli"] if ">" in comp else []
            t0 = time.perf_counter()
            art = train("xnli", on=on, store=args.store, progress=False, trunk_layers=k, **budget)
            seconds = time.perf_counter() - t0
            ev = Evaluator(args.base, store=args.store, precision="fp32")
            res = ev.evaluate(comp, "xnli", languages=list(LANGS), examples=args.eval_examples, progress=False,
                              train_examples=args.examples, epochs=args.epochs, trunk_layers=k,
                              batch_size=args.batch_size)
            entry = {"trunk_layers": k, "composition": comp, "validation_en": art.card["competence"],
                     "zero_shot": zero_shot(res.rows), "train_seconds": art.card.get("train_seconds"),
                     "wall_seconds": round(seconds, 1)}
            if on:
                inter = next(d for d in art.card["dependencies"])
                entry["mnli_card"] = inter["key"][:12]
            print(json.dumps(entry), flush=True)
            out["results"].append(entry)
            out["results"].sort(key=lambda r: (r["trunk_layers"], r["composition"]))
            atomic_write_text(path, json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
