"""What the report's statistics cost: seconds to load a run's per-example outcomes, to run the paired bootstrap and
the tests (``modxfer.analysis.analyse``), and to write the whole report (with plots and, when modxfer.selection
provides one, the selection section, timed apart).

    python benchmarks/report_cost.py runs/quickstart [--resamples 1000] [--repeat 3]
    python benchmarks/report_cost.py --synthetic [--examples 200]   # no run at hand: tests/synthetic.py's study

Task similarity is computed (or read from its cache) once before timing, so the numbers are the statistics' own.
Results go to benchmarks/results/report_cost.json and are recorded in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path


def _synthetic_run(root: Path, examples: int) -> Path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from synthetic import study_rows, write_store

    return write_store(root / "run", study_rows(n=examples))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", nargs="?", help="a sweep run directory (e.g. runs/quickstart)")
    ap.add_argument("--synthetic", action="store_true", help="time tests/synthetic.py's study instead of a run")
    ap.add_argument("--examples", type=int, default=200, help="examples per cell of the synthetic study")
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3, help="timed repetitions (the median is reported)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "report_cost.json"))
    args = ap.parse_args(argv)
    if bool(args.run_dir) == args.synthetic:
        ap.error("give a run directory or --synthetic (not both)")

    import modxfer
    from modxfer.analysis import analyse
    from modxfer.similarity.pairs import pairs_in, similarity_for
    from modxfer.io import atomic_write_json
    from modxfer.report import write_report
    from modxfer.sweeps.results import load_results

    with tempfile.TemporaryDirectory() as tmp:
        run = _synthetic_run(Path(tmp), args.examples) if args.synthetic else Path(args.run_dir)
        df = load_results(run, outcomes=True)
        pairs = pairs_in(df)
        if args.synthetic:
            sims = {p: 0.1 + 0.8 * i / max(len(pairs) - 1, 1) for i, p in enumerate(pairs)}
        else:
            import yaml

            from modxfer.model.backbone import load_backbone
            from modxfer.sweeps.store import Store

            with Store(run) as store:
                config = yaml.safe_load(store.meta("config") or "{}") or {}
            sims = similarity_for(pairs, load_backbone(config.get("backbone", "embedded")))
        timings = {"load": [], "bootstrap": [], "report": [], "selection_section": []}
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            df = load_results(run, outcomes=True)
            timings["load"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            a = analyse(df, sims, n_resamples=args.resamples, require_comparisons=False)
            timings["bootstrap"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            out = write_report(run, Path(tmp) / "report", similarity=sims, n_resamples=args.resamples)
            timings["report"].append(time.perf_counter() - t0)
            card = json.loads((out / "report.json").read_text())["card"]
            timings["selection_section"].append(card["timing"].get("selection_seconds") or 0.0)
        result = {"run": "synthetic" if args.synthetic else str(run), "rows": len(df),
                  "rows_with_outcomes": a.settings["rows_with_outcomes"],
                  "examples_per_cell": sorted(set(int(n) for n in df["n"])), "tests": int(a.tests["p_adjusted"].notna().sum()),
                  "resamples": args.resamples, "repeat": args.repeat,
                  "seconds": {k: round(statistics.median(v), 3) for k, v in timings.items()},
                  "modxfer": modxfer.__version__, "python": platform.python_version(), "machine": platform.machine()}
    atomic_write_json(args.out, result)
    s = result["seconds"]
    print(f"{result['run']}: {result['rows']} rows ({result['rows_with_outcomes']} with outcomes), "
          f"B={args.resamples}: load {s['load']:.2f}s, bootstrap and tests {s['bootstrap']:.2f}s, "
          f"whole report {s['report']:.2f}s, of which the selection section (modxfer.selection) "
          f"{s['selection_section']:.2f}s (median of {args.repeat}); wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
