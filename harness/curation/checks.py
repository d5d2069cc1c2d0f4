"""The data suites' checks, run on a curated dataset as written, independently of the pipeline's own
records: golden sets are re-read and re-indexed, PII recognizers run again, counts come from the rows.
Parameters are the defaults of each check (not the curation run's), so loosening a curation setting
cannot loosen the gate with it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from harness.curation.config import LeakageConfig, NearDupConfig, PIIConfig
from harness.curation.dataset import CuratedDataset, Row
from harness.curation.leakage import finder_for
from harness.curation.text import normalise


@dataclass(frozen=True)
class RowCase:
    """A dataset row as a gate case: its id, its user text, and what is wrong with it (None when clean)."""

    id: str
    input: str
    expected: str | None


def leaks(dataset: CuratedDataset, golden_dir: Path) -> dict[str, str]:
    """Row key -> the golden file and case it leaks into (exact, word 13-gram or MinHash near-dup)."""
    finder = finder_for(golden_dir, LeakageConfig().ngram, NearDupConfig().params(), golden_dir.parent)
    rows = dataset.rows
    found = finder.find([row.user_turns() for row in rows])
    return {key(rows[i]): f"leaks into {leak.golden.file} case {leak.golden.case_id} ({leak.kind})"
            for i, leak in found.items()}  # fmt: skip


def pii(dataset: CuratedDataset, cache_dir: Path) -> dict[str, str]:
    """Row key -> the PII entity types still detectable in its non-system turns."""
    from harness.curation.pii import Redactor

    redactor = Redactor(PIIConfig(), cache_dir)
    found = {}
    for row in dataset.rows:
        kinds = sorted({r.entity_type for m in row.messages if m.get("role") != "system"
                        for r in redactor.find(str(m.get("content", "")))})  # fmt: skip
        if kinds:
            found[key(row)] = "PII left: " + ", ".join(kinds)
    return found


def overlaps(dataset: CuratedDataset) -> dict[str, str]:
    """Row key -> why it is not disjoint from the other splits (same id, or same text once normalised)."""
    owners: dict[str, set[str]] = {}
    for row in dataset.rows:
        for token in (f"id:{row.id}", "text:" + normalise("\n".join(row.user_turns()))):
            owners.setdefault(token, set()).add(row.split)
    found = {}
    for row in dataset.rows:
        for token in (f"id:{row.id}", "text:" + normalise("\n".join(row.user_turns()))):
            if len(owners[token]) > 1:
                what = "id" if token.startswith("id:") else "text"
                found[key(row)] = f"same {what} in splits {sorted(owners[token])}"
                break
    return found


def class_counts(dataset: CuratedDataset, split: str = "train") -> dict[str, int]:
    """Rows per class in one split; every configured label appears, with 0 if it has no rows."""
    counts = Counter(row.label for row in dataset.splits.get(split, []) if row.label is not None)
    labels = dataset.labels or sorted({row.label for row in dataset.rows if row.label is not None})
    return {label: counts.get(label, 0) for label in labels}


def key(row: Row) -> str:
    return f"{row.split}:{row.id}"


def as_cases(dataset: CuratedDataset, problems: dict[str, str]) -> tuple[list[float], list[RowCase]]:
    """Per row: 1.0 when clean, 0.0 when it has a problem; and the rows as gate cases."""
    values, cases = [], []
    for row in dataset.rows:
        problem = problems.get(key(row))
        values.append(0.0 if problem else 1.0)
        cases.append(RowCase(key(row), "\n".join(row.user_turns()), problem))
    return values, cases
