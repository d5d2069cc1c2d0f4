"""The run record: what a session recorded (gates, per-case outcomes, test outcomes, model fingerprints,
attached data) and the verdict it adds up to. It becomes `results.json`; every other view of a run
(summary.md, the terminal table, report.html, `harness report diff`) is rendered from that document.
"""

from __future__ import annotations

import json
import re
import subprocess
import warnings
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.gate_results import result_type

ExtrasSink = Callable[[str, dict[str, Any]], None]


_SINK: ContextVar[ExtrasSink | None] = ContextVar("harness_attach_sink", default=None)
"""Where `attach` sends data: the running session's record (the plugin sets it); outside a session, nowhere."""


def configure_attach(sink: ExtrasSink | None) -> None:
    """The plugin's hook: route `attach` into the running session's record (None: no session)."""
    _SINK.set(sink)


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
    sink = _SINK.get()
    if sink is None:
        warnings.warn(f"report.attach({name!r}): no harness session is running; the data is dropped", stacklevel=2)
        return
    sink(name, plain)


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


OUTCOMES = ("error", "not run", "gate failed", "failed", "xpassed", "xfailed", "skipped", "passed")
"""A suite test's outcome in the run record, weightiest first. "error": it raised something other than an
assertion (a server down after its retries, a bug), so nothing was decided; "not run": collected but never
reported (the run was interrupted); "gate failed": a gate raised GateFailure; "failed": a plain assert."""
NO_DECISION = ("error", "not run")
PYTEST_EXIT = {0: "all tests passed", 1: "tests failed", 2: "interrupted", 3: "internal error", 4: "usage error",
               5: "no tests collected"}  # fmt: skip


@dataclass
class RunRecord:
    """Everything a run's report holds."""

    run_dir: Path
    models: dict[str, dict[str, str]] = field(default_factory=dict)  # role -> {label, fingerprint}
    golden_lock_hash: str | None = None
    golden_sets: dict[str, str] = field(default_factory=dict)
    """Per golden set, the hash of its files when the run started (`harness.golden.lock.set_hashes`)."""
    git_commit: str | None = None
    thresholds: dict[str, Any] = field(default_factory=dict)
    gates: list[dict[str, Any]] = field(default_factory=list)
    golden_limit: int | None = None
    """Set for smoke runs on a slice of each golden set: their gates are not a decision."""
    extras: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Data suites stored with `attach` (e.g. judge calibration), by name."""
    tests: dict[str, dict[str, str]] = field(default_factory=dict)
    """Suite test node id -> {"test", "outcome" (one of OUTCOMES), "message"}, the weightiest outcome of its
    setup, call and teardown."""
    collected: set[str] = field(default_factory=set)
    """Suite tests collected; those without an outcome at the end are recorded as "not run"."""
    pytest_exit: int | None = None
    html_written: bool = False
    started: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def note_test(self, test: str, outcome: str, message: str = "") -> None:
        """Record one phase's outcome of a suite test, keeping the weightiest seen so far."""
        kept = self.tests.get(test)
        if kept is None or OUTCOMES.index(outcome) < OUTCOMES.index(kept["outcome"]):
            self.tests[test] = {"test": test, "outcome": outcome, "message": message}

    def test_records(self) -> list[dict[str, str]]:
        """Every suite test with its outcome, "not run" for those collected and never reported."""
        unreported = {t: {"test": t, "outcome": "not run", "message": "collected, but the run ended before it ran"}
                      for t in self.collected if t not in self.tests}  # fmt: skip
        return [both[t] for both in [{**unreported, **self.tests}] for t in sorted(both)]

    def to_json(self) -> dict[str, Any]:
        data = {
            "started": self.started,
            "models": self.models,
            "golden_lock_hash": self.golden_lock_hash,
            "golden_sets": self.golden_sets,
            "git_commit": self.git_commit,
            "thresholds": self.thresholds,
            "golden_limit": self.golden_limit,
            "pytest_exit": self.pytest_exit,
            "gates": sorted(self.gates, key=lambda g: g["name"]),
            "tests": self.test_records(),
            "extras": self.extras,
        }
        return {**data, "verdict": verdict(data).to_json()}

    @property
    def worth_writing(self) -> bool:
        """A run with gates or attached data, or one where a suite test did not pass: a run whose tests all
        errored before any gate must leave a report that says so, not none."""
        return bool(self.gates or self.extras or any(t["outcome"] in (*NO_DECISION, "gate failed", "failed")
                                                     for t in self.test_records()))  # fmt: skip


@dataclass(frozen=True)
class Verdict:
    """What the run decided: "pass", "fail", or "none" (not a decision), and one line saying why."""

    decision: str
    headline: str
    errored: tuple[str, ...] = ()
    """Suite tests that errored or never ran: named wherever the verdict is shown."""
    broken: bool = False
    """The run broke (a test errored or never ran, pytest exit >= 2): not a decision, and loudly so."""

    def to_json(self) -> dict[str, Any]:
        return {"decision": self.decision, "headline": self.headline, "errored": list(self.errored)}


def verdict(results: dict[str, Any]) -> Verdict:
    """The verdict of a results.json document (older ones, without "tests", are judged on their gates).

    A test that errored makes the run not a decision, whatever its gates say: its gates neither passed nor
    failed, so CI must be able to tell "the model is worse" from "the run broke". Tests that never ran (an
    interrupted or `-x` run) leave it undecided too, unless a gate already failed: that alone decides."""
    tests = results.get("tests") or []
    errored = [t for t in tests if t["outcome"] == "error"]
    not_run = [t for t in tests if t["outcome"] == "not run"]
    exit_code = results.get("pytest_exit")
    if errored:
        return _undecided(errored + not_run, f"{len(errored)} test(s) errored")
    if exit_code not in (None, 0, 1):
        return Verdict("none", f"not a decision: pytest exit {exit_code} ({PYTEST_EXIT.get(exit_code, 'unexpected')})",
                       tuple(t["test"] for t in not_run), broken=True)  # fmt: skip
    gates = results.get("gates") or []
    deciding = [g for g in gates if result_type(g).deciding]
    failed = [g["name"] for g in deciding if not g["passed"]]
    plain = [short_test(t["test"]) for t in tests if t["outcome"] == "failed"]
    if limit := results.get("golden_limit"):
        return Verdict("none", f"not a decision: a smoke run on {int(limit)} cases per golden set (--golden-limit)")
    if failed or plain:
        parts = [f"{len(failed)} of {len(deciding)} gates failed: {', '.join(failed)}"] if failed else []
        parts += [f"{len(plain)} test(s) failed outside the gates: {', '.join(plain)}"] if plain else []
        parts += [f"{len(not_run)} test(s) did not run"] if not_run else []
        return Verdict("fail", "FAIL: " + "; ".join(parts))
    if not_run:
        return _undecided(not_run, f"{len(not_run)} test(s) did not run")
    if not gates and not tests:
        return Verdict("none", "not a decision: no gates were recorded in this run")
    return Verdict("pass", f"PASS: all {len(deciding)} gates passed" + (", no test failed" if tests else ""))


def _undecided(tests: list[dict[str, Any]], what: str) -> Verdict:
    names = ", ".join(short_test(t["test"]) for t in tests[:3]) + (", …" if len(tests) > 3 else "")
    return Verdict("none", f"not a decision: {what} ({names}); their gates decided nothing. Fix the run and rerun",
                   tuple(t["test"] for t in tests), broken=True)  # fmt: skip


def short_test(node_id: str) -> str:
    """`test_banking77.py::test_x` for `suites/test_banking77.py::test_x`: enough to find it, short to read."""
    path, _, name = node_id.partition("::")
    return f"{path.rsplit('/', 1)[-1]}::{name}" if name else node_id
