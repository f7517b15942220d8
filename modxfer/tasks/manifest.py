"""The data's own manifests: ``MANIFEST.txt`` files listing each data file with its size and sha256 prefix.

``data check`` compares the files on disk with them, so a file cut short (an XNLI file of 100 rows instead of
2490 still parses) or changed is reported, and a listed file that went missing (a language silently dropping out of
``all``) too. Lines are ``path<TAB>bytes<TAB>sha256:PREFIX[<TAB>...]`` with paths relative to the data directory;
other lines are prose and ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..io import sha256_file

MANIFEST = "MANIFEST.txt"
_LINE = re.compile(r"^([^\t]+)\t(\d{1,15})\tsha256:([0-9a-f]{8,64})(\t|$)")


@dataclass(frozen=True)
class ManifestEntry:
    path: str  # relative to the data directory, POSIX
    size: int
    sha256_prefix: str
    source: str  # "MANIFEST.txt:LINE" that listed it


@dataclass(frozen=True)
class ManifestProblem:
    path: str
    problem: str


def read_manifests(root: Path) -> tuple[dict[str, ManifestEntry], list[ManifestProblem]]:
    """Every file the manifests in ``root`` and its immediate folders list; unusable lines as problems."""
    entries: dict[str, ManifestEntry] = {}
    problems: list[ManifestProblem] = []
    for mf in [root / MANIFEST, *sorted(root.glob(f"*/{MANIFEST}"))]:
        if not mf.is_file():
            continue
        rel_mf = mf.relative_to(root).as_posix()
        text = mf.read_bytes().decode("utf-8", errors="replace")  # prose may be anything; listed lines are ASCII
        for i, line in enumerate(text.splitlines(), 1):
            m = _LINE.match(line)
            if not m:
                continue
            rel = PurePosixPath(m.group(1))
            if rel.is_absolute() or ".." in rel.parts or not rel.parts:
                problems.append(ManifestProblem(m.group(1), f"{rel_mf}:{i} lists a path outside the data directory"))
                continue
            e = ManifestEntry(rel.as_posix(), int(m.group(2)), m.group(3), f"{rel_mf}:{i}")
            prev = entries.get(e.path)
            if prev is not None and (prev.size, prev.sha256_prefix) != (e.size, e.sha256_prefix):
                problems.append(ManifestProblem(e.path, f"{prev.source} and {e.source} disagree about it"))
            entries[e.path] = e
    return entries, problems


def check_manifest(root: str | Path, folders: set[str] | None = None) -> list[ManifestProblem]:
    """Files that differ from (or are missing but listed in) the manifests; only under ``folders`` if given.

    ``folders`` are POSIX paths relative to ``root`` (a file counts if its folder is one of them). No manifest: [].
    """
    root = Path(root)
    entries, problems = read_manifests(root)
    if folders is not None:
        problems = [p for p in problems if str(PurePosixPath(p.path).parent) in folders]
    for e in sorted(entries.values(), key=lambda e: e.path):
        if folders is not None and str(PurePosixPath(e.path).parent) not in folders:
            continue
        path = root / e.path
        if not path.is_file():
            problems.append(ManifestProblem(e.path, f"listed in {e.source} but missing"))
            continue
        size = path.stat().st_size
        if size != e.size:
            problems.append(ManifestProblem(e.path, f"{size} bytes, but {e.source} lists {e.size}: the file was cut "
                                                    "short or changed"))
        elif not sha256_file(path).startswith(e.sha256_prefix):
            problems.append(ManifestProblem(e.path, f"its sha256 differs from {e.source}: the file was changed"))
    return problems

