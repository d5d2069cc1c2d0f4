"""The harness's modules depend on each other without cycles.

Read from the source (ast), not by importing: every `import harness.x` and `from harness.x import y`
counts, wherever it stands: at the top, inside a function, or under `if TYPE_CHECKING:`. A lazy import
defers when a module loads (torch, MLflow), not what it depends on, so a cycle through one is still a
cycle: the two modules cannot be understood, tested or moved apart. An import of a package means its
`__init__.py`; importing a submodule does not count as importing its parent package.
"""

from __future__ import annotations

import ast
from pathlib import Path

HARNESS = Path(__file__).resolve().parents[1] / "harness"


def module_names() -> dict[str, Path]:
    """Dotted name -> file, for every module of the harness package (a package is its __init__.py)."""
    names = {}
    for path in sorted(HARNESS.rglob("*.py")):
        parts = list(path.relative_to(HARNESS.parent).with_suffix("").parts)
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


def imported(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The harness modules `name` imports anywhere in its source."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in modules}
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, package)
            for alias in node.names:  # `from harness import gates` imports the module harness.gates
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in modules else base)
    return (found & modules.keys()) - {name}


def _absolute(node: ast.ImportFrom, package: str) -> str:
    if not node.level:
        return node.module or ""
    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
    return ".".join([*parts, *([node.module] if node.module else [])])


def import_graph() -> dict[str, set[str]]:
    modules = module_names()
    return {name: imported(name, path, modules) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as [a, b, …, a], or None: a depth-first search that meets a module still on its path."""
    state: dict[str, str] = {}  # "open" while on the current path, "done" once all its imports are explored
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = "open"
        path.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        state[module] = "done"
        path.pop()
        return None

    for module in sorted(graph):
        if module not in state and (cycle := visit(module)):
            return cycle
    return None


def all_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """A cycle through each tangle: after one is found, its last edge is cut and the search runs again."""
    graph = {module: set(targets) for module, targets in graph.items()}
    cycles = []
    while cycle := find_cycle(graph):
        cycles.append(cycle)
        graph[cycle[-2]].discard(cycle[-1])
    return cycles


def test_the_import_graph_is_read_from_every_kind_of_import() -> None:
    graph = import_graph()
    assert "harness.gates" in graph["harness"]  # `from harness import gates as gate` in __init__.py
    assert "harness.models.resolve" in graph["harness.plugin"]  # a lazy import inside a function counts
    assert "harness.curation.dataset" in graph["harness.plugin"]  # and one under TYPE_CHECKING
    assert len(graph) > 60


def test_harness_modules_import_each_other_without_cycles() -> None:
    cycles = [" -> ".join(cycle) for cycle in all_cycles(import_graph())]
    assert not cycles, "import cycles (lazy and TYPE_CHECKING imports count; move what both sides need into a " \
                       "module both can import):\n  " + "\n  ".join(cycles)  # fmt: skip


def test_a_cycle_is_found_and_named() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    assert all_cycles({"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"c"}}) == [["a", "b", "a"], ["c", "d", "c"]]
