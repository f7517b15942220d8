"""The CLI's malloc knobs: freed activation-sized buffers are reused, not mapped and faulted in again each time."""

import json
import os
import platform
import subprocess
import sys

import pytest

from modxfer.errors import ConfigError
from modxfer.model.heap import KNOBS, PROFILES, profile_knobs, tune_malloc

# 200 buffers of 1 MB (under numpy's 4 MB huge-page size), each written and freed, as a training step does with its
# activations
CHURN = """
import json, resource, sys
from modxfer.heap import tune_malloc
tune_malloc(json.loads(sys.argv[1]))  # before numpy's import frees anything that would move glibc's own threshold
import numpy as np
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


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt")
def test_knobs_keep_freed_buffers_instead_of_faulting_them_in_again():
    pinned = _faults({"arena_max": 2, "trim_threshold": 128 * 2**20})  # the knobs before: mmap threshold stuck at 128 KB
    now = _faults(KNOBS)
    pages = (1 << 20) // os.sysconf("SC_PAGE_SIZE")
    assert pinned > 200 * pages * 0.9  # every buffer's pages faulted in again
    assert now < pinned / 20


def test_unknown_knob_is_refused():
    with pytest.raises(ValueError, match="unknown malloc knobs"):
        tune_malloc({"mmap_treshold": 1})


def test_heap_profile_from_the_environment(monkeypatch):
    monkeypatch.delenv("MODXFER_HEAP", raising=False)
    assert profile_knobs() == KNOBS == PROFILES["fast"]
    monkeypatch.setenv("MODXFER_HEAP", " Lean ")
    assert profile_knobs() == PROFILES["lean"] and "mmap_threshold" not in PROFILES["lean"]
    monkeypatch.setenv("MODXFER_HEAP", "small")
    with pytest.raises(ConfigError, match="MODXFER_HEAP='small' is not a heap profile") as e:
        profile_knobs()
    assert e.value.fix.startswith("set it to one of fast, lean")


def test_cli_refuses_an_unknown_heap_profile_without_a_traceback():
    r = subprocess.run([sys.executable, "-m", "modxfer_cli.main", "--version"], capture_output=True, text=True,
                       env={**os.environ, "MODXFER_HEAP": "small"})
    assert r.returncode == 2 and "error: MODXFER_HEAP='small' is not a heap profile" in r.stderr
    assert "fix: set it to one of fast, lean" in r.stderr
    assert "Traceback" not in r.stderr
