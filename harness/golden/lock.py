"""Freezing golden sets: `golden/golden.lock` pins the sha256 of every set.

A score only means something on known cases. The lock records each `*.jsonl` under the golden root, and
each set's generation settings (`generation.toml`) and answer schema (`schema.json`), since the suites
score with them (sha256, case count, when it was frozen), and one combined `lock_hash`, so a run can say
exactly which golden version it scored, and an edited set fails loudly until someone re-freezes it on
purpose, with a reason that lands in code review. `lock_hash` is the sha256 of `sha256sum`-style lines
("<hash>  <path>" sorted by path), so file names count too and it can be recomputed with coreutils:
`cd golden && sha256sum $( (find * -name '*.jsonl'; ls */generation.toml */schema.json) | LC_ALL=C sort) | sha256sum`.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.golden.cases import (
    CASES_FILE,
    GoldenCase,
    GoldenError,
    display_path,
    load_numbered,
    set_name_problem,
    shared_ids,
)
from harness.golden.generation import GENERATION_FILE, generation_settings

LOCK_FILE = "golden.lock"
LOCK_VERSION = 1
REFREEZE = 'harness golden freeze --reason "why"'


@dataclass(frozen=True)
class FrozenFile:
    sha256: str
    cases: int
    frozen_at: str
    """UTC ISO time this file's current content was first frozen; kept when a re-freeze leaves it as is."""


@dataclass(frozen=True)
class Lock:
    reason: str
    frozen_at: str
    lock_hash: str
    files: dict[str, FrozenFile]
    """Keyed by POSIX path relative to the golden root, e.g. "banking77/cases.jsonl"."""

    def to_json(self) -> str:
        """Stable key order and indentation, so a re-freeze diffs line by line in review."""
        data = {**asdict(self), "version": LOCK_VERSION}
        return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    @classmethod
    def read(cls, path: Path) -> Lock:
        shown, fix = display_path(path), f"restore it from version control, or re-freeze with `{REFREEZE}`"
        try:
            data: Any = json.loads(path.read_text(encoding="utf-8"))
            files = {name: FrozenFile(**entry) for name, entry in data["files"].items()}
            lock = cls(data["reason"], data["frozen_at"], data["lock_hash"], files)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise GoldenError([f"{shown}: unreadable lock ({type(exc).__name__}: {exc}) — {fix}"]) from None
        if data.get("version") != LOCK_VERSION:
            raise GoldenError([f"{shown}: lock version {data.get('version')!r}, but this harness reads version "
                               f"{LOCK_VERSION} — {fix}"])  # fmt: skip
        if lock.lock_hash != _combine({name: entry.sha256 for name, entry in files.items()}):
            raise GoldenError([f"{shown}: lock_hash does not match its file hashes (hand-edited?) — {fix}"])
        return lock


@dataclass(frozen=True)
class LockStatus:
    """How the golden sets on disk compare with golden.lock. Paths are relative to the golden root."""

    ok: bool
    lock_hash: str
    """The combined hash of the files on disk now: what a run records as the golden version it used."""
    lock_path: Path
    locked: Lock | None = None
    changed: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    """`path:line: what — fix` for what the sets or the lock get wrong beyond differing (see `check_sets`)."""

    def explain(self) -> str:
        """One message for a failing run: which files, and how to re-freeze on purpose."""
        lock = display_path(self.lock_path)
        if self.ok:
            return f"golden sets match {lock} (lock_hash {self.lock_hash[:12]})"
        problems = [f"  {problem}" for problem in self.problems]
        if self.locked is None:
            sets = ", ".join(self.added) or "none yet"
            return "\n".join([f"no golden lock at {lock} (unfrozen sets: {sets}) — create it with `{REFREEZE}`",
                              *problems])  # fmt: skip
        if not (self.changed or self.added or self.removed):
            return "\n".join([f"golden sets match the hashes in {lock}, but:", *problems])
        lines = [f"golden sets differ from {lock} (frozen {self.locked.frozen_at}: {self.locked.reason!r}):"]
        for kind, names in (("changed", self.changed), ("added", self.added), ("removed", self.removed)):
            lines += [f"  {kind}: {name}" for name in names]
        lines += problems
        lines += [
            "Scores are only comparable on frozen cases. If this edit is on purpose, re-freeze and commit",
            f"the lock: `{REFREEZE}`; otherwise restore the files from version control.",
        ]
        return "\n".join(lines)


SCHEMA_FILE = "schema.json"
"""A set's JSON schema of the answers (golden/quantities): a suite that validates answers against it scores
with it, so it is frozen with the cases."""


def file_hashes(root: Path) -> dict[str, str]:
    """sha256 of every `*.jsonl` under root and every set's generation settings and answer schema (hidden
    directories skipped), by relative POSIX path."""
    settings = [*root.glob(f"*/{GENERATION_FILE}"), *root.glob(f"*/{SCHEMA_FILE}")]
    paths = (p for p in [*root.rglob("*.jsonl"), *settings] if p.is_file())
    relative = (p.relative_to(root) for p in paths)
    return {
        rel.as_posix(): hashlib.sha256((root / rel).read_bytes()).hexdigest()
        for rel in sorted(relative)
        if not any(part.startswith(".") for part in rel.parts)
    }


def set_hashes(root: Path) -> dict[str, str]:
    """Per golden set: the combined hash of its files (cases and generation settings), so a run records
    which version of each set it scored and a comparison can ask about the sets it used only."""
    by_set: dict[str, dict[str, str]] = {}
    for name, digest in file_hashes(root).items():
        by_set.setdefault(name.split("/", 1)[0], {})[name] = digest
    return {name: _combine(files) for name, files in sorted(by_set.items())}


def case_sets(root: Path) -> dict[str, str]:
    """Case id -> the golden set holding it (ids are unique across sets; the lock checks it)."""
    from harness.golden.cases import list_sets, load_set

    return {case.id: name for name in list_sets(root) for case in load_set(root, name)}


def lock_hash(root: Path) -> str:
    """The combined hash of the golden sets under root as they are on disk now."""
    return _combine(file_hashes(root))


def _combine(hashes: dict[str, str]) -> str:
    lines = "".join(f"{digest}  {name}\n" for name, digest in sorted(hashes.items()))
    return hashlib.sha256(lines.encode()).hexdigest()


def schema_problems(path: Path) -> list[str]:
    """What is wrong with a set's answer schema: not JSON, or not a valid JSON schema (named with its file)."""
    from jsonschema.exceptions import SchemaError
    from jsonschema.validators import validator_for

    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
        validator_for(schema).check_schema(schema)
    except ValueError as error:
        return [f"{display_path(path)}: not JSON ({error}); fix the file"]
    except SchemaError as error:
        return [f"{display_path(path)}: not a valid JSON schema: {error.message}; fix the file"]
    return []


def check_sets(root: Path, names: list[str]) -> tuple[dict[str, int], list[str]]:
    """Load every golden file: (case count by case file, problems). The problems are the same wherever the
    sets are checked (freeze, verify, a suites run): malformed cases or generation settings, set names, ids
    used in two files."""
    loaded: dict[Path, list[tuple[int, GoldenCase]]] = {}
    problems: list[str] = []
    settings_files: dict[str, int] = {}
    for name in names:
        path = root / name
        if path.name == GENERATION_FILE:
            settings_files[name] = 0  # no cases: frozen for its settings
            try:
                generation_settings(root, path.parent.name)
            except GoldenError as exc:
                problems += exc.problems
            continue
        if path.name == SCHEMA_FILE:
            settings_files[name] = 0
            problems += schema_problems(path)
            continue
        if path.name == CASES_FILE and path.parent.parent == root and (why := set_name_problem(path.parent.name)):
            problems.append(f"{display_path(path)}: {why}")
        try:
            loaded[path] = load_numbered(path)
        except GoldenError as exc:
            problems += exc.problems
    counts = {path.relative_to(root).as_posix(): len(cases) for path, cases in loaded.items()} | settings_files
    return counts, problems + shared_ids(loaded)


def freeze(root: Path, reason: str) -> Lock:
    """Validate every set under root, then write golden.lock; refuses invalid cases and an empty reason."""
    if not reason.strip():
        raise GoldenError(['freeze needs a reason — say why the sets changed: --reason "add refund cases"'])
    hashes = file_hashes(root)
    if not hashes:
        fix = "add one with `harness golden add SET --from FILE`"
        raise GoldenError([f"{display_path(root)}: no *.jsonl golden sets to freeze — {fix}"])
    counts, problems = check_sets(root, list(hashes))
    if problems:
        raise GoldenError(problems, headline="refusing to freeze invalid golden cases — fix these first:")
    now = datetime.now(UTC).isoformat(timespec="seconds")
    previous = _previous_files(root / LOCK_FILE)
    files = {
        name: FrozenFile(digest, counts[name], _kept_time(previous.get(name), digest) or now)
        for name, digest in hashes.items()
    }
    lock = Lock(reason=reason.strip(), frozen_at=now, lock_hash=_combine(hashes), files=files)
    _write_atomically(root / LOCK_FILE, lock.to_json())
    return lock


def verify(root: Path) -> LockStatus:
    """Compare the sets on disk with golden.lock, and check them as freeze would; `explain()` on the result
    says what to do. A file whose hash matches must also match its recorded case count: a lock edited by
    hand to claim other counts does not verify."""
    path, hashes = root / LOCK_FILE, file_hashes(root)
    current = _combine(hashes)
    counts, problems = check_sets(root, list(hashes))
    if not path.is_file():
        return LockStatus(ok=False, lock_hash=current, lock_path=path, added=sorted(hashes), problems=problems)
    lock = Lock.read(path)
    changed = [n for n in hashes if n in lock.files and lock.files[n].sha256 != hashes[n]]
    added = [n for n in hashes if n not in lock.files]
    removed = sorted(n for n in lock.files if n not in hashes)
    problems += [
        f"{display_path(path)}: {name} records {lock.files[name].cases} cases, but the file (unchanged since the "
        f"freeze) has {counts[name]} — the lock was edited by hand; restore it from version control or re-freeze"
        for name in hashes
        if name not in changed and name in lock.files and name in counts and lock.files[name].cases != counts[name]
    ]
    ok = not (changed or added or removed or problems)
    return LockStatus(ok, current, path, lock, changed, added, removed, problems)


def _previous_files(path: Path) -> dict[str, FrozenFile]:
    """The last lock's entries, to keep the freeze times of unchanged files. Read leniently: a re-freeze is
    how a broken lock (hand-edited, wrong lock_hash or version) gets repaired, and repairing it must not
    reset when every unchanged set was frozen."""
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))["files"]
        usable = {name: e for name, e in entries.items() if isinstance(e, dict) and {"sha256", "frozen_at"} <= e.keys()}
        return {name: FrozenFile(str(e["sha256"]), int(e.get("cases", 0)), str(e["frozen_at"]))
                for name, e in usable.items()}  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def _kept_time(previous: FrozenFile | None, digest: str) -> str | None:
    return previous.frozen_at if previous is not None and previous.sha256 == digest else None


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8", newline="\n")
    os.replace(tmp, path)
