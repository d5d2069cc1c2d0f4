"""Human spot checks: export the cases a person should look at, and import what they decided.

    harness review export RUN --worst N           RUN/review/review.csv + review.html
    harness review import FILE --reason TEXT      verdicts -> golden/judge_calibration, re-frozen with the reason
    harness review import FILE --propose SET      "add" rows -> proposed golden cases for SET (nothing frozen changes)

Metrics and judges are checked against people one case at a time. Export ranks a run's cases by how much a
reviewer's eye is worth there: regressions against the baseline first, then cases where the judge and
the metric disagree, then the judge's worst verdicts, then plain failures, then pairs the judge could not
decide. Reviewers fill in `verdict` (and `notes`) in the CSV:

    1–5                    the quality of `output` on the judge's rubric   -> a rubric calibration case
    model / baseline / tie which answer is better                           -> a pairwise calibration case
    add                    make this input a golden case; `expected` holds the right answer -> a proposal
    (blank)                not reviewed

Import validates every row first and reports all problems as `file:line: …`; it writes nothing unless all
rows are good. It never changes a frozen set silently: verdicts go in only with a `--reason`, through a
re-freeze, and only when the golden sets matched their lock beforehand.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import html
import json
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import InputDataError
from harness.gate_results import result_type
from harness.golden import GoldenCase, GoldenError, append_cases, display_path, load_file, set_path, validate_rows

COLUMNS = ("run", "case_id", "gate", "input", "output", "expected", "baseline_output", "why_selected", "verdict",
           "notes")  # fmt: skip
CALIBRATION_SET = "judge_calibration"
PREFERENCES = {"model": "a", "baseline": "b", "tie": "tie"}
"""A pairwise verdict -> the calibration case's `preferred`: the model's answer is response_a."""


class ReviewError(InputDataError):
    """A review file or run cannot be used; the message says where (file:line) and how to fix it."""


# --- export ----------------------------------------------------------------------------------------------


@dataclass
class Pick:
    """One case selected for review, with every reason it was selected."""

    rank: int
    """0 regression, 1 judge/metric disagreement, 2 judge's worst, 3 failed, 4 judge undecided."""
    order: float
    """Within a rank, lower comes first (e.g. the judge's score)."""
    gate: str
    case: Mapping[str, Any]
    reasons: list[str] = field(default_factory=list)
    baseline_output: str | None = None


def read_results(run: Path) -> dict[str, Any]:
    path = run / "results.json" if run.is_dir() else run
    if not path.is_file():
        raise ReviewError(f"{display_path(path)}: no results.json — pass a reports/<run> directory of a finished run")
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        fix = "rerun the suites to write it again"
        raise ReviewError(f"{display_path(path)}: not readable JSON ({error}) — {fix}") from None
    return data


def select(results: Mapping[str, Any], worst: int) -> list[Pick]:
    """The `worst` cases most worth a reviewer's time, one row per case id, best reason first."""
    picks: dict[str, Pick] = {}
    index = _case_index(results.get("gates", []))
    for pick in [*_gate_picks(results.get("gates", [])), *_judge_picks(results.get("extras", {}), index)]:
        case_id = str(pick.case.get("id"))
        kept = picks.setdefault(case_id, pick)
        if kept is pick:
            continue
        _same_case(case_id, kept, pick)
        kept.baseline_output = kept.baseline_output or pick.baseline_output
        if (pick.rank, pick.order) < (kept.rank, kept.order):  # the weightiest reason comes first
            kept.rank, kept.order, kept.gate = pick.rank, pick.order, pick.gate
            kept.reasons = pick.reasons + [r for r in kept.reasons if r not in pick.reasons]
        else:
            kept.reasons += [r for r in pick.reasons if r not in kept.reasons]
    return sorted(picks.values(), key=lambda p: (p.rank, p.order, p.gate, str(p.case.get("id"))))[:worst]


def _same_case(case_id: str, kept: Pick, pick: Pick) -> None:
    """One row per case id is right only when the id names one case. Ids are unique across golden sets
    (freeze and verify enforce it); a run made before that rule may still hold two cases under one id, and
    merging them would silently drop one from the review."""
    if kept.case.get("input") != pick.case.get("input"):
        raise ReviewError(
            f"case id {case_id!r} names two different cases in this run (gate {kept.gate}: "
            f"{_text(kept.case.get('input'))[:60]!r}; gate {pick.gate}: {_text(pick.case.get('input'))[:60]!r}) — "
            "case ids must be unique across golden sets (`harness golden verify` checks it): rename one, "
            "re-freeze and rerun the suites"
        )


def _case_index(gates: Iterable[Mapping[str, Any]]) -> dict[str, tuple[str, Mapping[str, Any]]]:
    """Case id -> (gate, case record): the first metric gate's record, else a judge gate's."""
    index: dict[str, tuple[str, Mapping[str, Any]]] = {}
    for gate in sorted(gates, key=lambda g: (g["name"].startswith("judge."), g["name"])):
        for case in gate.get("cases", []):
            index.setdefault(str(case["id"]), (gate["name"], case))
    return index


def _gate_picks(gates: Iterable[Mapping[str, Any]]) -> Iterable[Pick]:
    for gate in gates:
        if not result_type(gate).deciding:  # a figure recorded beside the decision (e.g. a prompted baseline's)
            continue
        for case in gate.get("cases", []):
            if case.get("baseline_passed") and case.get("passed") is False:
                yield Pick(0, case["score"], gate["name"], case, [f"regression: baseline passed {gate['name']}, "
                           "the model failed"], case.get("baseline_output"))  # fmt: skip
            elif case.get("passed") is False:
                yield Pick(3, case["score"], gate["name"], case, [f"failed {gate['name']}"])


def _judge_picks(extras: Mapping[str, Any], index: Mapping[str, tuple[str, Mapping[str, Any]]]) -> Iterable[Pick]:
    """The judge's worst verdicts, its undecided pairs, and where it disagrees with a metric."""
    for kind in ("judge_pairwise", "judge_rubric"):
        data = extras.get(kind) or {}
        trust = "" if data.get("trusted") else " (untrusted judge)"
        for case_id, verdict in (data.get("items") or {}).items():
            if case_id not in index:
                continue
            gate, case = index[case_id]
            metric_case = None if gate.startswith("judge.") else case
            for rank, reason in _judge_reasons(kind, verdict, metric_case, gate):
                score, baseline_output = verdict.get("score") or 0.0, verdict.get("baseline_output")
                yield Pick(rank, score, gate, case, [reason + trust], baseline_output)


def _judge_reasons(
    kind: str, verdict: Mapping[str, Any], metric_case: Mapping[str, Any] | None, gate: str
) -> list[tuple[int, str]]:
    bad = verdict.get("outcome") == "loss" if kind == "judge_pairwise" else (verdict.get("score") or 9) <= 2
    good = verdict.get("outcome") == "win" if kind == "judge_pairwise" else (verdict.get("score") or 0) >= 4
    what = (f"judge preferred the {'baseline' if bad else 'model'}" if kind == "judge_pairwise"
            else f"judge scored {verdict.get('score')}/5")  # fmt: skip
    reasons: list[tuple[int, str]] = []
    passed = metric_case.get("passed") if metric_case else None
    if passed is not None and ((passed and bad) or (not passed and good)):
        reasons.append((1, f"judge/metric disagree: {'passes' if passed else 'fails'} {gate} but {what}"))
    elif bad:
        reasons.append((2, what + (f": {verdict.get('reason')}" if verdict.get("reason") else "")))
    if verdict.get("error"):
        reasons.append((4, f"judge gave no verdict: {verdict['error']}"))
    elif kind == "judge_pairwise" and verdict.get("consistent") is False:
        reasons.append((4, "judge disputed: its verdict flipped when the answers swapped places"))
    return reasons


def export(run: Path, worst: int, out_dir: Path | None = None) -> tuple[Path, Path, int]:
    """Write review.csv and review.html for a run; returns their paths and the number of cases."""
    results = read_results(run)
    picks = select(results, worst)
    run_name = (run if run.is_dir() else run.parent).name
    out = out_dir or (run if run.is_dir() else run.parent) / "review"
    rows = [_row(run_name, pick) for pick in picks]
    csv_path, html_path = write_review(out, run_name, rows)
    return csv_path, html_path, len(rows)


def write_review(out: Path, run_name: str, rows: list[dict[str, str]]) -> tuple[Path, Path]:
    """review.csv (COLUMNS, verdict and notes blank) and review.html in `out`: what `review import` reads
    back, whoever selected the rows (a run's worst cases, or production traces)."""
    out.mkdir(parents=True, exist_ok=True)
    csv_path, html_path = out / "review.csv", out / "review.html"
    with csv_path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    html_path.write_text(render_html(run_name, rows), encoding="utf-8")
    return csv_path, html_path


def _row(run_name: str, pick: Pick) -> dict[str, str]:
    case = pick.case
    return {"run": run_name, "case_id": str(case.get("id")), "gate": pick.gate, "input": _text(case.get("input")),
            "output": _text(case.get("output")), "expected": _text(case.get("expected")),
            "baseline_output": _text(pick.baseline_output or case.get("baseline_output")),
            "why_selected": "; ".join(pick.reasons), "verdict": "", "notes": ""}  # fmt: skip


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


HTML_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Review: {run}</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border: 1px solid #ccc; padding: .4rem; vertical-align: top; text-align: left; }}
td {{ white-space: pre-wrap; word-break: break-word; max-width: 28rem; }}
th {{ background: #f3f3f3; position: sticky; top: 0; }}
.why {{ color: #8a1c1c; }}
</style></head><body>
<h1>Review: {run}</h1>
<p>{count} case(s) selected, most worth a look first. Record decisions in <code>review.csv</code> (same rows):
<b>verdict</b> = 1–5 for the output's quality on the judge's rubric, <code>model</code> / <code>baseline</code> /
<code>tie</code> for the better answer, <code>add</code> to propose the input as a golden case (put the right answer
in <b>expected</b>), or leave it blank; then <code>harness review import review.csv --reason "…"</code>.</p>
<table><thead><tr>{head}</tr></thead><tbody>
{body}
</tbody></table></body></html>
"""


def render_html(run_name: str, rows: list[dict[str, str]]) -> str:
    """A self-contained page (no scripts, no external files); every value is HTML-escaped."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS if c != "run")
    body = "\n".join(
        "<tr>" + "".join(f'<td{" class=why" if c == "why_selected" else ""}>{html.escape(row[c])}</td>'
                         for c in COLUMNS if c != "run") + "</tr>"
        for row in rows
    )  # fmt: skip
    return HTML_PAGE.format(run=html.escape(run_name), count=len(rows), head=head, body=body)


# --- import ----------------------------------------------------------------------------------------------


@dataclass
class Imported:
    """What an import did: calibration cases added (and the re-freeze), proposals written, rows skipped."""

    calibration: list[GoldenCase] = field(default_factory=list)
    proposals: list[GoldenCase] = field(default_factory=list)
    proposals_path: Path | None = None
    skipped: int = 0


def read_review(path: Path) -> list[tuple[int, dict[str, str]]]:
    """(line, row) for each row of a review CSV; a quoted cell may span lines, so each row's first line."""
    if not path.is_file():
        raise ReviewError(f"{display_path(path)}: file not found — pass the review.csv a reviewer filled in")
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = [c for c in ("case_id", "input", "output", "verdict") if c not in (reader.fieldnames or [])]
        if missing:
            raise ReviewError(f"{display_path(path)}:1: missing column(s) {', '.join(missing)} — keep the header "
                              "that `harness review export` wrote")  # fmt: skip
        rows, start = [], 2
        for row in reader:
            rows.append((start, {k: (v or "") for k, v in row.items() if k is not None}))
            start = reader.line_num + 1
    return rows


def import_review(path: Path, golden_dir: Path, *, reason: str | None, propose: str | None,
                  proposals_path: Path | None = None) -> Imported:  # fmt: skip
    """Validate every row, then add verdicts to the calibration set (re-frozen) and write proposals."""
    rows = read_review(path)
    existing = _existing_ids(golden_dir)
    result, problems = Imported(), []
    calibration_rows, proposal_rows = [], []
    for line, row in rows:
        verdict = row["verdict"].strip().lower()
        if not verdict or verdict == "skip":
            result.skipped += 1
            continue
        try:
            if verdict == "add":
                proposal_rows.append((line, _proposal(row, propose)))
            else:
                calibration_rows.append((line, _calibration_row(row, verdict, reason, existing)))
        except ValueError as error:
            problems.append(f"{display_path(path)}:{line}: case {row['case_id']!r}: {error}")
    for rows_, target in ((calibration_rows, result.calibration), (proposal_rows, result.proposals)):
        cases, invalid = validate_rows(rows_)
        problems += [f"{display_path(path)}:{line}: {message}" for line, message in invalid]
        target.extend(cases)
    if problems:
        raise ReviewError("nothing imported; fix these rows first:\n  " + "\n  ".join(sorted(problems, key=_line_of)))
    if result.calibration:
        _add_to_calibration(golden_dir, result.calibration, f"review import of {len(result.calibration)} verdict(s) "
                            f"from {display_path(path)}: {(reason or '').strip()}")  # fmt: skip
    if result.proposals:
        result.proposals_path = proposals_path or path.with_name(f"{path.stem}.proposed-{propose}.jsonl")
        result.proposals_path.write_text("".join(c.to_json_line() + "\n" for c in result.proposals), encoding="utf-8")
    return result


def _line_of(problem: str) -> int:
    match = re.search(r":(\d+): ", problem)
    return int(match.group(1)) if match else 0


def _existing_ids(golden_dir: Path) -> set[str]:
    path = set_path(golden_dir, CALIBRATION_SET)
    return {case.id for case in load_file(path)} if path.is_file() else set()


def _calibration_row(row: Mapping[str, str], verdict: str, reason: str | None, existing: set[str]) -> dict[str, Any]:
    """The golden case a reviewer's score or preference becomes in the calibration set."""
    if verdict not in PREFERENCES and verdict not in {"1", "2", "3", "4", "5"}:
        raise ValueError(f"verdict {row['verdict']!r} is not 1–5, model, baseline, tie, add or blank — fix the cell")
    if not (reason or "").strip():
        raise ValueError("this verdict re-freezes golden/judge_calibration, which needs --reason \"why\"")
    case_id = f"review-{row['case_id']}"
    if case_id in existing:
        raise ValueError(f"golden/{CALIBRATION_SET} already has {case_id!r} (imported before?) — drop the row")
    existing.add(case_id)
    source: dict[str, Any] = {"notes": row.get("notes", ""), "gate": row.get("gate", ""), "run": row.get("run", "")}
    if verdict in PREFERENCES:
        if not row.get("baseline_output", "").strip():
            raise ValueError(f"verdict {verdict!r} compares with the baseline, but baseline_output is empty — "
                             "grade the output 1–5 instead")  # fmt: skip
        expected = {"kind": "pairwise", "response_a": row["output"], "response_b": row["baseline_output"],
                    "preferred": PREFERENCES[verdict], **source}  # fmt: skip
    else:
        expected = {"kind": "rubric", "response": row["output"], "score": int(verdict), **source}
    kind = str(expected["kind"])
    return {"id": case_id, "input": row["input"], "expected": expected, "tags": [kind, "review"]}


def _proposal(row: Mapping[str, str], propose: str | None) -> dict[str, Any]:
    """A proposed golden case: the row's input, and the reviewer's `expected` (JSON check specs parsed)."""
    if not propose:
        raise ValueError("verdict 'add' proposes a golden case; name the set it is for with --propose SET")
    expected: Any = row.get("expected", "")
    if expected.strip().startswith(("{", "[")):
        with contextlib.suppress(json.JSONDecodeError):  # else a label that merely starts with a bracket
            expected = json.loads(expected)
    return {"id": f"{row['case_id']}-review", "input": row["input"], "expected": expected, "tags": ["review"]}


def _add_to_calibration(golden_dir: Path, cases: list[GoldenCase], reason: str) -> None:
    """Append and re-freeze, refusing when the golden sets already differ from their lock: a re-freeze
    would otherwise pin someone's unreviewed edit under this import's reason."""
    from harness.golden.lock import freeze, verify

    status = verify(golden_dir)
    if not status.ok:
        raise ReviewError("nothing imported: the golden sets already differ from their lock, and a review import "
                          f"re-freezes only its own change; resolve this first.\n{status.explain()}")  # fmt: skip
    try:
        append_cases(golden_dir, CALIBRATION_SET, cases)
        freeze(golden_dir, reason)
    except GoldenError as error:
        raise ReviewError(str(error)) from None


# --- command line ----------------------------------------------------------------------------------------


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`harness review export|import`, added to the `harness` command's subcommands."""
    review = commands.add_parser("review", help="export cases for human review; import reviewers' verdicts")
    actions = review.add_subparsers(title="review commands", metavar="ACTION", required=True)
    out = actions.add_parser("export", help="the worst / most disputed cases of a run -> review.csv + review.html")
    out.add_argument("run_dir", type=Path, metavar="RUN", help="a reports/<run> dir (or its results.json)")
    out.add_argument("--worst", type=int, default=50, metavar="N", help="cases to export (default: 50)")
    out.add_argument("--out", type=Path, default=None, metavar="DIR", help="where to write (default: RUN/review)")
    out.set_defaults(run=_export_command)
    into = actions.add_parser("import", help="reviewers' verdicts -> judge calibration set (re-frozen) / proposals")
    into.add_argument("file", type=Path, metavar="FILE", help="the review.csv with the verdict column filled in")
    into.add_argument("--reason", metavar="TEXT", default=None,
                      help="why: lands in golden.lock; required when verdicts go to the calibration set")  # fmt: skip
    into.add_argument("--propose", metavar="SET", default=None,
                      help="golden set the 'add' rows are proposed for (written to a proposals file)")  # fmt: skip
    into.add_argument("--proposals", type=Path, default=None, metavar="FILE",
                      help="where to write proposals (default: next to FILE, <stem>.proposed-SET.jsonl)")  # fmt: skip
    into.add_argument("--root", type=Path, default=Path("golden"), metavar="DIR", help="golden sets (default: golden)")
    into.set_defaults(run=_import_command)


def _export_command(args: argparse.Namespace) -> int:
    if args.worst < 1:
        return _fail(f"--worst {args.worst}: pass a positive number of cases, e.g. --worst 30")
    csv_path, html_path, count = export(args.run_dir, args.worst, args.out)
    print(f"exported {count} case(s) for review: {display_path(csv_path)} (fill in 'verdict'), "
          f"{display_path(html_path)} (to read)")  # fmt: skip
    return 0


def _import_command(args: argparse.Namespace) -> int:
    done = import_review(args.file, args.root, reason=args.reason, propose=args.propose,
                         proposals_path=args.proposals)  # fmt: skip
    if done.calibration:
        print(f"added {len(done.calibration)} verdict(s) to {display_path(args.root / CALIBRATION_SET)} and "
              f"re-froze golden.lock: commit both")  # fmt: skip
    if done.proposals_path:
        print(f"proposed {len(done.proposals)} case(s) for {args.propose} in {display_path(done.proposals_path)}; "
              f"review them, then `harness golden add {args.propose} --from {display_path(done.proposals_path)} "
              f'--tags-column tags` and `harness golden freeze --reason "why"`')  # fmt: skip
    print(f"{done.skipped} row(s) without a verdict skipped")
    return 0


def _fail(message: str) -> int:
    print(f"harness: error: {message}", file=sys.stderr)
    return 2
