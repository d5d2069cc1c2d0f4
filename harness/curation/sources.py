"""Raw data → `SourceRow`s, each with the file:line it came from. Parsing only: a row that cannot be read
(a bad JSON line, a missing field) becomes a row with a `problem`, which the schema stage rejects, so
one bad line never stops a run and is never dropped silently. A file that cannot be read at all (no such
column in the CSV header, not UTF-8) is bad input and stops the run with a message.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.curation.config import CurationError, SourceConfig
from harness.curation.records import SourceRow, project_path
from harness.golden import display_path, not_utf8


def read(path: Path, source: SourceConfig, root: Path | None = None) -> list[SourceRow]:
    """Every row of one source, in file order; sources are recorded relative to `root` (the project)."""
    kind = source.format if source.format != "auto" else _detect(path)
    readers = {"csv": _read_csv, "jsonl": _read_jsonl, "hf": _read_hf}
    rows = list(readers[kind](path, source, project_path(path, root)))
    return rows if source.max_rows is None else rows[: source.max_rows]


def sha256(path: Path) -> str:
    """Of a file, or of a datasets dir (its files in name order), for curation.json's provenance."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode() + b"\0")
        with file.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _detect(path: Path) -> str:
    if path.is_dir():
        return "hf"
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        return "csv"
    if suffix in (".jsonl", ".json", ".ndjson"):
        return "jsonl"
    raise CurationError(f"{display_path(path)}: cannot tell the format from '{suffix}' — set format: csv|jsonl|hf")


def _read_csv(path: Path, source: SourceConfig, shown: str) -> Iterator[SourceRow]:
    text = _read_text(path)
    lines = io.StringIO(text, newline="").readlines()  # split as the csv reader counts lines
    reader = csv.DictReader(io.StringIO(text, newline=""),
                            delimiter="\t" if path.suffix.lower() == ".tsv" else ",")  # fmt: skip
    header = reader.fieldnames or []
    for name in (source.text_field, source.label_field, source.answer_field):
        if name is not None and name not in header:
            fix = "set text_field / label_field / answer_field in the source's config"
            raise CurationError(f"{display_path(path)}:1: no column '{name}' in the header {header} — {fix}")
    start = reader.line_num + 1
    for record in reader:  # a quoted field may span lines: the row's line is where it starts
        line, start = start, reader.line_num + 1
        raw = {k: v for k, v in record.items() if k is not None}
        row = SourceRow(f"{path.name}:{line}", f"{shown}:{line}", raw)
        missing = [k for k, v in raw.items() if v is None]
        if None in record:
            row.problem = f"{len(record[None])} more field(s) than the header's {len(header)} — fix the quoting"
        elif missing:
            row.problem = f"missing column(s) {missing}: the row has fewer fields than the header"
        else:
            _fill(row, raw, source)
        if row.problem:  # the header's columns would hide the extra fields: rejected.jsonl keeps the row as written
            row.raw = {"line": "".join(lines[line - 1 : start - 1]).rstrip("\r\n")}
        yield row


def _read_jsonl(path: Path, source: SourceConfig, shown: str) -> Iterator[SourceRow]:
    for number, line in enumerate(_read_text(path).split("\n"), start=1):  # "\n" only: U+2028 inside strings is text
        if not line.strip():
            continue
        row = SourceRow(f"{path.name}:{number}", f"{shown}:{number}", {"line": line})
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as error:
            row.problem = f"invalid JSON: {error.msg} (column {error.colno}) — one JSON object per line"
            yield row
            continue
        if not isinstance(obj, dict):
            row.problem = f"expected a JSON object, got {type(obj).__name__}"
            yield row
            continue
        row.raw = obj
        _fill(row, obj, source)
        yield row


def _read_hf(path: Path, source: SourceConfig, shown: str) -> Iterator[SourceRow]:
    """A dir written by `Dataset.save_to_disk` (or a DatasetDict's, with `split`)."""
    from datasets import Dataset, DatasetDict, load_from_disk

    try:
        loaded = load_from_disk(str(path))
    except (FileNotFoundError, ValueError) as error:
        raise CurationError(f"{display_path(path)}: not a datasets dir written by save_to_disk ({error})") from None
    if isinstance(loaded, DatasetDict):
        if source.split is None and len(loaded) == 1:
            loaded = next(iter(loaded.values()))
        elif source.split not in loaded:
            fix = f"set split: to one of {list(loaded)}"
            raise CurationError(f"{display_path(path)}: split {source.split!r} not found — {fix}")
        else:
            loaded = loaded[source.split]
    assert isinstance(loaded, Dataset)
    for index, record in enumerate(loaded, start=1):
        raw = dict(record)
        row = SourceRow(f"{path.name}:{index}", f"{shown}:{index}", raw)
        _fill(row, raw, source)
        yield row


def _fill(row: SourceRow, obj: dict[str, Any], source: SourceConfig) -> None:
    """Take the text and label (or the chat) out of a parsed row; leave judging them to the schema stage."""
    if source.messages_field in obj:
        row.messages = obj[source.messages_field]
    elif source.text_field not in obj:
        row.problem = f"field '{source.text_field}' missing — every row needs the text (or '{source.messages_field}')"
        return
    else:
        row.text = obj[source.text_field] if isinstance(obj[source.text_field], str) else None
        if row.text is None:
            row.problem = f"field '{source.text_field}' is {type(obj[source.text_field]).__name__}, not text"
            return
    if source.label_field is not None:
        label = obj.get(source.label_field)
        if label is None and row.messages is None:
            row.problem = f"field '{source.label_field}' missing — add the label or set label_field: null"
        elif label is not None:
            row.label = str(label).strip()
    if source.answer_field is not None and row.messages is None:
        answer = obj.get(source.answer_field)
        if not isinstance(answer, str):
            what = "missing" if answer is None else f"{type(answer).__name__}, not text"
            row.problem = f"field '{source.answer_field}' {what} — every row needs its answer as text"
        else:
            row.answer = answer


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise CurationError(f"{display_path(path)}:{not_utf8(data, error)}") from None

