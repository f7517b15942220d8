"""The architecture as the code has it: one package per concept, imports only downward (import-linter's contracts in
pyproject.toml), no circle anywhere in the import graph, no module reaching into another's private names, few
modules outside packages, and the old import paths of moved modules still resolving (ARCHITECTURE.md)."""
import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold():
    # `lint-imports` reads [tool.importlinter] from pyproject.toml: the layers, what statistics may not know, noise and
    # training apart, and no circle among the modules of any package. An upward import fails here, naming it.
    res = subprocess.run([sys.executable, "-c", "from importlinter.cli import lint_imports_command; "
                          "lint_imports_command()"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    assert "0 broken" in res.stdout and res.stdout.count(" KEPT") >= 4, res.stdout[-2000:]


def test_no_circle_in_the_import_graph():
    # Every import counts, function-level ones too: a lazy import that only dodges a circle at load time is still one.
    import grimp

    graph = grimp.build_graph("modxfer", "modxfer_cli")
    adj = {m: graph.find_modules_directly_imported_by(m) for m in graph.modules}
    index, low, stack, on, circles, counter = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in adj[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                circles.append(sorted(comp))
    for m in sorted(adj):
        if m not in index:
            visit(m)
    assert not circles, circles


def test_no_module_imports_another_modules_private_names():
    found = []
    for path in [*(ROOT / "modxfer").rglob("*.py"), *(ROOT / "cli").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("modxfer")):
                found += [f"{path.relative_to(ROOT)}:{node.lineno} {a.name}" for a in node.names
                          if a.name.startswith("_") and not a.name.startswith("__")]
    assert not found, found


def test_no_module_reaches_into_another_modules_private_attributes():
    # `outcomes._task(...)` after `from ..scoring import outcomes` reaches as far as importing `_task` would.
    found = []
    for path in [*(ROOT / "modxfer").rglob("*.py"), *(ROOT / "cli").glob("*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        bound = {a.asname or a.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                 and (node.level or (node.module or "").startswith("modxfer")) for a in node.names}
        found += [f"{path.relative_to(ROOT)}:{node.lineno} {node.value.id}.{node.attr}" for node in ast.walk(tree)
                  if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in bound
                  and node.attr.startswith("_") and not node.attr.startswith("__")]
    assert not found, found


def test_the_library_imports_no_old_module_path():
    # An old path resolves at run time but import-linter and grimp do not follow it: an upward import through one
    # would pass every contract. So the library itself never uses them.
    import modxfer

    old = tuple(modxfer._MOVED)
    found = []
    for path in [*(ROOT / "modxfer").rglob("*.py"), *(ROOT / "cli").glob("*.py")]:
        if path == ROOT / "modxfer" / "__init__.py":
            continue
        rel = path.relative_to(ROOT).with_suffix("")
        package = ["modxfer_cli"] if rel.parts[0] == "cli" else list(rel.parts[:-1] if rel.name != "__init__" else rel.parts[:-1])
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = (list(rel.parts[:-1]) if rel.name != "__init__" else list(rel.parts[:-1]))
                    parts = parts[:len(parts) - node.level + 1]
                    base = ".".join(parts + ([node.module] if node.module else []))
                names = [base] + [f"{base}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            found += [f"{path.relative_to(ROOT)}:{node.lineno} {n}" for n in names
                      if any(n == o or n.startswith(o + ".") for o in old)]
    assert not found, found


def test_every_old_module_path_resolves():
    import modxfer

    for old, new in modxfer._MOVED.items():
        assert importlib.import_module(old) is importlib.import_module(new), old


def test_at_most_twelve_modules_outside_packages():
    top = sorted(p.name for p in (ROOT / "modxfer").glob("*.py"))
    assert len(top) <= 12, top


@pytest.mark.parametrize("old, new", [
    ("modxfer.metrics", "modxfer.scoring.metrics"), ("modxfer.zoo", "modxfer.store.zoo"),
    ("modxfer.artifacts", "modxfer.store.artifacts"), ("modxfer.backbone", "modxfer.model.backbone"),
    ("modxfer.backbone.embedded", "modxfer.model.backbone.embedded"), ("modxfer.selection", "modxfer.similarity.selection"),
    ("modxfer.outcomes", "modxfer.scoring.outcomes"), ("modxfer.hypotheses", "modxfer.stats.hypotheses"),
    ("modxfer.report_sections", "modxfer.report.sections"), ("modxfer.tasksim.textemb", "modxfer.similarity.textemb"),
])
def test_old_module_paths_resolve_to_the_same_module(old, new):
    # The same object, so code (and tests) that patch the old path patch the module that runs.
    assert importlib.import_module(old) is importlib.import_module(new)
    assert importlib.import_module(new).__spec__.name == new  # the alias leaves the module's own spec alone


def test_the_public_surface_is_unchanged():
    import modxfer

    for name in ("train", "evaluate", "Evaluator", "analyse", "write_report", "get_task", "list_tasks", "Composition",
                 "load_backbone", "ModxferError"):
        assert callable(getattr(modxfer, name)), name
    assert modxfer.metrics.score("panx", [["B-PER", "O"]], [["B-PER", "O"]])["f1"] == 100.0
    assert modxfer.languages.get("hi").family == "Indo-European"
    for module in ("stats", "zoo", "similarity", "report", "analysis", "evaluation", "selection", "trunk",
                   "competence", "outcomes", "artifacts"):
        assert getattr(modxfer, module).__name__.startswith("modxfer."), module
    from modxfer import similarity, stats

    assert callable(similarity.compute) and callable(stats.correlation) and callable(stats.paired_bootstrap)
