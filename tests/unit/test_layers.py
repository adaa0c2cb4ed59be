"""The import graph points one way and has no loops (DESIGN.md, "Dependencies point one way").

Every ``import`` / ``from ... import`` of the project's own packages is read with ``ast`` — at module
level, inside functions, under ``if TYPE_CHECKING`` alike — and checked against the layer order:

    rank 0  core
    rank 1  models
    rank 2  etl
    rank 3  services
    rank 4  api, worker, portal_common, dmt_app, admin_app, cli   (the entry points)

A module may import its own package and any package of a lower rank. Packages of the top rank do not
import each other, with three exceptions that follow from how the processes are built:

* ``dmt_app`` and ``admin_app`` import ``portal_common`` (the shell, sign-in and styles they share);
* ``portal_common`` imports ``api`` (both portal backends mount the REST API under /api).

``worker`` and ``cli`` stand alone: the worker runs tasks by name, the CLI starts the other processes
as subprocesses. Services enqueue by task name through ``core.queue`` and never import ``worker``.

Besides the layers, no two modules may import each other, directly or through others, anywhere —
also inside one package.

Run ``python tests/unit/test_layers.py [ROOT]`` to print the upward edges and loops of a checkout.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: Each package's rank: a module may import packages of its own rank or lower, never higher.
LAYER_RANK: dict[str, int] = {
    "core": 0,
    "models": 1,
    "etl": 2,
    "services": 3,
    "api": 4,
    "worker": 4,
    "portal_common": 4,
    "dmt_app": 4,
    "admin_app": 4,
    "cli": 4,
}

#: Imports between different packages of the same (top) rank that are part of the design.
ALLOWED_SIDEWAYS: frozenset[tuple[str, str]] = frozenset(
    {
        ("dmt_app", "portal_common"),
        ("admin_app", "portal_common"),
        ("portal_common", "api"),
    }
)


def module_files(root: Path) -> dict[str, Path]:
    """Every module of the layered packages under ``root``, by dotted name."""
    modules: dict[str, Path] = {}
    for package in LAYER_RANK:
        base = root / package
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if any(part.startswith(".") or part == "__pycache__" for part in parts):
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def _imported_modules(tree: ast.AST, module: str, is_package: bool, modules: dict[str, Path]) -> Iterator[tuple[str, int]]:
    """Project modules that a module imports, with the line of each import."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _resolve(alias.name, modules)
                if target:
                    yield target, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package_parts = module.split(".") if is_package else module.split(".")[:-1]
                anchor = package_parts[: len(package_parts) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                # `from pkg import name` imports the submodule pkg.name when there is one, else pkg.
                submodule = f"{base}.{alias.name}"
                target = submodule if submodule in modules else _resolve(base, modules)
                if target:
                    yield target, node.lineno


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The longest known module that ``name`` denotes (a submodule, else its package)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def import_graph(root: Path) -> dict[str, dict[str, int]]:
    """Module -> {imported module -> first line}, for imports between the layered packages."""
    modules = module_files(root)
    graph: dict[str, dict[str, int]] = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        edges: dict[str, int] = {}
        for target, line in _imported_modules(tree, module, path.name == "__init__.py", modules):
            if target != module:
                edges[target] = min(line, edges.get(target, line))
        graph[module] = edges
    return graph


def _package(module: str) -> str:
    return module.split(".", 1)[0]


def upward_edges(graph: dict[str, dict[str, int]]) -> list[str]:
    """Imports that break the layer order, as readable lines."""
    found = []
    for source, targets in sorted(graph.items()):
        for target, line in sorted(targets.items()):
            src_pkg, dst_pkg = _package(source), _package(target)
            if src_pkg == dst_pkg or (src_pkg, dst_pkg) in ALLOWED_SIDEWAYS:
                continue
            if LAYER_RANK[dst_pkg] >= LAYER_RANK[src_pkg]:
                found.append(f"{source} (line {line}) -> {target}")
    return found


def import_loops(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected groups of modules (each a loop), found with Tarjan's algorithm."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    loops: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for successor in graph.get(node, {}):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                loops.append(sorted(group))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(loops)


def _loop_edges(graph: dict[str, dict[str, int]], group: list[str]) -> list[str]:
    members = set(group)
    return [
        f"{source} (line {line}) -> {target}"
        for source in group
        for target, line in sorted(graph[source].items())
        if target in members
    ]


def test_walker_sees_the_packages() -> None:
    graph = import_graph(ROOT)
    assert {"core.settings", "models.db", "etl.sync", "services.auth", "api.app"} <= graph.keys()
    assert "models.db" in graph["etl.sync"], "the walker must see etl.sync importing models.db"


def test_walker_finds_upward_imports_and_loops(tmp_path: Path) -> None:
    """On a small tree: an import inside a function counts, relative imports resolve, loops are found."""
    files = {
        "core/__init__.py": "",
        "core/a.py": "def f():\n    from services import b\n",
        "services/__init__.py": "",
        "services/b.py": "from . import c\n",
        "services/c.py": "import services.b\nfrom core import a\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    graph = import_graph(tmp_path)
    assert upward_edges(graph) == ["core.a (line 2) -> services.b"]
    assert import_loops(graph) == [["core.a", "services.b", "services.c"]]


def test_no_upward_imports() -> None:
    edges = upward_edges(import_graph(ROOT))
    assert not edges, "imports against the layer order:\n" + "\n".join(edges)


def test_no_import_loops() -> None:
    graph = import_graph(ROOT)
    loops = import_loops(graph)
    report = "\n\n".join("loop: " + " <-> ".join(group) + "\n  " + "\n  ".join(_loop_edges(graph, group)) for group in loops)
    assert not loops, "import loops:\n" + report


if __name__ == "__main__":
    checkout = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else ROOT
    graph = import_graph(checkout)
    upward = upward_edges(graph)
    loops = import_loops(graph)
    print(f"{len(graph)} modules, {sum(len(t) for t in graph.values())} internal import edges")
    print(f"{len(upward)} upward imports:")
    print("\n".join("  " + edge for edge in upward))
    print(f"{len(loops)} import loops (strongly connected groups):")
    for group in loops:
        print("  " + " <-> ".join(group))
        print("\n".join("      " + edge for edge in _loop_edges(graph, group)))
