"""No import cycles inside ``py/``: each module's imports form a graph without circles.

Every import counts, wherever it is written (the top of a module, inside a
function, under ``TYPE_CHECKING``): a cycle hidden behind a lazy import is still
two modules that cannot be understood, or tested, one without the other.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.paths import REPO

PY = REPO / "py"


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the modules of ``root`` it imports (packages and submodules alike)."""
    paths = {module_name(root, p): p for p in sorted(root.rglob("*.py"))}
    graph: dict[str, set[str]] = {name: set() for name in paths}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".") if package else []
                    base = base[: len(base) - (node.level - 1)]
                    stem = ".".join(base + ([node.module] if node.module else []))
                else:
                    stem = node.module or ""
                # "from pkg import sub" imports the submodule when there is one.
                targets = [f"{stem}.{alias.name}" if f"{stem}.{alias.name}" in paths else stem
                           for alias in node.names]
            for target in targets:
                while target and target not in paths:  # "a.b.C" (a name in a.b) -> "a.b"
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def test_no_import_cycle_inside_py() -> None:
    graph = import_graph(PY)
    assert len(graph) > 50  # the whole tree was read
    assert cycles(graph) == [], "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles(graph))


def test_the_check_names_cycles_wherever_the_import_is_written(tmp_path: Path) -> None:
    # The shapes the worker once had: a package-level cycle through a TYPE_CHECKING
    # import, and one through a relative "from . import" inside a function.
    pkg = tmp_path / "bg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "app.py").write_text("from .routes import Routes\n")
    (pkg / "routes.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .app import App\n")
    (pkg / "chat.py").write_text("def f():\n    from . import queue_service\n")
    (pkg / "queue_service.py").write_text("from bg.chat import f\n")
    (pkg / "alone.py").write_text("import json\nfrom .app import Routes\n")
    assert cycles(import_graph(tmp_path)) == [["bg.app", "bg.routes"], ["bg.chat", "bg.queue_service"]]


def test_the_settings_do_not_reach_into_chat() -> None:
    """Chat reads the settings; the settings (their connection test, the providers' model lists)
    build the provider a turn uses from the settings alone, never from chat's modules: the two
    packages would otherwise only be understood together."""
    graph = import_graph(PY)
    reach = {(name, target) for name, targets in graph.items() if name.startswith("background.settings")
             for target in targets if target.startswith("background.chat")}
    assert reach == set()
