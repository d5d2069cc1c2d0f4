"""`harness curate`: raw rows → curated chat splits, one stage after another, every rejection logged.

    load → schema → exact dedup → near-dup → semantic dedup → PII → label noise → leakage → split
         → augment (train split only, when enabled) → report

Each stage takes the examples the previous one kept and returns the ones it keeps, the rows it rejected
(with a reason) and figures for curation.json; the ledger times it and counts rows in and out, so
curation.json can show where every row went. Augmentation runs after the split so that val and test
hold real rows only; its output is the train rows plus the augmented rows that passed its checks.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from harness.curation import augment, dedup, label_noise, leakage, pii, report, schema, semantic, sources
from harness.curation.config import Curation, CurationError, fallback_label
from harness.curation.records import Example, SourceRow, StageOutput, project_path
from harness.curation.split import split
from harness.golden import GoldenError, load_set

Log = Callable[[str], None]
Stage = Callable[[list[Example]], StageOutput]


@dataclass
class Ledger:
    """Per-stage counts, timings and figures, plus every rejected and flagged row, in stage order."""

    log: Log
    stages: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    review: list[dict[str, Any]] = field(default_factory=list)

    def stage(self, name: str, work: Callable[[Any], StageOutput], rows: Sequence[Any]) -> list[Example]:
        started, rows_in = time.perf_counter(), len(rows)
        output = work(rows)
        elapsed = time.perf_counter() - started
        self.rejected += [r.to_json() for r in output.rejected]
        self.review += output.review
        record = {"name": name, "in": rows_in, "out": len(output.kept), "rejected": len(output.rejected),
                  "flagged": len(output.review), "elapsed_s": round(elapsed, 3), "info": output.info}  # fmt: skip
        self.stages.append(record)
        self.log(f"{name:<15} {rows_in:>7} in {len(output.kept):>7} out {len(output.rejected):>6} rejected "
                 f"{len(output.review):>5} flagged {elapsed:7.2f} s")  # fmt: skip
        return output.kept

    def skip(self, name: str, why: str) -> None:
        self.stages.append({"name": name, "skipped": why})
        self.log(f"{name:<15} skipped: {why}")


@dataclass(frozen=True)
class Result:
    output_dir: Path
    curation: dict[str, Any]


def curate(curation: Curation, log: Log = lambda line: None) -> Result:
    """Run every stage top to bottom and write the output dir; raises CurationError on bad input, before
    any slow stage starts (golden sets, label list and prompt file are all read up front)."""
    c, started = curation.curate, time.perf_counter()
    ledger = Ledger(log)
    rows = _load(curation, ledger)
    system = schema.system_prompt(c.prompt.system, _optional_path(curation, c.prompt.system_from))
    labels = schema.load_labels(_optional_path(curation, c.labels))
    if labels is not None and c.extra_labels:
        labels = [*labels, *(label for label in c.extra_labels if label not in labels)]
    finder = _leak_finder(curation) if c.leakage.enabled or c.augment.enabled else None
    redactor = pii.Redactor(c.pii, _cache_dir(curation)) if c.pii.enabled else None
    golden_labels = _golden_labels(curation)

    examples = ledger.stage("schema", lambda r: schema.validate(r, system, labels, c.schema), rows)
    steps: list[tuple[str, Stage | None]] = [
        ("exact_dedup", dedup.exact if c.exact_dedup.enabled else None),
        ("near_dup", partial(dedup.near, config=c.near_dup) if c.near_dup.enabled else None),
        ("semantic_dedup", partial(semantic.dedup, config=c.semantic) if c.semantic.enabled else None),
        ("pii", partial(pii.redact, redactor=redactor) if redactor else None),
        ("label_noise", partial(label_noise.flag, config=c.label_noise) if c.label_noise.enabled else None),
        ("leakage", partial(leakage.remove, finder=finder) if finder and c.leakage.enabled else None),
    ]
    for name, work in steps:
        if work is None:
            ledger.skip(name, "disabled in config")
        else:
            examples = ledger.stage(name, work, examples)

    split_started = time.perf_counter()
    try:
        splits = split(examples, c.split)
    except CurationError as error:  # too few rows left: still write what was rejected, so the user can see why
        summary = _summary(curation, ledger, len(rows), system, labels, {}, golden_labels, started)
        report.write(curation.output_dir, {}, ledger.rejected, ledger.review, {**summary, "error": str(error)})
        where = project_path(curation.output_dir / "rejected.jsonl", curation.root)
        raise CurationError(f"{error} (every rejection is in {where})") from None
    ledger.log(f"{'split':<15} {len(examples):>7} in: " + ", ".join(f"{k} {len(v)}" for k, v in splits.items()))
    split_elapsed = time.perf_counter() - split_started
    if c.augment.enabled and finder is not None:
        guard = augment.Guard(finder, augment.held_out(splits), c.schema)
        work = partial(augment.augment, config=c.augment, system=system, fallback=fallback_label(c), guard=guard)
        splits["train"] = ledger.stage("augment", work, splits["train"])
    summary = _summary(curation, ledger, len(rows), system, labels, splits, golden_labels, started)
    summary["split_elapsed_s"] = round(split_elapsed, 3)
    report.write(curation.output_dir, splits, ledger.rejected, ledger.review, summary)
    return Result(curation.output_dir, summary)


def _summary(
    curation: Curation, ledger: Ledger, rows_read: int, system: str | None, labels: list[str] | None,
    splits: dict[str, list[Example]], golden_labels: list[str] | None, started: float,
) -> dict[str, Any]:  # fmt: skip
    """curation.json: where every row went, with what settings, from which inputs."""
    return {
        "task": curation.task,
        "config": project_path(curation.config_path, curation.root),
        "output_dir": project_path(curation.output_dir, curation.root),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "inputs": _inputs(curation),
        "labels": labels,
        "system_prompt": system,
        "parameters": asdict(curation.curate),
        "rows_read": rows_read,
        "stages": ledger.stages,
        "splits": {name: len(members) for name, members in splits.items()},
        "pii": next((s["info"] for s in ledger.stages if s["name"] == "pii" and "info" in s), None),
        "augment": next((s["info"] for s in ledger.stages if s["name"] == "augment"), {"enabled": False}),
        "distribution": report.distribution(splits, labels, golden_labels),
        "golden_set": curation.curate.report.golden_set,
        "elapsed_s": round(time.perf_counter() - started, 3),
    }


def _optional_path(curation: Curation, relative: str | None) -> Path | None:
    return curation.path(relative) if relative else None


def _load(curation: Curation, ledger: Ledger) -> list[SourceRow]:
    started = time.perf_counter()
    rows = [row for source in curation.curate.sources
            for row in sources.read(curation.path(source.path), source, curation.root)]  # fmt: skip
    ledger.log(f"{'load':<15} {len(rows):>7} rows from {len(curation.curate.sources)} source(s) "
               f"{time.perf_counter() - started:7.2f} s")  # fmt: skip
    return rows


def _leak_finder(curation: Curation) -> leakage.LeakFinder:
    c = curation.curate
    near = c.near_dup.params() if c.leakage.near_dup else None
    golden_dir = curation.path(c.leakage.golden_dir)
    return leakage.finder_for(golden_dir, c.leakage.ngram, near, curation.root, c.leakage.probes_from)


def _cache_dir(curation: Curation) -> Path:
    from harness.config import ConfigError, HarnessConfig

    try:
        return HarnessConfig.load(curation.root).cache_dir
    except ConfigError as error:
        raise CurationError(str(error)) from None


def _golden_labels(curation: Curation) -> list[str] | None:
    """The golden set's expected labels (string ones), to compare the splits' label mix with."""
    name = curation.curate.report.golden_set
    if name is None:
        return None
    try:
        cases = load_set(curation.path(curation.curate.leakage.golden_dir), name)
    except GoldenError as error:
        raise CurationError(f"report.golden_set: {error}") from None
    return [c.expected for c in cases if isinstance(c.expected, str)]


def _inputs(curation: Curation) -> list[dict[str, str]]:
    """sha256 of every file the result depends on: sources, label list, system prompt file, golden sets."""
    c = curation.curate
    paths = [curation.path(s.path) for s in c.sources]
    paths += [curation.path(p) for p in (c.labels, c.prompt.system_from) if p]
    golden_dir = curation.path(c.leakage.golden_dir)
    if (c.leakage.enabled or c.augment.enabled) and golden_dir.is_dir():
        paths += sorted(golden_dir.glob("*/cases.jsonl"))
    unique = list(dict.fromkeys(paths))
    return [{"path": project_path(p, curation.root), "sha256": sources.sha256(p)} for p in unique]
