"""Training speed, side by side in one run: modxfer adapter training vs full fine-tuning vs the plain `adapters`
recipe (AdapterTrainer, padding to max length 128, fp32), on the same XNLI-length examples and steps.

    python benchmarks/train_speed.py [--examples 512] [--batch-size 32] [--base embedded]

Each variant runs in its own process so peak RSS is its own. Results go to stdout as a table and to
benchmarks/results/train_speed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

VARIANTS = ("modxfer-adapter", "modxfer-adapter-bf16", "modxfer-full", "plain-adapters")


def _rows(n: int):
    from modxfer.tasks import get_task

    return get_task("xnli").load("train", "en", limit=n).to_list()


def run_variant(variant: str, examples: int, batch_size: int, base: str) -> dict:
    import torch

    from modxfer.composition import Composition
    from modxfer.training import TrainingPlan, TrainSettings, _fit, _seed_everything, _Session

    rows = _rows(examples)
    if variant.startswith("modxfer"):
        comp = Composition("xnli", (), "full" if variant == "modxfer-full" else "target")
        precision = "bf16" if variant.endswith("bf16") else "auto"
        settings = TrainSettings(base=base, examples=examples, batch_size=batch_size, epochs=1.0, precision=precision)
        plan = TrainingPlan(comp, settings, None, None)
        _seed_everything(0)
        session = _Session(plan, [])
        t0 = time.perf_counter()
        stats = _fit(session, plan, progress=False)  # includes the trunk's one pass, as a first epoch does
        seconds = time.perf_counter() - t0
        session.discard()
        return {"variant": variant, "precision": plan.precision, "steps": stats["steps"], "seconds": seconds,
                "examples_per_s": stats["steps"] * batch_size / seconds, "trainable": session.trainable,
                "tokens_per_step": stats["train_tokens"] / stats["steps"]}
    # The recipe from the adapters documentation: AdapterTrainer, fixed padding, fp32.
    from adapters import AdapterTrainer, AutoAdapterModel
    from datasets import Dataset
    from transformers import TrainingArguments

    from modxfer.model.modeling import backbone

    bb = backbone(base)
    tok = bb.tokenizer
    enc = tok([r["text_a"] for r in rows], [r["text_b"] for r in rows], padding="max_length", truncation=True,
              max_length=128)
    ds = Dataset.from_dict({"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"],
                            "labels": [r["label"] for r in rows]})
    torch.manual_seed(0)
    model = AutoAdapterModel.from_pretrained(bb.path)
    model.add_adapter("xnli", config="seq_bn")
    model.add_classification_head("xnli", num_labels=3)
    model.train_adapter("xnli")
    steps = -(-examples // batch_size)
    args = TrainingArguments(output_dir=str(Path(os.environ.get("TMPDIR", "/tmp")) / "plain-adapters"),
                             per_device_train_batch_size=batch_size, max_steps=steps, learning_rate=5e-4,
                             report_to=[], save_strategy="no", logging_strategy="no", use_cpu=True,
                             dataloader_num_workers=0, disable_tqdm=True)
    trainer = AdapterTrainer(model=model, args=args, train_dataset=ds)
    t0 = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - t0
    return {"variant": variant, "precision": "fp32", "steps": steps, "seconds": seconds,
            "examples_per_s": steps * batch_size / seconds,
            "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad), "tokens_per_step": 128 * batch_size}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--examples", type=int, default=512)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--base", default="embedded")
    ap.add_argument("--variant", choices=VARIANTS)
    args = ap.parse_args()
    if args.variant:
        res = run_variant(args.variant, args.examples, args.batch_size, args.base)
        res["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(res))
        return
    results = []
    for v in VARIANTS:
        out = subprocess.run([sys.executable, __file__, "--variant", v, "--examples", str(args.examples),
                              "--batch-size", str(args.batch_size), "--base", args.base],
                             capture_output=True, text=True, check=True)
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    by = {r["variant"]: r for r in results}
    print(f"{'variant':18} {'precision':9} {'steps':>5} {'seconds':>8} {'ex/s':>7} {'peak RSS MB':>11} {'trainable':>11}")
    for r in results:
        print(f"{r['variant']:18} {r['precision']:9} {r['steps']:5d} {r['seconds']:8.1f} {r['examples_per_s']:7.1f} "
              f"{r['peak_rss_mb']:11.0f} {r['trainable']:11,d}")
    a = by["modxfer-adapter"]["examples_per_s"]
    print(f"adapter vs full fine-tuning: {a / by['modxfer-full']['examples_per_s']:.2f}x (target >= 1.5x)")
    print(f"adapter vs plain adapters recipe: {a / by['plain-adapters']['examples_per_s']:.2f}x (target >= 3x)")
    path = Path(__file__).parent / "results" / "train_speed.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps({"args": vars(args), "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
