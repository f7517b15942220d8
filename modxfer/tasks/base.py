"""The Task: what a task is (role, head, labels, metric) and how its splits load from a data directory."""

from __future__ import annotations

import difflib
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
SPLITS = ("train", "validation", "test", "lexicon")
PER_LANGUAGE_SPLITS = ("test", "lexicon")  # the others are English training data

# A split loader returns rows for (data_dir, lang); each row has an "id" naming its file and position.
Loader = Callable[[Path, str], list[dict]]


def resolve_data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """Where task data lives: the argument, ``MODXFER_DATA_DIR``, ``./data``, ``../shared/data``, or the cache."""
    if explicit is not None:
        p = Path(explicit).expanduser()
        if not p.is_dir():
            raise DataError(f"data directory {p} does not exist", "pass an existing folder or unset it")
        return p
    env = os.environ.get("MODXFER_DATA_DIR")
    if env:
        p = Path(env).expanduser()
        if not p.is_dir():
            raise DataError(
                f"MODXFER_DATA_DIR={env} is not a directory",
                "point MODXFER_DATA_DIR at the folder holding the task data (e.g. ../shared/data)",
            )
        return p
    for p in (Path("data"), Path("..") / "shared" / "data"):
        if (p / "README.md").is_file() or (p / "xnli").is_dir():
            return p
    return cache_dir() / "data"


@dataclass(frozen=True)
class HubSource:
    """Where ``modxfer data fetch`` gets the task from the Hugging Face Hub (for users online)."""

    path: str
    config: str | None = None
    split: str = "validation"
    per_language_config: str | None = None  # e.g. "PAN-X.{lang}"


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

    def __post_init__(self):
        assert self.role in ROLES and self.head in HEADS, (self.role, self.head)

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(s for s in SPLITS if s in self.loaders)

    def languages(self, data_dir_: str | os.PathLike | None = None) -> tuple[str, ...]:
        """Languages with evaluation data on disk (any file matching the pattern), else the fixed set."""
        if self.lang_pattern is None:
            return self.fixed_languages
        root = resolve_data_dir(data_dir_)
        esc = re.escape(self.lang_pattern).replace(re.escape("{lang}"), r"(?P<lang>[A-Za-z_]+)", 1)
        rx = re.compile(esc.replace(re.escape("{lang}"), "(?P=lang)") + "$")
        glob = self.lang_pattern.replace("{lang}", "*")
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
                f"pick one of those, or add its file ({self.lang_pattern or 'see the data README'}) to the data directory",
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
        if self.needs_hub and not self.available(root):
            raise DataError(
                f"task {self.name!r} has no offline data ({self.description})",
                f"online, run `modxfer data fetch {self.name}` to write it into the data directory",
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
        return [dict(r) for r in _cached_rows(self, split, lang, str(root.resolve()))]

    def available(self, data_dir_=None) -> bool:
        """Whether the data is on disk (tasks not shipped offline have ``files`` that ``data fetch`` writes)."""
        if self.needs_hub and not self.files:
            return False
        root = resolve_data_dir(data_dir_)
        return all((root / f).is_file() for f in self.files)

    def size(self, split: str, lang: str = "en", data_dir_=None) -> int:
        return len(self.rows(split, lang, data_dir=data_dir_))


@lru_cache(maxsize=256)
def _cached_rows(task: Task, split: str, lang: str, root: str) -> tuple[dict, ...]:
    return tuple(task.loaders[split](Path(root), lang))
