"""The trace format: one logged production request per JSONL line or CSV row, checked field by field.

    {"messages": [{"role": "user", "content": "my card never came"}],   # or "text": "my card never came"
     "output": "card_arrival", "model_version": "3", "timestamp": "2025-06-02T09:14:03Z",
     "correction": "card_delivery_estimate", "feedback": "down", "confidence": 0.41,
     "tags": {"channel": "app"}}

Required: `messages` (a chat ending on the user's turn) or `text` (one user turn), `output` (what the model
answered), `model_version` (a registry version or a model fingerprint) and `timestamp` (ISO 8601 with a
time zone, `Z` or `+02:00`: a naive time would make "the last 7 days" depend on where the job runs).
Optional: `id` (else a hash of the redacted content), `correction` (the answer a user or agent put right),
`feedback` (`up` / `down`; `+1` / `-1` too), `confidence` (in [0, 1]) or `logprob` (<= 0), and `tags`
(an object of short strings, e.g. the channel; CSV: one `tag.NAME` column each) to slice by.

A field this format does not know is a problem, as in every harness input: a misspelt `corection` must
not vanish. Fields a log carries that traces have no use for are named with `--drop-field`.

Parsing only: nothing here redacts or stores (harness.production.store does both). A problem message
names the file:line and the field and says how to fix it, but never quotes a free-text value: the row
has not been redacted yet, and messages end up in CI logs.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.errors import InputDataError
from harness.golden import display_path, not_utf8

REQUIRED = ("output", "model_version", "timestamp")
"""Besides the input, which is `messages` or `text`."""
OPTIONAL = ("id", "correction", "feedback", "confidence", "logprob", "tags")
FIELDS = ("messages", "text", *REQUIRED, *OPTIONAL)
TAG_PREFIX = "tag."
"""A CSV column `tag.channel` is the tag `channel`."""
ROLES = ("system", "user", "assistant")
FEEDBACK = {"up": "up", "down": "down", "+1": "up", "-1": "down", "1": "up", "thumbs_up": "up",
            "thumbs_down": "down"}  # fmt: skip
MAX_TAG_CHARS = 200


class TraceError(InputDataError):
    """A trace file, the trace store or a drift reference cannot be used; the message says where and how to fix it."""


@dataclass(frozen=True)
class Trace:
    """One production request, as stored (PII already redacted when it comes out of a store)."""

    id: str
    timestamp: datetime
    """In UTC."""
    model_version: str
    messages: list[dict[str, str]]
    output: str
    correction: str | None = None
    feedback: str | None = None
    """"up", "down" or None."""
    confidence: float | None = None
    logprob: float | None = None
    tags: dict[str, str] = field(default_factory=dict)
    source: str = ""
    """The file:line it was imported from."""

    @property
    def input(self) -> str:
        """The user's last turn: what drift embeds and what a reviewer reads."""
        return next(m["content"] for m in reversed(self.messages) if m["role"] == "user")

    @property
    def negative(self) -> bool:
        """A user put the answer right, or said it was wrong."""
        return self.feedback == "down" or (self.correction is not None and self.correction != self.output)

    def certainty(self) -> float | None:
        """How sure the model was, on one scale for ranking: the confidence, else the log-probability."""
        return self.confidence if self.confidence is not None else self.logprob

    def with_texts(self, texts: Mapping[str, str]) -> Trace:
        """This trace with its free-text fields replaced (redaction): keys as `text_fields` names them."""
        messages = [{**m, "content": texts[f"messages.{i}"]} for i, m in enumerate(self.messages)]
        tags = {k: texts[f"tags.{k}"] for k in self.tags}
        correction = texts["correction"] if self.correction is not None else None
        return replace(self, id=texts["id"], messages=messages, output=texts["output"], correction=correction,
                       tags=tags)  # fmt: skip

    def text_fields(self) -> dict[str, str]:
        """Every free-text field a person may have typed into, by name: what redaction must see."""
        texts = {"id": self.id, "output": self.output, **{f"tags.{k}": v for k, v in self.tags.items()}}
        texts.update({f"messages.{i}": m["content"] for i, m in enumerate(self.messages)})
        if self.correction is not None:
            texts["correction"] = self.correction
        return texts


@dataclass(frozen=True)
class Problem:
    """What is wrong with one field of one row."""

    source: str
    """file:line."""
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}: {self.field}: {self.message}"


@dataclass
class Row:
    """A row as read: where it is, its fields (values not yet checked) and what is wrong with it."""

    source: str
    raw: dict[str, Any]
    problems: list[Problem] = field(default_factory=list)
    trace: Trace | None = None


def read(path: Path, drop_fields: Sequence[str] = ()) -> list[Row]:
    """Every row of a .jsonl or .csv trace file, each parsed into a Trace or carrying its problems. A file
    that cannot be read at all (not UTF-8, an unusable CSV header) raises TraceError."""
    if not path.is_file():
        raise TraceError(f"{display_path(path)}: no such file — pass the exported traces (.jsonl or .csv)")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        rows = list(_jsonl_rows(path, _text(path)))
    elif suffix == ".csv":
        rows = list(_csv_rows(path, _text(path), drop_fields))
    else:
        raise TraceError(f"{display_path(path)}: cannot tell the format from {suffix!r} — export .jsonl or .csv")
    for row in rows:
        if not row.problems:
            row.trace = parse(row, drop_fields)
    return rows


def _text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise TraceError(f"{display_path(path)}:{not_utf8(data, error)}") from None


def _jsonl_rows(path: Path, text: str) -> Iterator[Row]:
    shown = display_path(path)
    for number, line in enumerate(text.split("\n"), start=1):  # "\n" only: U+2028 inside a string is text
        if not line.strip():
            continue
        where = f"{shown}:{number}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as error:
            yield Row(where, {"line": line}, [Problem(where, "(line)", f"invalid JSON: {error.msg} (column "
                                                      f"{error.colno}) — one JSON object per line")])  # fmt: skip
            continue
        if not isinstance(obj, dict):
            yield Row(where, {"line": line}, [Problem(where, "(line)", f"a JSON {type(obj).__name__}, not an object")])
            continue
        yield Row(where, obj)


def _csv_rows(path: Path, text: str, drop_fields: Sequence[str]) -> Iterator[Row]:
    shown = display_path(path)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    _check_header(shown, header, drop_fields)
    start = reader.line_num + 1
    for record in reader:  # a quoted cell may span lines: a row's line is where it starts
        line, start = start, reader.line_num + 1
        where = f"{shown}:{line}"
        if None in record:
            raw = {k: v for k, v in record.items() if k is not None}
            yield Row(where, raw, [Problem(where, "(row)", f"more cells than the header's {len(header)} columns "
                                                            "— fix the quoting")])  # fmt: skip
            continue
        if any(v is None for v in record.values()):
            missing = [k for k, v in record.items() if v is None]
            yield Row(where, dict(record), [Problem(where, missing[0], "the row has fewer cells than the header")])
            continue
        yield Row(where, _from_csv(record))


def _check_header(shown: str, header: Sequence[str], drop_fields: Sequence[str]) -> None:
    """Columns every row needs, and none the format does not know: both would fail every row alike."""
    unknown = [c for c in header if c not in FIELDS and not c.startswith(TAG_PREFIX) and c not in drop_fields]
    problems = [f"unknown column {c!r}{_suggest(c)}" for c in unknown]
    problems += [f"no column {c!r}, which every trace needs" for c in REQUIRED if c not in header]
    if "messages" not in header and "text" not in header:
        problems.append("no column 'text' or 'messages': the user's input is required")
    if problems:
        raise TraceError(f"{shown}:1: " + "; ".join(problems) + f" — columns: {', '.join(FIELDS)} and tag.NAME")


def _from_csv(record: Mapping[str, str]) -> dict[str, Any]:
    """A CSV row as the JSONL object it stands for: empty cells absent, tag.NAME columns in `tags`,
    `messages` as its JSON."""
    raw: dict[str, Any] = {}
    for key, value in record.items():
        if value == "":
            continue
        if key.startswith(TAG_PREFIX):
            raw.setdefault("tags", {})[key[len(TAG_PREFIX) :]] = value
        elif key == "messages":
            try:
                raw[key] = json.loads(value)
            except json.JSONDecodeError:
                raw[key] = _BadJSON()
        else:
            raw[key] = value
    return raw


class _BadJSON:
    """A `messages` cell that was not JSON: reported as such by `parse`."""


def parse(row: Row, drop_fields: Sequence[str] = ()) -> Trace | None:
    """The row's Trace, or None with every problem of the row added to `row.problems`."""
    raw, where, problems = row.raw, row.source, row.problems

    def problem(name: str, message: str) -> None:
        problems.append(Problem(where, name, message))

    for name in raw:
        if name not in FIELDS and name not in drop_fields:
            problem(name, f"unknown field{_suggest(name)}")
    messages = _messages(raw, problem)
    output = _required_text(raw, "output", problem)
    version = _required_text(raw, "model_version", problem)
    timestamp = _timestamp(raw.get("timestamp"), problem)
    correction = _optional_text(raw, "correction", problem)
    feedback = _feedback(raw.get("feedback"), problem)
    confidence = _number(raw, "confidence", 0.0, 1.0, problem)
    logprob = _number(raw, "logprob", -math.inf, 0.0, problem)
    tags = _tags(raw.get("tags"), problem)
    trace_id = _optional_text(raw, "id", problem)
    if problems:
        return None
    assert messages is not None and output is not None and version is not None and timestamp is not None
    return Trace(trace_id or "", timestamp, version, messages, output, correction, feedback, confidence, logprob,
                 tags, where)  # fmt: skip


def _suggest(name: str) -> str:
    close = difflib.get_close_matches(name, FIELDS, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f" — {hint}valid: {', '.join(FIELDS)}; or leave it out with --drop-field {name}"


def _messages(raw: Mapping[str, Any], problem: Any) -> list[dict[str, str]] | None:
    if "messages" in raw and "text" in raw:
        problem("messages", "the row has both 'messages' and 'text' — keep one: the chat, or its single user turn")
        return None
    if "text" in raw:
        text = raw["text"]
        if not isinstance(text, str) or not text.strip():
            problem("text", "must be the user's message, a non-empty string")
            return None
        return [{"role": "user", "content": text}]
    if "messages" not in raw:
        problem("messages", "missing — give 'messages' (the chat) or 'text' (the user's message)")
        return None
    return _chat(raw["messages"], problem)


def _chat(value: Any, problem: Any) -> list[dict[str, str]] | None:
    if isinstance(value, _BadJSON):
        problem("messages", 'not JSON — write the chat as [{"role": "user", "content": "..."}]')
        return None
    if not isinstance(value, list) or not value:
        problem("messages", 'must be a non-empty list of {"role", "content"} turns')
        return None
    turns = []
    for i, turn in enumerate(value):
        if not isinstance(turn, dict) or set(turn) != {"role", "content"}:
            problem(f"messages.{i}", 'must be an object with exactly "role" and "content"')
            return None
        if turn["role"] not in ROLES or not isinstance(turn["content"], str):
            problem(f"messages.{i}", f"role must be one of {', '.join(ROLES)} and content a string")
            return None
        turns.append({"role": turn["role"], "content": turn["content"]})
    if turns[-1]["role"] != "user" or not turns[-1]["content"].strip():
        problem(f"messages.{len(turns) - 1}", "the chat must end on the user's (non-empty) turn the output answers; "
                "put the model's answer in 'output'")  # fmt: skip
        return None
    return turns


def _required_text(raw: Mapping[str, Any], name: str, problem: Any) -> str | None:
    if name not in raw:
        problem(name, "missing — every trace needs it")
        return None
    return _optional_text(raw, name, problem)


def _optional_text(raw: Mapping[str, Any], name: str, problem: Any) -> str | None:
    value = raw.get(name)
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool) and name in ("id", "model_version"):
        return str(value)  # `"model_version": 3` means version 3
    if not isinstance(value, str):
        problem(name, f"must be a string, got {type(value).__name__}")
        return None
    if name != "output" and not value.strip():
        problem(name, "is blank — leave it out instead")
        return None
    return value


def _timestamp(value: Any, problem: Any) -> datetime | None:
    if value is None:
        problem("timestamp", "missing — every trace needs when it was served, ISO 8601 (2025-06-02T09:14:03Z)")
        return None
    if not isinstance(value, str):
        problem("timestamp", f"must be an ISO 8601 string, got {type(value).__name__}")
        return None
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        problem("timestamp", f"{value[:40]!r} is not ISO 8601 — write e.g. 2025-06-02T09:14:03Z")
        return None
    if when.tzinfo is None:
        problem("timestamp", f"{value[:40]!r} has no time zone — add Z (UTC) or an offset such as +02:00")
        return None
    return when.astimezone(UTC)


def _feedback(value: Any, problem: Any) -> str | None:
    if value is None or value == "":
        return None
    key = str(value).strip().lower() if not isinstance(value, bool) else None
    if key not in FEEDBACK:
        problem("feedback", f"{str(value)[:20]!r} is not up or down (+1 / -1 also read) — fix it or leave it out")
        return None
    return FEEDBACK[key]


def _number(raw: Mapping[str, Any], name: str, low: float, high: float, problem: Any) -> float | None:
    value = raw.get(name)
    if value is None:
        return None
    try:
        number = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        number = math.nan
    if not low <= number <= high:  # NaN fails too
        bound = "in [0, 1]" if name == "confidence" else "a log-probability, <= 0"
        problem(name, f"{str(value)[:20]!r} must be a number {bound}")
        return None
    return number


def _tags(value: Any, problem: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        problem("tags", 'must be an object of short strings, e.g. {"channel": "app"}')
        return {}
    tags = {}
    for key, item in value.items():
        if isinstance(item, bool) or not isinstance(item, str | int | float) or len(str(item)) > MAX_TAG_CHARS:
            problem(f"tags.{key}", f"must be a string (or number) of at most {MAX_TAG_CHARS} characters")
            continue
        tags[str(key)] = str(item)
    return tags


def to_record(trace: Trace) -> dict[str, Any]:
    """The trace as one JSON object in this format (what `--reject-to` and exports write)."""
    record: dict[str, Any] = {"id": trace.id, "messages": trace.messages, "output": trace.output,
                              "model_version": trace.model_version, "timestamp": iso(trace.timestamp)}  # fmt: skip
    optional = {"correction": trace.correction, "feedback": trace.feedback, "confidence": trace.confidence,
                "logprob": trace.logprob, "tags": trace.tags or None}  # fmt: skip
    record.update({k: v for k, v in optional.items() if v is not None})
    return record


def iso(when: datetime) -> str:
    """UTC, microseconds, `Z`: one fixed width, so stored timestamps sort as text."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
