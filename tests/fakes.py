"""Artifacts with valid cards and safetensors files, built in milliseconds without training.

Their weights are small random arrays, not loadable adapters: they exercise the store and the zoo (paths, cards,
checksums, weights that open), not the model. Training-based tests cover loading.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from modxfer.store import artifacts as art
from modxfer.composition import Composition

BASE = {"model_id": "fake/tiny-encoder", "weights_hash": "ab" * 32, "hidden_size": 32}
# The adapters library's safetensors layout, spelled out here (not taken from modxfer) so the fakes do not depend on
# the code they test.
_HEAD = ("head/head_config.json", "head/model_head.safetensors")
_ADAPTER = ("adapter/adapter_config.json", "adapter/adapter.safetensors")
FILES = {"target": _ADAPTER + _HEAD, "stack": _ADAPTER + _HEAD,
         "fusion": _ADAPTER + ("fusion/adapter_fusion_config.json", "fusion/model_adapter_fusion.safetensors") + _HEAD,
         "full": ("model.safetensors",) + _HEAD}


@dataclass
class FakeBackbone:
    """What ``zoo.install`` compares with an entry's base."""

    model_id: str = BASE["model_id"]
    weights_hash: str = BASE["weights_hash"]
    hidden_size: int = BASE["hidden_size"]


def card_for(composition: str, deps: list[art.Artifact] = (), *, seed: int = 0, base: dict = BASE) -> dict:
    comp = Composition.parse(composition)
    defaults = {
        "modxfer": "0.1.0", "base": dict(base), "task": comp.target, "partition": "fake partition",
        "data": {"split": "train", "examples": 10, "sha256": "0" * 64}, "composition": str(comp),
        "depends_on": [d.key for d in deps],
        "adapter_config": None if comp.kind == "full" else {"name": "seq_bn", "reduction_factor": 16},
        "seed": seed, "epochs": 1.0, "batch_size": 8, "learning_rate": 0.002, "max_length": 64, "precision": "fp32",
        "trunk_layers": None,
    }
    spec = {k: defaults[k] for k in art.SPEC_FIELDS}  # whatever the key covers today
    return {**spec, "key": art.content_key(spec), "kind": comp.kind, "adapter_name": "fake",
            "metrics": {"validation": {"accuracy": 50.0}, "validation_examples": 10},
            "dependencies": [{"key": d.key, "path": str(d.path), "composition": d.card["composition"]} for d in deps]}


def write_files(folder: Path, kind: str, seed: int = 0) -> None:
    from safetensors.numpy import save_file

    rng = np.random.default_rng(seed)
    for rel in FILES[kind]:
        p = folder / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if rel.endswith(".safetensors"):
            save_file({"weight": rng.standard_normal((4, 4)).astype(np.float32)}, str(p))
        else:
            p.write_text(json.dumps({"config": {"name": rel}}))


def make(store: Path, composition: str, deps: list[art.Artifact] = (), *, seed: int = 0) -> art.Artifact:
    card = card_for(composition, deps, seed=seed)
    return art.save(store, card, lambda tmp: write_files(tmp, card["kind"], seed))


def stack(store: Path, seed: int = 0) -> tuple[art.Artifact, art.Artifact]:
    """An intermediate (mnli) and a target stacked on it (mnli>xnli)."""
    inter = make(store, "mnli", seed=seed)
    return inter, make(store, "mnli>xnli", [inter], seed=seed)


def snapshot(root: Path, skip: Path | None = None) -> dict[str, tuple]:
    """Every path under ``root`` (outside ``skip``) with its type, size and content: to prove nothing else changed."""
    out = {}
    for p in sorted(root.rglob("*")):
        if skip is not None and (p == skip or skip in p.parents):
            continue
        if p.is_symlink():
            out[str(p)] = ("link", str(p.readlink()))
        elif p.is_file():
            out[str(p)] = ("file", p.read_bytes())
        else:
            out[str(p)] = ("dir",)
    return out
