"""Stage 1, schema: source rows → chat examples, each checked before any other stage sees it.

A text/label row becomes [system?, user: text, assistant: label]; a text/answer row (`answer_field`, an
extraction or generation task) [system?, user: text, assistant: answer], with no label. The system prompt
is the golden set's own (`prompt.system_from`), verbatim, so the model is trained on exactly the prompt it
is evaluated with. A chat row passes through as it is. Either way the conversation must start with a
system or user turn, alternate user/assistant after that, end on an assistant turn, have no empty turn,
fit the length bounds, and carry a known label when a label list is configured.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.curation.config import CurationError, SchemaConfig
from harness.curation.records import Example, Message, SourceRow, StageOutput, reject
from harness.golden import GoldenError, display_path, load_file

STAGE = "schema"
ROLES = ("system", "user", "assistant")


def system_prompt(system: str | None, system_from: Path | None) -> str | None:
    """The literal prompt, or messages[0].content of the first case of a golden file (must be a system turn)."""
    if system_from is None:
        return system
    try:
        cases = load_file(system_from)
    except GoldenError as error:
        raise CurationError(f"prompt.system_from: {error}") from None
    first = cases[0]
    if not first.messages or first.messages[0]["role"] != "system":
        raise CurationError(
            f"{display_path(system_from)}: case {first.id} has no system turn to copy — "
            "use prompt.system: \"...\" or leave prompt out"
        )
    return first.messages[0]["content"]


def load_labels(path: Path | None) -> list[str] | None:
    if path is None:
        return None
    try:
        labels = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise CurationError(f"{display_path(path)}: cannot read the label list ({error})") from None
    if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
        raise CurationError(f"{display_path(path)}: must be a JSON list of label strings")
    return labels


def validate(rows: list[SourceRow], system: str | None, labels: list[str] | None, bounds: SchemaConfig) -> StageOutput:
    """Build and check each row's conversation; the reason of each rejection names the first problem."""
    known = set(labels) if labels is not None else None
    kept, rejected = [], []
    for row in rows:
        messages, problem = _conversation(row, system)
        problem = problem or _label_problem(row.label, known) or _conversation_problem(messages, bounds)
        if problem:
            rejected.append(reject(STAGE, row, problem))
        else:
            kept.append(Example(row.id, row.source, messages, row.label, row.raw))
    return StageOutput(kept, rejected, {"system_prompt_chars": len(system or "")})


def _conversation(row: SourceRow, system: str | None) -> tuple[list[Message], str | None]:
    if row.problem:
        return [], row.problem
    if row.messages is not None:
        return _as_messages(row.messages)
    text = (row.text or "").strip()  # surrounding whitespace (train.csv has "\n..." rows) is not content
    if not text:
        return [], "empty text"
    answer = row.label if row.answer is None else row.answer.strip()
    if not answer:
        return [], "empty label" if row.answer is None else "empty answer"
    head: list[Message] = [{"role": "system", "content": system}] if system else []
    return [*head, {"role": "user", "content": text}, {"role": "assistant", "content": answer}], None


def _as_messages(value: Any) -> tuple[list[Message], str | None]:
    if not isinstance(value, list) or not value:
        return [], "messages must be a non-empty list of {role, content} objects"
    messages: list[Message] = []
    for i, turn in enumerate(value):
        if not isinstance(turn, dict) or set(turn) - {"role", "content"} or "role" not in turn:
            return [], f"messages[{i}] must be an object with only 'role' and 'content'"
        if not isinstance(turn.get("content"), str):
            return [], f"messages[{i}].content must be text"
        messages.append({"role": str(turn["role"]), "content": turn["content"]})
    return messages, None


def _label_problem(label: str | None, known: set[str] | None) -> str | None:
    if known is None or label is None or label in known:
        return None
    return f"unknown label {label!r}: not in the configured label list"


def _conversation_problem(messages: list[Message], bounds: SchemaConfig) -> str | None:
    roles = [m["role"] for m in messages]
    if unknown := [r for r in roles if r not in ROLES]:
        return f"unknown role {unknown[0]!r}: use system, user or assistant"
    if roles[0] not in ("system", "user"):
        return f"starts with a {roles[0]} turn: must start with a system or user turn"
    if "system" in roles[1:]:
        return f"system turn at messages[{roles.index('system', 1)}]: only the first turn may be a system turn"
    body = roles[1:] if roles[0] == "system" else roles
    for i, role in enumerate(body):
        if role != ("user" if i % 2 == 0 else "assistant"):
            return f"roles {roles} do not alternate user/assistant after the system turn"
    if roles[-1] != "assistant":
        return f"ends on a {roles[-1]} turn: the last turn must be the assistant's answer"
    if empty := [i for i, m in enumerate(messages) if not m["content"].strip()]:
        return f"messages[{empty[0]}] ({roles[empty[0]]}) is empty"
    length = sum(len(m["content"]) for m in messages if m["role"] != "system")
    if not bounds.min_chars <= length <= bounds.max_chars:
        return f"{length} characters outside the bounds [{bounds.min_chars}, {bounds.max_chars}]"
    return None
