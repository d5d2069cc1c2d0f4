"""The generation cache: one SQLite file (WAL) shared by every suite, run and xdist worker.

A key is the sha256 of (model fingerprint, request kind, request, effective parameters), so the same
prompt sent to the same weights with the same settings is generated once, whichever suite asks, and
retrained weights can never be served stale answers. Each answer is committed as soon as it exists:
a run killed with SIGKILL loses at most the answers still in flight, and SQLite's journal keeps the
file consistent. The same file memoises file digests by (path, size, mtime), so fingerprinting a model
costs a stat per file on reruns rather than re-reading gigabytes of weights.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from filelock import FileLock

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    key TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    kind TEXT NOT NULL,
    request TEXT NOT NULL,
    response TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS file_digests (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL
);
"""
_BUSY_TIMEOUT_MS = 120_000  # xdist workers queue for the write lock rather than fail
CACHE_FILE = "generations.sqlite"
"""The cache's one file in a cache dir: suites, training's replay and golden build scripts share its answers."""


def request_key(fingerprint: str, kind: str, request: Mapping[str, Any]) -> str:
    """Stable key for one request; `request` holds the prompt and every effective parameter."""
    blob = json.dumps({"fingerprint": fingerprint, "kind": kind, "request": request}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


class GenerationCache:
    """Answers keyed by request_key. With enabled=False it stores and serves nothing (`--no-cache`),
    while file digests are still memoised."""

    def __init__(self, path: Path, *, enabled: bool = True) -> None:
        self.path = path
        self.enabled = enabled
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = -1

    @classmethod
    def in_dir(cls, cache_dir: Path, *, enabled: bool = True) -> GenerationCache:
        """The cache every harness run shares under `cache_dir` ($HARNESS_CACHE or [tool.harness] cache_dir)."""
        return cls(cache_dir / CACHE_FILE, enabled=enabled)

    def get_many(self, keys: Sequence[str]) -> dict[str, Any]:
        if not self.enabled or not keys:
            return {}
        found: dict[str, Any] = {}
        with self._lock:
            conn = self._connection()
            for start in range(0, len(keys), 500):  # stay under SQLite's bound-parameter limit
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(f"SELECT key, response FROM entries WHERE key IN ({marks})", chunk)
                found.update((key, json.loads(response)) for key, response in rows)
        return found

    def put(self, key: str, fingerprint: str, kind: str, request: Mapping[str, Any], response: Any) -> None:
        """Commit one answer now, so a killed run keeps it."""
        self.put_many([(key, fingerprint, kind, request, response)])

    def put_many(self, items: Iterable[tuple[str, str, str, Mapping[str, Any], Any]]) -> None:
        if not self.enabled:
            return
        now = time.time()
        rows = [
            (key, fp, kind, json.dumps(request, sort_keys=True), json.dumps(response), now)
            for key, fp, kind, request, response in items
        ]
        with self._lock:
            conn = self._connection()
            with conn:  # one transaction: all or nothing
                conn.executemany("INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?, ?, ?)", rows)

    def count(self, fingerprint: str | None = None) -> int:
        with self._lock:
            conn = self._connection()
            if fingerprint is None:
                return int(conn.execute("SELECT COUNT(*) FROM entries").fetchone()[0])
            query = "SELECT COUNT(*) FROM entries WHERE fingerprint = ?"
            return int(conn.execute(query, (fingerprint,)).fetchone()[0])

    def file_sha256(self, path: Path) -> str:
        """sha256 of a file, memoised by (path, size, mtime_ns): rewritten files are hashed again."""
        resolved = str(path.resolve())
        stat = path.stat()
        with self._lock:
            conn = self._connection()
            row = conn.execute(
                "SELECT sha256 FROM file_digests WHERE path = ? AND size = ? AND mtime_ns = ?",
                (resolved, stat.st_size, stat.st_mtime_ns),
            ).fetchone()
        if row:
            return str(row[0])
        digest = sha256_file(path)
        with self._lock:
            conn = self._connection()
            with conn:
                conn.execute(
                    "INSERT OR REPLACE INTO file_digests VALUES (?, ?, ?, ?)",
                    (resolved, stat.st_size, stat.st_mtime_ns, digest),
                )
        return digest

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _connection(self) -> sqlite3.Connection:
        # A connection must not cross fork(); reopen in a child process.
        if self._conn is None or self._pid != os.getpid():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            # Switching a new file to WAL ignores the busy timeout, so workers opening it at the same
            # moment would fail with "database is locked": they take turns setting it up.
            with FileLock(f"{self.path}.setup.lock"):
                conn.execute("PRAGMA journal_mode = WAL")
                conn.executescript(_SCHEMA)
            conn.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: durable across process crashes
            self._conn, self._pid = conn, os.getpid()
        return self._conn


def sha256_file(path: Path) -> str:
    """sha256 of a file's bytes, read in 4 MiB blocks so a model's weights never sit in memory at once."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()
