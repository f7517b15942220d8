"""The CLI's malloc knobs: freed activation-sized buffers are reused, not mapped and faulted in again each time."""

import json
import subprocess
import sys

import pytest

from modxfer.heap import KNOBS, tune_malloc

# 200 buffers of 1 MB (under numpy's 4 MB huge-page size), each written and freed, as a training step does with its
# activations
CHURN = """
import json, resource, sys
import numpy as np
from modxfer.heap import tune_malloc
tune_malloc(json.loads(sys.argv[1]))
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(200):
    a = np.empty(1 << 18, dtype=np.float32)
    a.fill(1.0)
    del a
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(knobs: dict) -> int:
    out = subprocess.run([sys.executable, "-c", CHURN, json.dumps(knobs)], capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_knobs_keep_freed_buffers_instead_of_faulting_them_in_again():
    pinned = _faults({"arena_max": 2, "trim_threshold": 128 * 2**20})  # the knobs before: mmap threshold stuck at 128 KB
    now = _faults(KNOBS)
    assert pinned > 200 * 256 * 0.9  # every buffer's 256 pages faulted in again
    assert now < pinned / 20


def test_unknown_knob_is_refused():
    with pytest.raises(ValueError, match="unknown malloc knobs"):
        tune_malloc({"mmap_treshold": 1})
