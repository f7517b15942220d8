"""Cell keys: content hashes of everything that determines a cell's output.

A train cell's key wraps ``training.train_key``, which already covers the backbone weights hash, the task's training
rows and partition, the composition with the keys of what it builds on, the adapter config, budget, seed, precision
and the modxfer version. An eval cell's key adds to its composition's artifact key(s) the test rows of its language
(their hash, so an edited data file reruns exactly its language), the evaluation budget, noise setting and seed.
Settings that only change where or how fast a cell runs (executor, resources, batch size for inference) are left out.
"""

from __future__ import annotations

from .. import __version__
from ..store.artifacts import content_key
from .plan import Plan


def assign_keys(plan: Plan) -> tuple[dict[str, str], dict[str, str]]:
    """(cell id -> cell key, train cell id -> artifact key) for the whole plan: reads the backbone's hash and the
    data, trains nothing."""
    from ..model import precision as prec
    from ..model.modeling import backbone
    from ..tasks import get_task
    from ..training import data_fingerprint, train_key

    cfg = plan.config
    bb = backbone(cfg.backbone)
    precision = prec.resolve(cfg.precision, prec.default_device())
    artifact: dict[str, str] = {}  # train cell id -> artifact key
    keys: dict[str, str] = {}
    test_sha: dict[tuple[str, str], str] = {}
    for cell in plan.cells:
        comp = cell.composition
        if cell.kind == "train":
            artifact[cell.id] = train_key(comp.target, on=comp.intermediates, fuse=comp.kind == "fusion",
                                          full=comp.kind == "full", data_dir=cfg.data_dir,
                                          **cfg.train_settings(cell.seed, comp.kind))
            keys[cell.id] = content_key({"cell": "train", "artifact": artifact[cell.id]})
            continue
        if (cell.task, cell.lang) not in test_sha:
            rows = get_task(cell.task).rows("test", cell.lang, data_dir=cfg.data_dir)
            test_sha[cell.task, cell.lang] = data_fingerprint(rows)  # as training hashes its rows
        keys[cell.id] = content_key({
            "cell": "eval", "modxfer": __version__, "weights_hash": bb.weights_hash,
            "artifacts": [artifact[n] for n in cell.needs], "composition": str(comp), "task": cell.task,
            "lang": cell.lang, "test_sha256": test_sha[cell.task, cell.lang], "eval_examples": cfg.eval_examples,
            "noise": cell.noise, "seed": cell.seed, "max_length": cfg.max_length, "precision": precision,
            "adapter": cfg.adapter,
        })
    return keys, artifact
