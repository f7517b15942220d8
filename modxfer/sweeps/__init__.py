"""Sweeps: a study written once as a YAML grid, run (and resumed) cell by cell into a SQLite run database.

    from modxfer.sweeps import load_config, build_plan, run_sweep, load_results
    cfg = load_config("configs/quickstart.yaml")
    run_sweep(cfg)                       # or executor="ray"; rerun the same call to resume
    df = load_results(cfg.output)        # one row per cell x language x noise setting
"""

from .config import SweepConfig, Target, load_config, parse_config
from .plan import Cell, Plan, build_plan, estimate
from .results import export, load_results, robustness, summary_tables
from .runner import RunSummary, run_sweep
from .store import RunLock, Store

__all__ = ["SweepConfig", "Target", "load_config", "parse_config", "Cell", "Plan", "build_plan", "estimate",
           "export", "load_results", "robustness", "summary_tables", "RunSummary", "run_sweep", "RunLock", "Store"]
