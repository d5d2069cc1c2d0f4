"""From traces to cases: the production requests most worth a person's look, grouped, labelled by a person.

    harness traces review --store DIR --out DIR     corrected, thumbs-down and least confident traces,
                                                    clustered -> review.csv + review.html
    harness review import review.csv --propose SET  rows marked `add` -> proposed golden cases (existing path)
    harness traces confirmed review.csv --out F     rows marked `add` -> a training source curation reads

Selected: every trace a user corrected (a correction unlike the output) or gave a thumbs-down, and the N
least confident ones (by `confidence`, else `logprob`). They are clustered by their MiniLM embeddings
(average-linkage, cosine distance under a threshold), and written cluster by cluster, the largest first:
ten people hitting the same gap is one missing intent, not ten cases, and a reviewer labels them together.

The review file is the one `harness review export` writes (harness.judge.review): `expected` holds the
user's correction when there is one; the reviewer confirms or fixes it and sets `verdict` to `add`. No
label reaches a golden set or a training file without a person confirming it: the model's own answer is
never the label. A confirmed row goes to a golden set (`review import --propose`, then `golden add` and
a re-freeze) or to training (`traces confirmed`), not both: curation's leakage stage drops a training
row that repeats a golden case.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from harness.golden import display_path
from harness.production.traces import Trace, TraceError

RUN_PREFIX = "traces"
"""The review rows' `run` and `gate`: where they came from, for `review import`'s records."""


@dataclass
class Pick:
    """A trace selected for review, with every reason, and the cluster it fell in."""

    trace: Trace
    reasons: list[str] = field(default_factory=list)
    cluster: int = 0


def select(traces: Sequence[Trace], least_confident: int) -> list[Pick]:
    """Corrected and thumbs-down traces, then the `least_confident` with the lowest certainty; one pick per
    trace, all its reasons listed."""
    picks: dict[str, Pick] = {}
    for trace in traces:
        if trace.correction is not None and trace.correction != trace.output:
            picks.setdefault(trace.id, Pick(trace)).reasons.append(f"corrected: {trace.output!r} -> "
                                                                   f"{trace.correction!r}")  # fmt: skip
        if trace.feedback == "down":
            picks.setdefault(trace.id, Pick(trace)).reasons.append("thumbs down")
    ranked = sorted((t for t in traces if t.certainty() is not None), key=lambda t: (t.certainty(), t.id))
    for trace in ranked[:least_confident]:
        scale = "confidence" if trace.confidence is not None else "logprob"
        reason = f"{scale} {trace.certainty():.3g}, among the {least_confident} least confident"
        picks.setdefault(trace.id, Pick(trace)).reasons.append(reason)
    return list(picks.values())


def cluster(picks: list[Pick], vectors: np.ndarray, max_distance: float) -> list[Pick]:
    """Number the picks' clusters 1, 2, … from the largest (ties: the earliest trace) and return them in that
    order, each cluster's traces oldest first. Vectors are unit length, so cosine distance is 1 - dot."""
    if len(picks) > 1:
        from sklearn.cluster import AgglomerativeClustering

        found = AgglomerativeClustering(n_clusters=None, distance_threshold=max_distance, metric="cosine",
                                        linkage="average").fit_predict(vectors)  # fmt: skip
    else:
        found = np.zeros(len(picks), dtype=int)
    members: dict[int, list[Pick]] = {}
    for pick, label in zip(picks, found, strict=True):
        members.setdefault(int(label), []).append(pick)
    ordered = sorted(members.values(), key=lambda group: (-len(group), min(p.trace.timestamp for p in group)))
    out = []
    for number, group in enumerate(ordered, start=1):
        for pick in sorted(group, key=lambda p: (p.trace.timestamp, p.trace.id)):
            pick.cluster = number
            out.append(pick)
    return out


def review_rows(picks: Sequence[Pick], store_name: str) -> list[dict[str, str]]:
    """The picks as review.csv rows (harness.judge.review.COLUMNS)."""
    sizes: dict[int, int] = {}
    for pick in picks:
        sizes[pick.cluster] = sizes.get(pick.cluster, 0) + 1
    run = f"{RUN_PREFIX}:{store_name}"
    return [{"run": run, "case_id": p.trace.id, "gate": RUN_PREFIX, "input": p.trace.input, "output": p.trace.output,
             "expected": p.trace.correction or "", "baseline_output": "",
             "why_selected": f"cluster {p.cluster} ({sizes[p.cluster]} trace(s)); " + "; ".join(p.reasons),
             "verdict": "", "notes": ""} for p in picks]  # fmt: skip


def export(
    traces: Sequence[Trace], out: Path, store_name: str, embed: Callable[[Sequence[str]], np.ndarray], *,
    least_confident: int = 20, max_rows: int = 200, max_distance: float = 0.4,
) -> tuple[Path, Path, list[Pick]]:  # fmt: skip
    """Select, cluster and write review.csv + review.html; returns their paths and the picks written."""
    from harness.judge.review import write_review

    picks = select(traces, least_confident)
    if not picks:
        raise TraceError("no trace to review in the window: none corrected, none thumbed down, none with a "
                         "confidence or logprob — widen it (--days) or log feedback")  # fmt: skip
    picks = cluster(picks, embed([p.trace.input for p in picks]), max_distance)[:max_rows]
    csv_path, html_path = write_review(out, f"{RUN_PREFIX}:{store_name}", review_rows(picks, store_name))
    return csv_path, html_path, picks


# --- confirmed rows -> a training source ---------------------------------------------------------------------


def confirmed(review_csv: Path, out: Path, labels: Sequence[str] | None = None) -> int:
    """Write the review rows marked `add` as JSONL training rows ({"id", "text", "label", "source"}: a curation
    source with text_field text, label_field label); returns how many. Every row is checked first and
    nothing is written unless all are good, as `review import` does."""
    from harness.judge.review import read_review

    rows, problems = [], []
    for line, row in read_review(review_csv):
        verdict = row["verdict"].strip().lower()
        where = f"{display_path(review_csv)}:{line}"
        if verdict in ("", "skip"):
            continue
        label = row.get("expected", "").strip()
        if verdict != "add":
            problems.append(f"{where}: verdict {row['verdict']!r}: a trace is confirmed with 'add' (or left blank)")
        elif not label:
            problems.append(f"{where}: verdict 'add' with no expected label — write the right label in 'expected'")
        elif labels is not None and label not in labels:
            problems.append(f"{where}: {label!r} is not a known label — fix the spelling or extend the label list")
        else:
            rows.append({"id": f"{row['case_id']}-confirmed", "text": row["input"], "label": label,
                         "source": f"{where} ({row.get('run', '')})"})  # fmt: skip
    if problems:
        raise TraceError("nothing written; fix these rows first:\n  " + "\n  ".join(problems))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return len(rows)
