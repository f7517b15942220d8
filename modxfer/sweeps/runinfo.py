"""What a sweep run says about itself: its results, backbone, data, artifact store and training settings."""

from __future__ import annotations

from pathlib import Path

from ..errors import DataError, ModxferError


def run_context(run_dir) -> dict:
    """{path, results, base, data_dir, store, train, config} of a run folder (data_dir, store and train None where
    not recorded): what selection (``modxfer.similarity``) is handed, since it reads no run folder itself.

    Raises:
        ModxferError: not a run folder; DataError: no finished evaluation results.
    """
    import yaml

    from .results import load_results
    from .store import Store

    with Store(run_dir) as store:
        raw = yaml.safe_load(store.meta("config") or "{}") or {}
    results = load_results(run_dir)
    if results.empty:
        raise DataError(f"{run_dir} has no finished evaluation results yet",
                        f"run the sweep first (modxfer sweep run CONFIG), then use {run_dir}")
    ctx = {"path": str(run_dir), "results": results, "base": raw.get("backbone", "embedded"), "data_dir": None, "store": None,
           "train": None, "config": raw}
    if raw.get("data_dir") and Path(str(raw["data_dir"])).expanduser().is_dir():
        ctx["data_dir"] = Path(str(raw["data_dir"])).expanduser()  # the run's own data, unless told otherwise
    try:
        from .config import parse_config
        from ..training import TrainSettings

        cfg = parse_config(raw, where=f"{run_dir}/config")
        ctx["train"] = TrainSettings(**cfg.train_settings(cfg.seeds[0]))  # the adapters the run itself trained
        ctx["store"] = cfg.artifacts
    except (ModxferError, TypeError, IndexError, AttributeError):
        pass  # an older or partial config: model-based measures train with their defaults
    return ctx
