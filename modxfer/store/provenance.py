"""Which source code made a result: the git commit of the modxfer checkout, when it runs from one."""

from __future__ import annotations

import subprocess
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=1)
def source_commit() -> dict | None:
    """{"commit": sha, "dirty": bool (uncommitted changes to tracked files)}, or None for an installed copy (no git
    checkout around the package, or no git)."""
    root = Path(__file__).resolve().parents[2]  # the checkout around modxfer/store/provenance.py
    try:
        sha = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=10, check=True).stdout.strip()
        status = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": sha, "dirty": bool(status.strip())} if len(sha) == 40 else None
