"""The frozen trunk, side by side in one run: training and evaluation with adapters above K cached layers vs K=0,
against the naive per-composition loop, plus the machine's own matmul rates and peak memory per variant.

    python benchmarks/trunk_speed.py [--examples 512] [--epochs 3] [--eval-examples 100] [--trunk 6]

Every variant runs in its own process (its peak RSS is its own) with an empty trunk cache. Training: the same
examples, steps and seed; "warm" is the epochs after the first, when the trunk's states come from the cache.
Evaluation: 6 compositions x 4 languages x 2 noise settings on the same inputs; the naive loop loads a model per
composition and pads to 128 (benchmarks/eval_speed.py). Artifacts for the evaluation grid are trained once
(small budget, untimed) into --store. Results: stdout and benchmarks/results/trunk_speed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

INTERMEDIATES = ("mnli", "qqp", "siqa", "snli", "anli")
COMPOSITIONS = ("xnli",) + tuple(f"{i}>xnli" for i in INTERMEDIATES)
LANGS = ("de", "ru", "hi", "zh")
NOISE = ("clean", "typo:0.1")
GRID_TRAIN = dict(examples=64, batch_size=32, epochs=1.0)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def matmul_rates() -> dict:
    """Sustained fp32 and bf16 matmul TFLOP/s with torch on this machine's threads (bf16 gives up when emulated)."""
    import torch

    from modxfer.model.precision import _bf16_kernels

    out = {"threads": torch.get_num_threads(), "bf16_kernels": _bf16_kernels()}
    dtypes = ((torch.float32, "fp32"), (torch.bfloat16, "bf16")) if out["bf16_kernels"] else ((torch.float32, "fp32"),)
    for label, (m, k, n) in (("2048^3", (2048, 2048, 2048)), ("ffn 2048x384x1536", (2048, 384, 1536))):
        for dtype, name in dtypes:
            a, b = torch.randn(m, k).to(dtype), torch.randn(k, n).to(dtype)
            t0 = time.perf_counter()
            a @ b
            first = time.perf_counter() - t0
            reps = 1 if first > 2.0 else 5
            t0 = time.perf_counter()
            for _ in range(reps):
                a @ b
            out[f"{name} {label}"] = round(2 * m * k * n * reps / (time.perf_counter() - t0) / 1e12, 4)
    return out


def train_variant(trunk: int, examples: int, epochs: float, batch_size: int, base: str, precision: str) -> dict:
    from modxfer.composition import Composition
    from modxfer.model.features import featurize
    from modxfer.training import TrainSettings, TrainingPlan, _fit, _Session

    settings = TrainSettings(base=base, examples=examples, batch_size=batch_size, epochs=epochs, precision=precision,
                             trunk_layers=trunk)
    plan = TrainingPlan(Composition("xnli"), settings, None, tempfile.mkdtemp())
    session = _Session(plan, [])
    feats = featurize(plan.task, plan.rows, plan.bb.tokenizer, settings.max_length, train=True)
    t0 = time.perf_counter()
    session.forward.prepare(feats)  # the one pass through the trunk (nothing at K=0)
    trunk_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    stats = _fit(session, plan, progress=False)  # every epoch reads the cached states
    fit_s = time.perf_counter() - t0
    session.discard()
    return {"variant": f"train K={trunk}", "precision": plan.precision, "steps": stats["steps"],
            "trunk_seconds": round(trunk_s, 2), "fit_seconds": round(fit_s, 2),
            "examples_per_s_warm": round(stats["steps"] * batch_size / fit_s, 2),
            "examples_per_s_cold": round(stats["steps"] * batch_size / (fit_s + trunk_s), 2),
            "final_loss": stats["final_loss"], "peak_rss_mb": round(_rss_mb())}


def _grid_settings(base: str, trunk: int):
    from modxfer.training import TrainSettings

    return TrainSettings(base=base, precision="fp32", trunk_layers=trunk, **GRID_TRAIN)


def prepare_grid(store: str, base: str, trunk: int) -> None:
    from modxfer.composition import Composition
    from modxfer.training import train

    for c in COMPOSITIONS:
        comp = Composition.parse(c)
        train(comp.target, on=comp.intermediates, store=store, base=base, progress=False, precision="fp32",
              trunk_layers=trunk, **GRID_TRAIN)


def eval_variant(mode: str, store: str, trunk: int, examples: int, base: str) -> dict:
    from modxfer.evaluation.evaluator import Evaluator

    t0 = time.perf_counter()
    preds = {}
    if mode == "naive":
        sys.path.insert(0, str(Path(__file__).parent))
        from eval_speed import naive

        # the naive loop knows no noise: it evaluates each language's clean and noisy rows as separate inputs
        seconds, p = _naive_with_noise(naive, store, base, examples)
        return {"variant": "eval naive (per composition, pad to 128)", "seconds": round(seconds, 2),
                "predictions": p, "peak_rss_mb": round(_rss_mb())}
    k = 0 if mode == "k0" else trunk
    ev = Evaluator(base, store=store, precision="fp32")
    for c in COMPOSITIONS:
        res = ev.evaluate(c, "xnli", languages=list(LANGS), noise=list(NOISE), examples=examples, progress=False,
                          train_examples=GRID_TRAIN["examples"], epochs=GRID_TRAIN["epochs"],
                          batch_size=GRID_TRAIN["batch_size"], trunk_layers=k)
        for r in res.rows:
            preds[f"{c}|{r['lang']}|{r['noise']}"] = r["outcomes"]["prediction"]
    seconds = time.perf_counter() - t0
    return {"variant": f"eval modxfer K={k}", "seconds": round(seconds, 2), "predictions": preds,
            "peak_rss_mb": round(_rss_mb())}


def _naive_with_noise(naive, store, base, examples):
    """The naive loop over (composition, language) for each noise setting's rows, written out as a user would."""
    import modxfer.tasks.registry as registry
    from modxfer.noise import parse_spec, perturb_example
    from modxfer.tasks import get_task

    task = get_task("xnli")
    original = task.load
    preds, seconds = {}, 0.0
    for noise in NOISE:
        spec = parse_spec(noise)

        def load(split, lang, data_dir=None, limit=None, _spec=spec):
            ds = original(split, lang, data_dir=data_dir, limit=limit)
            if _spec.name == "clean" or split != "test":  # training data (and so the artifact keys) stay clean
                return ds
            from datasets import Dataset

            return Dataset.from_list([perturb_example(r, task.head, _spec, seed=0, lang=lang) for r in ds.to_list()])

        object.__setattr__(task, "load", load)
        try:
            s, p = naive(store, COMPOSITIONS, LANGS, examples, base, settings=_grid_settings(base, 0))
        finally:
            object.__setattr__(task, "load", original)
        seconds += s
        preds.update({f"{c}|{lang}|{noise}": v for (c, lang), v in p.items()})
    del registry
    return seconds, preds


def _child(args) -> None:
    os.environ["MODXFER_TRUNK_CACHE"] = tempfile.mkdtemp(prefix="trunk-bench-")
    if args.variant == "matmul":
        out = matmul_rates()
    elif args.variant.startswith("train"):
        out = train_variant(int(args.variant.split("=")[1]), args.examples, args.epochs, args.batch_size, args.base,
                            args.precision)
    else:
        out = eval_variant(args.variant, args.store, args.trunk, args.eval_examples, args.base)
    print("RESULT " + json.dumps(out))


def _run_child(variant: str, args) -> dict:
    cmd = [sys.executable, __file__, "--child", variant, "--examples", str(args.examples), "--epochs", str(args.epochs),
           "--batch-size", str(args.batch_size), "--eval-examples", str(args.eval_examples), "--trunk", str(args.trunk),
           "--base", args.base, "--store", args.store, "--precision", args.precision]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    line = next((l for l in proc.stdout.splitlines() if l.startswith("RESULT ")), None)
    if line is None:
        raise SystemExit(f"variant {variant} failed:\n{proc.stderr[-3000:]}")
    return json.loads(line[7:])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--examples", type=int, default=512)
    ap.add_argument("--epochs", type=float, default=3.0)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--eval-examples", type=int, default=100)
    ap.add_argument("--trunk", type=int, default=6)
    ap.add_argument("--base", default="embedded")
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--store", default=str(Path(tempfile.gettempdir()) / "modxfer-bench-store"))
    ap.add_argument("--child", dest="variant", default=None)
    args = ap.parse_args()
    if args.variant:
        return _child(args)
    for k in (0, args.trunk):
        prepare_grid(args.store, args.base, k)
    res = {"command": "python benchmarks/trunk_speed.py " + " ".join(sys.argv[1:]), "matmul": _run_child("matmul", args)}
    train = {k: _run_child(f"train={k}", args) for k in (0, args.trunk)}
    res["train"] = list(train.values())
    res["train_speedup_warm"] = round(train[args.trunk]["examples_per_s_warm"] / train[0]["examples_per_s_warm"], 2)
    res["train_speedup_cold"] = round(train[args.trunk]["examples_per_s_cold"] / train[0]["examples_per_s_cold"], 2)
    ev = {m: _run_child(m, args) for m in ("naive", "k0", "kK")}
    preds = {m: v.pop("predictions") for m, v in ev.items()}
    res["eval"] = list(ev.values())
    res["eval_speedup_vs_naive"] = round(ev["naive"]["seconds"] / ev["kK"]["seconds"], 2)
    res["eval_speedup_vs_k0"] = round(ev["k0"]["seconds"] / ev["kK"]["seconds"], 2)
    total = sum(len(v) for v in preds["naive"].values())
    same = sum(a == b for key in preds["naive"] for a, b in zip(preds["naive"][key], preds["k0"][key]))
    res["k0_identical_to_naive_percent"] = round(100 * same / total, 2)
    res["grid"] = {"compositions": COMPOSITIONS, "languages": LANGS, "noise": NOISE, "examples": args.eval_examples,
                   "predictions": total}
    print(json.dumps(res, indent=2))
    path = Path(__file__).parent / "results" / "trunk_speed.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
