"""``modxfer data fetch``: write a task's data from the Hugging Face Hub (or, where the Hub copy lacks what the
benchmark needs, the official files) in the layout the registry reads, for the data directory's profile.

Converters take rows in each source's schema and write the same files the registry's loaders read, so fetched data
goes through exactly the loaders (and partitions) that the tests exercise on local files. ``offline`` writes what
the shared data directory holds (``convert.py``); ``paper`` writes Phang et al.'s full splits (``convert_paper.py``)
and marks the directory with ``modxfer-profile.json``. A directory holds one profile: paper data goes into an empty
(or already paper) directory, never beside offline data.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from ..errors import ConfigError, DataError, ModxferError
from ..io import atomic_write_text, cache_dir
from .base import PROFILE_FILE, PROFILES, data_profile
from .convert import CONVERTERS, ENGLISH_FILES
from .convert_paper import PAPER_CONVERTERS, PAPER_ENGLISH
from .convert_xtreme_r import XTREME_R_CONVERTERS, XTREME_R_EXTRAS
from .registry import get_task

# load(path, config, split) -> iterable of row dicts in the Hub schema
Loader = Callable[[str, str | None, str], Iterable[dict]]
# download(url) -> a local file with its bytes (https://..., or hf://datasets/OWNER/NAME/PATH for Hub files)
Download = Callable[[str], Path]


def hub_loader(path: str, config: str | None, split: str) -> Iterable[dict]:
    import datasets

    try:
        return datasets.load_dataset(path, config, split=split)
    except Exception as e:  # network, unknown config, gated dataset: all end the same way for the user
        raise DataError(f"could not download {path} ({config or 'default'}, {split}) from the Hugging Face Hub: "
                        f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}",
                        "check the network and the dataset name, or place the files in the data directory by hand") from None


def download_file(url: str) -> Path:
    """A local copy of ``url``: Hub files through huggingface_hub's cache, others under ``$MODXFER_CACHE/downloads``."""
    try:
        if url.startswith("hf://datasets/"):
            from huggingface_hub import hf_hub_download

            owner, name, filename = url[len("hf://datasets/"):].split("/", 2)
            return Path(hf_hub_download(f"{owner}/{name}", filename, repo_type="dataset"))
        target = cache_dir() / "downloads" / f"{hashlib.sha256(url.encode()).hexdigest()[:16]}-{url.rsplit('/', 1)[-1]}"
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as resp:
                    shutil.copyfileobj(resp, out)
                os.replace(tmp, target)
                from ..io import mark

                mark(target)  # `cache clear` deletes only entries their writer marked
            except BaseException:  # a failed download leaves nothing behind
                Path(tmp).unlink(missing_ok=True)
                raise
        return target
    except Exception as e:  # network, 404, Hub errors: the user can only retry or place the files by hand
        raise DataError(f"could not download {url}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}",
                        "check the network, or place the files in the data directory by hand (see the data layout "
                        "in modxfer/tasks/xtreme_r.py)") from None


@dataclass(frozen=True)
class Sources:
    """Where converters read from: Hub datasets (``load``) and files (``download``); tests pass local stand-ins."""

    load: Loader = hub_loader
    download: Download = download_file


def _profile(root: Path, requested: str | None) -> str:
    marked = (root / PROFILE_FILE).is_file()
    current = data_profile(root) if marked else "offline"
    profile = requested or current
    if profile not in PROFILES:
        raise ConfigError(f"unknown data profile {profile!r}", f"use one of: {', '.join(PROFILES)}")
    if marked and profile != current:
        raise DataError(f"{root} holds the {current} profile ({PROFILE_FILE}); {profile} data beside it would mix "
                        "two protocols", f"fetch into another directory (--data-dir), or pass --profile {current}")
    if not marked and profile == "paper" and root.is_dir() and any(not p.name.startswith(".") for p in root.iterdir()):
        raise DataError(f"{root} already holds offline-profile data; paper data beside it would mix two protocols",
                        "fetch the paper profile into an empty directory (--data-dir DIR)")
    return profile


def _languages(task, languages: Iterable[str]) -> list[str]:
    langs = [l for l in languages if l]
    if langs == ["all"]:
        return list(task.official_languages)
    unknown = [l for l in langs if l not in task.official_languages]
    if unknown and task.official_languages:
        # language codes become file names: only the task's own codes may
        raise DataError(f"{task.name} has no language {', '.join(map(repr, unknown))}",
                           f"use some of: {', '.join(task.official_languages)} (or all)")
    if task.role == "target" and not langs and task.name not in ("udpos", "panx", "xcopa"):
        raise ModxferError(f"say which languages of {task.name!r} to fetch",
                           f"pass --languages all ({', '.join(task.official_languages)}) or a comma-separated subset")
    return langs


def _plan(task, profile: str) -> tuple[Callable, list[str]]:
    """The converter and the calls before the per-language ones (English and shared files)."""
    if task.name in XTREME_R_CONVERTERS:
        return XTREME_R_CONVERTERS[task.name], XTREME_R_EXTRAS[profile].get(task.name, [])
    if profile == "paper" and task.name in PAPER_CONVERTERS:
        return PAPER_CONVERTERS[task.name], (["en-files"] if task.name in PAPER_ENGLISH else [])
    if task.name not in CONVERTERS:
        raise ModxferError(f"task {task.name!r} cannot be fetched: {task.description}",
                           "obtain the data under its license and place it in the data directory")
    return CONVERTERS[task.name], ENGLISH_FILES.get(task.name, [])


def fetch(task_name: str, data_dir: str | Path, languages: Iterable[str] = (), load: Loader = hub_loader, *,
          download: Download = download_file, profile: str | None = None) -> list[Path]:
    """Download ``task_name`` (and, for targets, the given languages, or ``["all"]``) into ``data_dir`` for
    ``profile`` (default: the directory's own, ``offline`` for a new one); returns the files written."""
    task = get_task(task_name)
    root = Path(data_dir)
    profile = _profile(root, profile)
    if profile == "offline" and task.unavailable is not None:
        raise DataError(*task.unavailable)
    convert, extras = _plan(task, profile)
    langs = _languages(task, languages)
    src = Sources(load, download)
    written: list[Path] = []
    if profile == "paper" and not (root / PROFILE_FILE).is_file():
        # marked first: a fetch that fails half-way leaves a paper directory, never an unmarked mix
        written.append(atomic_write_text(root / PROFILE_FILE, json.dumps({"profile": "paper"}) + "\n"))
    for extra in extras:
        written += convert(src, root, extra)
    for lang in (langs if task.role == "target" else [None]):
        if lang is None and extras:
            continue
        written += convert(src, root, lang)
    return written
