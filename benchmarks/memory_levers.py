"""Two memory levers side by side: long training batches in parts (``training.MICRO_BATCH_TOKENS``) and the frozen
vocabulary read row by row (``modxfer.model.lazy_embeddings``). The same `modxfer` command in one process per variant,
after a warm-up (trunk and page cache warm), variants alternating within each repeat; wall time, training seconds,
peak RSS (the process's own, from wait4; GB = KiB / 10^6) and the validation score.

    python benchmarks/memory_levers.py [--repeats 1] -- train mnli --examples 1024 --epochs 1
    python benchmarks/memory_levers.py -- train mnli --full --freeze-embeddings --examples 400 --epochs 2 --lr 8e-5

Results: stdout and benchmarks/results/memory_levers.json (one entry per command, keyed by it).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = {  # (micro-batch tokens, lazy vocabulary)
    "before: whole batches, mapped vocabulary": (0, False),
    "batches in parts of <= 512 tokens": (512, False),
    "vocabulary read by row": (0, True),
    "now: both": (512, True),
}
LAUNCH = """
import sys
micro, lazy = int(sys.argv[1]), sys.argv[2] == "1"
if not lazy:
    import modxfer.model.lazy_embeddings as L
    L.install = lambda *args, **kwargs: False
import modxfer.training as T
T.MICRO_BATCH_TOKENS = micro
from modxfer.model.heap import tune_malloc
tune_malloc()
from cli.main import cli
cli(sys.argv[3:], prog_name="modxfer")
"""
_TRAINED = re.compile(r"(\d+) steps, ([\d.]+) s, .*validation \{'(\w+)': ([\d.]+)\}")


def run(micro: int, lazy: bool, args: list[str]) -> dict:
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", LAUNCH, str(micro), "1" if lazy else "0", *args], cwd=ROOT,
                                stdout=out, stderr=err, env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        out.seek(0), err.seek(0)
        if os.waitstatus_to_exitcode(status):
            sys.exit(f"modxfer {' '.join(args)} failed:\n{err.read()[-3000:]}")
        text = out.read()
    m = _TRAINED.search(text)
    return {"wall_s": round(wall, 1), "train_s": float(m.group(2)) if m else None,
            "steps": int(m.group(1)) if m else None, "validation": float(m.group(4)) if m else None,
            "peak_gb": round(ru.ru_maxrss / 1e6, 3)}  # KiB / 10^6, as /usr/bin/time's kbytes read


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("command", nargs=argparse.REMAINDER, help="a `modxfer train` command after --")
    a = ap.parse_args()
    args = [x for x in a.command if x != "--"] or ["train", "mnli", "--examples", "1024", "--epochs", "1"]
    if args[0] != "train":
        sys.exit("give a `modxfer train ...` command after --")
    shown = " ".join(args)
    args += ["--force", "--quiet", "--store", tempfile.mkdtemp(prefix="modxfer-levers-")]
    print("warm-up:", json.dumps(run(512, True, args)), flush=True)
    results = []
    for rep in range(a.repeats):
        for name, (micro, lazy) in VARIANTS.items():
            results.append({"variant": name, "repeat": rep, **run(micro, lazy, args)})
            print(json.dumps(results[-1]), flush=True)
    med = {name: {k: float(np.median([r[k] for r in results if r["variant"] == name and r[k] is not None]))
                  for k in ("wall_s", "train_s", "peak_gb", "validation")} for name in VARIANTS}
    before = med["before: whole batches, mapped vocabulary"]
    for name, m in med.items():
        print(f"{name:42s} peak {m['peak_gb']:5.2f} GB  wall {m['wall_s']:6.1f} s  training {m['train_s']:6.1f} s  "
              f"validation {m['validation']:.1f}  training time vs before {m['train_s'] / before['train_s']:.2f}x")
    from modxfer.io import atomic_write_text

    path = ROOT / "benchmarks" / "results" / "memory_levers.json"
    saved = json.loads(path.read_text()) if path.is_file() else {}
    saved[shown] = {"command": f"python benchmarks/memory_levers.py --repeats {a.repeats} -- {shown}",
                    "median": med, "results": results}
    atomic_write_text(path, json.dumps(saved, indent=2) + "\n")


if __name__ == "__main__":
    main()
