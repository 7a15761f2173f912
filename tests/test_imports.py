"""No import cycle among the modules of ``app/``, ``components/``, ``tools/`` and ``policy/``.

The graph is computed from the source with ``ast``, not by importing: every ``import`` and ``from ...
import`` counts, at module level, inside functions and under ``TYPE_CHECKING`` alike (a lazy import that
points back up is still a circle a reader has to untangle), and so does ``importlib.import_module`` of a
literal name or of a module-level string constant (the judge CLI loads the batch job's vertex backend so).
An edge goes to the module named: ``from pkg import name`` points at ``pkg.name`` when that is a module
of ours, else at ``pkg`` itself.
Importing a submodule runs its package's ``__init__`` first; that implicit step is not an edge, or every
package whose ``__init__`` re-exports its own submodules would be a cycle.

A cycle fails the test with its modules named in order, each with the line that imports the next.
"""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("app", "components", "tools", "policy")
SKIP_DIRS = {"venv", "node_modules", "__pycache__"}

Edges = dict[str, dict[str, int]]
"""module -> {imported module: first line that imports it}"""


def _modules(root: Path) -> dict[str, tuple[Path, bool]]:
    """Dotted module name -> (file, is a package's __init__)."""
    found: dict[str, tuple[Path, bool]] = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            if SKIP_DIRS.intersection(path.relative_to(root).parts):
                continue
            parts = list(path.relative_to(root).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts.pop()
            found[".".join(parts)] = (path, is_package)
    return found


def _known(name: str, modules: dict[str, tuple[Path, bool]]) -> str | None:
    """The longest prefix of ``name`` that is one of our modules (``app.judge.cli.main`` -> the module)."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def _string_constants(tree: ast.Module) -> dict[str, str]:
    """Module-level ``NAME = "text"`` assignments, for ``import_module(NAME)``."""
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                    found[target.id] = node.value.value
    return found


def _imports_by_name(call: ast.Call) -> bool:
    """``importlib.import_module(...)`` or a bare ``import_module(...)`` with a first argument."""
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    return name == "import_module" and bool(call.args)


def _string(node: ast.expr, constants: dict[str, str]) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    return None


def import_graph(root: Path) -> Edges:
    modules = _modules(root)
    graph: Edges = {name: {} for name in modules}
    for name, (path, is_package) in modules.items():
        package = name if is_package else name.rpartition(".")[0]
        tree = ast.parse(path.read_text(), str(path))
        constants = _string_constants(tree)
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Call) and _imports_by_name(node):
                named = _string(node.args[0], constants)
                targets = [named] if named else []
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    prefix = ".".join([*base, *([node.module] if node.module else [])])
                else:
                    prefix = node.module or ""
                targets = [
                    f"{prefix}.{a.name}" if f"{prefix}.{a.name}" in modules else prefix for a in node.names
                ]
            for target in targets:
                known = _known(target, modules)
                if known is not None and known != name:
                    graph[name].setdefault(known, node.lineno)
    return graph


def cycles(graph: Edges) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each as one closed walk."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(start: str) -> None:
        # Iterative, so a deep graph cannot hit the recursion limit.
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(_walk(graph, set(component)))

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return found


def _walk(graph: Edges, component: set[str]) -> list[str]:
    """A closed path through the component, from its first module back to it (breadth-first)."""
    start = min(component)
    previous: dict[str, str] = {}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for child in sorted(graph[node]):
            if child not in component:
                continue
            if child == start:
                path = [node]
                while path[-1] != start:
                    path.append(previous[path[-1]])
                return [*reversed(path), start]
            if child not in previous:
                previous[child] = node
                queue.append(child)
    return sorted(component)


def describe(graph: Edges, walk: list[str]) -> str:
    return (
        " -> ".join(
            f"{module} (line {graph[module][following]})" for module, following in itertools.pairwise(walk)
        )
        + f" -> {walk[-1]}"
    )


def test_no_import_cycle_among_our_modules() -> None:
    graph = import_graph(REPO)
    assert len(graph) > 150, f"only {len(graph)} modules found: is the walk looking in the right place?"
    found = cycles(graph)
    assert not found, "import cycles (each module imports the next):\n" + "\n".join(
        describe(graph, walk) for walk in found
    )


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        # a module-level import back up, as cli <-> commands was
        (
            {
                "app/x/cli.py": "from app.x import commands\n",
                "app/x/commands.py": "from app.x.cli import EXIT\n",
            },
            [["app.x.cli", "app.x.commands", "app.x.cli"]],
        ),
        # a lazy import inside a function, and a relative one, still close a circle
        (
            {"app/x/a.py": "def f():\n    from . import b\n", "app/x/b.py": "from .a import f\n"},
            [["app.x.a", "app.x.b", "app.x.a"]],
        ),
        # TYPE_CHECKING imports count too
        (
            {
                "app/x/a.py": (
                    "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from app.x.b import B\n"
                ),
                "app/x/b.py": "import app.x.a\n",
            },
            [["app.x.a", "app.x.b", "app.x.a"]],
        ),
        # an import by name, through a module-level constant, is an edge like any other
        (
            {
                "app/x/a.py": "import importlib\nB = 'app.x.b'\ndef f():\n    importlib.import_module(B)\n",
                "app/x/b.py": "from app.x import a\n",
            },
            [["app.x.a", "app.x.b", "app.x.a"]],
        ),
        # a package __init__ re-exporting its submodules is not a cycle
        (
            {
                "app/x/__init__.py": "from .a import A\n",
                "app/x/a.py": "from app.x import b\nA = 1\n",
                "app/x/b.py": "B = 1\n",
            },
            [],
        ),
    ],
)
def test_the_graph_finds_cycles_and_only_cycles(
    tmp_path: Path, files: dict[str, str], expected: list
) -> None:
    for relative, text in files.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert cycles(import_graph(tmp_path)) == expected
