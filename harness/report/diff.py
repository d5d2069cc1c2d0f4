"""What changed between two runs: `harness report diff RUN_A RUN_B`.

A reviewer deciding on a candidate wants to know which gates moved and which cases flipped, not to
read two 400-case reports side by side. Everything here is a pure function of the two `results.json`
documents, so the CLI only reads files and prints lines. Importance order: a gate that started failing
first, then one that disappeared, then one that started passing, then threshold and value changes;
inside a gate, lost cases (pass → fail) come before gained ones.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import InputDataError

RESULTS_FILE = "results.json"
VALUE_TOLERANCE = 1e-9
"""Smaller value differences are float noise (e.g. a bootstrap summed in another order), not a change."""


class ReportError(InputDataError):
    """A run's results.json is missing or unreadable; the message names the file and the fix."""


@dataclass(frozen=True)
class CaseFlip:
    """One case whose pass/fail differs between the runs, as the report shows it."""

    id: str
    expected: Any
    output_a: str | None
    output_b: str | None
    lost: bool
    """True when run A passed and run B failed (a regression from A to B)."""


@dataclass(frozen=True)
class GateChange:
    """One gate that differs between the runs. `a` or `b` is None when the gate is in one run only."""

    name: str
    a: Mapping[str, Any] | None
    b: Mapping[str, Any] | None
    flips: list[CaseFlip] = field(default_factory=list)
    only_in_a: int = 0
    """Cases recorded under this gate in run A only (the golden set changed between runs)."""
    only_in_b: int = 0

    @property
    def rank(self) -> int:
        """0 started failing, 1 disappeared, 2 started passing, 3 new gate, 4 threshold, 5 value, 6 flips only."""
        if self.a is None:
            return 3
        if self.b is None:
            return 1
        if self.a["passed"] != self.b["passed"]:
            return 0 if self.a["passed"] else 2
        if self.a["threshold"] != self.b["threshold"]:
            return 4
        return 5 if value_changed(self.a, self.b) else 6

    @property
    def value_delta(self) -> float:
        return abs(self.b["value"] - self.a["value"]) if self.a and self.b else 0.0


def read_results(path: Path) -> dict[str, Any]:
    """A run's results.json, given the run dir or the file itself."""
    file = path / RESULTS_FILE if path.is_dir() else path
    fix = f"pass a run dir under reports/ (one holding {RESULTS_FILE}) or the {RESULTS_FILE} file itself"
    if not file.is_file():
        raise ReportError(f"{file}: not found — {fix}")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ReportError(f"{file}: not valid JSON ({error}) — {fix}") from None
    if not isinstance(data, dict) or not isinstance(data.get("gates"), list):
        raise ReportError(f"{file}: no 'gates' list, so not a harness results.json — {fix}")
    return data


def value_changed(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return abs(float(a["value"]) - float(b["value"])) > VALUE_TOLERANCE


def diff_gates(run_a: Mapping[str, Any], run_b: Mapping[str, Any]) -> list[GateChange]:
    """Every gate that changed (pass/fail, threshold, value beyond 1e-9, or any case flip), most important
    first; ties broken by the size of the value change, then by name."""
    gates_a = {gate["name"]: gate for gate in run_a["gates"]}
    gates_b = {gate["name"]: gate for gate in run_b["gates"]}
    changes = [_compare(name, gates_a.get(name), gates_b.get(name)) for name in sorted(gates_a.keys() | gates_b.keys())]
    changed = [c for c in changes if c.a is None or c.b is None or c.rank < 6 or c.flips]
    return sorted(changed, key=lambda c: (c.rank, -c.value_delta, c.name))


def _compare(name: str, a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> GateChange:
    if a is None or b is None:
        return GateChange(name, a, b)
    flips, only_a, only_b = case_flips(a.get("cases", []), b.get("cases", []))
    return GateChange(name, a, b, flips, only_a, only_b)


def case_flips(cases_a: list[Mapping[str, Any]], cases_b: list[Mapping[str, Any]]) -> tuple[list[CaseFlip], int, int]:
    """(cases whose pass/fail flipped, lost before gained, in run-A order; count only in A; count only in B).

    Cases are matched by id. Score-only cases (passed is None) never flip: a score has no pass/fail."""
    by_id_b = {str(case["id"]): case for case in cases_b}
    ids_a = {str(case["id"]) for case in cases_a}
    flips = []
    for case in cases_a:
        other = by_id_b.get(str(case["id"]))
        if other is None or case.get("passed") is None or other.get("passed") is None:
            continue
        if bool(case["passed"]) != bool(other["passed"]):
            flips.append(CaseFlip(str(case["id"]), case.get("expected"), case.get("output"), other.get("output"),
                                  lost=bool(case["passed"])))  # fmt: skip
    flips.sort(key=lambda flip: not flip.lost)  # stable: lost first, each group in run-A order
    return flips, len(ids_a - by_id_b.keys()), len(by_id_b.keys() - ids_a)


def render(run_a: Mapping[str, Any], run_b: Mapping[str, Any], *, max_cases: int = 20) -> list[str]:
    """The diff as printable lines: a header per run, then each changed gate with its flipped cases."""
    lines = [_run_line("A", run_a), _run_line("B", run_b)]
    lock_a, lock_b = run_a.get("golden_lock_hash"), run_b.get("golden_lock_hash")
    if lock_a != lock_b:
        lines.append(f"golden sets differ ({_short_hash(lock_a)} → {_short_hash(lock_b)}): cases are matched by id, "
                     "so changed cases compare different questions")  # fmt: skip
    changes = diff_gates(run_a, run_b)
    if not changes:
        return [*lines, "", f"no gate or case changed ({len(run_b['gates'])} gate(s) compared)"]
    for change in changes:
        lines += ["", _gate_line(change), *_flip_lines(change, max_cases)]
    unchanged = len({g["name"] for g in run_a["gates"]} | {g["name"] for g in run_b["gates"]}) - len(changes)
    if unchanged:
        lines += ["", f"{unchanged} other gate(s) unchanged"]
    return lines


def _run_line(label: str, run: Mapping[str, Any]) -> str:
    model = run.get("models", {}).get("model", {})
    described = f"{model.get('label', '?')} (fingerprint {str(model.get('fingerprint', '?'))[:12]})"
    return (f"{label}: {described}, started {run.get('started', '?')}, "
            f"golden {_short_hash(run.get('golden_lock_hash'))}, commit {str(run.get('git_commit'))[:12]}")  # fmt: skip


def _short_hash(value: Any) -> str:
    return str(value)[:12] if value else "none"


def _gate_line(change: GateChange) -> str:
    a, b = change.a, change.b
    if b is None:
        return f"{change.name}: only in A ({_verdict(a)} {a['value']:.3f}) — removed from B"  # type: ignore[index]
    if a is None:
        return f"{change.name}: only in B ({_verdict(b)} {b['value']:.3f}) — new gate"
    verdict = _moved(_verdict(a), _verdict(b))
    value = f"{b['value']:.3f}"
    if value_changed(a, b):
        value = f"{a['value']:.3f} → {value} ({b['value'] - a['value']:+.3g})"
    threshold = _moved(format(a["threshold"], "g"), format(b["threshold"], "g"))
    return f"{change.name}: {verdict}  value {value}  threshold {threshold}"


def _moved(before: str, after: str) -> str:
    return before if before == after else f"{before} → {after}"


def _verdict(gate: Mapping[str, Any] | None) -> str:
    return "pass" if gate and gate["passed"] else "FAIL"


def _flip_lines(change: GateChange, max_cases: int) -> list[str]:
    lines = []
    for lost, title in ((True, "lost (pass → fail)"), (False, "gained (fail → pass)")):
        group = [flip for flip in change.flips if flip.lost is lost]
        if group:
            lines.append(f"  {title}: {len(group)} case(s)")
            lines += [f"    #{f.id} expected {_clip(f.expected)}: {_clip(f.output_a)} → {_clip(f.output_b)}"
                      for f in group[:max_cases]]  # fmt: skip
            if len(group) > max_cases:
                lines.append(f"    … and {len(group) - max_cases} more")
    if change.only_in_a or change.only_in_b:
        lines.append(f"  cases not in both runs: {change.only_in_a} only in A, {change.only_in_b} only in B")
    return lines


def _clip(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    text = text.replace("\\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"
