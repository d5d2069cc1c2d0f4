"""Stage 8 and the outputs: the label distribution report, and the files a curation run writes.

train.jsonl, val.jsonl, test.jsonl   one {"id", "messages", "label"} per line (what training reads);
                                     augmented train rows add {"augmented": {"source", "transform"}}
rejected.jsonl                       one {"stage", "reason", "source", "row", "duplicate_of"?} per dropped row
review.jsonl                         label-noise flags for a human to look at
curation.json                        counts per stage, parameters, input hashes, PII counts, distribution
summary.md                           the same, short, for a person
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.curation.records import Example
from harness.curation.split import SPLITS

CURATION_FILE = "curation.json"


def distribution(
    splits: Mapping[str, Sequence[Example]], labels: Sequence[str] | None, golden: Sequence[str] | None
) -> dict[str, Any]:
    """Class counts overall and per split, imbalance ratio (largest / smallest class; null when a
    configured class is empty) and each split's total variation distance from the golden labels."""
    per_split = {name: Counter(e.label for e in rows if e.label is not None) for name, rows in splits.items()}
    overall: Counter[str] = sum(per_split.values(), Counter())
    classes = list(labels) if labels is not None else sorted(overall)
    counts = {c: overall.get(c, 0) for c in classes}
    smallest = min(counts.values(), default=0)
    report: dict[str, Any] = {
        "classes": len(classes),
        "counts": counts,
        "per_split": {name: {c: split.get(c, 0) for c in classes} for name, split in per_split.items()},
        "empty_classes": [c for c, n in counts.items() if n == 0],
        "imbalance_ratio": round(max(counts.values()) / smallest, 3) if smallest else None,
    }
    if golden:
        reference = Counter(golden)
        report["golden_tvd"] = {name: round(total_variation(split, reference), 4) for name, split in per_split.items()}
    return report


def total_variation(a: Mapping[str, int], b: Mapping[str, int]) -> float:
    """Half the L1 distance between two label distributions: 0 identical, 1 disjoint."""
    total_a, total_b = sum(a.values()) or 1, sum(b.values()) or 1
    return 0.5 * sum(abs(a.get(k, 0) / total_a - b.get(k, 0) / total_b) for k in set(a) | set(b))


def write(out_dir: Path, splits: Mapping[str, Sequence[Example]], rejected: Iterable[dict[str, Any]],
          review: Iterable[dict[str, Any]], curation: dict[str, Any]) -> None:  # fmt: skip
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in SPLITS:
        _write_jsonl(out_dir / f"{name}.jsonl", (e.to_output() for e in splits.get(name, [])))
    _write_jsonl(out_dir / "rejected.jsonl", rejected)
    _write_jsonl(out_dir / "review.jsonl", review)
    _write_text(out_dir / CURATION_FILE, json.dumps(curation, indent=2, ensure_ascii=False) + "\n")
    _write_text(out_dir / "summary.md", summary_markdown(curation))


def summary_markdown(curation: Mapping[str, Any]) -> str:
    made = (curation.get("augment") or {}).get("rows", 0)
    kept = f"{sum(curation['splits'].values()) - made} kept" + (f" plus {made} augmented" if made else "")
    lines = [f"# Curation: {curation['task']}", "",
             f"{curation['rows_read']} rows read, {kept} "
             f"({', '.join(f'{k} {v}' for k, v in curation['splits'].items())}) in {curation['elapsed_s']:.1f} s.",
             "", "| stage | in | out | rejected | flagged | seconds |", "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for stage in curation["stages"]:
        if "skipped" in stage:
            lines.append(f"| {stage['name']} | | | | | skipped: {stage['skipped']} |")
            continue
        lines.append(f"| {stage['name']} | {stage['in']} | {stage['out']} | {stage['rejected']} | "
                     f"{stage.get('flagged', 0)} | {stage['elapsed_s']:.2f} |")  # fmt: skip
    dist = curation.get("distribution", {})
    lines += ["", f"Imbalance ratio (largest / smallest class): {dist.get('imbalance_ratio')}."]
    if dist.get("golden_tvd"):
        tvd = ", ".join(f"{k} {v}" for k, v in dist["golden_tvd"].items())
        lines.append(f"Total variation distance of each split's labels from the golden set's: {tvd}.")
    if pii := curation.get("pii"):
        found = pii["counts"] or "none found"
        lines.append(f"PII redacted in {pii['rows_redacted']} rows: {found}. {pii['not_detected']}")
    lines.append(augment_line(curation.get("augment") or {"enabled": False}))
    lines += ["", f"Next: `pytest suites/data --dataset={curation['output_dir']}` must pass before training.", ""]
    return "\n".join(lines)


def augment_line(augment: Mapping[str, Any]) -> str:
    """One sentence on the augmentation stage: off, or how many rows of which transform, against the share
    asked, and how many candidates were rejected (leaking into a golden case or probe, in val/test, too long)."""
    if not augment.get("enabled"):
        return "Augmentation: off (curate.augment.enabled: false); every training row is a real row."
    kinds = ", ".join(f"{name} {n}" for name, n in augment["by_transform"].items())
    rejected = ", ".join(f"{cause} {n}" for cause, n in augment["rejected"].items()) or "none"
    return (f"Augmentation: {augment['rows']} of {augment['train_rows'] + augment['rows']} train rows "
            f"({augment['share']:.1%}, asked {augment['share_target']:.1%}): {kinds}; candidates rejected: "
            f"{rejected} (rejected.jsonl, stage augment).")  # fmt: skip


def _write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> None:
    _write_text(path, "".join(json_line(r) + "\n" for r in records))


def json_line(record: dict[str, Any]) -> str:
    """One JSON line, readable text, with the characters str.splitlines() breaks on escaped (U+0085, U+2028,
    U+2029; json already escapes the ASCII ones), so any reader's line splitting sees one record per line."""
    text = json.dumps(record, ensure_ascii=False)
    return text.replace("\x85", "\\u0085").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _write_text(path: Path, text: str) -> None:
    """Write to a temporary name, then rename: a reader never sees a half-written file."""
    staging = path.with_name(f".{path.name}.tmp")
    staging.write_text(text, encoding="utf-8")
    os.replace(staging, path)
