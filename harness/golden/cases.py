"""Golden cases: the `GoldenCase` model, and reading, validating and writing golden set files.

A set is `golden/<name>/cases.jsonl`, one `GoldenCase` per line. Golden sets are written by hand, so
loading checks the whole file and reports every problem at once, each as `path:line: what — how to
fix`: a fix-one-rerun-find-the-next loop over 400 lines wastes an afternoon. Freezing (golden.lock)
lives in `lock.py`; turning a user's CSV/JSONL table into cases, in `table.py`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, TypeAlias, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
    with_config,
)
from pydantic_core import ErrorDetails, PydanticCustomError
from typing_extensions import TypedDict  # pydantic needs this TypedDict on Python < 3.12

from harness.errors import InputDataError

CASES_FILE = "cases.jsonl"
_MAX_SHOWN = 20  # problems printed in one error; all of them stay in GoldenError.problems
Problem: TypeAlias = tuple[int, str]
"""(1-based line number, `what — how to fix`)."""
_SET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_JSON_TYPE = {str: "a string", int: "a number", float: "a number", bool: "true/false",
              type(None): "null", dict: "an object", list: "an array"}  # fmt: skip
_PYDANTIC_TYPE = {"string_type": "a string", "list_type": "an array", "dict_type": "an object"}
_MISSING_HINT = {
    "id": 'add a unique id such as "myset-0001"',
    "expected": "add the expected label (or reference text / check spec)",
    "role": "add role: system, user or assistant",
    "content": "add the message text",
}


class GoldenError(InputDataError):
    """A golden set or table is malformed; `problems` holds one `path:line: what — fix` per problem."""

    def __init__(self, problems: Sequence[str], headline: str | None = None) -> None:
        self.problems = list(problems)
        if headline or len(self.problems) > 1:
            head = headline or f"{len(self.problems)} problems in golden cases:"
            shown = self.problems[:_MAX_SHOWN]
            more = [f"… and {len(self.problems) - _MAX_SHOWN} more"] if len(self.problems) > _MAX_SHOWN else []
            super().__init__("\n  ".join([head, *shown, *more]))
        else:
            super().__init__(self.problems[0] if self.problems else "invalid golden cases")

    @classmethod
    def in_file(cls, path: Path, problems: Iterable[Problem]) -> GoldenError:
        """`path:line: message` for each (line, message), in line order."""
        shown = display_path(path)
        return cls([f"{shown}:{line}: {message}" for line, message in sorted(problems, key=lambda p: p[0])])


def _non_blank(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("blank", "is empty — write the text (whitespace alone does not count)")
    return value


Text: TypeAlias = Annotated[str, AfterValidator(_non_blank)]


@with_config(ConfigDict(extra="forbid"))
class ChatMessage(TypedDict):
    """One chat turn in OpenAI format. A plain dict, so a case's messages go to any model as they are."""

    role: Literal["system", "user", "assistant"]
    content: Text


Expected: TypeAlias = str | dict[str, Any] | list[dict[str, Any]]
"""A label or reference text; a dict (a JSON schema, or a check spec such as
{"check": "bullet_count", "n": 3}); or a list of check dicts that must all pass."""


class GoldenCase(BaseModel):
    """One golden case: what to send to the model (`messages` or `input`) and what counts as right."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Text
    messages: Annotated[list[ChatMessage], Field(min_length=1)] | None = None
    input: Text | None = None
    expected: Expected
    tags: list[Text] = Field(default_factory=list)

    @field_validator("expected", mode="before")
    @classmethod
    def _expected_shape(cls, value: Any) -> Any:
        """One readable error instead of pydantic's one-per-union-branch."""
        if isinstance(value, str) and not value.strip():
            raise PydanticCustomError("blank", "is empty — add the expected label")
        if isinstance(value, list) and value:
            bad = [str(i) for i, item in enumerate(value) if not _is_check(item)]
            if not bad:
                return value
            example = '{"check": "json_valid"}'
            why = f"has item(s) {', '.join(bad)} that are not check objects — give each one, e.g. {example}"
            raise PydanticCustomError("shape", "{why}", {"why": why})
        if isinstance(value, str) or (isinstance(value, dict) and value):
            return value
        why = (
            'must be a label string, an object (JSON schema or check spec such as {"check": "bullet_count",'
            f' "n": 3}}) or a non-empty array of check objects, got {_json_type(value)} — fix the value'
        )
        raise PydanticCustomError("shape", "{why}", {"why": why})

    @model_validator(mode="after")
    def _one_prompt_ending_on_user(self) -> GoldenCase:
        if (self.messages is None) == (self.input is None):
            has = "both" if self.input is not None else "neither"
            why = f"case has {has} of 'messages' and 'input' — give exactly one: a chat or a plain string"
            raise PydanticCustomError("prompt", "{why}", {"why": why})
        if self.messages is not None and self.messages[-1]["role"] != "user":
            role, last = self.messages[-1]["role"], len(self.messages) - 1
            why = (
                f"conversation ends on role '{role}' (messages.{last}) but must end on a user turn "
                "for the model to answer — drop the final turn or put it in 'expected'"
            )
            raise PydanticCustomError("ends_on_user", "{why}", {"why": why})
        return self

    def prompt(self) -> str | list[ChatMessage]:
        """What to send to a model: the chat, or the plain input (which backends send as one user turn)."""
        if self.messages is not None:
            return self.messages
        assert self.input is not None  # guaranteed by _one_prompt_ending_on_user
        return self.input

    @property
    def messages_or_input(self) -> str | list[ChatMessage]:
        return self.prompt()

    def to_json_line(self) -> str:
        """The case as one JSONL line (no newline), leaving out absent fields so files stay diffable."""
        data = self.model_dump(exclude_none=True)
        if not data["tags"]:
            del data["tags"]
        return json.dumps(data, ensure_ascii=False)


def _is_check(item: Any) -> bool:
    return isinstance(item, dict) and isinstance(item.get("check"), str)


def _json_type(value: Any) -> str:
    return _JSON_TYPE.get(type(value), type(value).__name__)


def display_path(path: Path) -> str:
    """`path` relative to the working directory when it is below it, so messages match what users type."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


# --- loading -----------------------------------------------------------------------------------------


def set_path(root: Path, name: str) -> Path:
    """`<root>/<name>/cases.jsonl`; the name is checked so it cannot point outside the root."""
    path = root / name / CASES_FILE
    if problem := set_name_problem(name):
        raise GoldenError([f"{display_path(path)}: {problem}"])
    return path


def set_name_problem(name: str) -> str | None:
    """Why `name` cannot be a golden set's name, or None. One rule for `golden verify`, `freeze` and the
    suites: a set name starts with a letter or digit; directories starting with '.' are scratch space,
    neither frozen nor loaded."""
    if _SET_NAME.fullmatch(name):
        return None
    return (f"golden set name {name!r} is invalid — a set name starts with a letter or digit and holds only "
            "letters, digits, '_', '-' and '.'; rename the directory (one starting with '.' is ignored)")  # fmt: skip


def list_sets(root: Path) -> list[str]:
    """Every `<root>/<name>/cases.jsonl`'s name, except hidden directories (the same files the lock covers)."""
    return sorted(path.parent.name for path in root.glob(f"*/{CASES_FILE}") if not path.parent.name.startswith("."))


def load_set(root: Path, name: str) -> list[GoldenCase]:
    """The cases of golden set `name` under `root` (normally `<repo>/golden`), all validated."""
    path = set_path(root, name)
    if not path.is_file():
        available = ", ".join(list_sets(root)) or "none"
        fix = f"create it with `harness golden add {name} --from FILE`"
        problem = f"{display_path(path)}: golden set '{name}' not found (sets: {available}) — {fix}"
        raise GoldenError([problem])
    return load_file(path)


def load_file(path: Path) -> list[GoldenCase]:
    """Every case in a JSONL file; raises GoldenError listing all problems in the file."""
    return [case for _, case in load_numbered(path)]


def load_numbered(path: Path) -> list[tuple[int, GoldenCase]]:
    """(line number, case) for every case in a JSONL file; raises GoldenError listing all problems in it."""
    rows, problems = read_jsonl(path)
    cases, invalid = validate_rows(rows, _field_label)
    if not rows and not problems:
        raise GoldenError([f"{display_path(path)}: no cases — add one JSON object per line"])
    if problems or invalid:
        raise GoldenError.in_file(path, problems + invalid)
    numbered = [(line, case) for (line, _), case in zip(rows, cases, strict=True)]
    for line, case in numbered:
        _SOURCES[_prompt_key(case.prompt())] = f"{display_path(path)}:{line} (case {case.id!r})"
    return numbered


Item = TypeVar("Item")


def evenly_spread(items: Sequence[Item], limit: int) -> list[Item]:
    """At most `limit` (>= 1) items taken at a fixed step over the whole sequence, first one included.

    Golden sets are written family by family (an intent's cases together), so a prefix would cover a few
    families only; a fixed step covers them all, and the same set gives the same slice on every run. The
    `--golden-limit` smoke slice, the judge suite's judged subset and the adversarial suite's long and
    markup probes are all taken this way."""
    return list(items[:: max(1, len(items) // limit)][:limit])


def shared_ids(files: Mapping[Path, Sequence[tuple[int, GoldenCase]]]) -> list[str]:
    """A problem for each case whose id another golden file already uses.

    Ids are unique across every golden file, not only within a set: results.json, the review export and
    import, the report diff and promotion's paired comparison all match cases by id alone."""
    first: dict[str, str] = {}
    problems = []
    for path, cases in sorted(files.items()):
        for line, case in cases:
            where = f"{display_path(path)}:{line}"
            if case.id in first and not first[case.id].startswith(f"{display_path(path)}:"):
                problems.append(f"{where}: id {case.id!r} is also used by {first[case.id]} — ids must be unique "
                                "across golden sets (reports, review and promotion match cases by id); rename one")
            first.setdefault(case.id, where)
    return problems


_SOURCES: dict[str, str] = {}
"""Prompt hash -> where its case is, for every case loaded in this process. A model error names the prompt
it failed on with `source_of`: backends only ever see prompts, never the cases they came from."""


def source_of(prompt: str | Sequence[Mapping[str, Any]]) -> str | None:
    """`golden/banking77/cases.jsonl:17 (case 'b77-0042')` when `prompt` is a loaded golden case's prompt."""
    return _SOURCES.get(_prompt_key(prompt))


def _prompt_key(prompt: str | Sequence[Mapping[str, Any]]) -> str:
    """The hash of the prompt as a model receives it (a string is one user turn), so both forms match."""
    from harness.models.base import as_messages

    return hashlib.sha256(json.dumps(as_messages(prompt), ensure_ascii=False).encode()).hexdigest()  # type: ignore[arg-type]


def read_jsonl(path: Path) -> tuple[list[tuple[int, dict[str, Any]]], list[Problem]]:
    """(line number, object) per non-blank line, plus a problem per line that is not a JSON object.

    Splits on "\\n" only: str.splitlines() would also split on U+2028 and friends inside JSON strings.
    """
    shown = display_path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise GoldenError([f"{shown}: file not found — check the path"]) from None
    except UnicodeDecodeError as exc:
        raise GoldenError([f"{shown}:{not_utf8(path.read_bytes(), exc)}"]) from None
    rows: list[tuple[int, dict[str, Any]]] = []
    problems: list[Problem] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            fix = "each non-blank line must be one complete JSON object"
            problems.append((number, f"invalid JSON: {exc.msg} (column {exc.colno}) — {fix}"))
            continue
        if not isinstance(obj, dict):
            fix = 'write one case per line as {"id": ..., "expected": ...}'
            problems.append((number, f"expected a JSON object, got {_json_type(obj)} — {fix}"))
            continue
        rows.append((number, obj))
    return rows, problems


def not_utf8(data: bytes, error: UnicodeDecodeError) -> str:
    """`12: not UTF-8 (invalid start byte 0xff in column 7) — save it as UTF-8`: the line a person can open,
    not the byte offset the decoder reports."""
    line = data.count(b"\n", 0, error.start) + 1
    column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
    byte = data[error.start : error.start + 1].hex()
    return f"{line}: not UTF-8 ({error.reason}: byte 0x{byte}, byte {column} of the line) — save the file as UTF-8"


FieldLabel: TypeAlias = Callable[[tuple[int | str, ...]], str]


def _field_label(loc: tuple[int | str, ...]) -> str:
    return "field '" + ".".join(str(part) for part in loc) + "'"


def validate_rows(
    rows: Iterable[tuple[int, Mapping[str, Any]]], label: FieldLabel = _field_label
) -> tuple[list[GoldenCase], list[Problem]]:
    """The valid cases, and every problem (field errors, duplicate ids) in the rest."""
    cases: list[GoldenCase] = []
    problems: list[Problem] = []
    first_line: dict[str, int] = {}
    for number, row in rows:
        case_id = row.get("id")
        if isinstance(case_id, str) and case_id in first_line:
            first, fix = first_line[case_id], "rename one: ids must be unique within a set"
            problems.append((number, f"duplicate id '{case_id}' (also on line {first}) — {fix}"))
        elif isinstance(case_id, str):
            first_line[case_id] = number
        try:
            cases.append(GoldenCase.model_validate(row))
        except ValidationError as exc:
            problems.extend((number, _describe(err, label)) for err in exc.errors())
    return cases, problems


def _describe(err: ErrorDetails, label: FieldLabel) -> str:
    """One pydantic error as `what — how to fix`, naming the field by its dotted path."""
    loc, kind = err["loc"], err["type"]
    if not loc:  # model-level checks write the whole sentence themselves
        return err["msg"]
    name = label(loc)
    if kind == "missing":
        return f"{name} missing — {_MISSING_HINT.get(str(loc[-1]), 'add it')}"
    if kind == "extra_forbidden":
        allowed = ", ".join(GoldenCase.model_fields) if len(loc) == 1 else "role, content"
        return f"unknown {name} — remove it or fix its spelling (allowed: {allowed})"
    if kind == "literal_error":
        return f"{name} is {err['input']!r} — use one of {err.get('ctx', {}).get('expected')}"
    if kind.endswith("_type"):
        wanted = _PYDANTIC_TYPE.get(kind, "an object")
        return f"{name} must be {wanted}, got {_json_type(err['input'])} — fix the value"
    if kind == "too_short":
        return f"{name} is empty — add at least one user turn"
    return f"{name} {err['msg']}"


def write_file(path: Path, cases: Sequence[GoldenCase]) -> None:
    """Write `cases` to `path` (one JSON line each, LF endings: byte-identical on every platform), then
    load it back, so a builder never leaves a file the suites would refuse."""
    path.write_text("".join(case.to_json_line() + "\n" for case in cases), encoding="utf-8", newline="\n")
    if len(load_file(path)) != len(cases):
        raise GoldenError([f"{display_path(path)}: wrote {len(cases)} cases but read back a different number"])


def _ids_elsewhere(root: Path, path: Path) -> dict[str, str]:
    """Case id -> file, over the golden files under root other than `path` (hidden directories skipped,
    as the lock skips them). A file that does not load is left to `freeze`, which reports it."""
    ids: dict[str, str] = {}
    for other in sorted(root.rglob("*.jsonl")):
        if other.resolve() == path.resolve() or any(p.startswith(".") for p in other.relative_to(root).parts):
            continue
        try:
            ids.update((case.id, display_path(other)) for case in load_file(other))
        except GoldenError:
            continue
    return ids


def append_cases(root: Path, set_name: str, cases: Sequence[GoldenCase]) -> Path:
    """Append `cases` to `<root>/<set_name>/cases.jsonl` (created if absent); refuses ids already used.

    The existing file is validated first, so a broken set is never appended to.
    """
    path = set_path(root, set_name)
    taken = {case.id: display_path(path) for case in load_file(path)} if path.is_file() else {}
    taken |= _ids_elsewhere(root, path)
    clashes: list[str] = []
    for case in cases:
        if case.id in taken:
            clashes.append(f"{case.id} ({taken[case.id]})" if taken[case.id] != display_path(path) else case.id)
        taken[case.id] = display_path(path)
    if clashes:
        shown = ", ".join(clashes[:10]) + (" …" if len(clashes) > 10 else "")
        fix = "rename them (ids are unique across golden sets), or leave out the id column to get fresh ids"
        raise GoldenError([f"{display_path(path)}: {len(clashes)} id(s) already taken: {shown} — {fix}"])
    if not cases:
        return path  # an empty file would not load: "no cases"
    path.parent.mkdir(parents=True, exist_ok=True)
    needs_newline = path.is_file() and path.stat().st_size > 0 and not path.read_bytes().endswith(b"\n")
    with path.open("a", encoding="utf-8", newline="\n") as f:
        f.write(("\n" if needs_newline else "") + "".join(case.to_json_line() + "\n" for case in cases))
    return path
