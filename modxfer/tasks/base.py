"""The Task: what a task is (role, head, labels, metric) and how its splits load from a data directory."""

from __future__ import annotations

import difflib
import json
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable

from ..errors import DataError, ModxferError, UnknownLanguageError
from ..io import cache_dir
from .partition import split_keys

ROLES = ("intermediate", "target")
HEADS = ("classification", "multiple_choice", "tagging", "extractive_qa", "retrieval")
# calibration: held-out gold data a metric tunes on (BUCC's mining threshold); candidates: the pool a retrieval
# target ranks (LAReQA's sentences, Mewsli-X's entities). Both are read clean, never trained on.
SPLITS = ("train", "validation", "test", "lexicon", "calibration", "candidates")
PER_LANGUAGE_SPLITS = ("test", "lexicon", "calibration", "candidates")  # the others are English training data

# Data profiles: which files a task's splits come from. ``offline`` is what the shared data directory holds (dev
# sets stand in for training data); ``paper`` is Phang et al. 2020's protocol for users online (full training
# splits, XTREME-R test splits, dev splits for model selection). ``modxfer data fetch --profile paper`` records it
# in the data directory's PROFILE_FILE; a directory without one is ``offline``.
PROFILES = ("offline", "paper")
PROFILE_FILE = "modxfer-profile.json"

# A split loader returns rows for (data_dir, lang); each row has an "id" naming its file and position.
Loader = Callable[[Path, str], list[dict]]


def resolve_data_dir(explicit: str | os.PathLike | None = None, *, must_exist: bool = True) -> Path:
    """Where task data lives: the argument, ``MODXFER_DATA_DIR``, ``./data``, ``../shared/data``, or the cache.

    Raises:
        DataError: the argument or ``MODXFER_DATA_DIR`` names a missing folder, or (with ``must_exist``) no folder
            was found at all. ``must_exist=False`` returns the cache folder instead: where ``data fetch`` writes.
    """
    if explicit is not None:
        p = Path(explicit).expanduser()
        if not p.is_dir():
            raise DataError(f"data directory {p} " + ("is a file, not a folder" if p.exists() else "does not exist"),
                            "pass an existing folder holding the task data (e.g. ../shared/data)")
        return p
    env = os.environ.get("MODXFER_DATA_DIR")
    if env:
        p = Path(env).expanduser()
        if not p.is_dir():
            what = "a file, not a folder" if p.exists() else "a missing folder"
            raise DataError(
                f"the MODXFER_DATA_DIR environment variable points to {what}: {env}",
                "point MODXFER_DATA_DIR at the folder holding the task data (e.g. ../shared/data), or unset it",
            )
        return p
    for p in _SEARCHED:
        if (p / "README.md").is_file() or (p / "xnli").is_dir():
            return p
    cached = cache_dir() / "data"
    if cached.is_dir() or not must_exist:
        return cached
    looked = ["--data-dir / data_dir (not given)", "MODXFER_DATA_DIR (not set)",
              *(os.path.normpath(Path.cwd() / p) for p in _SEARCHED),
              f"{cached} (the cache, where `modxfer data fetch` writes)"]
    raise DataError("no task data directory found; looked at: " + "; ".join(looked),
                    "pass --data-dir FOLDER (data_dir= in Python), or set MODXFER_DATA_DIR to the folder holding the "
                    "task data (e.g. the project's ../shared/data)")


# Searched in the working folder when neither an argument nor MODXFER_DATA_DIR names the data (a checkout's data/,
# or the shared data folder next to the project when run from its root).
_SEARCHED = (Path("data"), Path("..") / "shared" / "data")


def data_profile(data_dir: str | os.PathLike | None = None) -> str:
    """The data profile of a data directory: ``paper`` where ``data fetch --profile paper`` marked it, else ``offline``."""
    path = resolve_data_dir(data_dir) / PROFILE_FILE
    if not path.is_file():
        return "offline"
    try:
        profile = json.loads(path.read_text(encoding="utf-8"))["profile"]
    except (OSError, ValueError, KeyError, TypeError):
        profile = None
    if profile not in PROFILES:
        raise DataError(f"{path} does not name a data profile ({' or '.join(PROFILES)})",
                        "delete it (the directory is then read as 'offline'), or re-run "
                        "`modxfer data fetch TASK --profile paper` into an empty directory")
    return profile


@dataclass(frozen=True)
class Protocol:
    """Where one task's splits come from under one data profile."""

    loaders: dict[str, "Loader"]
    partition: str  # how the examples are drawn, for cards and docs
    lang_pattern: str | None = None
    files: tuple[str, ...] = ()  # must all exist for the task to be available
    unavailable: tuple[str, str] | None = None  # (problem, fix) where the profile cannot serve the task at all


@dataclass(frozen=True)
class HubSource:
    """Where ``modxfer data fetch`` gets the task from the Hugging Face Hub (for users online)."""

    path: str
    config: str | None = None
    split: str = "validation"
    per_language_config: str | None = None  # e.g. "PAN-X.{lang}"


PARALLEL = (None, "line", "id")


@lru_cache(maxsize=64)
def _line_pattern(lang_pattern: str) -> tuple[re.Pattern, str]:
    shared = lang_pattern.replace("{lang}", "*")
    return re.compile(re.escape(lang_pattern).replace(re.escape("{lang}"), "[^/]+?") + r":(.+)"), shared


def _line_key(lang_pattern: str, example_id: str) -> str | None:
    pattern, shared = _line_pattern(lang_pattern)
    m = pattern.fullmatch(example_id)
    return f"{shared}:{m.group(1)}" if m else None


@dataclass(frozen=True, eq=False)
class Task:
    name: str
    role: str
    head: str
    metric: str
    description: str
    loaders: dict[str, Loader]
    labels: tuple[str, ...] | None = None
    num_choices: int | None = None
    lang_pattern: str | None = None  # glob with {lang}, relative to the data dir, for per-language test files
    fixed_languages: tuple[str, ...] = ("en",)
    extra_languages: tuple[str, ...] = ()  # languages whose test data is not under lang_pattern (XCOPA's English)
    partition: str = ""  # how this task's examples are drawn, for cards and docs
    hub: HubSource | None = None
    needs_hub: bool = False
    files: tuple[str, ...] = field(default=())
    unavailable: tuple[str, str] | None = None  # offline: (problem, fix) where the offline data cannot serve it
    paper: Protocol | None = None  # the paper profile's protocol; None: the same files as offline
    official_languages: tuple[str, ...] = ()  # XTREME-R's evaluation languages (what `--languages all` fetches)
    # Test sets that translate one another: "line" (item i of every language's file is one item: the key is the id
    # with the language taken out of its file name), "id" (the id itself names the item in every language), None
    # (each language has its own data). Statistics resample an item once for all its translations.
    parallel: str | None = None

    def __post_init__(self):
        assert self.parallel in PARALLEL, (self.name, self.parallel)
        assert self.role in ROLES and self.head in HEADS, (self.role, self.head)
        assert self.paper is None or set(self.paper.loaders) == set(self.loaders), self.name

    def item_key(self, example_id: str) -> str:
        """What identifies an example's item across languages (``parallel``); the id itself for non-parallel tasks,
        and for an id outside the parallel files (XCOPA's English COPA validation: its own items)."""
        if self.parallel != "line":
            return str(example_id)
        for pattern in (self.lang_pattern, self.paper.lang_pattern if self.paper else None):  # either profile's files
            key = _line_key(pattern, str(example_id)) if pattern else None
            if key is not None:
                return key
        return str(example_id)

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(s for s in SPLITS if s in self.loaders)

    def protocol(self, data_dir_: str | os.PathLike | None = None, profile: str | None = None) -> Protocol:
        """The splits' sources under ``profile`` (default: the data directory's)."""
        profile = profile or data_profile(data_dir_)
        if profile == "paper" and self.paper is not None:
            return self.paper
        return Protocol(self.loaders, self.partition, self.lang_pattern, self.files, self.unavailable)

    def partition_for(self, data_dir_: str | os.PathLike | None = None) -> str:
        """How this task's examples are drawn in this data directory (its profile), for cards."""
        return self.protocol(data_dir_).partition

    def fetch_command(self, profile: str = "offline") -> str:
        """The command that writes this task's data for ``profile`` (online)."""
        if profile == "offline" and self.unavailable is not None and self.paper is not None:
            profile = "paper"  # the offline data cannot serve it (XQuAD): only the paper profile's files can
        cmd = f"modxfer data fetch {self.name}"
        if self.role == "target" and self.official_languages:
            cmd += " --languages all"
        return cmd + (" --profile paper" if profile == "paper" else "")

    def languages(self, data_dir_: str | os.PathLike | None = None) -> tuple[str, ...]:
        """Languages with evaluation data on disk (any file matching the pattern), else the fixed set."""
        pattern = self.protocol(data_dir_).lang_pattern
        if pattern is None:
            return self.fixed_languages
        root = resolve_data_dir(data_dir_)
        esc = re.escape(pattern).replace(re.escape("{lang}"), r"(?P<lang>[A-Za-z_]+)", 1)
        rx = re.compile(esc.replace(re.escape("{lang}"), "(?P=lang)") + "$")
        glob = pattern.replace("{lang}", "*")
        found = set()
        for p in root.glob(glob):
            m = rx.search(p.relative_to(root).as_posix())
            if m:
                found.add(m.group("lang"))
        return tuple(sorted(found | set(self.extra_languages)))

    def check_language(self, lang: str, data_dir_=None) -> str:
        langs = self.languages(data_dir_)
        if lang not in langs:
            close = difflib.get_close_matches(lang, langs, n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise UnknownLanguageError(
                f"task {self.name!r} has no data for language {lang!r}{hint}; available: {', '.join(langs) or 'none'}",
                f"pick one of those, or add its file ({self.protocol(data_dir_).lang_pattern or 'see the data README'}) "
                "to the data directory",
            )
        return lang

    def load(self, split: str = "train", lang: str | None = None, *, data_dir: str | os.PathLike | None = None,
             limit: int | None = None):
        """Load a split as a ``datasets.Dataset`` in modxfer's column schema for this task's head.

        ``limit`` keeps a deterministic subset: rows ranked by the hash of their position, so parallel files
        (XNLI, PAWS-X) give the same examples in every language, then put back in file order.
        """
        import datasets

        rows = self.rows(split, lang, data_dir=data_dir)
        if limit is not None and limit < len(rows):
            keep = split_keys(range(len(rows)), f"{self.name}:limit", {"keep": limit / len(rows), "rest": 1 - limit / len(rows)})["keep"]
            rows = [r for i, r in enumerate(rows) if i in keep]
        if not rows:
            raise DataError(f"task {self.name!r} split {split!r} ({lang}) has no examples", "check the data files")
        return datasets.Dataset.from_list(rows)

    def rows(self, split: str, lang: str | None = None, *, data_dir: str | os.PathLike | None = None) -> list[dict]:
        root = resolve_data_dir(data_dir)
        profile = data_profile(root)
        protocol = self.protocol(root, profile)
        if protocol.unavailable is not None:
            raise DataError(*protocol.unavailable)
        if (self.needs_hub or profile != "offline") and not self.available(root):
            missing = [f for f in protocol.files if not (root / f).is_file()]
            raise DataError(
                f"task {self.name!r} has no data for the {profile} profile in {root} ({self.description})"
                + (f"; missing: {', '.join(missing[:3])}" if missing else ""),
                f"online, run `{self.fetch_command(profile)}` to write it into the data directory",
            )
        if split not in self.loaders:
            raise ModxferError(
                f"task {self.name!r} has no {split!r} split; it has: {', '.join(self.splits)}",
                "pick one of those splits",
            )
        if lang is None:
            lang = "en" if split not in PER_LANGUAGE_SPLITS or "en" in self.languages(root) else self.languages(root)[0]
        if split in PER_LANGUAGE_SPLITS:
            self.check_language(lang, root)
        elif lang != "en":
            raise UnknownLanguageError(
                f"task {self.name!r} trains in English only; got language {lang!r} for split {split!r}",
                "use lang='en' (zero-shot transfer evaluates other languages on the 'test' split)",
            )
        try:
            return [dict(r) for r in cached_rows(self, split, lang, str(root.resolve()), profile)]
        except DataError as e:
            # readers name any missing file; only the task knows which fetch command (and profile) writes it
            if e.problem.startswith("missing data file") and (profile != "offline" or self.needs_hub):
                raise DataError(e.problem, f"online, run `{self.fetch_command(profile)}`") from None
            raise

    def available(self, data_dir_=None) -> bool:
        """Whether the data is on disk for the directory's profile (fetched tasks list the ``files`` they need)."""
        root = resolve_data_dir(data_dir_)
        protocol = self.protocol(root)
        if protocol.unavailable is not None:
            return False
        if self.needs_hub and not protocol.files and not (protocol.lang_pattern and self.languages(root)):
            return False  # nothing to check but per-language files, and none are there
        return all((root / f).is_file() for f in protocol.files)

    def size(self, split: str, lang: str = "en", data_dir_=None) -> int:
        return len(self.rows(split, lang, data_dir=data_dir_))


@lru_cache(maxsize=256)
def cached_rows(task: Task, split: str, lang: str, root: str, profile: str) -> tuple[dict, ...]:
    # the profile is part of the key: `data fetch --profile paper` can change it while a process runs
    return tuple(task.protocol(root, profile).loaders[split](Path(root), lang))
