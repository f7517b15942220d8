"""Evaluation speed on a small grid: modxfer's Evaluator (one backbone in memory, cached tokenized inputs,
length-sorted batches, bf16) against the loop a user would write (per composition: load the model, add the
adapters, `Trainer.predict` with padding to max length, fp32), plus agreement of predictions in fp32 mode and
tokens/s against this machine's measured bf16 matmul peak.

    python benchmarks/eval_speed.py [--examples 200] [--languages en,de,zh,hi,ar,sw]

The artifacts it evaluates are trained first (not timed) with a small budget in a temporary store.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

COMPOSITIONS = ("xnli", "mnli>xnli")
TRAIN = dict(examples=256, batch_size=32, epochs=1.0)


def bf16_peak_tflops(n: int = 2048, reps: int = 10) -> float:
    a = torch.randn(n, n, dtype=torch.bfloat16)
    b = torch.randn(n, n, dtype=torch.bfloat16)
    a @ b
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n ** 3 * reps / (time.perf_counter() - t) / 1e12


def naive(store, comps, langs, examples, base, settings=None) -> tuple[float, dict]:
    """Per composition: from_pretrained, load adapters and head, Trainer.predict on max-length padded inputs."""
    from adapters import AutoAdapterModel
    from adapters.composition import Stack
    from datasets import Dataset
    from transformers import Trainer, TrainingArguments

    from modxfer.composition import Composition
    from modxfer.evaluation.evaluator import Evaluator
    from modxfer.model.modeling import MEAN_POOLED_HEADS, backbone
    from modxfer.tasks import get_task
    from modxfer.training import TrainSettings

    bb = backbone(base)
    ev = Evaluator(base, store=store, precision="fp32")
    task = get_task("xnli")
    preds, t0 = {}, time.perf_counter()
    for c in comps:
        comp = Composition.parse(c)
        pieces = ev.artifacts_for(comp, settings or TrainSettings(base=base, precision="auto", **TRAIN))
        model = AutoAdapterModel.from_pretrained(bb.path)
        for name, head in MEAN_POOLED_HEADS.items():  # modxfer's sentence heads, as any user loading them does
            model.register_custom_head(name, head)
        names = []
        for p in pieces:
            model.load_adapter(str(p.path / "adapter"), load_as=p.adapter_name, with_head=False, use_safetensors=True)
            names.append(p.adapter_name)
        model.load_head(str(pieces[-1].path / "head"), load_as=names[-1], use_safetensors=True)
        model.set_active_adapters(Stack(*names) if len(names) > 1 else names[0])
        trainer = Trainer(model=model, args=TrainingArguments(output_dir=tempfile.mkdtemp(), report_to=[], use_cpu=True,
                                                              per_device_eval_batch_size=64, disable_tqdm=True))
        for lang in langs:
            rows = task.load("test", lang, limit=examples).to_list()
            enc = bb.tokenizer([r["text_a"] for r in rows], [r["text_b"] for r in rows], padding="max_length",
                               truncation=True, max_length=128)
            ds = Dataset.from_dict({"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]})
            out = trainer.predict(ds)
            logits = out.predictions[0] if isinstance(out.predictions, tuple) else out.predictions
            preds[(c, lang)] = logits.argmax(-1).tolist()
    return time.perf_counter() - t0, preds


def modxfer_eval(store, comps, langs, examples, base, precision) -> tuple[float, dict, int]:
    from modxfer.evaluation.evaluator import Evaluator
    from modxfer.model.features import length
    from modxfer.model.inference import predict
    from modxfer.composition import Composition
    from modxfer.tasks import get_task
    from modxfer.training import TrainSettings

    t0 = time.perf_counter()
    ev = Evaluator(base, store=store, precision=precision)
    task = get_task("xnli")
    preds, tokens = {}, 0
    for c in comps:
        comp = Composition.parse(c)
        model, head = ev.model_for(comp, ev.artifacts_for(comp, TrainSettings(base=base, precision="auto", **TRAIN)))
        for lang in langs:
            rows, feats = ev.inputs(task, lang, _clean(), 0, examples)
            tokens += sum(length(f) for f in feats)
            preds[(c, lang)] = predict(model, task, rows, head, tokenizer=ev.bb.tokenizer, precision=ev.precision,
                                       features=feats)
    return time.perf_counter() - t0, preds, tokens


def _clean():
    from modxfer.noise import parse_spec

    return parse_spec("clean")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--examples", type=int, default=200)
    ap.add_argument("--languages", default="en,de,zh,hi,ar,sw")
    ap.add_argument("--base", default="embedded")
    args = ap.parse_args()
    langs = args.languages.split(",")
    from modxfer.training import train

    store = Path(tempfile.mkdtemp()) / "store"
    for c in COMPOSITIONS:
        from modxfer.composition import Composition

        comp = Composition.parse(c)
        train(comp.target, on=comp.intermediates, store=store, base=args.base, progress=False, **TRAIN)
    peak = bf16_peak_tflops()
    t_naive, p_naive = naive(store, COMPOSITIONS, langs, args.examples, args.base)
    t_fast, p_fast, tokens = modxfer_eval(store, COMPOSITIONS, langs, args.examples, args.base, "auto")
    t_fp32, p_fp32, _ = modxfer_eval(store, COMPOSITIONS, langs, args.examples, args.base, "fp32")
    total = sum(len(v) for v in p_naive.values())
    same = sum(a == b for k in p_naive for a, b in zip(p_naive[k], p_fp32[k]))
    same_bf16 = sum(a == b for k in p_naive for a, b in zip(p_naive[k], p_fast[k]))
    # Encoder FLOPs per token: 2 x parameters in the transformer layers (embeddings are lookups).
    from modxfer.model.modeling import backbone

    cfg = backbone(args.base).config
    layer_params = cfg.num_hidden_layers * (4 * cfg.hidden_size ** 2 + 2 * cfg.hidden_size * cfg.intermediate_size)
    achieved = 2 * layer_params * tokens / t_fast / 1e12
    res = {"grid": {"compositions": COMPOSITIONS, "languages": langs, "examples": args.examples},
           "naive_seconds": round(t_naive, 2), "modxfer_seconds": round(t_fast, 2), "modxfer_fp32_seconds": round(t_fp32, 2),
           "speedup": round(t_naive / t_fast, 2), "speedup_fp32": round(t_naive / t_fp32, 2),
           "identical_fp32_percent": round(100 * same / total, 2), "identical_bf16_percent": round(100 * same_bf16 / total, 2),
           "tokens": tokens, "tokens_per_s": round(tokens / t_fast), "achieved_tflops": round(achieved, 3),
           "bf16_peak_tflops": round(peak, 3), "percent_of_peak": round(100 * achieved / peak, 1)}
    print(json.dumps(res, indent=2))
    path = Path(__file__).parent / "results" / "eval_speed.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
