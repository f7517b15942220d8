"""The sweep config's vocabulary and the readers of its fields: the keys each section may hold, the bounds numbers
must stay within, and one function per field that reads it strictly or refuses it with the problem and the fix
(``config.parse_config`` calls them in order). Split from ``config`` by idea: what a config is, and how each of its
fields is read.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..composition import KINDS, Composition
from ..errors import ConfigError, ModxferError
from ..store.cards import finite, show

# Mirrors modxfer.model.precision.PRECISIONS, which imports torch; `sweep plan` should not pay for that.
# tests/test_sweeps.py keeps the two equal.
PRECISIONS = ("auto", "bf16", "fp32")

TOP_KEYS = ("name", "backbone", "intermediates", "targets", "languages", "compositions", "noise", "seeds", "budget",
            "training", "precision", "output", "artifacts", "data_dir", "resources", "trunk_layers")
BUDGET_KEYS = ("examples", "epochs", "eval_examples", "full", "intermediate", "targets")
INTERMEDIATE_BUDGET_KEYS = ("examples", "epochs")
FULL_BUDGET_KEYS = ("examples", "epochs", "learning_rate", "freeze_embeddings")
TRAINING_KEYS = ("adapter", "batch_size", "learning_rate", "max_length", "trunk_layers")
RESOURCE_KEYS = ("train", "eval")
RESOURCE_FIELDS = ("num_cpus", "num_gpus")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
MAX_DEPTH = 16  # a sweep config nests four levels; deeper is a mistake or an attack on the parser
MAX_BYTES = 1 << 20
MAX_SEED = 2**32  # numpy's seed range
# Upper bounds: generous enough for any real study, tight enough to catch a typo (1e9 epochs) before a run starts.
HIGH = {"budget.examples": 10**9, "budget.eval_examples": 10**9, "budget.epochs": 10_000,
         "training.batch_size": 1 << 16, "budget.intermediate.examples": 10**9,
         "budget.intermediate.epochs": 10_000, "training.learning_rate": 10.0, "training.max_length": 1 << 16}


@dataclass(frozen=True)
class Target:
    task: str
    languages: tuple[str, ...]



def read_target_budget(budget: dict, targets, compositions, where: str) -> dict:
    raw = budget.get("targets")
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: budget.targets must be a mapping of target task to {{examples, epochs}}, "
                          f"got {show(raw)}", "write e.g. targets: {xnli: {examples: 1600}}")
    names = [t.task for t in targets]
    out = {}
    for task, entry in raw.items():
        if task not in names:
            if known_task(task) and task_role(task) == "intermediate":
                raise ConfigError(f"{where}: budget.targets names {show(task)}, an intermediate task",
                                  "give intermediate adapters their budget under budget.intermediate")
            close = difflib.get_close_matches(str(task), names, n=1)
            raise ConfigError(f"{where}: budget.targets names {show(task)}, which is not one of the targets "
                              f"({', '.join(names)})", f"did you mean {close[0]!r}?" if close
                              else "name a task listed under targets")
        entry = read_section(raw, task, INTERMEDIATE_BUDGET_KEYS, f"{where}: budget.targets")
        if not entry:
            raise ConfigError(f"{where}: budget.targets.{task} sets neither examples nor epochs",
                              "give examples and/or epochs, or remove the entry")
        if not task_trains(task):
            raise ConfigError(f"{where}: budget.targets.{task}: {task} has no training data, so no adapter of its "
                              "own to budget (it is evaluated on its intermediates)", f"remove budget.targets.{task}")
        if not any(c.target == task and c.kind != "full" for c in compositions):
            raise ConfigError(f"{where}: budget.targets.{task}: no composition trains an adapter for {task} "
                              "(full fine-tuning keeps budget.full)", f"remove budget.targets.{task}, or set budget.full")
        out[task] = {key: kind(read_positive(entry[key], f"budget.targets.{task}.{key}", where, kind, f"budget.{key}"))
                     for key, kind in (("examples", int), ("epochs", float)) if entry.get(key) is not None}
    return out


def task_role(task: str) -> str:
    from ..tasks import get_task

    return get_task(task).role


def known_task(task: str) -> bool:
    from ..tasks import get_task

    try:
        get_task(task)
    except ModxferError:
        return False
    return True


def task_trains(task: str) -> bool:
    from ..tasks import get_task

    return "train" in get_task(task).splits


def check_keys(mapping: dict, allowed: tuple[str, ...], section: str, where: str) -> None:
    for key in mapping:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=3, cutoff=0.6)
            hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
            raise ConfigError(f"{where}: unknown key {show(key)} in {section}{hint}",
                              f"allowed keys in {section}: {', '.join(allowed)}")


def read_section(raw: dict, key: str, allowed: tuple[str, ...], where: str) -> dict:
    value = raw.get(key) or {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: {key} must be a mapping, got {show(value)}",
                          f"write e.g. {key}: {{{allowed[0]}: ...}}")
    check_keys(value, allowed, key, where)
    return value


def read_str(value: Any, key: str, where: str) -> str:
    if not isinstance(value, str) or not value.strip() or "\0" in value:
        raise ConfigError(f"{where}: {key} must be a non-empty string, got {show(value)}", f"set {key} to a name")
    return value.strip()


def read_path(raw: dict, key: str, where: str) -> Path:
    return Path(read_str(raw[key], key, where)).expanduser().resolve()


def check_writable_folder(path: Path, key: str, where: str) -> None:
    """A folder the run will create or reuse: nothing that is a file may stand at it or above it."""
    for p in (path, *path.parents):
        if p.exists():
            if not p.is_dir():
                what = "is a file" if p == path else f"is under the file {p}"
                raise ConfigError(f"{where}: {key} {str(path)!r} {what}, so no folder can be made there",
                                  f"point {key} at a folder, or move the file away")
            return


def read_trunk_layers(raw: dict, training: dict, where: str) -> int | None:
    """``trunk_layers`` at the top level or under ``training`` (not both): an int >= 0, or absent/null for the
    backbone's default. Its upper bound is the backbone's depth, checked by ``prepare.check_training``."""
    if raw.get("trunk_layers") is not None and training.get("trunk_layers") is not None:
        raise ConfigError(f"{where}: trunk_layers is set both at the top level and under training",
                          "set it in one place")
    value = raw.get("trunk_layers", training.get("trunk_layers"))
    if value is None:
        value = training.get("trunk_layers")
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 1024:
        raise ConfigError(f"{where}: trunk_layers must be a whole number >= 0, got {show(value)}",
                          "set trunk_layers to how many frozen layers sit below the first adapter, or remove it")
    return value


def read_list(value: Any, key: str, where: str) -> list:
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return [value]
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where}: {key} must be a non-empty list, got {show(value)}", f"write {key}: [a, b, ...]")
    if len(value) > 10_000:
        raise ConfigError(f"{where}: {key} lists {len(value)} items", "list at most a few hundred")
    return value


def read_positive(value: Any, key: str, where: str, kind: type, bound: str | None = None) -> int | float:
    high = HIGH.get(bound or key, math.inf)
    # cards.finite, not math.isfinite: that raises OverflowError on 10**400, which YAML reads as an int
    ok = (finite(value) and (kind is float or float(value).is_integer()) and value > 0)
    if not ok:
        what = "a whole number >= 1" if kind is int else "a number > 0"
        raise ConfigError(f"{where}: {key} must be {what}, got {show(value)}", f"set {key} to {what}")
    if value > high:
        raise ConfigError(f"{where}: {key} must be at most {high:g}, got {show(value)}",
                          f"set {key} to a value a study can use")
    return kind(value)


def read_task(name: Any, key: str, where: str):
    from ..tasks import get_task

    if not isinstance(name, str) or len(name) > 64:
        raise ConfigError(f"{where}: {key}: {show(name)} is not a task name", "see `modxfer tasks` for the names")
    try:
        return get_task(str(name))
    except ModxferError as e:
        raise ConfigError(f"{where}: {key}: {e.problem}", e.fix) from None


def read_intermediates(value: Any, where: str, root) -> tuple[str, ...]:
    if value in (None, []):
        return ()
    names = []
    for name in read_list(value, "intermediates", where):
        task = read_task(name, "intermediates", where)
        if "train" not in task.splits or task.needs_hub:
            raise ConfigError(f"{where}: intermediates: {task.name!r} has no offline training data ({task.description})",
                              "use a task with English training data (see `modxfer tasks`)")
        if task.name in names:
            raise ConfigError(f"{where}: intermediates lists {task.name!r} twice", "list each task once")
        names.append(task.name)
    return tuple(names)


def read_targets(raw: dict, where: str, root) -> tuple[Target, ...]:
    if "targets" not in raw or not raw["targets"]:
        raise ConfigError(f"{where}: no targets", "add e.g. targets: {xnli: [en, de]} (task -> languages)")
    default = raw.get("languages", "all")
    value = raw["targets"]
    if isinstance(value, dict):
        items = [(name, default if langs is None else langs) for name, langs in value.items()]
    else:
        items = [(name, default) for name in read_list(value, "targets", where)]
    out = []
    for name, langs in items:
        task = read_task(name, "targets", where)
        if "test" not in task.splits:
            raise ConfigError(f"{where}: targets: {task.name!r} has no test data, so it cannot be evaluated",
                              "use a target task (see `modxfer tasks`), or list it under intermediates")
        if any(t.task == task.name for t in out):
            raise ConfigError(f"{where}: targets lists {task.name!r} twice", "list each task once")
        out.append(Target(task.name, read_languages(task, langs, f"targets.{task.name}", where, root)))
    return tuple(out)


def read_languages(task, spec: Any, key: str, where: str, root) -> tuple[str, ...]:
    from .. import languages as L

    available = task.languages(root)
    if not available:
        raise ConfigError(f"{where}: {key}: task {task.name!r} has no test data in {root}",
                          f"run `modxfer data check {task.name}` to see what is missing")
    canon = {}
    for code in available:
        try:
            canon.setdefault(L.normalize(code), code)
        except ModxferError:
            pass

    def lookup(code: str) -> str | None:
        if code in available:
            return code
        try:
            return canon.get(L.normalize(code))
        except ModxferError:
            return None

    out: list[str] = []
    for item in read_list(spec, key, where):
        item = str(item).strip()
        if item == "all":
            picked = list(available)
        elif item.startswith("family:"):
            family = item[len("family:"):].strip()
            try:
                members = L.by_family(family)
            except ModxferError as e:
                raise ConfigError(f"{where}: {key}: {e.problem}", e.fix) from None
            picked = [c for c in (lookup(m) for m in members) if c]
            if not picked:
                raise ConfigError(f"{where}: {key}: task {task.name!r} has no language of family {show(family)}",
                                  f"{task.name} has: {', '.join(available)}")
        else:
            found = lookup(item)
            if found is None:
                close = difflib.get_close_matches(item, available, n=3)
                hint = f" (did you mean {', '.join(close)}?)" if close else ""
                raise ConfigError(f"{where}: {key}: task {task.name!r} has no data for language {show(item)}{hint}",
                                  f"use languages it has: {', '.join(available)} (or `all`, or family:NAME)")
            picked = [found]
        out += [c for c in picked if c not in out]
    return tuple(out)


def read_compositions(value: Any, intermediates: tuple[str, ...], targets: tuple[Target, ...],
                  where: str) -> tuple[Composition, ...]:
    names = [t.task for t in targets]
    out: list[Composition] = []

    def add(c: Composition) -> None:
        if c not in out:
            out.append(c)

    for item in read_list(value, "compositions", where):
        text = str(item).strip()
        if text in KINDS:
            if text in ("stack", "fusion") and not intermediates:
                raise ConfigError(f"{where}: compositions: {show(text)} needs intermediates, and none are listed",
                                  "add intermediates: [mnli, ...] or remove it")
            if text == "fusion" and len(intermediates) < 2:
                raise ConfigError(f"{where}: compositions: 'fusion' fuses at least two intermediates; "
                                  f"intermediates has {len(intermediates)}: {', '.join(intermediates)}",
                                  "add another intermediate task, or remove 'fusion'")
            for t in names:
                try:
                    if text == "target":
                        add(Composition(t))
                    elif text == "stack":
                        for i in intermediates:
                            add(Composition(t, (i,), "stack"))
                    elif text == "fusion":
                        add(Composition(t, intermediates, "fusion"))
                    else:
                        add(Composition(t, (), "full"))
                except ModxferError as e:  # e.g. `stack` with intermediates [xnli] and target xnli: xnli>xnli
                    raise ConfigError(f"{where}: compositions: {e.problem}",
                                      f"remove {t} from intermediates, or list compositions for the other targets "
                                      "explicitly (e.g. \"xnli>xcopa\")") from None
            continue
        if text not in names and all(ch not in text for ch in ">:(*"):
            close = difflib.get_close_matches(text, [*KINDS, *names], n=2, cutoff=0.6)
            hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
            raise ConfigError(f"{where}: compositions: {show(text)} is neither a composition kind nor a target{hint}",
                              f"use a kind ({', '.join(KINDS)}) or a composition such as mnli>{names[0]}")
        expanded = [text[:-1] + t for t in names] if text.endswith("*") else [text]
        for s in expanded:
            try:
                c = Composition.parse(s)
            except ModxferError as e:
                raise ConfigError(f"{where}: compositions: {e.problem}",
                                  f"{e.fix}; or a kind: {', '.join(KINDS)}") from None
            if c.target not in names:
                raise ConfigError(f"{where}: compositions: {show(text)} targets {c.target!r}, which is not in targets",
                                  f"add {c.target} to targets, or use one of: {', '.join(names)}")
            missing = [i for i in c.intermediates if i not in intermediates]
            if missing:
                raise ConfigError(f"{where}: compositions: {show(text)} uses {', '.join(map(repr, missing))}, not in "
                                  f"intermediates ({', '.join(intermediates) or 'none'})",
                                  "add it to intermediates, so its adapter is trained and recorded")
            add(c)
    for c in out:
        if c.target in c.intermediates:  # e.g. `stack` with intermediates [xnli] and target xnli: xnli>xnli
            raise ConfigError(f"{where}: compositions: {c} uses {c.target!r} as an intermediate of itself",
                              f"remove {c.target} from intermediates, or list compositions for the other targets "
                              "explicitly (e.g. \"xnli>xcopa\")")
    # Grouped by target (in the order targets are listed), each group in the order its kinds were written.
    return tuple(sorted(out, key=lambda c: names.index(c.target)))


def read_noise(value: Any, where: str) -> tuple[str, ...]:
    from ..noise import parse_specs

    items = read_list(value, "noise", where)
    try:
        specs = parse_specs([str(v) for v in items])
    except ModxferError as e:
        raise ConfigError(f"{where}: noise: {e.problem}", e.fix) from None
    return tuple(str(s) for s in specs)


def read_seeds(value: Any, where: str) -> tuple[int, ...]:
    seeds, seen = [], set()
    for s in read_list(value, "seeds", where):
        if not isinstance(s, int) or isinstance(s, bool) or s < 0:
            raise ConfigError(f"{where}: seeds: {show(s)} is not a whole number >= 0", "write seeds: [0, 1, 2]")
        if s >= MAX_SEED:
            raise ConfigError(f"{where}: seeds: {show(s)} is too large (seeds are below 2**32)",
                              "write seeds: [0, 1, 2]")
        if s in seen:
            raise ConfigError(f"{where}: seeds lists {s} twice", "list each seed once")
        seeds.append(s)
        seen.add(s)
    return tuple(seeds)


def read_resources(raw: dict, where: str) -> dict:
    section = read_section(raw, "resources", RESOURCE_KEYS, where)
    out = {"train": {"num_cpus": 1, "num_gpus": 0}, "eval": {"num_cpus": 1, "num_gpus": 0}}
    for kind, value in section.items():
        value = value or {}
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: resources.{kind} must be a mapping, got {show(value)}",
                              "write e.g. resources: {train: {num_cpus: 2, num_gpus: 1}}")
        check_keys(value, RESOURCE_FIELDS, f"resources.{kind}", where)
        for k, v in value.items():
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 <= v <= 4096:
                raise ConfigError(f"{where}: resources.{kind}.{k} must be a number from 0 to 4096, got {show(v)}",
                                  f"set {k} to how many the cell needs (fractions allowed)")
            out[kind][k] = v
    return out
