"""Run reports: `reports/<timestamp>-<model>/results.json` and `summary.md`, plus the terminal gate table.

Reports are written from what the session recorded (gates, per-case outcomes, model fingerprints);
nothing is re-run to produce them. `summary.md` is ready for `$GITHUB_STEP_SUMMARY`.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ExtrasSink = Callable[[str, dict[str, Any]], None]


class _Attach:
    """Where `attach` sends data: the plugin installs the session's sink; outside a session there is none."""

    sink: ExtrasSink | None = None


def configure_attach(sink: ExtrasSink | None) -> None:
    """The plugin's hook: route `attach` into the running session's record (None: no session)."""
    _Attach.sink = sink


def attach(name: str, data: dict[str, Any]) -> None:
    """Store JSON-able `data` in the current run's record; it lands in results.json as `"extras": {name: data}`.

    Suites and the judge call it for figures that are not gates (e.g. judge calibration). The data is
    copied through JSON now, so a value JSON cannot hold fails here, at the caller, and not at the end of
    the run; the copy also travels over xdist's channel. A second attach under the same name replaces the
    first. Outside a harness session it does nothing and warns, so library code can call it freely."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"report.attach: name must be a non-empty string, got {name!r}")
    if not isinstance(data, dict):
        raise TypeError(f"report.attach({name!r}): data must be a dict, got {type(data).__name__}")
    try:
        plain = json.loads(json.dumps(data, allow_nan=False))
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"report.attach({name!r}): data is not JSON-able ({error}); convert it to dicts, lists, str, "
            "finite floats, ints, bools or None (e.g. numpy values with .item() or .tolist())"
        ) from None
    if _Attach.sink is None:
        warnings.warn(f"report.attach({name!r}): no harness session is running; the data is dropped", stacklevel=2)
        return
    _Attach.sink(name, plain)


def run_dir_name(model_label: str, now: datetime | None = None) -> str:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S.%fZ")  # two runs in one second stay apart
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", model_label).strip("_")[-60:]
    return f"{stamp}-{slug}"


def git_commit(root: Path) -> str | None:
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


@dataclass
class RunRecord:
    """Everything a run's report holds."""

    run_dir: Path
    models: dict[str, dict[str, str]] = field(default_factory=dict)  # role -> {label, fingerprint}
    golden_lock_hash: str | None = None
    git_commit: str | None = None
    thresholds: dict[str, Any] = field(default_factory=dict)
    gates: list[dict[str, Any]] = field(default_factory=list)
    golden_limit: int | None = None
    """Set for smoke runs on a slice of each golden set: their gates are not a decision."""
    extras: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Data suites stored with `attach` (e.g. judge calibration), by name."""
    started: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def to_json(self) -> dict[str, Any]:
        return {
            "started": self.started,
            "models": self.models,
            "golden_lock_hash": self.golden_lock_hash,
            "git_commit": self.git_commit,
            "thresholds": self.thresholds,
            "golden_limit": self.golden_limit,
            "gates": sorted(self.gates, key=lambda g: g["name"]),
            "extras": self.extras,
        }


def write(record: RunRecord) -> Path:
    record.run_dir.mkdir(parents=True, exist_ok=True)
    (record.run_dir / "results.json").write_text(json.dumps(record.to_json(), indent=2, default=str) + "\n")
    (record.run_dir / "summary.md").write_text(summary_markdown(record))
    from harness import report_html  # its plots import matplotlib: only when a report is written

    try:
        report_html.write(record.run_dir, record.to_json())
    except Exception as error:  # noqa: BLE001 - a rendering bug must not change the exit code, which is the decision
        print(f"harness: {record.run_dir / report_html.HTML_FILE} not written ({type(error).__name__}: {error}); "
              "results.json and summary.md are complete", file=sys.stderr)  # fmt: skip
    return record.run_dir


def gate_rows(gates: list[dict[str, Any]]) -> list[tuple[str, str, str, str, str]]:
    rows = []
    for gate in sorted(gates, key=lambda g: g["name"]):
        low, high = gate["interval"]
        if gate["kind"] == "measure":
            rows.append((gate["name"], f"{gate['value']:.3f}", f"[{low:.3f}, {high:.3f}]", "-", "measured"))
            continue
        if gate["kind"] == "better_than":
            rows.append((gate["name"], f"{gate['value']:+.3f}", f"p={low:.2g}", f"p < {gate['threshold']:g}",
                         "pass" if gate["passed"] else "FAIL"))  # fmt: skip
            continue
        comparison = "<=" if gate["kind"] == "no_regression" else ">="
        rows.append((gate["name"], f"{gate['value']:.3f}", f"[{low:.3f}, {high:.3f}]",
                     f"{comparison} {gate['threshold']:g}", "pass" if gate["passed"] else "FAIL"))  # fmt: skip
    return rows


def terminal_table(gates: list[dict[str, Any]]) -> list[str]:
    header = ("gate", "value", "95% interval", "threshold", "result")
    rows = [header, *gate_rows(gates)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]


def summary_markdown(record: RunRecord) -> str:
    lines = ["# Eval run " + record.run_dir.name, ""]
    for role, info in record.models.items():
        lines.append(f"- **{role}**: `{info['label']}` (fingerprint `{info['fingerprint'][:12]}`)")
    if record.golden_limit:
        lines.append(f"- **smoke run**: {record.golden_limit} cases per golden set; these gates are not a decision")
    lines += [f"- **golden lock**: `{(record.golden_lock_hash or 'none')[:12]}`",
              f"- **commit**: `{(record.git_commit or 'unknown')[:12]}`", "",
              "| gate | value | 95% interval | threshold | result |", "|---|---|---|---|---|"]  # fmt: skip
    lines += ["| " + " | ".join(row) + " |" for row in gate_rows(record.gates)]
    regressions = _top_regressions(record.gates)
    if regressions:
        lines += ["", "## Top regressions (baseline passed, model failed)", "",
                  "| gate | case | expected | model | baseline |", "|---|---|---|---|---|"]  # fmt: skip
        lines += regressions
    return "\n".join(lines) + "\n"


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
