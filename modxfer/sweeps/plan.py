"""Expanding a config into cells: what has to be trained and evaluated, in which order, and roughly how long.

Train cells, per seed:
  - each intermediate adapter a stack or fusion builds on (``mnli``), once, shared by every composition using it;
  - each fully fine-tuned intermediate a STILTs run builds on (``full:mnli``);
  - the target adapter (or fine-tuned encoder) of each composition (``mnli>xnli``, ``fuse(mnli,qqp)>xnli``, ``full:xnli``).
Eval cells: composition x language x noise setting x seed (the task is the composition's target). Each needs the
train cell of its composition (or, for a target without training data, those of its intermediates).

Cells are listed in dependency order, so running them front to back never waits.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..composition import Composition
from ..errors import ConfigError
from .config import SweepConfig

# Seconds per example on the embedded backbone (multilingual-e5-small, 12 layers x 384, fp32, max_length 128) on a
# 2-core x86 CPU without bf16 kernels, fitted to the cells of studies/e5-similarity-robustness (25 train cells, 792
# eval cells of 120 examples: an XNLI adapter cell took ~4.2 s, a fully fine-tuned one ~7 s, training matched the
# adapter constant within 6%), then scaled by the quickstart's phases before and after the heap fix of 2026-11-30
# (adapter training 0.79x, evaluation 0.69x; full fine-tuning 0.10 s from `modxfer train --full` alone, 0.08 s with
# the word embeddings frozen from the quickstart's cells). Multiple choice costs one sequence per choice; other
# backbones scale by layers x hidden^2. An estimate shown to the user, never relied on.
TRAIN_SECONDS = {"adapter": 0.051, "full": 0.10, "full_frozen": 0.08}
EVAL_SECONDS = 0.033
CELL_SECONDS = {"train": 3.0, "eval": 1.0}  # per-cell overhead: loading adapters, data, noise, storing outcomes
VALIDATION_EXAMPLES = 500  # training.py scores each artifact on up to this many English validation examples
STARTUP_SECONDS = 30.0  # importing the libraries, loading the backbone and hashing the data once per run
_EMBEDDED_SIZE = 12 * 384 * 384
# (layers, hidden size) of Hub backbones a plan may name before they are downloaded.
KNOWN_BACKBONES = {"xlm-roberta-base": (12, 768), "xlm-roberta-large": (24, 1024),
                   "FacebookAI/xlm-roberta-base": (12, 768), "FacebookAI/xlm-roberta-large": (24, 1024),
                   "bert-base-multilingual-cased": (12, 768), "google-bert/bert-base-multilingual-cased": (12, 768),
                   "intfloat/multilingual-e5-small": (12, 384), "intfloat/multilingual-e5-base": (12, 768),
                   "intfloat/multilingual-e5-large": (24, 1024)}
# The greedy attack scores 1 + budget x candidates inputs per attacked example (about half are: those it can flip);
# the random control scores 2. Attacked texts are new inputs, so they pay the whole encoder.
ATTACKED_SHARE = 0.5


@dataclass(frozen=True)
class Cell:
    id: str  # readable and unique within a plan: "train mnli>xnli seed=0", "eval mnli>xnli de typo:0.05 seed=0"
    kind: str  # "train" | "eval"
    composition: Composition
    seed: int
    lang: str | None = None
    noise: str | None = None
    needs: tuple[str, ...] = ()  # ids of the cells that must be done first

    @property
    def task(self) -> str:
        return self.composition.target

    def spec(self) -> dict:
        """What the cell does, as stored in the run database (settings shared by all cells live in the config)."""
        spec = {"kind": self.kind, "composition": str(self.composition), "task": self.task, "seed": self.seed}
        if self.kind == "eval":
            spec.update(lang=self.lang, noise=self.noise)
        return spec


@dataclass
class Plan:
    config: SweepConfig
    cells: list[Cell]

    def __post_init__(self):
        self.by_id = {c.id: c for c in self.cells}
        assert len(self.by_id) == len(self.cells), "cell ids must be unique"

    @property
    def train_cells(self) -> list[Cell]:
        return [c for c in self.cells if c.kind == "train"]

    @property
    def eval_cells(self) -> list[Cell]:
        return [c for c in self.cells if c.kind == "eval"]

    def dependents(self) -> dict[str, list[str]]:
        """id -> ids of the cells that need it, directly or through others."""
        direct: dict[str, list[str]] = {c.id: [] for c in self.cells}
        for c in self.cells:
            for n in c.needs:
                direct[n].append(c.id)
        out = {}
        for c in reversed(self.cells):  # dependents come later in the list, so their closure is already known
            seen = dict.fromkeys(direct[c.id])
            for d in direct[c.id]:
                seen.update(dict.fromkeys(out[d]))
            out[c.id] = list(seen)
        return out


def build_plan(config: SweepConfig) -> Plan:
    from ..tasks import get_task

    cells: dict[str, Cell] = {}

    def add(cell: Cell) -> str:
        cells.setdefault(cell.id, cell)
        return cell.id

    def train_cell(comp: Composition, seed: int, needs: tuple[str, ...] = ()) -> str:
        return add(Cell(f"train {comp} seed={seed}", "train", comp, seed, needs=needs))

    def base_cells(comp: Composition, seed: int) -> tuple[str, ...]:
        if comp.kind in ("stack", "fusion"):
            return tuple(train_cell(Composition(i), seed) for i in comp.intermediates)
        if comp.kind == "full" and comp.intermediates:
            return (train_cell(Composition(comp.intermediates[0], (), "full"), seed),)
        return ()

    from ..noise.apply import applies_to_language

    evals: list[Cell] = []
    for seed in config.seeds:
        for comp in config.compositions:
            needs = base_cells(comp, seed)
            if "train" in get_task(comp.target).splits:
                needs = (train_cell(comp, seed, needs),)
            for lang in config.target(comp.target).languages:
                for noise in config.noise:
                    if not applies_to_language(noise, lang):  # e.g. code-switching English into English
                        continue
                    evals.append(Cell(f"eval {comp} {lang} {noise} seed={seed}", "eval", comp, seed, lang, noise, needs))
    # Intermediates first, then what builds on them: a cell's needs always precede it.
    trains = sorted(cells.values(), key=lambda c: (c.seed, len(c.needs) > 0))
    return Plan(config, trains + evals)


# ------------------------------------------------------------------------------------------- estimate


def _shape(backbone: str) -> tuple[int, int]:
    """(layers, hidden size): the embedded model's, a local model's config, or a known Hub model's; else the
    embedded model's (the estimate then says nothing about size)."""
    if backbone == "embedded":
        return 12, 384
    try:
        c = json.loads((Path(backbone) / "config.json").read_text(encoding="utf-8"))
        return int(c["num_hidden_layers"]), int(c["hidden_size"])
    except (OSError, KeyError, ValueError, TypeError):
        return KNOWN_BACKBONES.get(backbone, (12, 384))


def _scale(backbone: str) -> float:
    layers, hidden = _shape(backbone)
    return layers * hidden ** 2 / _EMBEDDED_SIZE


def _layers(backbone: str) -> int:
    return _shape(backbone)[0]


def _attack_queries(noise: str) -> float:
    """Scored inputs per example for a noise setting (1 for text noise)."""
    from ..noise import parse_spec

    spec = parse_spec(noise)
    if spec.name != "adversarial":
        return 1.0
    if spec.get("search", "greedy") == "random":
        return 2.0
    from ..noise.attack import CANDIDATES

    return 1.0 + ATTACKED_SHARE * float(spec.severity or 1) * CANDIDATES


def cell_costs(plan: Plan, sizes: str = "data") -> dict[str, tuple[int, float]]:
    """Cell id -> (examples, estimated seconds); examples are clipped to what the data holds (``sizes="data"``) or,
    with ``sizes="paper"``, to the full training sets of Phang et al.'s protocol (``modxfer.tasks.paper``).

    With a trunk of K of L layers, adapter kinds pay the lower K/L once per distinct input (training: once for all
    epochs; evaluation: shared by the compositions evaluated on the same inputs) and the upper (L-K)/L per pass.
    """
    from ..tasks import get_task
    from ..training import default_trunk_layers

    cfg = plan.config
    scale = _scale(cfg.backbone)
    layers = _layers(cfg.backbone)
    k = default_trunk_layers(layers) if cfg.trunk_layers is None else min(cfg.trunk_layers, layers - 1)
    lower, upper = k / layers, (layers - k) / layers
    comps_per_target = {t.task: max(1, sum(c.kind != "full" for c in cfg.compositions_for(t.task))) for t in cfg.targets}
    if sizes not in ("data", "paper"):
        raise ValueError(f"sizes must be 'data' or 'paper', got {sizes!r}")
    paper = sizes == "paper"
    from ..tasks.paper import TRAIN_SIZES

    counted: dict[tuple, int] = {}

    def size(task, split, lang="en") -> int:
        if paper:
            if split == "train":
                return TRAIN_SIZES.get(task.name, 0)
            if split == "test" and not cfg.eval_examples:
                raise ConfigError("--sizes paper needs budget.eval_examples (the paper's test sets are not on disk "
                                  "to count)", "set budget.eval_examples in the config")
            return 10**9  # test and validation sets at least as large as the caps that apply to them
        if (task.name, split, lang) not in counted:
            counted[task.name, split, lang] = task.size(split, lang, cfg.data_dir)
        return counted[task.name, split, lang]

    out = {}
    for c in plan.cells:
        task = get_task(c.task)
        choices = task.num_choices or 1
        full = c.composition.kind == "full"
        if c.kind == "train":
            examples, epochs = cfg.budget_for(c.composition.kind, c.composition.target)
            n = min(examples, size(task, "train"))
            val = min(VALIDATION_EXAMPLES, size(task, "validation")) if "validation" in task.splits else 0
            if full:
                rate = TRAIN_SECONDS["full_frozen" if cfg.full_budget.get("freeze_embeddings") else "full"]
                sec = n * epochs * rate + val * EVAL_SECONDS
            else:
                sec = (n * lower * EVAL_SECONDS + n * epochs * upper * TRAIN_SECONDS["adapter"]
                       + val * EVAL_SECONDS)
            out[c.id] = (n, sec * choices * scale + CELL_SECONDS["train"])
        else:
            n = size(task, "test", c.lang)
            n = min(n, cfg.eval_examples) if cfg.eval_examples else n
            queries = _attack_queries(c.noise)
            share = 1.0 if full or queries > 1 else upper + lower / comps_per_target.get(c.task, 1)
            out[c.id] = (n, n * queries * EVAL_SECONDS * share * choices * scale + CELL_SECONDS["eval"])
    return out


def estimate(plan: Plan, sizes: str = "data") -> dict:
    """Totals per cell kind: examples (clipped to the data, or to the paper's full sets) and seconds (from the
    constants above)."""
    costs = cell_costs(plan, sizes)
    out = {"train_cells": 0, "eval_cells": 0, "train_examples": 0, "eval_examples": 0, "train_seconds": 0.0,
           "eval_seconds": 0.0}
    for c in plan.cells:
        n, sec = costs[c.id]
        out[f"{c.kind}_cells"] += 1
        out[f"{c.kind}_examples"] += n
        out[f"{c.kind}_seconds"] += sec
    out["seconds"] = out["train_seconds"] + out["eval_seconds"] + STARTUP_SECONDS
    out["scale"] = _scale(plan.config.backbone)
    out["warnings"] = budget_warnings(plan, costs)
    return out


MIN_STEPS = 300  # below a few hundred optimisation steps, small adapters on a frozen encoder often stay near chance


def budget_warnings(plan: Plan, costs: dict[str, tuple[int, float]] | None = None) -> list[str]:
    """One line per trained piece whose budget gives fewer than MIN_STEPS optimisation steps."""
    import math

    from ..tasks import get_task

    cfg = plan.config
    costs = costs or cell_costs(plan)
    out = []
    for c in plan.train_cells:
        if c.seed != cfg.seeds[0]:
            continue
        n = costs[c.id][0]
        epochs = cfg.budget_for(c.composition.kind, c.composition.target)[1]
        steps = math.ceil(math.ceil(n / cfg.batch_size) * epochs)
        if steps < MIN_STEPS:
            if c.composition.kind == "full":
                section = "budget.full" if cfg.full_budget else "budget"
            elif cfg.intermediate_budget and get_task(c.composition.target).role == "intermediate":
                section = "budget.intermediate"
            elif c.composition.target in cfg.target_budget:
                section = f"budget.targets.{c.composition.target}"
            else:
                section = "budget"
            out.append(f"{c.composition} trains {steps} steps ({n} examples x {epochs:g} epochs / batch "
                       f"{cfg.batch_size}); fewer than {MIN_STEPS} often leaves a model near chance: raise "
                       f"{section}.examples or {section}.epochs (the competence check will flag it)")
    return out
