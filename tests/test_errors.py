"""One error tree: every exception class in harness derives from HarnessError, the tree drawn in
harness.errors is the tree the classes form, and the command and the plugin act on its branches."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import pytest

import harness
from harness import cli, errors
from harness.errors import HarnessError, ModelError, Refused, UsageError
from harness.golden import GoldenError
from harness.plugin import usage_errors
from harness.train.run import TrainingRefused

TREE_LINE = re.compile(r"^    (?:[│ ]*[├└]── (\w+)(?: ─+ |\s+)(?:([\w.]+):)?|(HarnessError)$)")
"""A class in the docstring's drawing: its name and, for a leaf, the module that defines it."""


def harness_exceptions() -> dict[str, type[BaseException]]:
    """Every exception class defined in a harness module, by qualified name."""
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(harness.__path__, "harness."):
        module = importlib.import_module(info.name)
        for value in vars(module).values():  # not getmembers: it reads properties that warn
            if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == info.name:
                found[f"{info.name}.{value.__qualname__}"] = value
    return found


def drawn_tree() -> list[tuple[int, str, str | None]]:
    """(depth, class name, defining module or None for a branch) for each line of the drawing."""
    rows = []
    for line in (errors.__doc__ or "").splitlines():
        if match := TREE_LINE.match(line):
            name = match.group(1) or match.group(3)
            rows.append(((line.index(name) - 4) // 4, name, match.group(2)))
    return rows


def test_every_exception_class_in_harness_derives_from_harness_error() -> None:
    found = harness_exceptions()
    assert len(found) >= 19  # the walk did find them
    strays = sorted(name for name, cls in found.items() if not issubclass(cls, HarnessError))
    assert strays == [], f"derive these from a branch of harness.errors: {strays}"


def test_the_drawn_tree_is_the_class_tree_and_names_every_public_error() -> None:
    rows = drawn_tree()
    assert rows[0] == (0, "HarnessError", None)
    parents: list[type[BaseException]] = []
    drawn = set()
    for depth, name, module in rows:
        cls = getattr(importlib.import_module(module) if module else errors, name)
        del parents[depth:]
        if parents:
            assert parents[-1] in cls.__bases__, f"{name} is drawn under {parents[-1].__name__}"
        parents.append(cls)
        drawn.add(cls)
    public = {cls for name, cls in harness_exceptions().items() if not name.rsplit(".", 1)[-1].startswith("_")}
    assert sorted(c.__name__ for c in public - drawn) == []


def test_stdlib_bases_are_kept_where_callers_rely_on_them() -> None:
    from harness.config import ConfigError
    from harness.curation.config import CurationError
    from harness.gates import GateFailure

    assert issubclass(ConfigError, ValueError) and issubclass(CurationError, ValueError)
    assert issubclass(GateFailure, AssertionError) and issubclass(GateFailure, Refused)


@pytest.mark.parametrize(
    ("raised", "code", "prefix"),
    [
        (GoldenError(["golden/x/cases.jsonl:3: bad"]), 2, "harness: error: golden/x/cases.jsonl:3: bad"),
        (UsageError("--flag: no such thing"), 2, "harness: error: --flag: no such thing"),
        (ModelError("openai:m@http://x/v1: server down after 5 retries"), 2, "harness: error: openai:m@"),
        (TrainingRefused("data gates failed"), 1, "harness: refused: data gates failed"),
    ],
)
def test_the_command_turns_each_branch_into_its_exit_code(
    raised: HarnessError, code: int, prefix: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def subcommand(args: object) -> int:
        raise raised

    monkeypatch.setattr(cli, "report_diff", subcommand)  # the parser binds it when main builds it
    assert cli.main(["report", "diff", "a", "b"]) == code
    assert capsys.readouterr().err.startswith(prefix)


def test_the_plugin_stops_on_usage_and_data_errors_and_lets_model_errors_through() -> None:
    stopped = pytest.raises(pytest.UsageError, match=r"^--dataset=d: golden/x/cases.jsonl:3: bad$")
    with stopped, usage_errors("--dataset=d: "):
        raise GoldenError(["golden/x/cases.jsonl:3: bad"])
    with pytest.raises(ModelError, match="server down"), usage_errors():
        raise ModelError("server down")
