"""The trace store: one SQLite file, `DIR/traces.sqlite`, holding redacted traces and a log of imports.

SQLite because the store is appended to once a week and read as "the last N days": one file a CI job can
cache or copy, an import that lands in one transaction or not at all, an index on the timestamp, readers
while a writer works, and no dependency beyond the standard library (the generation cache is SQLite too).
Only redacted text is ever written here: `harness.production.ingest` redacts before it calls `add`.

A trace's id is its key. The same request exported twice (weekly exports overlap) is stored once; an
export that adds a correction or feedback to a stored trace fills those fields in. A trace whose id is
stored with a different input, output, version or time is a conflict, never an overwrite.
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager, nullcontext
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from harness.golden import display_path
from harness.production.traces import Problem, Trace, TraceError, iso

STORE_FILE = "traces.sqlite"
SCHEMA_VERSION = "1"
SCHEMA = """
CREATE TABLE IF NOT EXISTS traces (
    id TEXT PRIMARY KEY,
    timestamp TEXT NOT NULL,
    model_version TEXT NOT NULL,
    messages TEXT NOT NULL,
    input TEXT NOT NULL,
    output TEXT NOT NULL,
    correction TEXT,
    feedback TEXT,
    confidence REAL,
    logprob REAL,
    tags TEXT NOT NULL,
    source TEXT NOT NULL,
    import_id INTEGER NOT NULL,
    redacted TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS traces_by_time ON traces (timestamp);
CREATE TABLE IF NOT EXISTS imports (
    id INTEGER PRIMARY KEY,
    file TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    imported_at TEXT NOT NULL,
    rows INTEGER NOT NULL,
    stored INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    duplicates INTEGER NOT NULL,
    rejected INTEGER NOT NULL,
    rejected_file TEXT,
    redactions TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
IDENTITY = ("timestamp", "model_version", "messages", "output")
"""What makes two traces under one id the same request."""
FILLABLE = ("correction", "feedback", "confidence", "logprob")
"""What a later export may add to a stored trace."""


@dataclass(frozen=True)
class Stored:
    """A redacted trace ready to store, with the entities its redaction replaced."""

    trace: Trace
    redacted: dict[str, int]


@dataclass(frozen=True)
class ImportLog:
    """One line of the `imports` table: what an import read and what became of each row."""

    file: str
    sha256: str
    rows: int
    stored: int
    updated: int
    duplicates: int
    rejected: int
    rejected_file: str | None
    redactions: dict[str, int]


@dataclass(frozen=True)
class Merge:
    """What `plan` decided for a batch: new traces, stored ones to fill in, duplicates, and conflicts."""

    new: list[Stored]
    updates: list[Stored]
    duplicates: int
    conflicts: list[Problem]


class TraceStore:
    """Traces in `directory/traces.sqlite`. `open` refuses a directory without a store; `create` makes one;
    `TraceStore(directory)` alone can `plan` an import into a store that does not exist yet."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / STORE_FILE

    @classmethod
    def open(cls, directory: Path) -> TraceStore:
        store = cls(directory)
        if not store.path.is_file():
            raise TraceError(f"{display_path(directory)}: no trace store here ({STORE_FILE} missing) — import "
                             f"traces first: harness traces import FILE --store {display_path(directory)}")  # fmt: skip
        with store._connect() as db:
            found = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        if found is None or found[0] != SCHEMA_VERSION:
            raise TraceError(f"{display_path(store.path)}: schema {found[0] if found else 'unknown'}, this harness "
                             f"reads {SCHEMA_VERSION} — re-import the traces into a new store")  # fmt: skip
        return store

    @classmethod
    def create(cls, directory: Path) -> TraceStore:
        """The store in `directory`, made if absent."""
        directory.mkdir(parents=True, exist_ok=True)
        store = cls(directory)
        with store._connect() as db:
            db.executescript(SCHEMA)
            db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
        return cls.open(directory)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection whose `with` block is one transaction; closed afterwards. The rollback journal (not
        WAL) keeps the store one file, so copying it copies everything."""
        with closing(sqlite3.connect(self.path, timeout=30)) as db, db:
            yield db

    # --- writing -----------------------------------------------------------------------------------------

    def plan(self, batch: Sequence[Stored]) -> Merge:
        """Sort a batch against the store and itself: new, fills for stored traces, duplicates, conflicts."""
        new: dict[str, Stored] = {}
        updates: dict[str, Stored] = {}
        duplicates, conflicts = 0, []
        with self._connect() if self.path.is_file() else nullcontext(None) as db:  # no store yet: nothing stored
            for item in batch:
                trace = item.trace
                earlier = new.get(trace.id) or updates.get(trace.id) or (self._stored(db, trace.id) if db else None)
                if earlier is None:
                    new[trace.id] = item
                    continue
                merged, problem = _merge(earlier, item)
                if problem:
                    conflicts.append(problem)
                elif merged is earlier:
                    duplicates += 1
                elif trace.id in new:
                    new[trace.id] = merged
                else:
                    updates[trace.id] = merged
        return Merge(list(new.values()), list(updates.values()), duplicates, conflicts)

    def write(self, merge: Merge, log: ImportLog, imported_at: datetime) -> int:
        """Store a planned batch and its import log in one transaction; returns the import's id."""
        with self._connect() as db:
            cursor = db.execute(
                "INSERT INTO imports (file, sha256, imported_at, rows, stored, updated, duplicates, rejected, "
                "rejected_file, redactions) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (log.file, log.sha256, iso(imported_at), log.rows, log.stored, log.updated, log.duplicates,
                 log.rejected, log.rejected_file, json.dumps(log.redactions, sort_keys=True)),
            )  # fmt: skip
            import_id = int(cursor.lastrowid or 0)
            db.executemany(f"INSERT INTO traces VALUES ({', '.join('?' * 14)})",
                           [_row(item, import_id) for item in merge.new])  # fmt: skip
            for item in merge.updates:
                t = item.trace
                db.execute("UPDATE traces SET correction = ?, feedback = ?, confidence = ?, logprob = ?, redacted = ? "
                           "WHERE id = ?", (t.correction, t.feedback, t.confidence, t.logprob,
                                            json.dumps(item.redacted, sort_keys=True), t.id))  # fmt: skip
        return import_id

    def prune(self, before: datetime, *, dry_run: bool = False) -> int:
        """Delete the traces served before `before` (a retention limit) and return how many. The file is then
        vacuumed: SQLite keeps deleted rows in free pages, and a retention limit that left the text on disk
        would only look kept."""
        with self._connect() as db:
            count = int(db.execute("SELECT COUNT(*) FROM traces WHERE timestamp < ?", (iso(before),)).fetchone()[0])
            if dry_run or not count:
                return count
            db.execute("DELETE FROM traces WHERE timestamp < ?", (iso(before),))
        with closing(sqlite3.connect(self.path, timeout=30)) as db:
            db.execute("VACUUM")
        return count

    def _stored(self, db: sqlite3.Connection, trace_id: str) -> Stored | None:
        found = db.execute(f"SELECT {COLUMNS} FROM traces WHERE id = ?", (trace_id,)).fetchone()
        return None if found is None else _stored_from(found)

    # --- reading -----------------------------------------------------------------------------------------

    def count(self) -> int:
        with self._connect() as db:
            return int(db.execute("SELECT COUNT(*) FROM traces").fetchone()[0])

    def newest(self) -> datetime | None:
        with self._connect() as db:
            found = db.execute("SELECT MAX(timestamp) FROM traces").fetchone()[0]
        return None if found is None else datetime.fromisoformat(found)

    def between(self, since: datetime | None = None, until: datetime | None = None) -> list[Trace]:
        """Traces served in [since, until], oldest first."""
        query, params = f"SELECT {COLUMNS} FROM traces WHERE 1 = 1", list[str]()
        if since is not None:
            query, params = query + " AND timestamp >= ?", [*params, iso(since)]
        if until is not None:
            query, params = query + " AND timestamp <= ?", [*params, iso(until)]
        with self._connect() as db:
            rows = db.execute(query + " ORDER BY timestamp, id", params).fetchall()
        return [_stored_from(row).trace for row in rows]

    def recent(self, days: float, limit: int | None = None, seed: int = 0, until: datetime | None = None) -> Window:
        """The traces of the `days` up to `until` (default: the newest stored trace, so a rerun next month
        reads the same week), sampled down to `limit` with `seed` when there are more."""
        end = until or self.newest()
        if end is None:
            raise TraceError(f"{display_path(self.path)}: the store holds no traces — import some first")
        start = end - timedelta(days=days)
        traces = self.between(start, end)
        total = len(traces)
        if limit is not None and total > limit:
            keep = sorted(random.Random(seed).sample(range(total), limit))
            traces = [traces[i] for i in keep]
        return Window(traces, start, end, total)

    def imports(self) -> list[dict[str, Any]]:
        with self._connect() as db:
            db.row_factory = sqlite3.Row
            return [dict(row) for row in db.execute("SELECT * FROM imports ORDER BY id")]


@dataclass(frozen=True)
class Window:
    """Recent traces: those kept, the time span they were taken from, and how many it held in all."""

    traces: list[Trace]
    start: datetime
    end: datetime
    available: int

    def describe(self) -> str:
        sampled = f" (a seeded sample of {len(self.traces)})" if len(self.traces) < self.available else ""
        return f"{self.available} trace(s) from {iso(self.start)} to {iso(self.end)}{sampled}"


COLUMNS = ("id, timestamp, model_version, messages, output, correction, feedback, confidence, logprob, tags, "
           "source, redacted")  # fmt: skip


def _row(item: Stored, import_id: int) -> tuple[Any, ...]:
    t = item.trace
    return (t.id, iso(t.timestamp), t.model_version, json.dumps(t.messages, ensure_ascii=False), t.input, t.output,
            t.correction, t.feedback, t.confidence, t.logprob, json.dumps(t.tags, ensure_ascii=False, sort_keys=True),
            t.source, import_id, json.dumps(item.redacted, sort_keys=True))  # fmt: skip


def _stored_from(row: Sequence[Any]) -> Stored:
    (trace_id, timestamp, version, messages, output, correction, feedback, confidence, logprob, tags, source,
     redacted) = row  # fmt: skip
    trace = Trace(trace_id, datetime.fromisoformat(timestamp), version, json.loads(messages), output, correction,
                  feedback, confidence, logprob, json.loads(tags), source)  # fmt: skip
    return Stored(trace, json.loads(redacted))


def _merge(earlier: Stored, later: Stored) -> tuple[Stored, Problem | None]:
    """`earlier` with what `later` adds (a correction, feedback, a confidence), or a conflict when the two
    are not the same request or disagree on a field both have."""
    a, b = earlier.trace, later.trace
    for name in IDENTITY:
        if getattr(a, name) != getattr(b, name):
            return earlier, Problem(b.source, name, f"trace id {b.id!r} is stored (from {a.source}) with a different "
                                    f"{name} — give each request its own id")  # fmt: skip
    filled = {}
    for name in FILLABLE:
        mine, theirs = getattr(a, name), getattr(b, name)
        if theirs is None or mine == theirs:
            continue
        if mine is not None:
            return earlier, Problem(b.source, name, f"trace id {b.id!r} is stored (from {a.source}) with another "
                                    f"{name} — fix one of them")  # fmt: skip
        filled[name] = theirs
    if a.tags != b.tags and b.tags:
        return earlier, Problem(b.source, "tags", f"trace id {b.id!r} is stored (from {a.source}) with other tags")
    if not filled:
        return earlier, None
    # the same texts were redacted twice (plus, perhaps, a new correction): the larger count per entity
    names = {*earlier.redacted, *later.redacted}
    counts = {k: max(earlier.redacted.get(k, 0), later.redacted.get(k, 0)) for k in names}
    return Stored(replace(a, **filled), counts), None
