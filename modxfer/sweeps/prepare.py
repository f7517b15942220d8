"""What a run resolves before it touches its folder: the plan, the backbone, the trunk depth against it, the adapter
config on that trunk, and every cell's key (which reads the data).

`sweep run` calls :func:`prepare` before it takes the run's lock or creates its store, so a config that cannot run
leaves no folder behind; `sweep plan` makes the same checks (:func:`check_for_plan`), so a config that plans cleanly
does not fail when it starts.
Messages name the config's keys (``trunk_layers``, ``training.adapter``), not the flags of `modxfer train`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError, ModxferError
from .config import SweepConfig
from .plan import KNOWN_BACKBONES, Plan, build_plan

# Adapter configs that can sit above a frozen trunk, offered when the configured one cannot.
_TRUNK_ADAPTERS = "seq_bn, lora, prefix_tuning, compacter"


@dataclass(frozen=True)
class Prepared:
    plan: Plan
    keys: dict[str, str]  # cell id -> cell key
    artifacts: dict[str, str]  # train cell id -> the key of the artifact it trains


def prepare(config: SweepConfig) -> Prepared:
    """The plan with its keys, after every check that needs the backbone or the data.

    Raises:
        ConfigError: the backbone cannot be loaded, ``trunk_layers`` is not below its depth, or ``training.adapter``
            is unknown or cannot sit above the trunk.
        ModxferError: a task's data cannot be read (from ``assign_keys``).
    """
    from .keys import assign_keys

    plan = build_plan(config)
    check_training(config, plan)
    keys, artifacts = assign_keys(plan)
    if len(set(keys.values())) != len(keys):
        raise AssertionError("two cells of one plan share a key")
    return Prepared(plan, keys, artifacts)


def check_for_plan(config: SweepConfig, sizes: str = "data") -> tuple[Plan, list[str]]:
    """What `sweep plan` checks: those of :func:`prepare`, except that a Hub backbone of ``KNOWN_BACKBONES`` not yet
    downloaded is checked at its known depth, and that ``sizes="paper"`` (a study planned before its full data is
    fetched) reads no data. Returns the plan and a warning per check left to `sweep run`."""
    from .keys import assign_keys

    plan = build_plan(config)
    warnings = []
    try:
        # `sweep plan` runs nothing: a known Hub backbone not on this machine is checked at its known depth rather
        # than downloaded (loading it would fetch gigabytes of weights to read one number)
        if config.backbone in KNOWN_BACKBONES and not _on_this_machine(config.backbone):
            raise ConfigError(f"backbone {config.backbone!r} is not on this machine", "")
        layers = _backbone_layers(config)
    except ConfigError:
        if config.backbone not in KNOWN_BACKBONES:
            raise
        layers = KNOWN_BACKBONES[config.backbone][0]
        warnings.append(f"backbone {config.backbone!r} is not on this machine yet: checked at its known depth of "
                        f"{layers} layers; `sweep run` needs it downloaded (or in the Hugging Face cache)")
    check_training(config, plan, layers)
    if warnings or sizes == "paper":
        warnings.append("cell keys not computed (they hash the backbone's weights and the data): `sweep run` "
                        "checks the data when it starts")
    else:
        assign_keys(plan)
    return plan, warnings


def check_training(config: SweepConfig, plan: Plan | None = None, layers: int | None = None) -> int:
    """Check the backbone, ``trunk_layers`` and ``training.adapter`` against each other; returns the trunk depth the
    plan's adapters get (0 when it trains no adapter). ``layers``: the backbone's depth, if already known."""
    from ..training import adapter_config, default_trunk_layers

    where = config.source
    layers = _backbone_layers(config) if layers is None else layers
    if config.trunk_layers is not None and not 0 <= config.trunk_layers < layers:
        raise ConfigError(f"{where}: trunk_layers is {config.trunk_layers}, but the backbone {config.backbone!r} has "
                          f"{layers} layers, so at most {layers - 1} can sit below the adapters",
                          f"set trunk_layers to a number from 0 to {layers - 1} (0 puts adapters in every layer), or "
                          f"remove it for the backbone's default ({default_trunk_layers(layers)})")
    try:
        adapter_config(config.adapter, 0)
    except ModxferError as e:
        raise ConfigError(f"{where}: training.adapter: {e.problem}",
                          f"set training.adapter to an `adapters` config name such as {_TRUNK_ADAPTERS}") from None
    plan = plan or build_plan(config)
    if all(c.composition.kind == "full" for c in plan.train_cells):
        return 0  # full fine-tuning trains the whole encoder: no adapter, no trunk
    trunk = default_trunk_layers(layers) if config.trunk_layers is None else config.trunk_layers
    try:
        adapter_config(config.adapter, trunk)
    except ModxferError as e:
        which = "" if config.trunk_layers is not None else ", the backbone's default"
        raise ConfigError(f"{where}: training.adapter: {e.problem} (trunk_layers {trunk}{which})",
                          f"set trunk_layers: 0 with this adapter, or use {_TRUNK_ADAPTERS}") from None
    return trunk


def _on_this_machine(name: str) -> bool:
    """A local model folder, the embedded model, or a Hub id already in the local Hugging Face cache."""
    from pathlib import Path

    if name == "embedded" or Path(name).is_dir():
        return True
    try:
        from huggingface_hub import snapshot_download

        snapshot_download(name, local_files_only=True, allow_patterns=["config.json"])
        return True
    except Exception:  # noqa: BLE001 - not cached, or no such id: either way not here
        return False


def _backbone_layers(config: SweepConfig) -> int:
    from ..model.modeling import backbone

    where = config.source
    try:
        return backbone(config.backbone).num_layers
    except ModxferError as e:
        # The loader's own fix, for the embedded model (a package to install), speaks of flags otherwise.
        fix = e.fix if config.backbone == "embedded" else (
            "set backbone to a model directory saved with save_pretrained, a Hugging Face id already in the local "
            "cache, or 'embedded' (the bundled multilingual-e5-small)")
        raise ConfigError(f"{where}: backbone: {e.problem}", fix) from None
    except (OSError, ValueError, KeyError, TypeError) as e:  # a model folder whose config.json transformers refuses
        raise ConfigError(f"{where}: backbone {config.backbone!r} has no readable model config "
                          f"({type(e).__name__}: {str(e)[:160]})",
                          "point backbone at a folder saved with save_pretrained, or use 'embedded'") from None
