"""Sweep configs: a YAML grid, validated completely on load so a bad config fails before any work starts.

    name: quickstart                      # optional; default: the file's stem
    backbone: embedded                    # or a local model directory / Hugging Face id
    intermediates: [mnli, qqp, siqa]      # English intermediate tasks (each adapter trained once per seed)
    targets:                              # target task -> languages: a list, `all`, or `family:NAME` entries
      xnli: [en, de, hi, zh]
      xcopa: [family:Austronesian, tr, qu]
    compositions: [target, stack, fusion, full, "fuse(mnli,qqp)>xnli", "full:mnli>*"]
    noise: [clean, "typo:0.05"]
    seeds: [0, 1]
    budget: {examples: 1000, epochs: 1, eval_examples: 200,
             intermediate: {examples: 2000, epochs: 2},      # intermediate-role tasks' adapters (default: as above)
             targets: {xnli: {examples: 1600}},              # one target's adapters: alone, stacked, fused
             full: {examples: 500, epochs: 2, learning_rate: 8e-5}}   # full fine-tuning (STILTs)
    training: {adapter: seq_bn, batch_size: 16, learning_rate: null, max_length: 128, trunk_layers: null}
    precision: auto
    output: runs/quickstart               # the run directory (relative paths: to the working directory)

Strict reading: UTF-8 only, no duplicate keys, no anchors/aliases, at most ``MAX_DEPTH`` levels of nesting; numbers
finite and in range (seeds < 2**32); the name a slug (the default run directory is ``runs/<name>``); output,
artifacts and data_dir paths checked for files in the way before any work starts.

Composition kinds expand against ``intermediates`` for every target: ``target`` is T alone, ``stack`` is I>T for
each intermediate I, ``fusion`` is fuse(all intermediates)>T, ``full`` is full:T (the fully fine-tuned baseline; write
``full:I>T`` or ``full:I>*`` for STILTs, since each costs another fine-tuning of the whole encoder). An explicit
string applies to the target it names; ``*`` as its target applies it to every target.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..store.cards import finite, show
from ..composition import KINDS, Composition
from ..errors import ConfigError, ModxferError

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
_HIGH = {"budget.examples": 10**9, "budget.eval_examples": 10**9, "budget.epochs": 10_000,
         "training.batch_size": 1 << 16, "budget.intermediate.examples": 10**9,
         "budget.intermediate.epochs": 10_000, "training.learning_rate": 10.0, "training.max_length": 1 << 16}


@dataclass(frozen=True)
class Target:
    task: str
    languages: tuple[str, ...]


@dataclass(frozen=True)
class SweepConfig:
    name: str
    backbone: str
    intermediates: tuple[str, ...]
    targets: tuple[Target, ...]
    compositions: tuple[Composition, ...]  # expanded, each naming one of the targets
    noise: tuple[str, ...]  # canonical spec strings
    seeds: tuple[int, ...]
    examples: int
    epochs: float
    eval_examples: int | None
    precision: str
    output: Path
    artifacts: Path
    data_dir: Path | None
    adapter: str = "seq_bn"
    batch_size: int = 16
    learning_rate: float | None = None
    max_length: int = 128
    trunk_layers: int | None = None  # None: the backbone's default; checked against its depth by prepare.check_training
    # Full fine-tuning (STILTs) costs several adapters' worth per example: its own examples/epochs/learning_rate.
    full_budget: dict = field(default_factory=dict)
    # Intermediate adapters are trained once per seed and reused under every stack and fusion: their own budget.
    intermediate_budget: dict = field(default_factory=dict)
    # A target's own adapter budget (its target-only adapter, stacks and fusion on it), task -> {examples, epochs}:
    # every composition of that target keeps the same budget, so they stay comparable with each other.
    target_budget: dict = field(default_factory=dict)
    # Ray resource requests per cell kind; they change where cells run, never what they compute.
    resources: dict = field(default_factory=lambda: {"train": {"num_cpus": 1, "num_gpus": 0},
                                                     "eval": {"num_cpus": 1, "num_gpus": 0}})
    raw: dict = field(default_factory=dict, compare=False)
    source: str = field(default="config", compare=False)  # the file's name, for messages about checks made later

    def target(self, task: str) -> Target:
        return next(t for t in self.targets if t.task == task)

    def compositions_for(self, task: str) -> list[Composition]:
        return [c for c in self.compositions if c.target == task]

    def settings(self) -> dict:
        """What decides the artifacts and results of the cells, as plain data (it travels to Ray workers)."""
        return {"backbone": self.backbone, "data_dir": str(self.data_dir), "store": str(self.artifacts),
                "adapter": self.adapter, "examples": self.examples, "epochs": self.epochs,
                "eval_examples": self.eval_examples, "precision": self.precision, "batch_size": self.batch_size,
                "learning_rate": self.learning_rate, "max_length": self.max_length, "trunk_layers": self.trunk_layers,
                "full_budget": dict(self.full_budget), "intermediate_budget": dict(self.intermediate_budget),
                "target_budgets": target_budgets(self.target_budget)}

    def train_settings(self, seed: int, kind: str | None = None) -> dict:
        """Keyword arguments for ``modxfer.training.train`` / ``train_key`` (besides the composition); ``kind`` "full"
        applies ``budget.full``."""
        return train_kwargs(self.settings(), seed, kind)

    def budget_for(self, kind: str, task: str | None = None) -> tuple[int, float]:
        """(examples, epochs) a trained piece of this composition kind (and, for an intermediate adapter, task) gets."""
        s = self.train_settings(0, kind)
        if kind != "full" and task is not None and _role(task) == "intermediate":
            return self.intermediate_budget.get("examples", s["examples"]), self.intermediate_budget.get("epochs", s["epochs"])
        if kind != "full" and task in self.target_budget:
            own = self.target_budget[task]
            return own.get("examples", s["examples"]), own.get("epochs", s["epochs"])
        return s["examples"], s["epochs"]


def train_kwargs(s: dict, seed: int, kind: str | None = None) -> dict:
    """``SweepConfig.settings()`` (or a worker's copy of it) as the keyword arguments of ``modxfer.training.train``:
    the one translation, so the plan's keys and the workers' artifacts cannot drift apart."""
    out = {"config": s["adapter"], "examples": s["examples"], "epochs": s["epochs"], "seed": seed,
           "precision": s["precision"], "base": s["backbone"], "batch_size": s["batch_size"],
           "learning_rate": s["learning_rate"], "max_length": s["max_length"], "trunk_layers": s.get("trunk_layers"),
           "intermediate_examples": (s.get("intermediate_budget") or {}).get("examples"),
           "intermediate_epochs": (s.get("intermediate_budget") or {}).get("epochs"),
           # tuples again after a trip through JSON (Ray)
           "target_budgets": tuple(tuple(t) for t in s.get("target_budgets") or ())}
    if kind == "full":
        out.update(s.get("full_budget") or {})
    return out


def target_budgets(budget: dict) -> tuple:
    """``budget.targets`` as ``TrainSettings.target_budgets``: ((task, examples or None, epochs or None), ...)."""
    return tuple((task, b.get("examples"), b.get("epochs")) for task, b in sorted(budget.items()))


def load_config(path: str | os.PathLike, *, output: str | os.PathLike | None = None) -> SweepConfig:
    """Read and validate a sweep config; ``output`` overrides its run directory."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"sweep config {path} does not exist", "pass the path of a YAML file (see configs/)")
    raw = read_yaml(path)
    if output is not None:
        raw = {**(raw or {}), "output": str(output)}
    return parse_config(raw, default_name=path.stem, where=path.name)


class _StrictLoader(yaml.SafeLoader):
    """YAML without the features that turn a small file into a huge or ambiguous one."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent) or getattr(self.peek_event(), "anchor", None) is not None:
            raise _Refused("anchors and aliases (&name, *name) are not supported; write the values out",
                           self.peek_event().start_mark)
        self._depth = getattr(self, "_depth", 0) + 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(f"nested more than {MAX_DEPTH} levels deep", self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                dup = key in seen
            except TypeError:  # an unhashable key; the base class reports it
                break
            if dup:
                raise _Refused(f"duplicate key {show(key)}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


class _Refused(Exception):
    def __init__(self, what: str, mark):
        super().__init__(what)
        self.what, self.line = what, (mark.line + 1 if mark is not None else None)


def read_yaml(path: Path) -> Any:
    """A YAML file read strictly: UTF-8, no duplicate keys, no aliases, bounded size and depth."""
    from ..io import decode_utf8, read_bytes

    try:  # refused by its size before a byte is read: a sparse 20 GB file is not loaded into memory
        data = read_bytes(path, "check that this is the config you meant (a sweep config is a few hundred bytes)",
                          max_bytes=MAX_BYTES)
        text = decode_utf8(data, path, "save the config as UTF-8")
    except ModxferError as e:
        raise ConfigError(e.problem, e.fix) from None
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except _Refused as e:
        raise ConfigError(f"{path}:{e.line}: {e.what}", "fix the config at that line") from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ConfigError(f"{where}: {path.name} is not valid YAML: {str(e.problem or e.context)[:200]}",
                          "fix the syntax at the position shown") from None
    except (yaml.YAMLError, RecursionError, ValueError) as e:
        raise ConfigError(f"{path} is not valid YAML: {str(e)[:200]}", "fix the syntax") from None


def parse_config(raw: Any, *, default_name: str = "sweep", where: str = "config") -> SweepConfig:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: a sweep config is a mapping of keys, got {type(raw).__name__}",
                          f"start from configs/quickstart.yaml; keys: {', '.join(TOP_KEYS)}")
    _check_keys(raw, TOP_KEYS, "the top level", where)
    from ..tasks import resolve_data_dir

    data_dir = None
    if raw.get("data_dir") is not None:
        data_dir = _path(raw, "data_dir", where)
        if not data_dir.is_dir():
            raise ConfigError(f"{where}: data_dir {str(data_dir)!r} is not a directory",
                              "point it at the folder holding the task data, or remove it to use MODXFER_DATA_DIR")
    root = resolve_data_dir(data_dir)

    name = _str(raw.get("name", default_name), "name", where)
    if not NAME_RE.match(name):
        raise ConfigError(f"{where}: name {show(name)} is not a plain name (it names the folder runs/<name>)",
                          "use letters, digits, '_', '.' and '-', starting with a letter or digit")
    backbone = _str(raw.get("backbone", "embedded"), "backbone", where)
    if backbone != "embedded" and Path(backbone).expanduser().exists():
        backbone = str(Path(backbone).expanduser().resolve())  # workers may not share the working directory
    intermediates = _intermediates(raw.get("intermediates", []), where, root)
    targets = _targets(raw, where, root)
    compositions = _compositions(raw.get("compositions", ["target"]), intermediates, targets, where)
    noise = _noise(raw.get("noise", ["clean"]), where)
    seeds = _seeds(raw.get("seeds", [0]), where)
    from .grid import check_grid, check_lexicons

    check_grid(targets, compositions, noise, seeds, where)  # from the counts, before anything is expanded
    check_lexicons(targets, noise, root, where)
    budget = _section(raw, "budget", BUDGET_KEYS, where)
    examples = _positive(budget.get("examples", 2000), "budget.examples", where, int)
    epochs = float(_positive(budget.get("epochs", 1.0), "budget.epochs", where, float))
    eval_examples = budget.get("eval_examples")
    if eval_examples is not None:
        eval_examples = _positive(eval_examples, "budget.eval_examples", where, int)
    full_raw = _section(budget, "full", FULL_BUDGET_KEYS, f"{where}: budget")
    full_budget = {}
    for key, kind in (("examples", int), ("epochs", float), ("learning_rate", float)):
        if full_raw.get(key) is not None:
            full_budget[key] = kind(_positive(full_raw[key], f"budget.{key}" if key != "learning_rate"
                                              else "training.learning_rate", where, kind))
    freeze = full_raw.get("freeze_embeddings")
    if freeze is not None and not isinstance(freeze, bool):
        raise ConfigError(f"{where}: budget.full.freeze_embeddings must be true or false, got {freeze!r}",
                          "write `freeze_embeddings: true` (word embeddings frozen in full fine-tuning) or remove it")
    if freeze:  # absent when false: the keys of configs written before it existed stay the same
        full_budget["freeze_embeddings"] = True
    inter_raw = _section(budget, "intermediate", INTERMEDIATE_BUDGET_KEYS, f"{where}: budget")
    intermediate_budget = {key: kind(_positive(inter_raw[key], f"budget.intermediate.{key}", where, kind))
                           for key, kind in (("examples", int), ("epochs", float)) if inter_raw.get(key) is not None}
    target_budget = _target_budget(budget, targets, compositions, where)
    training = _section(raw, "training", TRAINING_KEYS, where)
    adapter = _str(training.get("adapter", "seq_bn"), "training.adapter", where)
    batch_size = _positive(training.get("batch_size", 16), "training.batch_size", where, int)
    lr = training.get("learning_rate")
    if lr is not None:
        lr = float(_positive(lr, "training.learning_rate", where, float))
    max_length = _positive(training.get("max_length", 128), "training.max_length", where, int)
    trunk_layers = _trunk_layers(raw, training, where)
    precision = raw.get("precision", "auto")
    if precision not in PRECISIONS:
        raise ConfigError(f"{where}: precision {show(precision)} is not allowed",
                          f"use one of: {', '.join(PRECISIONS)}")
    output = _path(raw, "output", where) if raw.get("output") is not None else Path("runs", name).resolve()
    artifacts = _path(raw, "artifacts", where) if raw.get("artifacts") is not None else output / "artifacts"
    for key, p in (("output", output), ("artifacts", artifacts)):
        _writable_folder(p, key, where)
    return SweepConfig(
        name=name, backbone=backbone, intermediates=intermediates, targets=targets, compositions=compositions,
        noise=noise, seeds=seeds, examples=examples, epochs=epochs, eval_examples=eval_examples, precision=precision,
        output=output, artifacts=artifacts, data_dir=Path(root).resolve(), adapter=adapter, batch_size=batch_size,
        learning_rate=lr, max_length=max_length, trunk_layers=trunk_layers, full_budget=full_budget,
        intermediate_budget=intermediate_budget, target_budget=target_budget,
        resources=_resources(raw, where), raw=raw, source=where,
    )


# ------------------------------------------------------------------------------------------- helpers

def _target_budget(budget: dict, targets, compositions, where: str) -> dict:
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
            if _known(task) and _role(task) == "intermediate":
                raise ConfigError(f"{where}: budget.targets names {show(task)}, an intermediate task",
                                  "give intermediate adapters their budget under budget.intermediate")
            close = difflib.get_close_matches(str(task), names, n=1)
            raise ConfigError(f"{where}: budget.targets names {show(task)}, which is not one of the targets "
                              f"({', '.join(names)})", f"did you mean {close[0]!r}?" if close
                              else "name a task listed under targets")
        entry = _section(raw, task, INTERMEDIATE_BUDGET_KEYS, f"{where}: budget.targets")
        if not entry:
            raise ConfigError(f"{where}: budget.targets.{task} sets neither examples nor epochs",
                              "give examples and/or epochs, or remove the entry")
        if not _trains(task):
            raise ConfigError(f"{where}: budget.targets.{task}: {task} has no training data, so no adapter of its "
                              "own to budget (it is evaluated on its intermediates)", f"remove budget.targets.{task}")
        if not any(c.target == task and c.kind != "full" for c in compositions):
            raise ConfigError(f"{where}: budget.targets.{task}: no composition trains an adapter for {task} "
                              "(full fine-tuning keeps budget.full)", f"remove budget.targets.{task}, or set budget.full")
        out[task] = {key: kind(_positive(entry[key], f"budget.targets.{task}.{key}", where, kind, f"budget.{key}"))
                     for key, kind in (("examples", int), ("epochs", float)) if entry.get(key) is not None}
    return out


def _role(task: str) -> str:
    from ..tasks import get_task

    return get_task(task).role


def _known(task: str) -> bool:
    from ..tasks import get_task

    try:
        get_task(task)
    except ModxferError:
        return False
    return True


def _trains(task: str) -> bool:
    from ..tasks import get_task

    return "train" in get_task(task).splits


def _check_keys(mapping: dict, allowed: tuple[str, ...], section: str, where: str) -> None:
    for key in mapping:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=3, cutoff=0.6)
            hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
            raise ConfigError(f"{where}: unknown key {show(key)} in {section}{hint}",
                              f"allowed keys in {section}: {', '.join(allowed)}")


def _section(raw: dict, key: str, allowed: tuple[str, ...], where: str) -> dict:
    value = raw.get(key) or {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: {key} must be a mapping, got {show(value)}",
                          f"write e.g. {key}: {{{allowed[0]}: ...}}")
    _check_keys(value, allowed, key, where)
    return value


def _str(value: Any, key: str, where: str) -> str:
    if not isinstance(value, str) or not value.strip() or "\0" in value:
        raise ConfigError(f"{where}: {key} must be a non-empty string, got {show(value)}", f"set {key} to a name")
    return value.strip()


def _path(raw: dict, key: str, where: str) -> Path:
    return Path(_str(raw[key], key, where)).expanduser().resolve()


def _writable_folder(path: Path, key: str, where: str) -> None:
    """A folder the run will create or reuse: nothing that is a file may stand at it or above it."""
    for p in (path, *path.parents):
        if p.exists():
            if not p.is_dir():
                what = "is a file" if p == path else f"is under the file {p}"
                raise ConfigError(f"{where}: {key} {str(path)!r} {what}, so no folder can be made there",
                                  f"point {key} at a folder, or move the file away")
            return


def _trunk_layers(raw: dict, training: dict, where: str) -> int | None:
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


def _as_list(value: Any, key: str, where: str) -> list:
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return [value]
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where}: {key} must be a non-empty list, got {show(value)}", f"write {key}: [a, b, ...]")
    if len(value) > 10_000:
        raise ConfigError(f"{where}: {key} lists {len(value)} items", "list at most a few hundred")
    return value


def _positive(value: Any, key: str, where: str, kind: type, bound: str | None = None) -> int | float:
    high = _HIGH.get(bound or key, math.inf)
    # cards.finite, not math.isfinite: that raises OverflowError on 10**400, which YAML reads as an int
    ok = (finite(value) and (kind is float or float(value).is_integer()) and value > 0)
    if not ok:
        what = "a whole number >= 1" if kind is int else "a number > 0"
        raise ConfigError(f"{where}: {key} must be {what}, got {show(value)}", f"set {key} to {what}")
    if value > high:
        raise ConfigError(f"{where}: {key} must be at most {high:g}, got {show(value)}",
                          f"set {key} to a value a study can use")
    return kind(value)


def _task(name: Any, key: str, where: str):
    from ..tasks import get_task

    if not isinstance(name, str) or len(name) > 64:
        raise ConfigError(f"{where}: {key}: {show(name)} is not a task name", "see `modxfer tasks` for the names")
    try:
        return get_task(str(name))
    except ModxferError as e:
        raise ConfigError(f"{where}: {key}: {e.problem}", e.fix) from None


def _intermediates(value: Any, where: str, root) -> tuple[str, ...]:
    if value in (None, []):
        return ()
    names = []
    for name in _as_list(value, "intermediates", where):
        task = _task(name, "intermediates", where)
        if "train" not in task.splits or task.needs_hub:
            raise ConfigError(f"{where}: intermediates: {task.name!r} has no offline training data ({task.description})",
                              "use a task with English training data (see `modxfer tasks`)")
        if task.name in names:
            raise ConfigError(f"{where}: intermediates lists {task.name!r} twice", "list each task once")
        names.append(task.name)
    return tuple(names)


def _targets(raw: dict, where: str, root) -> tuple[Target, ...]:
    if "targets" not in raw or not raw["targets"]:
        raise ConfigError(f"{where}: no targets", "add e.g. targets: {xnli: [en, de]} (task -> languages)")
    default = raw.get("languages", "all")
    value = raw["targets"]
    if isinstance(value, dict):
        items = [(name, default if langs is None else langs) for name, langs in value.items()]
    else:
        items = [(name, default) for name in _as_list(value, "targets", where)]
    out = []
    for name, langs in items:
        task = _task(name, "targets", where)
        if "test" not in task.splits:
            raise ConfigError(f"{where}: targets: {task.name!r} has no test data, so it cannot be evaluated",
                              "use a target task (see `modxfer tasks`), or list it under intermediates")
        if any(t.task == task.name for t in out):
            raise ConfigError(f"{where}: targets lists {task.name!r} twice", "list each task once")
        out.append(Target(task.name, _languages(task, langs, f"targets.{task.name}", where, root)))
    return tuple(out)


def _languages(task, spec: Any, key: str, where: str, root) -> tuple[str, ...]:
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
    for item in _as_list(spec, key, where):
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


def _compositions(value: Any, intermediates: tuple[str, ...], targets: tuple[Target, ...],
                  where: str) -> tuple[Composition, ...]:
    names = [t.task for t in targets]
    out: list[Composition] = []

    def add(c: Composition) -> None:
        if c not in out:
            out.append(c)

    for item in _as_list(value, "compositions", where):
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


def _noise(value: Any, where: str) -> tuple[str, ...]:
    from ..noise import parse_specs

    items = _as_list(value, "noise", where)
    try:
        specs = parse_specs([str(v) for v in items])
    except ModxferError as e:
        raise ConfigError(f"{where}: noise: {e.problem}", e.fix) from None
    return tuple(str(s) for s in specs)


def _seeds(value: Any, where: str) -> tuple[int, ...]:
    seeds, seen = [], set()
    for s in _as_list(value, "seeds", where):
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


def _resources(raw: dict, where: str) -> dict:
    section = _section(raw, "resources", RESOURCE_KEYS, where)
    out = {"train": {"num_cpus": 1, "num_gpus": 0}, "eval": {"num_cpus": 1, "num_gpus": 0}}
    for kind, value in section.items():
        value = value or {}
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: resources.{kind} must be a mapping, got {show(value)}",
                              "write e.g. resources: {train: {num_cpus: 2, num_gpus: 1}}")
        _check_keys(value, RESOURCE_FIELDS, f"resources.{kind}", where)
        for k, v in value.items():
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 <= v <= 4096:
                raise ConfigError(f"{where}: resources.{kind}.{k} must be a number from 0 to 4096, got {show(v)}",
                                  f"set {k} to how many the cell needs (fractions allowed)")
            out[kind][k] = v
    return out
