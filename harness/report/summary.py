"""The run's text views, from its results: the gate table (terminal and markdown) and `summary.md`.

`summary.md` is ready for `$GITHUB_STEP_SUMMARY`: the verdict, the models, the gate table, the tests that
did not pass and the top regressions against the baseline.
"""

from __future__ import annotations

from typing import Any

from harness.gate_results import TableRow, from_record
from harness.report.record import NO_DECISION, OUTCOMES, RunRecord, short_test, verdict


def gate_rows(gates: list[dict[str, Any]]) -> list[TableRow]:
    return [from_record(gate).table_row() for gate in sorted(gates, key=lambda g: g["name"])]


def error_rows(tests: list[dict[str, Any]]) -> list[TableRow]:
    """One gate-table row per suite test that errored or never ran: its gates decided nothing."""
    return [(short_test(t["test"]), "-", "-", "-", "ERROR: no decision" if t["outcome"] == "error" else "NOT RUN")
            for t in tests if t["outcome"] in NO_DECISION]  # fmt: skip


def terminal_table(gates: list[dict[str, Any]], tests: list[dict[str, Any]] | None = None) -> list[str]:
    header = ("gate", "value", "95% interval", "threshold", "result")
    rows = [header, *gate_rows(gates), *error_rows(tests or [])]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]


def summary_markdown(record: RunRecord) -> str:
    results = record.to_json()
    decided = verdict(results)
    said = decided.headline.removeprefix("not a decision: ").removeprefix("FAIL: ").removeprefix("PASS: ")
    lines = ["# Eval run " + record.run_dir.name, "", f"**Verdict: {_VERDICT_WORD[decided.decision]}** — "
             f"{_cell(said, 400)}", ""]  # fmt: skip
    for role, info in record.models.items():
        lines.append(f"- **{role}**: `{info['label']}` (fingerprint `{info['fingerprint'][:12]}`)")
    if record.golden_limit:
        lines.append(f"- **smoke run**: {record.golden_limit} cases per golden set; these gates are not a decision")
    lines += [f"- **golden lock**: `{(record.golden_lock_hash or 'none')[:12]}`",
              f"- **commit**: `{(record.git_commit or 'unknown')[:12]}`", "",
              "| gate | value | 95% interval | threshold | result |", "|---|---|---|---|---|"]  # fmt: skip
    lines += ["| " + " | ".join(row) + " |" for row in gate_rows(record.gates) + error_rows(results["tests"])]
    lines += _unpassed_tests(results["tests"], record.gates)
    regressions = _top_regressions(record.gates)
    if regressions:
        lines += ["", "## Top regressions (baseline passed, model failed)", "",
                  "| gate | case | expected | model | baseline |", "|---|---|---|---|---|"]  # fmt: skip
        lines += regressions
    return "\n".join(lines) + "\n"


_VERDICT_WORD = {"pass": "PASS", "fail": "FAIL", "none": "not a decision"}


def _unpassed_tests(tests: list[dict[str, Any]], gates: list[dict[str, Any]]) -> list[str]:
    """A table of every suite test that did not simply pass, weightiest first, with the gates it recorded."""
    shown = sorted((t for t in tests if t["outcome"] != "passed"), key=lambda t: (OUTCOMES.index(t["outcome"]),
                                                                                  t["test"]))  # fmt: skip
    if not shown:
        return []
    lines = ["", "## Tests that did not pass", "", "| test | outcome | gates recorded | message |", "|---|---|---|---|"]
    for test in shown:
        recorded = ", ".join(g["name"] for g in gates if g.get("test") == test["test"]) or "none"
        outcome = "ERROR: no decision" if test["outcome"] == "error" else test["outcome"]
        lines.append(f"| {_cell(test['test'], 120)} | {outcome} | {_cell(recorded, 120)} | "
                     f"{_cell(test['message'], 300)} |")  # fmt: skip
    return lines


def _top_regressions(gates: list[dict[str, Any]], limit: int = 10) -> list[str]:
    rows = []
    for gate in gates:
        for case in gate["cases"]:
            if case.get("baseline_passed") and case.get("passed") is False:
                rows.append(f"| {gate['name']} | {case['id']} | {_cell(case['expected'])} | "
                            f"{_cell(case['output'])} | {_cell(case['baseline_output'])} |")  # fmt: skip
    return rows[:limit]


def _cell(value: Any, limit: int = 60) -> str:
    text = str(value if value is not None else "").replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"
