"""Robustness of `mnli>xnli` on the embedded backbone: random typos by severity, and the model-in-the-loop attack
against random edits of the same budget (the `search=random` control), in characters and in words.

    python benchmarks/robustness.py [--languages en,de,fr,es,ru,ar,hi,zh] [--examples 100]

The mnli adapter and the xnli adapter stacked on it are trained first with the library defaults (2000 examples,
2 epochs; reused from the artifact store when present). Results go to benchmarks/results/robustness.json and
are recorded in benchmarks/README.md. Not a speed benchmark: it checks issue 4's claims on a trained model.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

TYPO = ("typo:0.05", "typo:0.1", "typo:0.2")


def settings(budget: int, word_budget: int) -> list[str]:
    return ["clean", *TYPO,
            f"adversarial:{budget}", f"adversarial:{budget},search=random",
            f"adversarial:{word_budget},unit=words", f"adversarial:{word_budget},search=random,unit=words"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--languages", default="en,de,fr,es,ru,ar,hi,zh")
    ap.add_argument("--examples", type=int, default=100, help="test examples per language")
    ap.add_argument("--train-examples", type=int, default=2000)
    ap.add_argument("--budget", type=int, default=3, help="character edits per example")
    ap.add_argument("--word-budget", type=int, default=2, help="word edits per example")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "robustness.json"))
    args = ap.parse_args(argv)

    import modxfer
    from modxfer.io import atomic_write_json

    t0 = time.perf_counter()
    modxfer.train("mnli", examples=args.train_examples, seed=args.seed, progress=False)
    modxfer.train("xnli", on=["mnli"], examples=args.train_examples, seed=args.seed, progress=False)
    train_s = time.perf_counter() - t0

    noise = settings(args.budget, args.word_budget)
    t0 = time.perf_counter()
    res = modxfer.Evaluator().evaluate("mnli>xnli", languages=args.languages, noise=noise, examples=args.examples,
                                       seed=args.seed, train_examples=args.train_examples, progress=False)
    eval_s = time.perf_counter() - t0

    rows = res.rows
    langs = list(dict.fromkeys(r["lang"] for r in rows))
    cell = {(r["lang"], r["noise"]): r for r in rows}
    names = list(dict.fromkeys(r["noise"] for r in rows))
    avg = {n: res.average(n) for n in names}
    from modxfer.noise.robustness import summarize

    groups = summarize(rows)["groups"]
    by_family = {g["setting"]: {} for g in groups if g["kind"] == "noise"}
    for g in groups:
        if g["kind"] == "noise" and g["level"] == "family":
            by_family[g["setting"]][g["group"]] = {k: round(g[k], 2) for k in ("abs_degradation", "attack_success_rate")
                                                   if g[k] == g[k]}
    print(f"mnli>xnli, {args.examples} examples per language, accuracy (train {train_s:.0f} s, eval {eval_s:.0f} s)")
    print("lang  " + "  ".join(f"{n:>24}" for n in names))
    for lang in langs:
        print(f"{lang:5} " + "  ".join(f"{cell[(lang, n)]['score']:24.1f}" for n in names))
    print("avg   " + "  ".join(f"{avg[n]:24.1f}" for n in names))
    for n in names:
        if n.startswith("adversarial"):
            m = [cell[(lang, n)]["metrics"] for lang in langs]
            print(f"{n}: success rate {sum(x['attack_success_rate'] for x in m) / len(m):.1f}%, "
                  f"queries/example {sum(x['queries_per_example'] for x in m) / len(m):.1f}, "
                  f"edits/example {sum(x['edits_per_example'] for x in m) / len(m):.2f}")

    typo_avgs = [avg["clean"]] + [avg[t] for t in TYPO]
    checks = {
        "typo_monotonic": all(a >= b for a, b in zip(typo_avgs, typo_avgs[1:])),
        "chars_attack_below_random": avg[noise[4]] < avg[noise[5]],
        "words_attack_below_random": avg[noise[6]] < avg[noise[7]],
    }
    print("checks:", checks)
    record = {
        "command": "python benchmarks/robustness.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": f"{platform.processor() or platform.machine()}, torch threads "
                   f"{__import__('torch').get_num_threads()}",
        "composition": "mnli>xnli", "examples_per_language": args.examples, "train_examples": args.train_examples,
        "seed": args.seed, "train_seconds": round(train_s, 1), "eval_seconds": round(eval_s, 1),
        "average": {n: round(v, 2) for n, v in avg.items()}, "degradation_by_family": by_family, "checks": checks,
        "rows": [{k: r[k] for k in ("lang", "noise", "score", "metrics", "n", "seconds", "artifacts")} for r in rows],
    }
    atomic_write_json(Path(args.out), record)
    print(f"written: {args.out}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
