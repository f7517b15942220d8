"""Where the memory goes: resident memory after each phase of a small study in one process (as a sweep's local
executor runs it), and the peak of `modxfer train mnli` as its own command.

    python benchmarks/memory.py [--examples 512] [--eval-examples 100]

Phases: import, load the backbone, train an intermediate adapter, train a stacked target adapter, evaluate it
under noise, train full fine-tuning (STILTs baseline), evaluate it, evaluate an adapter composition again (the host
comes back), induce a code-switching lexicon. RSS = resident now, HWM = the process's peak so far (from
/proc/self/status). Results: stdout and benchmarks/results/memory.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _status() -> dict:
    out = {}
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(("VmRSS", "VmHWM")):
                key, value = line.split(":")
                out[key] = round(int(value.split()[0]) / 1024)
    return out


def profile(examples: int, eval_examples: int) -> list[dict]:
    phases = []

    def mark(name: str, t0: float) -> None:
        s = _status()
        phases.append({"phase": name, "rss_mb": s["VmRSS"], "peak_mb": s["VmHWM"],
                       "seconds": round(time.perf_counter() - t0, 1)})
        print(json.dumps(phases[-1]), flush=True)

    t0 = time.perf_counter()
    import modxfer  # noqa: F401
    from modxfer.evaluation.evaluator import Evaluator
    from modxfer.model.modeling import backbone
    from modxfer.training import train

    mark("import", t0)
    store = tempfile.mkdtemp()
    budget = dict(examples=examples, epochs=1.0, store=store, progress=False)
    t0 = time.perf_counter()
    backbone("embedded").tokenizer
    mark("backbone", t0)
    t0 = time.perf_counter()
    train("mnli", **budget)
    mark("train mnli (adapter)", t0)
    t0 = time.perf_counter()
    train("xnli", on=["mnli"], **budget)
    mark("train mnli>xnli", t0)
    ev = Evaluator(store=store)
    kw = dict(languages=["de", "hi"], noise=["clean", "typo:0.1"], examples=eval_examples, progress=False,
              train_examples=examples, epochs=1.0)
    t0 = time.perf_counter()
    ev.evaluate("mnli>xnli", **kw)
    mark("evaluate mnli>xnli", t0)
    t0 = time.perf_counter()
    train("xnli", full=True, **budget)
    mark("train full:xnli", t0)
    t0 = time.perf_counter()
    ev.evaluate("full:xnli", **kw)
    mark("evaluate full:xnli", t0)
    t0 = time.perf_counter()
    ev.evaluate("mnli>xnli", **kw)
    mark("evaluate mnli>xnli again", t0)
    t0 = time.perf_counter()
    ev.evaluate("mnli>xnli", **{**kw, "noise": ["codeswitch:0.3"]})
    mark("codeswitch lexicon + evaluate", t0)
    return phases


def train_peak(examples: int) -> dict:
    """Peak RSS of `modxfer train mnli` as a user runs it (/usr/bin/time -v), empty store, empty trunk cache."""
    env = {**os.environ, "MODXFER_STORE": tempfile.mkdtemp(), "MODXFER_TRUNK_CACHE": tempfile.mkdtemp()}
    cmd = ["/usr/bin/time", "-v", str(Path(sys.executable).parent / "modxfer"), "train", "mnli", "--quiet",
           "--examples", str(examples)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    peak = next((int(l.split(":")[1]) for l in proc.stderr.splitlines() if "Maximum resident set size" in l), None)
    return {"command": "modxfer train mnli --examples %d" % examples, "peak_mb": round(peak / 1024) if peak else None,
            "exit": proc.returncode}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--examples", type=int, default=512)
    ap.add_argument("--eval-examples", type=int, default=100)
    ap.add_argument("--train-examples", type=int, default=2000, help="for the `modxfer train mnli` peak")
    ap.add_argument("--child", action="store_true")
    args = ap.parse_args()
    if args.child:
        print("RESULT " + json.dumps(profile(args.examples, args.eval_examples)))
        return
    env = {**os.environ, "MODXFER_TRUNK_CACHE": tempfile.mkdtemp()}
    proc = subprocess.run([sys.executable, __file__, "--child", "--examples", str(args.examples), "--eval-examples",
                           str(args.eval_examples)], capture_output=True, text=True, env=env)
    line = next((l for l in proc.stdout.splitlines() if l.startswith("RESULT ")), None)
    if line is None:
        raise SystemExit(proc.stderr[-3000:])
    res = {"command": "python benchmarks/memory.py " + " ".join(sys.argv[1:]), "phases": json.loads(line[7:]),
           "train": train_peak(args.train_examples)}
    print(json.dumps(res, indent=2))
    path = Path(__file__).parent / "results" / "memory.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
