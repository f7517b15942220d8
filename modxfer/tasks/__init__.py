"""Tasks and their data: the registry of intermediate and target tasks, loaded as ``datasets.Dataset``."""

from .base import (HEADS, PER_LANGUAGE_SPLITS, PROFILES, ROLES, SPLITS, HubSource, Protocol, Task, data_profile,
    resolve_data_dir)
from .check import SplitReport, check_data
from .registry import TASKS, get_task, list_tasks

__all__ = ["HEADS", "PER_LANGUAGE_SPLITS", "PROFILES", "Protocol", "data_profile", "ROLES", "SPLITS", "HubSource", "Task", "TASKS", "get_task", "list_tasks", "resolve_data_dir", "check_data", "SplitReport"]
