"""Typed gate results: every gate returns its own result type, a recorded result reads back as the same
type, and each type renders its own table row (what the terminal, summary.md and report.html show)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from harness import gate_results, gates
from harness.gate_results import (
    BarResult,
    BetterThanResult,
    CeilingResult,
    GateResult,
    LossResult,
    Measurement,
    NoShiftResult,
    NotWorseThanResult,
    from_record,
)
from harness.gates import GateFailure, GateSettings

RECORDED: list[GateResult] = []


@pytest.fixture(autouse=True)
def settings() -> Iterator[None]:
    gates.configure(GateSettings(thresholds={"acc": 0.5, "floor": 0.1}), RECORDED.append)
    yield
    gates.configure(GateSettings(), lambda result: None, "")


def _run(call) -> GateResult:  # type: ignore[no-untyped-def]
    """The gate's result as recorded for the report, whether it passed or raised GateFailure."""
    with contextlib.suppress(GateFailure):
        call()
    return RECORDED[-1]


ALL_KINDS = [
    (lambda: gates.at_least("acc", [True] * 9 + [False]), BarResult,
     ("acc", "0.900", "[0.596, 0.982]", ">= 0.5", "pass")),  # fmt: skip
    (lambda: gates.statistic_at_least("acc", lambda idx: 0.8, 10), BarResult, None),
    (lambda: gates.slices_at_least("floor", [True, False], ["a", "b"], mode="point"), BarResult, None),
    (lambda: gates.at_most("share", [False] * 9 + [True], 0.2), CeilingResult, None),
    (lambda: gates.no_regression("reg", [True, False], [True, True], 0.2), LossResult, None),
    (lambda: gates.better_than("gain", [True] * 9, [False] * 9), BetterThanResult,
     ("gain", "+1.000", "p=0.002", "p < 0.05", "pass")),  # fmt: skip
    (lambda: gates.not_worse_than("tie", [True, False], [True, False]), NotWorseThanResult,
     ("tie", "+0.000", "p=1", "p >= 0.05", "pass")),  # fmt: skip
    (lambda: gates.no_shift("drift", 0.0123, 0.5, 0.01), NoShiftResult,
     ("drift", "0.0123", "p=0.5", "p >= 0.01", "pass")),  # fmt: skip
    (lambda: gates.measure("figure", [True, False]), Measurement,
     ("figure", "0.500", "[0.095, 0.905]", "-", "measured")),  # fmt: skip
]


@pytest.mark.parametrize(("call", "result_type", "row"), ALL_KINDS)
def test_each_gate_returns_its_type_and_reads_back_as_it(call, result_type, row) -> None:  # type: ignore[no-untyped-def]
    result = _run(call)
    assert type(result) is result_type
    again = from_record(result.to_record())
    assert type(again) is result_type and again.table_row() == result.table_row()
    if row is not None:
        assert result.table_row() == row


def test_every_kind_a_gate_writes_has_a_type() -> None:
    written = {_run(call).kind for call, _, _ in ALL_KINDS}
    assert written == set(gate_results.RESULT_TYPES)


def test_what_reports_ask_of_a_type() -> None:
    loss = _run(lambda: gates.no_regression("reg", [True, False], [True, True], 0.2))
    versus = _run(lambda: gates.not_worse_than("vs", [True], [True], reference_name="tf-idf"))
    bar = _run(lambda: gates.at_least("acc", [True] * 10))
    measured = _run(lambda: gates.measure("figure", [True]))
    assert (loss.compares, loss.other_side, loss.deciding) == (True, "baseline", True)
    assert (versus.compares, versus.other_side) == (True, "tf-idf")
    assert (bar.compares, bar.plot_bar, measured.deciding, measured.plot_bar) == (False, 0.5, False, None)
    assert isinstance(versus, NotWorseThanResult) and versus.alpha == 0.05 and versus.p_value == 1.0


def test_a_record_of_an_unknown_kind_is_an_error_naming_the_gate() -> None:
    record = _run(lambda: gates.measure("figure", [True])).to_record() | {"kind": "vibes"}
    with pytest.raises(ValueError, match="gate 'figure' has kind 'vibes'"):
        from_record(record)


def test_classification_helpers_gate_straight_from_answers_and_cases() -> None:
    """macro_f1 and per_class_recall: what test_banking77.py computed by hand, from answers and cases."""
    from harness import metrics

    @dataclass(frozen=True)
    class Case:
        id: str
        expected: str

    cases = [Case(f"c{i}", label) for i, label in enumerate(["a", "a", "b", "b", "c", "c"])]
    answers = ["A", "a", "b", "Label: B.", "a", "nonsense"]  # c never right; one answer names no label
    f1 = _run(lambda: gates.macro_f1("acc", answers, cases))
    truth, guess = [0, 0, 1, 1, 2, 2], [0, 0, 1, 1, 0, -1]
    assert f1.value == pytest.approx(metrics.macro_f1_codes(truth, guess, 3))
    assert [c.passed for c in f1.cases] == [True, True, True, True, False, False]
    floor = _run(lambda: gates.per_class_recall("floor", answers, cases, mode="point"))
    assert (floor.passed, floor.details["failing"], floor.details["slices"]["c"]) == (False, ["c"], 0.0)
