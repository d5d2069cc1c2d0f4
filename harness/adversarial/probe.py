"""Probes: inputs generated at test time from frozen golden cases, shaped like a case for gates and reports.

A probe is not a golden case: it may hold what the golden schema rightly refuses (an empty message), and
it is derived, not frozen. Its id names its source and how it was made (`b77-0042~typo`), so a report
line leads back to the frozen case and the seeded function that produced it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from harness.golden import ChatMessage, GoldenCase


class ChatCase(Protocol):
    """What probes are made from: a golden case with a chat prompt (`messages`) and a label."""

    id: str
    messages: list[ChatMessage] | None
    expected: object


@dataclass(frozen=True)
class Probe:
    """One generated input: the source case's system turn and a new user turn."""

    id: str
    messages: list[dict[str, str]]
    expected: str
    source: str
    """Id of the golden case it was made from ("" for inputs made from nothing, e.g. the empty message)."""
    tags: list[str] = field(default_factory=list)

    def prompt(self) -> list[dict[str, str]]:
        return self.messages

    @property
    def text(self) -> str:
        """The user turn."""
        return self.messages[-1]["content"]

    @classmethod
    def with_user_turn(cls, case: ChatCase, text: str, how: str, tags: Sequence[str] = ()) -> Probe:
        """`case` with its last user turn replaced by `text`; the id records `how` it was made."""
        if not case.messages:
            raise ValueError(f"golden case {case.id}: needs 'messages' (a system turn and a user turn) to probe")
        messages = [{"role": str(turn["role"]), "content": str(turn["content"])} for turn in case.messages]
        messages[-1] = {"role": "user", "content": text}
        return cls(f"{case.id}~{how}", messages, str(case.expected), case.id, list(tags))


def first_per_label(cases: Sequence[GoldenCase], per_label: int) -> list[GoldenCase]:
    """The first `per_label` cases of each expected label, in file order: a fixed, balanced subset that
    anyone can read off the frozen file without running code."""
    taken: dict[str, int] = {}
    picked = []
    for case in cases:
        label = str(case.expected)
        if taken.get(label, 0) < per_label:
            taken[label] = taken.get(label, 0) + 1
            picked.append(case)
    return picked
