"""Whether a candidate may become the champion, decided from what its suites run left behind.

Pure functions of a run's results.json, pytest's exit code and its JUnit XML, and the champion's
results.json, so the rule can be tested without a model:

- pytest exited 0: a failed or errored test refuses, exit code 1 means a gate (or another test) failed,
  2 and above means the run itself broke. Skipped and xfailed tests (an untrusted judge, a suite whose
  server is not configured) are allowed, and listed;
- a run that broke (pytest exit 2 and above, or a test that errored rather than failed an assertion: a
  server down after its retries) refuses as `broken`, naming the errored tests: it decided nothing, and
  `harness promote` exits 2 for it, not 1, so CI can tell "the model is worse" from "the run broke";
- every gate in results.json passed, on a full run (a `--golden-limit` smoke run is not a decision);
- the candidate is not significantly worse than the champion: for every gate with per-case pass/fail
  outcomes in both runs (same golden lock), one-sided exact McNemar on the cases they share, at
  `[tool.harness.gates] alpha`. Each gate is tested at alpha on its own; several tests make a refusal
  more likely, never a promotion.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import stats
from harness.gate_results import result_type
from harness.report import verdict

PYTEST_EXIT = {2: "interrupted", 3: "internal error", 4: "usage error", 5: "no tests collected"}
GATE_FAILURE = "harness.gates.GateFailure"
"""How a failed gate's test failure starts in the JUnit XML."""


@dataclass(frozen=True)
class TestOutcome:
    """A test that did not simply pass: failed, error, skipped or xfailed, with pytest's message."""

    __test__ = False  # not a pytest test class, despite the name

    test: str
    outcome: str
    message: str = ""

    def line(self) -> str:
        message = " ".join(self.message.split())
        return f"{self.test} ({self.outcome}{': ' + message[:160] if message else ''})"


@dataclass(frozen=True)
class Comparison:
    """One gate's paired comparison of the candidate with the champion on the cases both runs scored."""

    gate: str
    cases: int
    candidate_passes: int
    champion_passes: int
    lost: int
    """Cases the champion passed and the candidate fails."""
    gained: int
    p_worse: float
    alpha: float

    @property
    def worse(self) -> bool:
        return self.p_worse < self.alpha

    def line(self) -> str:
        verdict = "significantly worse" if self.worse else "not worse"
        return (
            f"{self.gate}: {self.candidate_passes}/{self.cases} vs champion {self.champion_passes}/{self.cases}, "
            f"lost {self.lost}, gained {self.gained}; McNemar p(worse)={self.p_worse:.3g} "
            f"{'<' if self.worse else '>='} {self.alpha:g}: {verdict}"
        )


@dataclass
class Decision:
    """The verdict and everything it rests on. It promotes exactly when there is no reason to refuse."""

    reasons: list[str] = field(default_factory=list)
    gates_passed: list[str] = field(default_factory=list)
    gates_failed: list[str] = field(default_factory=list)
    allowed: list[TestOutcome] = field(default_factory=list)
    """Skipped and xfailed tests: allowed, but the decision block names them."""
    comparisons: list[Comparison] = field(default_factory=list)
    not_compared: list[str] = field(default_factory=list)
    broken: bool = False
    """The run broke rather than decided: pytest exit >= 2, or a test errored (see _run_reasons)."""

    @property
    def promote(self) -> bool:
        return not self.reasons

    def allowed_lines(self) -> list[str]:
        """Skipped and xfailed tests, one line per module and reason (six data tests skip for one reason)."""
        groups: dict[tuple[str, str, str], list[TestOutcome]] = {}
        for test in self.allowed:
            module = test.test.rsplit("::", 1)[0]
            groups.setdefault((module, test.outcome, " ".join(test.message.split())[:120]), []).append(test)
        lines = []
        for (module, outcome, message), tests in groups.items():
            name = tests[0].test if len(tests) == 1 else f"{module} ({len(tests)} tests)"
            lines.append(f"{name} ({outcome}{': ' + message if message else ''})")
        return lines


def listed(names: Sequence[str], limit: int = 6) -> str:
    """`a, b, c` or `a, b, c, … (12 in all)`: a decision line stays readable with many gates."""
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown}, … ({len(names)} in all)"


def decide(
    candidate: dict[str, Any] | None,
    champion: dict[str, Any] | None,
    alpha: float,
    *,
    exit_code: int = 0,
    tests: Sequence[TestOutcome] = (),
    case_sets: Mapping[str, str] | None = None,
) -> Decision:
    """Decide from the candidate's results.json (None: the run wrote none), the champion's (None: no
    champion yet), pytest's exit code and its non-passing tests. `case_sets` (case id -> golden set) lets
    the champion's results serve when only sets the candidate never scored changed since."""
    decision = Decision(allowed=[t for t in tests if t.outcome in ("skipped", "xfailed")])
    run_reasons, decision.broken = _run_reasons(exit_code, tests, candidate)
    decision.reasons += run_reasons
    if candidate is None:
        decision.reasons.append("the suites wrote no results.json (no gate ran): nothing shows the adapter is good")
        return decision
    _judge_gates(candidate, decision)
    if champion is not None:
        decision.comparisons, decision.not_compared = compare_with_champion(candidate, champion, alpha, case_sets)
        worse = [c for c in decision.comparisons if c.worse]
        if worse:
            listed = "; ".join(f"{c.gate} (lost {c.lost}, gained {c.gained}, p={c.p_worse:.3g})" for c in worse)
            decision.reasons.append(f"significantly worse than the champion (alpha {alpha:g}) on: {listed}")
    return decision


def _run_reasons(
    exit_code: int, tests: Sequence[TestOutcome], candidate: dict[str, Any] | None
) -> tuple[list[str], bool]:
    """Why the run itself refuses, and whether it broke. Runs that record "tests" in results.json are judged
    by the run's own verdict (the plugin saw each exception: an errored test, or tests that never ran with
    no gate failed, broke the run). Older runs only have the JUnit XML's messages: there a non-gate failure
    that is not an AssertionError counts as broken."""
    recorded = (candidate or {}).get("tests")
    reasons, broken = [], exit_code >= 2
    if exit_code >= 2:
        meaning = PYTEST_EXIT.get(exit_code, "unexpected exit code")
        reasons.append(f"the suites run itself broke: pytest exit {exit_code} ({meaning}); fix it and promote again")
    decided = verdict(candidate) if candidate is not None and recorded is not None else None
    undecided = set(decided.errored) if decided is not None and decided.broken else set()
    errored = [t for t in recorded or [] if t.get("test") in undecided]
    if errored:
        broken = True
        shown = "; ".join(f"{t['test']} ({t['outcome']}: {' '.join(str(t.get('message', '')).split())[:200]})"
                          for t in errored[:5]) + ("; …" if len(errored) > 5 else "")  # fmt: skip
        reasons.append(f"the suites run broke: {len(errored)} test(s) errored or did not run, so their gates "
                       f"decided nothing (not a decision): {shown}")  # fmt: skip
    named = {junit_name(t["test"]) for t in errored}
    failing = [t for t in tests if t.outcome in ("failed", "error") and t.test not in named]
    other = [t for t in failing if not t.message.startswith(GATE_FAILURE)]  # failed gates get their own reason
    if other:
        shown = "; ".join(t.line() for t in other[:5]) + ("; …" if len(other) > 5 else "")
        reasons.append(f"{len(other)} test(s) failed or errored outside the gates: {shown}")
        broken = broken or (recorded is None and any(t.outcome == "error" or not _assertion(t) for t in other))
    elif exit_code == 1 and not failing and not errored:
        reasons.append("pytest exit 1: a test or gate failed (see the output above)")
    return reasons, broken


def _assertion(test: TestOutcome) -> bool:
    """A JUnit failure raised by an assert (a check that failed), not by an error in the run."""
    return test.message.startswith(("AssertionError", "assert ", "Failed:"))


def junit_name(node_id: str) -> str:
    """`suites.test_x::test_a` (how JUnit XML names a test) for the node id `suites/test_x.py::test_a`."""
    path, _, rest = node_id.partition("::")
    *classes, name = rest.split("::") if rest else [""]
    module = path.removesuffix(".py").replace("/", ".")
    return "::".join(part for part in (".".join([module, *classes]), name) if part)


def _judge_gates(candidate: dict[str, Any], decision: Decision) -> None:
    deciding = [g for g in candidate.get("gates", []) if result_type(g).deciding]
    decision.gates_passed = [g["name"] for g in deciding if g["passed"]]
    decision.gates_failed = [g["name"] for g in deciding if not g["passed"]]
    if limit := candidate.get("golden_limit"):
        decision.reasons.append(f"a smoke run (--golden-limit {limit}) is not a decision; run without --golden-limit")
    if not deciding:
        decision.reasons.append("no gate ran: nothing shows the adapter is good")
    if decision.gates_failed:
        decision.reasons.append(f"gate(s) failed: {listed(decision.gates_failed)}")


def compare_with_champion(
    candidate: dict[str, Any], champion: dict[str, Any], alpha: float, case_sets: Mapping[str, str] | None = None
) -> tuple[list[Comparison], list[str]]:
    """Paired comparisons per gate, and the deciding gates that could not be compared (with why).

    Outcomes are paired by case id, so a case both runs scored counts once, in the right pair."""
    stale = changed_sets(candidate, champion, case_sets)
    if stale is None and candidate.get("golden_lock_hash") != champion.get("golden_lock_hash"):
        raise ValueError(
            f"the champion's results are on golden lock {str(champion.get('golden_lock_hash'))[:12]}, the "
            f"candidate's on {str(candidate.get('golden_lock_hash'))[:12]}: re-run the suites on the champion first"
        )
    if stale:
        raise ValueError(f"golden set(s) {', '.join(stale)} changed since the champion's results: re-run the "
                         "suites on the champion first")  # fmt: skip
    theirs = {g["name"]: g for g in champion.get("gates", [])}
    comparisons, skipped = [], []
    for gate in candidate.get("gates", []):
        if not result_type(gate).deciding:
            continue
        mine, other = _pass_fail(gate), _pass_fail(theirs.get(gate["name"]))
        shared = [case_id for case_id in mine if case_id in other]
        if not mine:
            skipped.append(f"{gate['name']} (no per-case pass/fail outcomes)")
        elif not shared:
            reason = "the champion's run has no such gate" if gate["name"] not in theirs else "no shared cases"
            skipped.append(f"{gate['name']} ({reason})")
        else:
            comparisons.append(_compare(gate["name"], [mine[i] for i in shared], [other[i] for i in shared], alpha))
    return comparisons, skipped


def changed_sets(
    candidate: dict[str, Any], champion: dict[str, Any], case_sets: Mapping[str, str] | None
) -> list[str] | None:
    """The golden sets the candidate's gates scored whose version differs in the champion's results; None
    when that cannot be told (a run recorded before per-set hashes, or no case -> set map): then only the
    whole lock's hash can say. A probe's id (`<case id>~<variant>`) counts for its case's set."""
    mine, theirs = candidate.get("golden_sets"), champion.get("golden_sets")
    if not mine or not theirs or case_sets is None:
        return None
    ids = {str(case["id"]).split("~", 1)[0] for gate in candidate.get("gates", []) for case in gate.get("cases", [])}
    used = {case_sets[case_id] for case_id in ids if case_id in case_sets}
    return sorted(name for name in used if mine.get(name) != theirs.get(name))


def _pass_fail(gate: dict[str, Any] | None) -> dict[str, bool]:
    if gate is None:
        return {}
    return {str(case["id"]): case["passed"] for case in gate.get("cases", []) if isinstance(case.get("passed"), bool)}


def _compare(name: str, candidate: list[bool], champion: list[bool], alpha: float) -> Comparison:
    test = stats.mcnemar_exact(candidate, champion)
    return Comparison(name, len(candidate), sum(candidate), sum(champion), test.b, test.c, test.p_worse, alpha)


def read_junit(path: Path) -> list[TestOutcome]:
    """The tests of a pytest `--junitxml` file that did not simply pass (none if the file is missing)."""
    if not path.is_file():
        return []
    outcomes = []
    for case in ET.parse(path).getroot().iter("testcase"):
        test = "::".join(part for part in (case.get("classname", ""), case.get("name", "")) if part)
        for child in case:
            kind = {"failure": "failed", "error": "error", "skipped": "skipped"}.get(child.tag)
            if kind == "skipped" and child.get("type") == "pytest.xfail":
                kind = "xfailed"
            if kind:
                outcomes.append(TestOutcome(test, kind, child.get("message", "") or (child.text or "")))
    return outcomes
