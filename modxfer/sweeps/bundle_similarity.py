"""Recompute the similarity matrices a results bundle stores, with this modxfer's measures, in place.

A bundle (``modxfer.sweeps.bundle``) stores the matrices measured when it was written, and ``modxfer report BUNDLE``
reads them from there instead of loading the backbone. When a measure's definition changes (the corrected TextEmb
is now centred on a fixed reference set, not on the tasks compared) the stored matrices say what the old definition
gave. This rewrites run.json's ``similarity`` section, and only it, from the same pairs (the bundle's results), the
same measures and the same number of examples per task, on the same backbone (checked by its weights hash): the
results table, competence records and counts are untouched, and the bundle's digest is recomputed so the bundle
reads as whole. The card records when and from which source it was recomputed, and the previous digest.
"""

from __future__ import annotations

import datetime
import math
import os
from pathlib import Path

from ..errors import ConfigError


def recompute_bundle_similarity(path: str | os.PathLike, *, data_dir=None) -> dict:
    """Recompute ``path``'s stored similarity matrices; returns {measure: {"intermediate/target": [old, new]}}.

    ``data_dir`` defaults to the bundle config's data directory where it exists, else the usual resolution.

    Raises:
        DataError: not a readable bundle, or task data (the reference set's included) missing.
        ConfigError: the backbone loaded under the bundle's backbone name is not the one its matrices were measured
            on (another weights hash), or the bundle stores no matrices.
    """
    from ..io import atomic_write_json, read_json
    from ..model.backbone import load_backbone
    from ..similarity.measures import EXAMPLES
    from ..similarity.pairs import pair_similarity, pairs_in, similarity_matrices
    from ..store.provenance import source_commit
    from .bundle import META, digest, read_bundle

    path = Path(path)
    bundle = read_bundle(path)  # every check a report makes, before anything is computed
    meta = read_json(path / META)
    stored = list(meta["similarity"])
    if not stored:
        raise ConfigError(f"{path / META} stores no similarity matrices to recompute",
                          "write the bundle with `modxfer sweep export RUN_DIR --format bundle` (it measures them)")
    name = bundle.backbone.get("name") or bundle.config.get("backbone", "embedded")
    bb = load_backbone(name)
    want = bundle.backbone.get("weights_hash")
    if want and want != bb.weights_hash:
        raise ConfigError(f"{path} was measured on backbone {name!r} with weights {want[:16]}..., but {name!r} loads "
                          f"weights {bb.weights_hash[:16]}... here",
                          "recompute where the bundle's backbone is installed, or export the bundle again from its "
                          "run with this backbone")
    if data_dir is None and bundle.config.get("data_dir"):
        configured = Path(str(bundle.config["data_dir"])).expanduser()
        data_dir = configured if configured.is_dir() else None  # the run's own data, as the report would use it
    examples = bundle.card.get("similarity_examples") or EXAMPLES
    pairs = pairs_in(bundle.results)
    fresh = similarity_matrices(pairs, bb, examples, data_dir, stored)
    changes = {}
    for m in stored:
        old, new = pair_similarity(pairs, bundle.similarity.get(m)), pair_similarity(pairs, fresh.get(m))
        changes[m] = {f"{a}/{b}": [_num(old[(a, b)]), _num(new[(a, b)])] for a, b in pairs}
    previous = meta["card"].get("digest")
    meta["similarity"] = {m: fresh[m].to_dict() for m in stored if m in fresh}
    meta["card"]["similarity_recomputed"] = {
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "source": source_commit(), "previous_digest": previous, "examples": examples, "measures": list(fresh)}
    meta["card"]["digest"] = digest(meta)
    atomic_write_json(path / META, meta)
    read_bundle(path)  # what was written reads back as a whole bundle
    return changes


def _num(v):
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)
