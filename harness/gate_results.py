"""What a gate decided, typed by how it decides, and how each type is shown.

    GateResult                 name, value, passed, message, per-case outcomes
    ├── BarResult              a value and its interval against a bar: value >= bar (at_least, macro-F1, slice floors)
    │   └── CeilingResult      value <= bar (at_most)
    │       └── LossResult     the share of a baseline's passes lost, per case beside the baseline's (no_regression)
    ├── PValueResult           a test's p-value against alpha
    │   ├── BetterThanResult   evidence of a gain over a reference: p < alpha (McNemar)
    │   ├── NotWorseThanResult no evidence of a loss to a reference: p >= alpha (McNemar)
    │   └── NoShiftResult      no evidence that two samples differ: p >= alpha (MMD², total variation)
    └── Measurement            a figure with its interval, recorded beside the decision; decides nothing

Every report (the terminal table, summary.md, report.html, the review export, the promotion decision)
asks the type, never the `kind` string: `from_record` turns a recorded result back into its type
(`result_type` gives the type alone), and
`kind` is kept in the record only so a results.json says which gate function wrote it.

A record keeps one shape for every type (results.json of older runs and of a registered champion stay
readable): a p-value gate stores its p-value as a one-point `interval` and alpha as `threshold`, which
`PValueResult.p_value` and `.alpha` name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

TableRow = tuple[str, str, str, str, str]
"""(gate, value, interval, bar, result): one line of the gate table."""


@dataclass
class CaseOutcome:
    id: str
    passed: bool | None
    score: float
    input: Any = None
    output: str | None = None
    expected: Any = None
    baseline_output: str | None = None
    baseline_passed: bool | None = None
    latency_s: float | None = None
    # Token counts and the baseline's latency feed the report's cost table; None when outputs are plain text.
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    baseline_latency_s: float | None = None
    baseline_prompt_tokens: int | None = None
    baseline_completion_tokens: int | None = None


@dataclass
class GateResult:
    name: str
    kind: str
    """The gate function that wrote it (at_least, no_regression, …); `RESULT_TYPES` maps it to a type."""
    value: float
    interval: tuple[float, float]
    threshold: float
    passed: bool
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    cases: list[CaseOutcome] = field(default_factory=list)

    deciding: ClassVar[bool] = True
    """Whether the run's verdict and a promotion count it (a measurement does not)."""
    compares: ClassVar[bool] = False
    """Whether each case carries a second side (a baseline's or a reference's answer and outcome)."""

    def to_record(self) -> dict[str, Any]:
        return asdict(self)

    def table_row(self) -> TableRow:
        low, high = self.interval
        return (self.name, f"{self.value:.3f}", f"[{low:.3f}, {high:.3f}]", f"{self.threshold:g}", self.verdict)

    @property
    def verdict(self) -> str:
        return "pass" if self.passed else "FAIL"

    @property
    def other_side(self) -> str:
        """What the cases' second side is called in reports."""
        return str(self.details.get("reference") or "reference")

    @property
    def plot_bar(self) -> float | None:
        """The bar to draw on a histogram of per-case scores, when the gate judges their mean against one."""
        return None


@dataclass
class BarResult(GateResult):
    passes_when: ClassVar[str] = ">="

    def table_row(self) -> TableRow:
        low, high = self.interval
        bar = f"{self.passes_when} {self.threshold:g}"
        return (self.name, f"{self.value:.3f}", f"[{low:.3f}, {high:.3f}]", bar, self.verdict)

    @property
    def plot_bar(self) -> float | None:
        return self.threshold if self.kind == "at_least" else None  # a mean of the scores; not a slice floor


@dataclass
class CeilingResult(BarResult):
    passes_when: ClassVar[str] = "<="

    @property
    def plot_bar(self) -> float | None:
        return None


@dataclass
class LossResult(CeilingResult):
    compares: ClassVar[bool] = True

    @property
    def other_side(self) -> str:
        return "baseline"


@dataclass
class PValueResult(GateResult):
    passes_when: ClassVar[str] = ">="

    @property
    def p_value(self) -> float:
        return self.interval[0]

    @property
    def alpha(self) -> float:
        return self.threshold

    def shown_value(self) -> str:
        """The recorded value: a difference in pass rate for the McNemar gates."""
        return f"{self.value:+.3f}"

    def table_row(self) -> TableRow:
        bar = f"p {self.passes_when} {self.alpha:g}"
        return (self.name, self.shown_value(), f"p={self.p_value:.2g}", bar, self.verdict)


@dataclass
class BetterThanResult(PValueResult):
    passes_when: ClassVar[str] = "<"
    compares: ClassVar[bool] = True


@dataclass
class NotWorseThanResult(PValueResult):
    compares: ClassVar[bool] = True


@dataclass
class NoShiftResult(PValueResult):
    def shown_value(self) -> str:
        return f"{self.value:.4g}"  # the test statistic (MMD², total variation distance)


@dataclass
class Measurement(GateResult):
    deciding: ClassVar[bool] = False

    def table_row(self) -> TableRow:
        low, high = self.interval
        return (self.name, f"{self.value:.3f}", f"[{low:.3f}, {high:.3f}]", "-", "measured")

    @property
    def verdict(self) -> str:
        return "measured"


RESULT_TYPES: dict[str, type[GateResult]] = {
    "at_least": BarResult,
    "slices_at_least": BarResult,
    "at_most": CeilingResult,
    "no_regression": LossResult,
    "better_than": BetterThanResult,
    "not_worse_than": NotWorseThanResult,
    "no_shift": NoShiftResult,
    "measure": Measurement,
}


def result_type(record: Mapping[str, Any]) -> type[GateResult]:
    """The type of a recorded gate, for what the type alone says (`deciding`, `compares`)."""
    kind = str(record["kind"])
    if kind not in RESULT_TYPES:
        raise ValueError(f"gate {record.get('name')!r} has kind {kind!r}, which no result type knows")
    return RESULT_TYPES[kind]


def from_record(record: Mapping[str, Any]) -> GateResult:
    """A recorded gate (a results.json entry) as its type; per-case outcomes stay as recorded dicts."""
    low, high = record["interval"]
    return result_type(record)(
        name=str(record["name"]), kind=str(record["kind"]), value=float(record["value"]),
        interval=(float(low), float(high)), threshold=float(record["threshold"] or 0.0), passed=bool(record["passed"]),
        message=str(record.get("message", "")), details=dict(record.get("details") or {}),
        cases=list(record.get("cases") or []),
    )  # fmt: skip
