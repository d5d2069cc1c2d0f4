"""`[tool.harness.gates]` keys checked against the gates the suites declare.

A bar is looked up by the gate's name when the gate runs, so a misspelt key is never read: its gate
silently keeps the suite's default bar, and the run still passes or fails on it. The names are in the
suites' source, as the first argument of `gate.at_least("banking77.accuracy", ...)` and the other gates
that take a bar, so they can be read without running anything: at the end of collection the plugin reads
them from the suite files and stops the run on a key that names none of them, suggesting the closest.

Which suite files: every test file in the suite tree of each collected suite module, i.e. the top-level
directory under the rootdir that holds it (`suites/` for `pytest suites/data`), so that running one suite
does not make the other suites' keys look unknown. A module at the rootdir's top level brings the test
files beside it. A gate named by an f-string is a pattern (`{x}` matches anything); one named by any other
expression could have any name, and so could the gates of a suite file that does not parse (pytest reports
it when it runs): then no key can be called unknown and the check is skipped.
"""

from __future__ import annotations

import ast
import difflib
import fnmatch
import os
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.config import ConfigError
from harness.gates import GATES_WITH_BARS, OPTIONS

GATE_MODULES = ("harness.gate", "harness.gates")
"""How suites name the gates module: `from harness import gate` (the suites' spelling) or `harness.gates`."""
ANY_NAME = "*"


@dataclass(frozen=True)
class DeclaredGates:
    """Gate names found in suite sources: exact names, and f-string patterns such as `a.*.accuracy`."""

    names: frozenset[str] = frozenset()
    patterns: frozenset[str] = frozenset()
    files: tuple[Path, ...] = field(default=(), compare=False)

    def knows(self, key: str) -> bool:
        return key in self.names or any(fnmatch.fnmatchcase(key, pattern) for pattern in self.patterns)


def suite_files(modules: Collection[Path], root: Path, patterns: Sequence[str]) -> list[Path]:
    """The test files of the suite trees the collected suite `modules` belong to (see the module docstring)."""
    files = set(modules)
    for module in modules:
        try:
            top = root / module.relative_to(root).parts[0]
        except ValueError:  # outside the rootdir: the module alone
            continue
        found = top.rglob("*.py") if top.is_dir() else root.glob("*.py")
        files |= {path for path in found if any(fnmatch.fnmatch(path.name, p) for p in patterns)}
    return sorted(files)


def declared(files: Iterable[Path]) -> DeclaredGates:
    """Every gate name the files pass to a gate that takes a bar."""
    names: set[str] = set()
    patterns: set[str] = set()
    read = sorted(files)
    for path in read:
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        except (SyntaxError, ValueError, OSError):  # ValueError: not UTF-8, or a null byte
            patterns.add(ANY_NAME)
            continue
        for name in _names_in(tree):
            (patterns if "*" in name else names).add(name)
    return DeclaredGates(frozenset(names), frozenset(patterns), tuple(read))


def check_keys(table: Mapping[str, Any], gates: DeclaredGates, source: str) -> None:
    """Raise ConfigError naming each key of `[tool.harness.gates]` that no declared gate has, with the closest."""
    if ANY_NAME in gates.patterns:
        return
    unknown = [key for key in table if key not in OPTIONS and not gates.knows(key)]
    if not unknown:
        return
    shown = sorted(_shown(path) for path in gates.files)
    where = shown[0] if len(shown) == 1 else f"{len(shown)} suite files under {os.path.commonpath(shown) or '.'}"
    raise ConfigError(
        f"{source}: [tool.harness.gates] sets bars for gates no suite has, so they would never apply "
        f"(gates read from {where}):\n  " + "\n  ".join(f'"{key}": {_suggestion(key, gates)}' for key in unknown)
    )


def _suggestion(key: str, gates: DeclaredGates) -> str:
    known = sorted(gates.names | gates.patterns)
    if close := difflib.get_close_matches(key, known, n=1):
        return f'did you mean "{close[0]}"?'
    listed = ", ".join(known[:12]) + (", …" if len(known) > 12 else "")
    return f"no gate is close (the suites' gates: {listed or 'none'}); fix the name or remove the key"


def _shown(path: Path) -> str:
    """`path` relative to the working directory when below it, as the user would type it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _names_in(tree: ast.Module) -> list[str]:
    """The first argument (or `name=`) of each call to a gate with a bar, as a name or a pattern."""
    modules, functions = _gate_imports(tree)
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _calls_gate(node.func, modules, functions):
            argument = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "name"), None)
            names += _name_forms(argument)
    return names


def _gate_imports(tree: ast.Module) -> tuple[set[str], set[str]]:
    """The local names bound to the gates module and to its gate functions."""
    modules: set[str] = set(GATE_MODULES)
    functions: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "harness":
            modules |= {alias.asname or alias.name for alias in node.names if alias.name in ("gate", "gates")}
        elif isinstance(node, ast.ImportFrom) and node.module == "harness.gates":
            functions |= {alias.asname or alias.name for alias in node.names if alias.name in GATES_WITH_BARS}
        elif isinstance(node, ast.Import):
            modules |= {alias.asname for alias in node.names if alias.name == "harness.gates" and alias.asname}
    return modules, functions


def _calls_gate(func: ast.expr, modules: set[str], functions: set[str]) -> bool:
    if isinstance(func, ast.Name):
        return func.id in functions
    return isinstance(func, ast.Attribute) and func.attr in GATES_WITH_BARS and _dotted(func.value) in modules


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and (head := _dotted(node.value)) is not None:
        return f"{head}.{node.attr}"
    return None


def _name_forms(node: ast.expr | None) -> list[str]:
    """A literal name; an f-string as a pattern; both arms of `a if c else b`; else anything (ANY_NAME)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        return ["".join(str(v.value) if isinstance(v, ast.Constant) else "*" for v in node.values)]
    if isinstance(node, ast.IfExp):
        return _name_forms(node.body) + _name_forms(node.orelse)
    return [ANY_NAME]
