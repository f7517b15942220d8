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

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..composition import Composition
from ..errors import ConfigError, ModxferError
from ..store.cards import show
# The vocabulary and the field readers (``fields``); the constants stay importable from here, as before the split.
from .fields import (BUDGET_KEYS, FULL_BUDGET_KEYS, INTERMEDIATE_BUDGET_KEYS, MAX_BYTES, MAX_DEPTH,  # noqa: F401
                     MAX_SEED, NAME_RE, PRECISIONS, RESOURCE_FIELDS, RESOURCE_KEYS, TOP_KEYS, TRAINING_KEYS, Target,
                     check_keys, check_writable_folder, read_compositions, read_intermediates, read_noise, read_path,
                     read_positive, read_resources, read_section, read_seeds, read_str, read_target_budget,
                     read_targets, read_trunk_layers, task_role)

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
        if kind != "full" and task is not None and task_role(task) == "intermediate":
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
    check_keys(raw, TOP_KEYS, "the top level", where)
    from ..tasks import resolve_data_dir

    data_dir = None
    if raw.get("data_dir") is not None:
        data_dir = read_path(raw, "data_dir", where)
        if not data_dir.is_dir():
            raise ConfigError(f"{where}: data_dir {str(data_dir)!r} is not a directory",
                              "point it at the folder holding the task data, or remove it to use MODXFER_DATA_DIR")
    root = resolve_data_dir(data_dir)

    name = read_str(raw.get("name", default_name), "name", where)
    if not NAME_RE.match(name):
        raise ConfigError(f"{where}: name {show(name)} is not a plain name (it names the folder runs/<name>)",
                          "use letters, digits, '_', '.' and '-', starting with a letter or digit")
    backbone = read_str(raw.get("backbone", "embedded"), "backbone", where)
    if backbone != "embedded" and Path(backbone).expanduser().exists():
        backbone = str(Path(backbone).expanduser().resolve())  # workers may not share the working directory
    intermediates = read_intermediates(raw.get("intermediates", []), where, root)
    targets = read_targets(raw, where, root)
    compositions = read_compositions(raw.get("compositions", ["target"]), intermediates, targets, where)
    noise = read_noise(raw.get("noise", ["clean"]), where)
    seeds = read_seeds(raw.get("seeds", [0]), where)
    from .grid import check_grid, check_lexicons

    check_grid(targets, compositions, noise, seeds, where)  # from the counts, before anything is expanded
    check_lexicons(targets, noise, root, where)
    budget = read_section(raw, "budget", BUDGET_KEYS, where)
    examples = read_positive(budget.get("examples", 2000), "budget.examples", where, int)
    epochs = float(read_positive(budget.get("epochs", 1.0), "budget.epochs", where, float))
    eval_examples = budget.get("eval_examples")
    if eval_examples is not None:
        eval_examples = read_positive(eval_examples, "budget.eval_examples", where, int)
    full_raw = read_section(budget, "full", FULL_BUDGET_KEYS, f"{where}: budget")
    full_budget = {}
    for key, kind in (("examples", int), ("epochs", float), ("learning_rate", float)):
        if full_raw.get(key) is not None:
            full_budget[key] = kind(read_positive(full_raw[key], f"budget.{key}" if key != "learning_rate"
                                              else "training.learning_rate", where, kind))
    freeze = full_raw.get("freeze_embeddings")
    if freeze is not None and not isinstance(freeze, bool):
        raise ConfigError(f"{where}: budget.full.freeze_embeddings must be true or false, got {freeze!r}",
                          "write `freeze_embeddings: true` (word embeddings frozen in full fine-tuning) or remove it")
    if freeze:  # absent when false: the keys of configs written before it existed stay the same
        full_budget["freeze_embeddings"] = True
    inter_raw = read_section(budget, "intermediate", INTERMEDIATE_BUDGET_KEYS, f"{where}: budget")
    intermediate_budget = {key: kind(read_positive(inter_raw[key], f"budget.intermediate.{key}", where, kind))
                           for key, kind in (("examples", int), ("epochs", float)) if inter_raw.get(key) is not None}
    target_budget = read_target_budget(budget, targets, compositions, where)
    training = read_section(raw, "training", TRAINING_KEYS, where)
    adapter = read_str(training.get("adapter", "seq_bn"), "training.adapter", where)
    batch_size = read_positive(training.get("batch_size", 16), "training.batch_size", where, int)
    lr = training.get("learning_rate")
    if lr is not None:
        lr = float(read_positive(lr, "training.learning_rate", where, float))
    max_length = read_positive(training.get("max_length", 128), "training.max_length", where, int)
    trunk_layers = read_trunk_layers(raw, training, where)
    precision = raw.get("precision", "auto")
    if precision not in PRECISIONS:
        raise ConfigError(f"{where}: precision {show(precision)} is not allowed",
                          f"use one of: {', '.join(PRECISIONS)}")
    output = read_path(raw, "output", where) if raw.get("output") is not None else Path("runs", name).resolve()
    artifacts = read_path(raw, "artifacts", where) if raw.get("artifacts") is not None else output / "artifacts"
    for key, p in (("output", output), ("artifacts", artifacts)):
        check_writable_folder(p, key, where)
    return SweepConfig(
        name=name, backbone=backbone, intermediates=intermediates, targets=targets, compositions=compositions,
        noise=noise, seeds=seeds, examples=examples, epochs=epochs, eval_examples=eval_examples, precision=precision,
        output=output, artifacts=artifacts, data_dir=Path(root).resolve(), adapter=adapter, batch_size=batch_size,
        learning_rate=lr, max_length=max_length, trunk_layers=trunk_layers, full_budget=full_budget,
        intermediate_budget=intermediate_budget, target_budget=target_budget,
        resources=read_resources(raw, where), raw=raw, source=where,
    )
