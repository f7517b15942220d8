"""glibc's malloc knobs, side by side: the same `modxfer` command in one process per variant, each after a warm-up
run (trunk cache and page cache warm), reporting wall time, user and system CPU, minor page faults and peak RSS.

    python benchmarks/heap.py [--repeats 1] -- train xnli --examples 256 --epochs 2

Variants: glibc's defaults (dynamic mmap threshold); modxfer's knobs before (2 arenas, 128 MB trim threshold, which
pins the mmap threshold at 128 KB: MODXFER_HEAP=lean); modxfer's knobs now (one arena, 32 MB trim and mmap
thresholds: the default, fast). Variants alternate within each repeat; the summary is the median over repeats.
`--force` and a fresh store are added to train commands so every variant trains. Results: stdout and
benchmarks/results/heap.json.
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

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = {
    "glibc defaults": {},
    "before (lean): 2 arenas, trim 128 MB": {"arena_max": 2, "trim_threshold": 128 * 2**20},
    "now (fast): 1 arena, trim 32 MB, mmap 32 MB": None,  # modxfer.model.heap.KNOBS
}
LAUNCH = """
import json, sys
from modxfer.model.heap import KNOBS, tune_malloc
knobs = json.loads(sys.argv[1])
tune_malloc(KNOBS if knobs is None else knobs)
from cli.main import cli
cli(sys.argv[2:], prog_name="modxfer")
"""


def run(knobs: dict | None, args: list[str]) -> dict:
    """One process: its wall time and its own rusage (wait4), so the peak RSS is this variant's alone."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", LAUNCH, json.dumps(knobs), *args], cwd=ROOT, stdout=out,
                                stderr=err, env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        if proc.returncode:
            sys.exit(f"modxfer {' '.join(args)} failed:\n{err.read()[-3000:]}")
        lines = out.read().strip().splitlines()
    return {"wall_s": round(wall, 1), "user_s": round(ru.ru_utime, 1), "sys_s": round(ru.ru_stime, 1),
            "minor_faults": ru.ru_minflt, "peak_mb": ru.ru_maxrss // 1024, "output": lines[-2:]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("command", nargs=argparse.REMAINDER, help="a modxfer command after --")
    a = ap.parse_args()
    args = [x for x in a.command if x != "--"] or ["train", "xnli", "--examples", "256", "--epochs", "2"]
    if args[0] == "train":
        args += ["--force", "--quiet", "--store", tempfile.mkdtemp(prefix="modxfer-heap-")]
    print("warm-up:", json.dumps(run(None, args)), flush=True)
    results = []
    for rep in range(a.repeats):
        for name, knobs in VARIANTS.items():
            results.append({"variant": name, "repeat": rep, **run(knobs, args)})
            print(json.dumps(results[-1]), flush=True)
    med = {name: {k: float(np.median([r[k] for r in results if r["variant"] == name]))
                  for k in ("wall_s", "sys_s", "minor_faults", "peak_mb")} for name in VARIANTS}
    lean = med["before (lean): 2 arenas, trim 128 MB"]
    for name, m in med.items():
        print(f"{name:45s} wall {m['wall_s']:6.1f} s  sys {m['sys_s']:5.1f} s  faults {m['minor_faults']:>11,.0f}  "
              f"peak {m['peak_mb']:5.0f} MB  speed vs lean {lean['wall_s'] / m['wall_s']:.2f}x")
    from modxfer.io import atomic_write_text

    command = "python benchmarks/heap.py --repeats %d -- %s" % (a.repeats, " ".join(args[:6]))
    atomic_write_text(ROOT / "benchmarks" / "results" / "heap.json",
                      json.dumps({"command": command, "median": med, "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
