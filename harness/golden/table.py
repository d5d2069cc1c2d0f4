"""Authoring golden cases from a user's own table (CSV, TSV or JSONL), for `harness golden add`.

Teams keep their examples in spreadsheets with their own column names. This module maps those columns
onto `GoldenCase` fields and validates every row at once, naming both the case field and the user's
column in each problem, so a fix can be made in the spreadsheet the user actually has open.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.golden.cases import GoldenCase, GoldenError, display_path, not_utf8, read_jsonl, validate_rows


def cases_from_table(
    path: Path,
    *,
    id_column: str = "id",
    input_column: str = "input",
    expected_column: str = "expected",
    tags_column: str | None = None,
    system: str | None = None,
) -> list[GoldenCase]:
    """Validated cases from a .csv/.tsv/.jsonl table, one row per case; all problems raised at once.

    Without an `id` column, ids are `<file stem>-0001`, numbered by row. A CSV `expected` cell holding a
    JSON object or array is parsed (a check spec); CSV tags are comma-separated. A JSONL input that is a
    list is taken as a chat; with `system`, a string input becomes [system turn, user turn].
    """
    rows, columns = _read_table(path)
    auto_ids = id_column == "id" and "id" not in columns
    wanted = [input_column, expected_column, *([tags_column] if tags_column else [])]
    missing = [c for c in [*wanted, *([] if auto_ids else [id_column])] if c not in columns]
    if missing:
        have = ", ".join(sorted(columns)) or "none"
        fix = "pass the right name, e.g. input_column='text', expected_column='label'"
        raise GoldenError([f"{display_path(path)}: no column {', '.join(missing)} (columns: {have}) — {fix}"])
    records = []
    for index, (line, row) in enumerate(rows, start=1):
        case_id = f"{path.stem}-{index:04d}" if auto_ids else row.get(id_column)
        record = {"id": case_id, **_prompt(row.get(input_column), system)}
        record["expected"] = _expected(row.get(expected_column), from_csv=path.suffix != ".jsonl")
        record["tags"] = _tags(row.get(tags_column)) if tags_column else []
        records.append((line, {key: value for key, value in record.items() if value is not None}))
    columns_of = {"id": id_column, "input": input_column, "messages": input_column,
                  "expected": expected_column, "tags": tags_column}  # fmt: skip
    cases, problems = validate_rows(records, lambda loc: _label(loc, columns_of))
    if problems:
        raise GoldenError.in_file(path, problems)
    return cases


def _prompt(value: Any, system: str | None) -> dict[str, Any]:
    """The case's `messages` or `input` for one cell; a missing cell becomes "" and is reported empty."""
    if isinstance(value, list):
        return {"messages": value}
    text = "" if value is None else value
    if system is not None:
        return {"messages": [{"role": "system", "content": system}, {"role": "user", "content": text}]}
    return {"input": text}


def _expected(value: Any, *, from_csv: bool) -> Any:
    """A CSV cell holding a JSON object or array is a check spec; any other cell is a label."""
    if not (from_csv and isinstance(value, str) and value.strip().startswith(("{", "["))):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value  # a label that merely starts with a bracket stays a string


def _tags(value: Any) -> Any:
    if isinstance(value, str):
        return [tag.strip() for tag in value.split(",") if tag.strip()]
    return [] if value is None else value


def _label(loc: tuple[int | str, ...], columns_of: Mapping[str, str | None]) -> str:
    field = "field '" + ".".join(str(part) for part in loc) + "'"
    column = columns_of.get(str(loc[0]))
    return f"{field} (column '{column}')" if column else field


def _read_table(path: Path) -> tuple[list[tuple[int, dict[str, Any]]], set[str]]:
    """(line, row) pairs and the column names of a .csv, .tsv or .jsonl table."""
    shown = display_path(path)
    if path.suffix == ".jsonl":
        rows, problems = read_jsonl(path)
        if problems:
            raise GoldenError.in_file(path, problems)
        return rows, {key for _, row in rows for key in row}
    if path.suffix not in (".csv", ".tsv"):
        raise GoldenError([f"{shown}: unsupported table type '{path.suffix}' — export it as .csv or .jsonl"])
    if not path.is_file():
        raise GoldenError([f"{shown}: file not found — check the path"])
    rows = []
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise GoldenError([f"{shown}:{not_utf8(data, error)}"]) from None
    with io.StringIO(text, newline="") as f:
        reader = csv.DictReader(f, delimiter="\t" if path.suffix == ".tsv" else ",")
        start = 2  # line 1 is the header; a quoted cell may span lines, so track where each row starts
        for row in reader:
            rows.append((start, {key: value for key, value in row.items() if key is not None}))
            start = reader.line_num + 1
    return rows, set(reader.fieldnames or [])
