"""`[tool.harness.gates]` keys checked against the gates the suites declare.

A bar is looked up by the gate's name when the gate runs, so a misspelt key is never read: it never
applies, and a gate that keeps a bar in code would still pass or fail on that one. The names are in the
suites' source, as the first argument of `gate.at_least("banking77.accuracy", ...)` and the other gates
that have a bar (passed in code or not), so they can be read without running anything: at the end of
collection the plugin reads them from the suite files and stops the run on a key that names none of
them, suggesting the closest.

Which suite files: every test file in the suite tree of each collected suite module, i.e. the top-level
directory under the rootdir that holds it (`suites/` for `pytest suites/data`), so that running one suite
does not make the other suites' keys look unknown. A module at the rootdir's top level brings the test
files beside it. A gate named by an f-string is a pattern (`{x}` matches anything); one named by any other
expression could have any name, and so could the gates of a suite file that does not parse (pytest reports
it when it runs): then no key can be called unknown and the check is skipped.

Every bar is written once (see `harness.gates`), so the same reading checks the bars of the collected suite
modules: a gate called without a bar whose name has no key, or with a literal bar that differs from its
key, stops the run before any test, naming file, line and fix. A bar that is not a literal, or a call that
spreads `*args`/`**kwargs`, cannot be read here; the gate itself checks it when it runs.
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
from harness.gates import BAR_ARGUMENTS, GATES_WITH_BARS, OPTIONS, no_bar, two_bars

GATE_MODULES = ("harness.gate", "harness.gates")
"""How suites name the gates module: `from harness import gate` (the suites' spelling) or `harness.gates`."""
ANY_NAME = "*"
UNREADABLE = object()
"""A bar argument whose value cannot be read from source (a variable, an expression, `**kwargs`)."""


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


def check_bars(table: Mapping[str, Any], files: Iterable[Path], source: str) -> None:
    """Raise ConfigError naming each gate call in `files` whose bar is nowhere (no argument, no key in `table`)
    or in both places with different values; gates named by a pattern and unreadable bars are left to run time."""
    problems = []
    for path in sorted(files):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        except (SyntaxError, ValueError, OSError):  # pytest reports it when it collects the file
            continue
        for call, gate, name in _gate_calls(tree):
            if gate not in BAR_ARGUMENTS or "*" in name:
                continue
            in_code, configured = _bar_in(call, gate), table.get(name)
            if in_code is None and configured is None:
                problems.append(f"{_shown(path)}:{call.lineno}: {no_bar(name)}")
            elif isinstance(in_code, float) and configured is not None and in_code != float(configured):
                problems.append(f"{_shown(path)}:{call.lineno}: {two_bars(name, in_code, float(configured))}")
    if problems:
        raise ConfigError(f"{source}: a gate needs one bar, in [tool.harness.gates] or else in its suite:\n  "
                          + "\n  ".join(problems))  # fmt: skip


def _bar_in(call: ast.Call, gate: str) -> float | object | None:
    """The bar a gate call passes: a number, None when it passes none, or UNREADABLE."""
    position, keyword = BAR_ARGUMENTS[gate]
    node: ast.expr | None = None
    if any(isinstance(arg, ast.Starred) for arg in call.args[: position + 1]):
        return UNREADABLE
    if len(call.args) > position:
        node = call.args[position]
    elif given := [k.value for k in call.keywords if k.arg == keyword]:
        node = given[0]
    elif any(k.arg is None for k in call.keywords):  # **kwargs could hold it
        return UNREADABLE
    if node is None or (isinstance(node, ast.Constant) and node.value is None):
        return None
    try:
        value = ast.literal_eval(node)
    except ValueError:
        return UNREADABLE
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else UNREADABLE


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
    return [name for _, _, name in _gate_calls(tree)]


def _gate_calls(tree: ast.Module) -> list[tuple[ast.Call, str, str]]:
    """Each call to a gate with a bar: the call, the gate's function name and the gate's name (or pattern)."""
    modules, functions = _gate_imports(tree)
    calls = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and (gate := _called_gate(node.func, modules, functions)) is not None:
            argument = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "name"), None)
            calls += [(node, gate, name) for name in _name_forms(argument)]
    return calls


def _gate_imports(tree: ast.Module) -> tuple[set[str], dict[str, str]]:
    """The local names bound to the gates module, and those bound to its gate functions (to the function's name)."""
    modules: set[str] = set(GATE_MODULES)
    functions: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "harness":
            modules |= {alias.asname or alias.name for alias in node.names if alias.name in ("gate", "gates")}
        elif isinstance(node, ast.ImportFrom) and node.module == "harness.gates":
            bound = {alias.asname or alias.name: alias.name for alias in node.names}
            functions |= {local: name for local, name in bound.items() if name in GATES_WITH_BARS}
        elif isinstance(node, ast.Import):
            modules |= {alias.asname for alias in node.names if alias.name == "harness.gates" and alias.asname}
    return modules, functions


def _called_gate(func: ast.expr, modules: set[str], functions: dict[str, str]) -> str | None:
    """The name of the gate function `func` calls, if it is one that takes a bar."""
    if isinstance(func, ast.Name):
        return functions.get(func.id)
    if isinstance(func, ast.Attribute) and func.attr in GATES_WITH_BARS and _dotted(func.value) in modules:
        return func.attr
    return None


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
