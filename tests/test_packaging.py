import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_subpackage_is_listed_in_pyproject():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "modxfer").rglob("__init__.py")}
    assert found <= listed, found - listed
    assert "modxfer_cli" in listed and "cli" not in listed


import ast
import re
import sys

# Distributions whose import name differs from the distribution name.
IMPORT_NAME = {"pyyaml": "yaml"}


def _dist(requirement: str) -> str:
    return re.match(r"[A-Za-z0-9_.-]+", requirement).group(0).lower().replace("-", "_")


def _used_modules() -> set[str]:
    """Top-level modules the library and CLI import, plus data-only packages located with find_spec("name")."""
    used = set()
    for root in ("modxfer", "cli"):
        for path in (ROOT / root).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    used |= {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    used.add(node.module.split(".")[0])
                elif (isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "find_spec" and node.args
                      and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                    used.add(node.args[0].value.split(".")[0])
    return used - set(sys.stdlib_module_names) - {"modxfer", "modxfer_cli", "__future__"}


def test_dependencies_are_exactly_what_the_code_imports():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    required = {IMPORT_NAME.get(_dist(r), _dist(r)) for r in project["dependencies"]}
    optional = {IMPORT_NAME.get(_dist(r), _dist(r)) for reqs in project["optional-dependencies"].values() for r in reqs}
    used = _used_modules()
    assert required - used == set(), "declared but never imported: pip install would pull them for nothing"
    assert used - required - optional == set(), "imported but not declared: a fresh install would fail"
    assert {"pytest", "hypothesis"} <= optional and "ray" in optional & used  # test-only and the optional executor
