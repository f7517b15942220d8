"""Do bf16 predictions agree with fp32? XNLI test, 8 languages, the quickstart's adapters, same examples.

    python benchmarks/precision_agreement.py [--examples 200] [--store DIR]

Trains `mnli` and `xnli` (and `mnli>xnli`) in fp32 with the quickstart's budget (600 examples x 2 epochs, trunk K=6),
or reuses them from --store, then evaluates both compositions with `precision="fp32"` and `precision="bf16"` (the
bf16 path `--precision auto` takes where bf16 is faster: trunk and its cache in bf16, upper layers under autocast) and
counts identical predictions, with a Wilson 95% interval per language and overall.

On a CPU without bf16 kernels (AVX2 only) torch emulates bf16: products are rounded to bf16 and summed in fp32, the
same numerics as native AVX512-BF16 kernels up to summation order, but ~15x slower. The agreement is the number this
script exists for; its bf16 timings are only meaningful where `bf16_kernels` is true. Results: stdout and
benchmarks/results/precision_agreement.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

LANGS = ("en", "de", "ru", "hi", "ar", "zh", "tr", "sw")  # the quickstart's XNLI languages
COMPOSITIONS = ("xnli", "mnli>xnli")
BUDGET = dict(examples=600, epochs=2.0, batch_size=16, trunk_layers=6, precision="fp32", seed=0)


def wilson(k: int, n: int) -> list[float]:
    from statsmodels.stats.proportion import proportion_confint

    lo, hi = proportion_confint(k, n, alpha=0.05, method="wilson")
    return [round(100 * lo, 2), round(100 * hi, 2)]


def run(evaluator, comp: str, examples: int) -> tuple[dict, float]:
    t0 = time.perf_counter()
    res = evaluator.evaluate(comp, "xnli", languages=list(LANGS), examples=examples, progress=False,
                             train_examples=BUDGET["examples"], epochs=BUDGET["epochs"],
                             batch_size=BUDGET["batch_size"], trunk_layers=BUDGET["trunk_layers"],
                             precision=BUDGET["precision"])
    return {r["lang"]: r for r in res.rows}, time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--examples", type=int, default=200, help="XNLI test examples per language")
    ap.add_argument("--store", help="artifact store to train into or reuse (default: a temporary one)")
    args = ap.parse_args()

    from modxfer.composition import Composition
    from modxfer.evaluation.evaluator import Evaluator
    from modxfer.model.precision import _bf16_kernels
    from modxfer.training import train

    store = Path(args.store) if args.store else Path(tempfile.mkdtemp()) / "store"
    for c in COMPOSITIONS:
        comp = Composition.parse(c)
        train(comp.target, on=comp.intermediates, store=store, progress=False, **BUDGET)

    out = {"examples_per_language": args.examples, "languages": LANGS, "budget": BUDGET,
           "bf16_kernels": _bf16_kernels(), "compositions": {}}
    total_same = total_n = 0
    for c in COMPOSITIONS:
        rows = {}
        for precision in ("fp32", "bf16"):
            rows[precision], seconds = run(Evaluator(precision=precision, store=store), c, args.examples)
            out.setdefault("seconds", {})[f"{c} {precision}"] = round(seconds, 1)
        per_lang = {}
        for lang in LANGS:
            a, b = rows["fp32"][lang]["outcomes"], rows["bf16"][lang]["outcomes"]
            assert a["ids"] == b["ids"], "fp32 and bf16 must score the same examples"
            same = sum(int(x == y) for x, y in zip(a["prediction"], b["prediction"]))
            n = len(a["ids"])
            total_same, total_n = total_same + same, total_n + n
            per_lang[lang] = {"identical": same, "n": n, "percent": round(100 * same / n, 2),
                              "ci95": wilson(same, n), "accuracy_fp32": rows["fp32"][lang]["score"],
                              "accuracy_bf16": rows["bf16"][lang]["score"]}
        same_c = sum(v["identical"] for v in per_lang.values())
        n_c = sum(v["n"] for v in per_lang.values())
        out["compositions"][c] = {"identical_percent": round(100 * same_c / n_c, 2), "ci95": wilson(same_c, n_c),
                                  "n": n_c, "languages": per_lang}
        print(f"{c}: {same_c}/{n_c} identical ({100 * same_c / n_c:.2f}%, 95% CI {wilson(same_c, n_c)})", flush=True)
    out["overall"] = {"identical": total_same, "n": total_n, "percent": round(100 * total_same / total_n, 2),
                      "ci95": wilson(total_same, total_n), "target_percent": 99.5}
    print(json.dumps(out["overall"]))
    path = Path(__file__).parent / "results" / "precision_agreement.json"
    path.parent.mkdir(exist_ok=True)
    from modxfer.io import atomic_write_text

    atomic_write_text(path, json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
