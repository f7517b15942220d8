"""The fixed reference set the corrected TextEmb is centred (and whitened) on.

A corrected TextEmb removes the direction every sentence embedding shares. Estimating that direction from the tasks
being compared made a pair's value depend on which other tasks were named (textemb(qqp, xnli) was -0.12 in a
report, -0.59 from ``select`` and -0.006 from ``similarity`` on one backbone). The reference is instead:

  tasks     ``TASKS``: every registered task with English training text that ships in the offline task data,
            intermediates and targets alike. Tasks whose data only comes from the Hugging Face Hub (hellaswag,
            ccg, xquad, tydiqa) are left out, so that the reference can be built without a network. The list is
            fixed here, not read from the registry, so that registering a task never silently moves every value;
            a test says when the two differ.
  examples  ``EXAMPLES`` training inputs per task, the same hash-ranked sample as a compared task's (so a task
            compared at the default sample size reuses its reference embeddings), fixed here so that changing a
            command's ``--examples`` changes the compared tasks' samples only.

When a reference task's data is missing the measure is **refused** (``DataError`` naming the tasks and the command
that fetches each): a reference made of whatever happens to be present would give the same pair different values
on two machines, or after a ``data fetch``, and a recorded digest would only say so after the fact. The uncorrected
``textemb-raw`` needs no reference. Every corrected matrix's card carries :func:`describe` (tasks, examples per
task, sample sizes, input length, sha256 of the inputs) under ``reference``; values are comparable exactly when the
backbone and that digest are the same.
"""

from __future__ import annotations

import hashlib
import json
from typing import Mapping, Sequence

from ..errors import DataError

TASKS = ("mnli", "snli", "anli", "qqp", "cosmosqa", "siqa", "csqa", "squad", "udpos-en", "panx-en",
         "xnli", "pawsx", "xcopa", "udpos", "panx", "mlqa")
EXAMPLES = 256
BOOTSTRAP = "held fixed: replicates resample the compared tasks' inputs; the reference is part of the measure"


def registry_tasks() -> tuple[str, ...]:
    """The tasks the definition above picks from the registry now (a test compares them with ``TASKS``)."""
    from ..tasks import list_tasks

    return tuple(t.name for t in list_tasks() if "train" in t.splits and not t.needs_hub)


def missing(data_dir=None) -> dict[str, str]:
    """{reference task: why its training data cannot be read} for those without usable data in ``data_dir``.

    Reads the training files (rows are cached per process, so the measure reads them once): offline tasks list no
    files to check, and a file that is there but malformed is as missing for the reference as one that is not.
    """
    from ..tasks import get_task

    out = {}
    for t in TASKS:
        try:
            get_task(t).rows("train", data_dir=data_dir)
        except DataError as e:
            out[t] = e.problem
    return out


def check_available(data_dir=None) -> None:
    """Raise the error :func:`texts` would raise for missing reference data, before any is read.

    Raises:
        DataError: a reference task has no data in the data directory (the message names each and its fix).
    """
    from ..tasks import get_task
    from ..tasks.base import data_profile, resolve_data_dir

    root = resolve_data_dir(data_dir)  # no data directory at all: its own error, with its own fix
    gone = missing(root)
    if not gone:
        return
    profile = data_profile(root)
    fetch = "; ".join(f"`{get_task(t).fetch_command(profile)}`" for t in gone)
    first = next(iter(gone.values()))
    raise DataError(f"the corrected TextEmb is centred on a fixed reference of {len(TASKS)} tasks, and "
                    f"{len(gone)} of them have no usable training data in {root}: {', '.join(gone)} (first: "
                    f"{first}); a reference of only the tasks present would give the same pair another value "
                    "elsewhere",
                    f"put their data into the data directory (online: {fetch}), point MODXFER_DATA_DIR or "
                    "--data-dir at the full task data, or use the uncorrected textemb-raw, which needs no reference")


def texts(data_dir=None) -> dict[str, list[str]]:
    """{task: its ``EXAMPLES`` hash-ranked English training inputs} for every reference task.

    Raises:
        DataError: a reference task's data is missing (see :func:`check_available`).
    """
    from .inputs import task_texts
    from ..tasks import get_task

    check_available(data_dir)
    return {t: task_texts(get_task(t), EXAMPLES, data_dir) for t in TASKS}


def digest(ref_texts: Mapping[str, Sequence[str]], max_length: int) -> str:
    """sha256 naming the reference: its tasks, their inputs and the input length (the backbone is carded apart)."""
    from .inputs import digest as texts_digest

    spec = {"tasks": {t: texts_digest(x) for t, x in ref_texts.items()}, "max_length": max_length}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode("utf-8")).hexdigest()


def describe(ref_texts: Mapping[str, Sequence[str]], max_length: int) -> dict:
    """The card's ``reference`` entry."""
    return {"tasks": list(ref_texts), "examples_per_task": EXAMPLES,
            "sample_sizes": {t: len(x) for t, x in ref_texts.items()}, "max_length": max_length,
            "sha256": digest(ref_texts, max_length), "bootstrap": BOOTSTRAP}
