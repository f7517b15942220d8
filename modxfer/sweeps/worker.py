"""What one cell does, the same in every executor: train (or reuse) an artifact, or evaluate one grid point.

A ``CellRunner`` lives as long as its process and keeps one ``Evaluator``, so the backbone is loaded once and
adapters are swapped in and out across cells; Ray workers keep theirs between tasks too. Outcomes are plain dicts
(picklable, JSON-able) and errors come back as text, so the driver alone writes the store.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
import traceback
from pathlib import Path

from ..composition import Composition
from ..io import sha256_file
from .config import SweepConfig, train_kwargs

MAX_ERROR_CHARS = 4000


def runner_settings(config: SweepConfig) -> dict:
    """The part of the config a worker needs, as plain data (it travels to Ray workers)."""
    # "auto" is resolved once, here: every worker then builds the same keys the plan computed
    return {**config.settings(), "precision": _resolved(config.precision)}


def _resolved(precision: str) -> str:
    from ..model import precision as prec

    return prec.resolve(precision, prec.default_device())


def tree_sha256(path: Path) -> str:
    """One hash over a folder: every file's relative path and content hash, in path order."""
    h = hashlib.sha256()
    files = sorted(p for p in Path(path).rglob("*") if p.is_file())
    for p in files:
        h.update(f"{p.relative_to(path).as_posix()}\0{sha256_file(p)}\n".encode())
    return h.hexdigest()


class CellRunner:
    def __init__(self, settings: dict):
        self.s = settings
        self._evaluator = None

    def train_settings(self, seed: int, kind: str | None = None) -> dict:
        return train_kwargs(self.s, seed, kind)

    @property
    def evaluator(self):
        if self._evaluator is None:
            from ..evaluation.evaluator import Evaluator

            self._evaluator = Evaluator(self.s["backbone"], precision=self.s["precision"], store=self.s["store"],
                                        data_dir=self.s["data_dir"], max_length=self.s["max_length"])
        return self._evaluator

    def run(self, spec: dict) -> dict:
        """Run one cell; never raises for a failing cell: the outcome carries the error instead."""
        t0 = time.perf_counter()
        worker = f"{socket.gethostname()}:{os.getpid()}"
        try:
            out = self._train(spec) if spec["kind"] == "train" else self._eval(spec)
        except Exception as e:  # a failing cell is recorded and the sweep goes on
            text = "".join(traceback.format_exception(e))
            if len(text) > MAX_ERROR_CHARS:
                text = text[: MAX_ERROR_CHARS // 4] + "\n...\n" + text[-MAX_ERROR_CHARS * 3 // 4:]
            return {"ok": False, "error": text, "summary": f"{type(e).__name__}: {e}".splitlines()[0],
                    "seconds": time.perf_counter() - t0, "worker": worker}
        return {"ok": True, **out, "seconds": time.perf_counter() - t0, "worker": worker}

    def _train(self, spec: dict) -> dict:
        from ..training import train

        if self._evaluator is not None:
            self._evaluator.release_full()  # training may need the memory a fine-tuned encoder holds

        comp = Composition.parse(spec["composition"])
        art = train(comp.target, on=comp.intermediates, fuse=comp.kind == "fusion", full=comp.kind == "full",
                    data_dir=self.s["data_dir"], store=self.s["store"], progress=False,
                    **self.train_settings(spec["seed"], comp.kind))
        if spec.get("artifact") and art.key != spec["artifact"]:
            raise RuntimeError(f"trained artifact key {art.key[:12]} differs from the planned {spec['artifact'][:12]}; "
                               "training.train and training.train_key disagree")
        return {"rows": [], "artifact": {"key": art.key, "path": str(art.path), "sha256": tree_sha256(art.path),
                                         "card": art.card}}

    def _eval(self, spec: dict) -> dict:
        s = self.s
        # The training settings identify the artifacts to load, exactly as the train cells passed them.
        train = self.train_settings(spec["seed"], Composition.parse(spec["composition"]).kind)
        result = self.evaluator.evaluate(
            spec["composition"], spec["task"], languages=[spec["lang"]], noise=[spec["noise"]], seed=spec["seed"],
            examples=s["eval_examples"], progress=False, train_examples=train.pop("examples"),
            **{k: v for k, v in train.items() if k not in ("seed", "precision", "base")})
        if len(result.rows) != 1:
            raise RuntimeError(f"evaluation returned {len(result.rows)} rows for one language and noise setting")
        row = dict(result.rows[0])
        # The sweep's own spelling of the grid point, so results always join to their cell.
        row.update(composition=spec["composition"], task=spec["task"], lang=spec["lang"], noise=spec["noise"],
                   seed=spec["seed"])
        return {"rows": [row], "artifact": None}
