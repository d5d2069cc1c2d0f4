"""What flows between curation stages: examples, and the rejections and review flags stages emit.

An example keeps its source `file:line` and its original row from the moment it is read, so every
rejection can say where the row came from and what it was, however many stages later it is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.golden import display_path

Message = dict[str, str]


def project_path(path: Path, root: Path | None) -> str:
    """`path` relative to the project root when inside it, so recorded sources read the same wherever the
    command ran (`training/data/banking77/train.csv:124`); otherwise relative to the cwd, or absolute."""
    if root is not None:
        try:
            return str(path.resolve().relative_to(root.resolve()))
        except ValueError:
            pass
    return display_path(path)


@dataclass
class SourceRow:
    """A row as read from a source file, before validation. `problem` is set when it could not be parsed."""

    id: str  # "train.csv:124": file name and line (row number for a datasets dir)
    source: str  # "training/data/banking77/train.csv:124", as a user would open it
    raw: dict[str, Any]
    text: str | None = None
    label: str | None = None
    answer: str | None = None  # free-text answer (answer_field): the assistant turn of a row with no label
    messages: list[Any] | None = None  # set for rows that are already chats
    problem: str | None = None


@dataclass
class Example:
    """A valid chat example. `group` ties kept near-duplicates together so the split keeps them in one split."""

    id: str
    source: str
    messages: list[Message]
    label: str | None
    raw: dict[str, Any]
    group: str | None = None  # id of the first member of its duplicate cluster, when duplicates are kept

    @property
    def text(self) -> str:
        """The user turns joined: what dedup, leakage and label-noise checks look at."""
        return "\n".join(m["content"] for m in self.messages if m["role"] == "user")

    def user_turns(self) -> list[str]:
        return [m["content"] for m in self.messages if m["role"] == "user"]

    def to_output(self) -> dict[str, Any]:
        """The line written to train/val/test.jsonl (the training stage reads exactly this)."""
        return {"id": self.id, "messages": self.messages, "label": self.label}


@dataclass
class Rejection:
    """One dropped row: which stage, why, where it came from, and what it was."""

    stage: str
    reason: str
    source: str
    row: dict[str, Any]
    duplicate_of: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        record: dict[str, Any] = {"stage": self.stage, "reason": self.reason, "source": self.source, "row": self.row}
        if self.duplicate_of is not None:
            record["duplicate_of"] = self.duplicate_of
        record.update(self.extra)
        return record


def reject(stage: str, example: Example | SourceRow, reason: str, **extra: Any) -> Rejection:
    """A rejection of `example` carrying its source row as read (PII already redacted after that stage);
    `duplicate_of=` names the kept row's source, other keywords go into the record as they are."""
    duplicate_of = extra.pop("duplicate_of", None)
    return Rejection(stage, reason, example.source, dict(example.raw), duplicate_of, extra)


@dataclass
class StageOutput:
    """What a stage returns: the examples that go on, the rows it dropped, and figures for curation.json."""

    kept: list[Example]
    rejected: list[Rejection] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    review: list[dict[str, Any]] = field(default_factory=list)  # flagged, not dropped (review.jsonl)
