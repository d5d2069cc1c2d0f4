"""How a golden set's answers are generated: `golden/<set>/generation.toml`, frozen with the set.

A set is scored on answers generated one way, and that way belongs to the set, not to each reader. The
regression set was *selected* at 64 new tokens (a longer budget lets the base wander off a check it
passes); Banking77's answers are labels of at most 17 tokens, so 20 suffice and two suites share the
same cached answers only if they ask alike. Every reader (the suites through `cases.generation`, a set's
builder, the training eval gate) takes the settings from this file, so they cannot drift apart.

    # golden/banking77/generation.toml
    max_new_tokens = 20   # the longest label is 17 SmolLM2 tokens, plus the end of turn

Keys are request parameters (`max_new_tokens`, `temperature`, `top_p`); a key left out takes
`[tool.harness.generation]`'s default. The file is part of the lock: changing it is a re-freeze.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from harness.golden.cases import GoldenCase, GoldenError, display_path

GENERATION_FILE = "generation.toml"
SETTINGS: dict[str, tuple[type, ...]] = {"max_new_tokens": (int,), "temperature": (int, float), "top_p": (int, float)}
"""The request parameters a set may fix, and the TOML types each takes."""


def generation_settings(root: Path, name: str) -> dict[str, Any]:
    """The generation parameters golden set `name` fixes (empty when it has no generation.toml)."""
    path = root / name / GENERATION_FILE
    if not path.is_file():
        return {}
    shown = display_path(path)
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise GoldenError([f"{shown}: not valid TOML ({error}) — write `key = value` lines"]) from None
    problems = [_problem(key, value) for key, value in table.items()]
    if found := [f"{shown}: {problem}" for problem in problems if problem]:
        raise GoldenError(found)
    return {key: float(value) if key != "max_new_tokens" else value for key, value in table.items()}


def _problem(key: str, value: Any) -> str | None:
    if key not in SETTINGS:
        return f"unknown key {key!r} — a set fixes only {', '.join(SETTINGS)}"
    if isinstance(value, bool) or not isinstance(value, SETTINGS[key]):
        return f"{key} = {value!r} must be a number" + (" (a whole one)" if key == "max_new_tokens" else "")
    if key == "max_new_tokens" and isinstance(value, int) and value < 1:
        return f"max_new_tokens = {value} must be at least 1"
    return None


class GoldenSet(list[GoldenCase]):
    """A golden set's cases (a plain list), with the generation settings they are answered with:
    `model.generate([case.prompt() for case in cases], **cases.generation)`."""

    def __init__(self, name: str, cases: list[GoldenCase], generation: dict[str, Any]) -> None:
        super().__init__(cases)
        self.name = name
        self.generation = dict(generation)

    def tagged(self, tag: str) -> GoldenSet:
        """The cases carrying `tag` (e.g. the out-of-scope part of a router's set), with the same settings."""
        return GoldenSet(self.name, [case for case in self if tag in case.tags], self.generation)

    def untagged(self, tag: str) -> GoldenSet:
        """The cases without `tag`."""
        return GoldenSet(self.name, [case for case in self if tag not in case.tags], self.generation)
