"""`harness traces import FILE --store DIR`: read a trace export, check every row, redact PII, store.

Redaction comes before anything is written: the Presidio stage curation uses (harness.curation.pii, with
curation's default entities and score bars) runs over every free-text field of every row: each chat turn
(system turns too: production prompts may carry a customer's details), the output, the correction, the
tags and the id. Unlike curation, a row that is mostly PII is kept, redacted: it is still a request the
model served, and its drift and disagreement count.

Bad rows: by default the import is refused, every problem listed as file:line: field: what to fix, and
nothing is stored, so a broken exporter turns the weekly job red instead of thinning the data. With
`--reject-to FILE` the good rows are stored and each bad row goes to FILE (JSONL: source, problems, the
row with its text redacted like any other), and the command says how many and where: nothing is dropped
silently either way.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from harness.golden import display_path
from harness.production.store import STORE_FILE, ImportLog, Stored, TraceStore
from harness.production.traces import Problem, Row, Trace, TraceError, iso, read

SHOWN_PROBLEMS = 20


class Redacts(Protocol):
    """What ingest needs of harness.curation.pii.Redactor: text in, redacted text and entity counts out."""

    def redact(self, text: str) -> Any: ...


@dataclass(frozen=True)
class Imported:
    """What an import did."""

    log: ImportLog
    problems: list[Problem]
    rejected_path: Path | None
    store: TraceStore


def import_traces(
    path: Path, store_dir: Path, redactor: Redacts, *, reject_to: Path | None = None,
    drop_fields: Sequence[str] = (), now: datetime | None = None,
) -> Imported:  # fmt: skip
    """Import one file; raises TraceError (nothing stored) on a bad row unless `reject_to` is given."""
    rows = read(path, drop_fields)
    if not rows:
        raise TraceError(f"{display_path(path)}: no rows — is it the right export?")
    batch = [redact_trace(row.trace, redactor) for row in rows if row.trace is not None]
    store = TraceStore.open(store_dir) if (store_dir / STORE_FILE).is_file() else TraceStore(store_dir)
    merge = store.plan(batch)  # a refused first import leaves no store behind
    problems = [p for row in rows for p in row.problems] + merge.conflicts
    if problems and reject_to is None:
        raise TraceError(_refusal(path, problems))
    rejected = _rejected_rows(rows, merge.conflicts)
    if rejected and reject_to is not None:
        _write_rejected(reject_to, rejected, redactor)
    store = TraceStore.create(store_dir)
    redactions = Counter[str]()
    for item in [*merge.new, *merge.updates]:
        redactions.update(item.redacted)
    log = ImportLog(display_path(path), _sha256(path), len(rows), len(merge.new), len(merge.updates),
                    merge.duplicates, len(rejected), display_path(reject_to) if rejected and reject_to else None,
                    dict(redactions))  # fmt: skip
    store.write(merge, log, now or datetime.now(UTC))
    return Imported(log, problems, reject_to if rejected else None, store)


def redact_trace(trace: Trace, redactor: Redacts) -> Stored:
    """The trace with every free-text field redacted, and a content id when the export gave none."""
    texts, counts = {}, Counter[str]()
    for name, text in trace.text_fields().items():
        result = redactor.redact(text) if text else None
        texts[name] = result.text if result is not None else text
        counts.update(result.counts if result is not None else {})
    redacted = trace.with_texts(texts)
    if not redacted.id:
        redacted = redacted.with_texts({**redacted.text_fields(), "id": content_id(redacted)})
    return Stored(redacted, dict(counts))


def content_id(trace: Trace) -> str:
    """A stable id from what identifies the request (after redaction: an id must not carry PII either)."""
    key = json.dumps([iso(trace.timestamp), trace.model_version, trace.messages, trace.output], ensure_ascii=False)
    return "t-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def redact_value(value: Any, redactor: Redacts) -> Any:
    """Every string inside a parsed row redacted (a bad row is written aside, but never with its PII)."""
    if isinstance(value, str):
        return redactor.redact(value).text if value else value
    if isinstance(value, dict):
        return {redact_value(k, redactor) if isinstance(k, str) else k: redact_value(v, redactor)
                for k, v in value.items()}  # fmt: skip
    if isinstance(value, list):
        return [redact_value(v, redactor) for v in value]
    return value if isinstance(value, int | float | bool) or value is None else "(unreadable)"


def _rejected_rows(rows: Sequence[Row], conflicts: Sequence[Problem]) -> list[tuple[Row, list[Problem]]]:
    by_source: dict[str, list[Problem]] = {}
    for problem in conflicts:
        by_source.setdefault(problem.source, []).append(problem)
    return [(row, row.problems + by_source.get(row.source, [])) for row in rows
            if row.problems or row.source in by_source]  # fmt: skip


def _write_rejected(path: Path, rejected: Sequence[tuple[Row, list[Problem]]], redactor: Redacts) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for row, problems in rejected:
            record = {"source": row.source, "problems": [{"field": p.field, "message": p.message} for p in problems],
                      "row": redact_value(row.raw, redactor)}  # fmt: skip
            f.write(json.dumps(record, ensure_ascii=False) + "\n")


def _refusal(path: Path, problems: Sequence[Problem]) -> str:
    rows = len({p.source for p in problems})
    listed = "\n  ".join(str(p) for p in problems[:SHOWN_PROBLEMS])
    more = f"\n  … and {len(problems) - SHOWN_PROBLEMS} more" if len(problems) > SHOWN_PROBLEMS else ""
    return (f"nothing imported: {rows} row(s) of {display_path(path)} cannot be used:\n  {listed}{more}\n"
            "fix the export, or pass --reject-to FILE to store the good rows and set these aside (redacted)")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
