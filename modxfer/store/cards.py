"""Validation of artifact cards that come from elsewhere (a zoo, a hub, a copied store).

A card decides where weights land (task and key name the store folder), which backbone they are used with and what
they stack on, so every field is checked for type and range before any of it becomes a path, a comparison or a
message. ``check_card`` is the one check shared by ``zoo publish`` (refuse to publish what install would refuse) and
``zoo install``.
"""

from __future__ import annotations

import itertools
import math
import re
from typing import Any

from ..composition import Composition
from ..errors import DataError, ModxferError

HEX64 = re.compile(r"^[0-9a-f]{64}$")
SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
CARD_PRECISIONS = ("fp32", "bf16")  # "auto" is resolved before a card is written
MAX_SEED = 2**32  # numpy's seed range; torch's is wider, so this is the common limit
FROZEN_PARTS = ("word_embeddings",)  # what full fine-tuning may keep frozen (TrainSettings.freeze_embeddings)
_TEXT_MAX = 4000
_FIX = "re-publish the artifact from the folder `modxfer train` wrote, or train it yourself"


def show(value: Any, limit: int = 60, _depth: int = 0) -> str:
    """A value for an error message: its repr, lists and objects with their first items spelled out, cut short
    (hostile values can be megabytes, or nested thousands deep: below two levels only their size is given)."""
    if isinstance(value, (dict, list)) and _depth >= 2:
        text = f"<{type(value).__name__} of {len(value)}>"
    elif isinstance(value, list):
        text = "[" + ", ".join(show(v, 40, _depth + 1) for v in value[:6]) + (", ..." if len(value) > 6 else "") + "]"
    elif isinstance(value, dict):
        text = "{" + ", ".join(f"{show(k, 30, _depth + 1)}: {show(v, 40, _depth + 1)}"
                               for k, v in itertools.islice(value.items(), 6)) + (", ..." if len(value) > 6 else "") + "}"
    else:
        text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _bad(where: str, field: str, value: Any, want: str) -> DataError:
    return DataError(f"{where}: {field} is {show(value)}, not {want}", _FIX)


def text(value: Any, where: str, field: str, *, limit: int = _TEXT_MAX, pattern: re.Pattern | None = None) -> str:
    if (not isinstance(value, str) or not value or len(value) > limit or not value.isprintable()
            or (pattern is not None and not pattern.match(value))):
        want = "a short printable string" + (f" matching {pattern.pattern}" if pattern else "")
        raise _bad(where, field, value, want)
    return value


def integer(value: Any, where: str, field: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value < high:
        raise _bad(where, field, value, f"a whole number in [{low}, {high})")
    return value


def finite(value: Any) -> bool:
    """Whether ``value`` is a real number a float can hold: ``math.isfinite`` raises OverflowError on 10**400."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if isinstance(value, int):
        return abs(value) <= _FLOAT_MAX_INT
    return math.isfinite(value)


_FLOAT_MAX_INT = int(1.7976931348623157e308)


def number(value: Any, where: str, field: str, *, positive: bool = True, low: float | None = None,
           high: float | None = None) -> float:
    ok = finite(value) and (low is None or value >= low) and (high is None or value <= high)
    if not ok or (positive and value <= 0):
        if ok and (low is not None or high is not None):
            raise _bad(where, field, value, f"a number in [{low}, {high}]")
        raise _bad(where, field, value, "a finite number" + (" > 0" if positive else ""))
    return float(value)


def mapping(value: Any, where: str, field: str) -> dict:
    if not isinstance(value, dict):
        raise _bad(where, field, value, "a JSON object")
    return value


def base(value: Any, where: str, field: str = "base") -> dict:
    b = mapping(value, where, field)
    if set(b) != {"model_id", "weights_hash", "hidden_size"}:
        raise _bad(where, field, sorted(map(str, b)), "exactly model_id, weights_hash and hidden_size")
    text(b["model_id"], where, f"{field}.model_id", limit=300)
    text(b["weights_hash"], where, f"{field}.weights_hash", pattern=HEX64)
    integer(b["hidden_size"], where, f"{field}.hidden_size", 1, 1 << 20)
    return b


def expected_dependencies(comp: Composition) -> list[str]:
    """The compositions an artifact of ``comp`` is trained on, in order (training.py's ``_dependencies``)."""
    if comp.kind == "full":
        return [f"full:{comp.intermediates[0]}"] if comp.intermediates else []
    return list(comp.intermediates)


def task_name(value: Any, where: str, field: str = "task") -> str:
    from ..tasks import get_task

    name = text(value, where, field, limit=64, pattern=re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$"))
    try:
        get_task(name)
    except ModxferError as e:
        raise DataError(f"{where}: {field}: {e.problem}", _FIX) from None
    return name


def composition(card: dict, where: str) -> Composition:
    raw = text(card["composition"], where, "composition", limit=500)
    try:
        comp = Composition.parse(raw).validate()
    except ModxferError as e:
        raise DataError(f"{where}: composition {show(raw)}: {e.problem}", _FIX) from None
    if str(comp) != raw or comp.target != card["task"] or card.get("kind", comp.kind) != comp.kind:
        raise DataError(f"{where}: composition {show(raw)} does not match the card's task {show(card['task'])} and "
                        f"kind {show(card.get('kind'))}", _FIX)
    return comp


def check_card(card: Any, where: str) -> dict:
    """Every field a card's key, location, backbone and dependencies rest on, checked; returns the card.

    Raises ``DataError`` naming ``where`` and the field. The key must be the hash of the training request the card
    describes, so weights can only ever be installed under the key their own request hashes to.
    """
    from .artifacts import SPEC_FIELDS, key_of_card

    card = mapping(card, where, "the card")
    missing = [k for k in (*SPEC_FIELDS, "key", "kind") if k not in card]
    if missing:
        raise DataError(f"{where}: the card lacks {', '.join(missing)}", _FIX)
    text(card["key"], where, "key", pattern=HEX64)
    task_name(card["task"], where)
    comp = composition(card, where)
    base(card["base"], where)
    text(card["modxfer"], where, "modxfer", limit=64)
    if not isinstance(card["partition"], str) or len(card["partition"]) > _TEXT_MAX:
        raise _bad(where, "partition", card["partition"], "a string")
    data = mapping(card["data"], where, "data")
    text(data.get("split"), where, "data.split", limit=32)
    integer(data.get("examples"), where, "data.examples", 1, 1 << 40)
    text(data.get("sha256"), where, "data.sha256", pattern=HEX64)
    deps = card["depends_on"]
    want = expected_dependencies(comp)
    if not isinstance(deps, list) or len(deps) != len(want):
        raise _bad(where, "depends_on", deps, f"a list of {len(want)} key(s) ({', '.join(want) or 'none'})")
    for i, d in enumerate(deps):
        text(d, where, f"depends_on[{i}]", pattern=HEX64)
    cfg = card["adapter_config"]
    if (cfg is None) != (comp.kind == "full"):
        raise _bad(where, "adapter_config", cfg, "null for full fine-tuning and an object for adapters")
    if cfg is not None:
        text(mapping(cfg, where, "adapter_config").get("name"), where, "adapter_config.name", limit=100)
    integer(card["seed"], where, "seed", 0, MAX_SEED)
    number(card["epochs"], where, "epochs")
    integer(card["batch_size"], where, "batch_size", 1, 1 << 20)
    number(card["learning_rate"], where, "learning_rate")
    integer(card["max_length"], where, "max_length", 1, 1 << 20)
    if card["precision"] not in CARD_PRECISIONS:
        raise _bad(where, "precision", card["precision"], f"one of {', '.join(CARD_PRECISIONS)}")
    if card.get("trunk_layers") is not None:
        integer(card["trunk_layers"], where, "trunk_layers", 0, 1 << 10)
    if "frozen" in card and (comp.kind != "full" or card["frozen"] != list(FROZEN_PARTS)):
        raise _bad(where, "frozen", card["frozen"], f"absent, or {list(FROZEN_PARTS)} for full fine-tuning")
    if card["kind"] != comp.kind:
        raise _bad(where, "kind", card["kind"], f"{comp.kind!r} (its composition's kind)")
    _dependencies(card, where, want)
    _descriptive(card, where)
    if key_of_card(card) != card["key"]:
        raise DataError(f"{where}: its key is not the hash of the training request the card describes",
                        "re-publish the entry from the artifact `modxfer train` wrote")
    return card


# Fields a card carries for people and commands that print it (`modxfer train` formats some with `:,`).
_COUNTS = ("steps", "examples_seen", "train_tokens", "trainable_parameters", "micro_batch_tokens")
_NUMBERS = ("train_seconds", "final_loss")
_TEXTS = ("created", "adapter_name")


def _descriptive(card: dict, where: str) -> None:
    for k in _COUNTS:
        if card.get(k) is not None:
            integer(card[k], where, k, 0, 1 << 62)
    for k in _NUMBERS:
        if card.get(k) is not None:
            number(card[k], where, k, positive=False)
    for k in _TEXTS:
        if card.get(k) is not None:
            text(card[k], where, k, limit=200)
    for k in ("library_versions", "provenance"):
        if card.get(k) is not None:
            mapping(card[k], where, k)
    metrics = mapping(card.get("metrics") or {}, where, "metrics")
    for k, v in metrics.items():
        if k == "validation":
            for name, score in mapping(v, where, "metrics.validation").items():
                text(name, where, "a metrics.validation name", limit=100)
                number(score, where, f"metrics.validation.{name}", positive=False)
        elif k == "validation_examples":
            integer(v, where, "metrics.validation_examples", 0, 1 << 40)
    if card.get("competence") is not None:
        _competence(card["competence"], where)
    if card.get("checksums") is not None:
        sums = mapping(card["checksums"], where, "checksums")
        from .artifacts import belongs

        for rel, digest in sums.items():
            if not isinstance(rel, str) or not belongs(rel, card["kind"]):
                raise _bad(where, "a checksums name", rel, "a file of the artifact (adapter/, head/, fusion/)")
            text(digest, where, f"checksums[{rel!r}]", pattern=HEX64)


# What the report, `sweep status` and selection read from a card's competence record (competence.assess writes it):
# scores in percent, a boolean verdict. A string score installed from a zoo would crash the report later.
_PERCENTS = ("score", "chance", "floor", "majority")


def _competence(value: Any, where: str) -> None:
    comp = mapping(value, where, "competence")
    for k in _PERCENTS:
        if k in comp:
            number(comp[k], where, f"competence.{k}", positive=False, low=-100.0, high=100.0)
    for k in ("learned", "beats_majority"):
        if k in comp and not isinstance(comp[k], bool):
            raise _bad(where, f"competence.{k}", comp[k], "true or false")
    if "ci" in comp:
        ci = comp["ci"]
        if not isinstance(ci, list) or len(ci) != 2:
            raise _bad(where, "competence.ci", ci, "[low, high]")
        for i, v in enumerate(ci):
            number(v, where, f"competence.ci[{i}]", positive=False, low=-100.0, high=100.0)
    if "n" in comp:
        integer(comp["n"], where, "competence.n", 0, 1 << 40)
    if "floors" in comp:
        for name, v in mapping(comp["floors"], where, "competence.floors").items():
            text(name, where, "a competence.floors name", limit=200)
            number(v, where, f"competence.floors.{name}", positive=False, low=-100.0, high=100.0)
    for k in ("metric", "method", "floor_method", "confidence"):
        if k in comp and k != "confidence":
            text(comp[k], where, f"competence.{k}", limit=1000)
    if "confidence" in comp:
        number(comp["confidence"], where, "competence.confidence", positive=False, low=0.0, high=1.0)


def _dependencies(card: dict, where: str, want: list[str]) -> None:
    """The descriptive ``dependencies`` list, when present, must say what ``depends_on`` says."""
    deps = card.get("dependencies")
    if deps is None:
        return
    if not isinstance(deps, list) or len(deps) != len(want):
        raise _bad(where, "dependencies", deps, f"a list of {len(want)} object(s)")
    for i, (d, key, comp) in enumerate(zip(deps, card["depends_on"], want)):
        if not isinstance(d, dict) or d.get("key") != key or d.get("composition") != comp:
            raise _bad(where, f"dependencies[{i}]", d, f"{{key: depends_on[{i}], composition: {comp!r}}}")
        if "path" in d:
            text(d["path"], where, f"dependencies[{i}].path")
