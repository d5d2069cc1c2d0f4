"""`report.attach` from outside (pytester): suites store JSON-able data in the run's record, which lands in
results.json under "extras", the same serially and from xdist workers; outside a session it warns and drops."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness import report

CALIBRATION = """
from harness import gate, report


def test_calibrate():
    report.attach("judge_calibration", {"accuracy": 0.5, "trusted": False})
    report.attach("judge_calibration", {"accuracy": 0.9, "kappa": 0.8, "trusted": True, "why": ["ok"]})
    gate.measure("toy.scores", [0.25, 0.75])
"""

SECOND_FILE = """
from harness import report


def test_counts():
    report.attach("counts", {"per_label": {"a": 1, "b": 2}, "note": None})
"""


@pytest.fixture
def project(tiny_project) -> pytest.Pytester:
    return tiny_project("")


def extras_of(project: pytest.Pytester) -> dict[str, Any]:
    [results] = (project.path / "reports").glob("*/results.json")
    return json.loads(results.read_text())["extras"]


def test_attached_data_lands_in_results_json_and_the_last_attach_of_a_name_wins(project: pytest.Pytester) -> None:
    project.makepyfile(test_calibration=CALIBRATION)
    project.runpytest().assert_outcomes(passed=1)
    assert extras_of(project) == {"judge_calibration": {"accuracy": 0.9, "kappa": 0.8, "trusted": True, "why": ["ok"]}}


def test_attach_without_any_gate_still_writes_the_report(project: pytest.Pytester) -> None:
    project.makepyfile(test_counts=SECOND_FILE)
    project.runpytest().assert_outcomes(passed=1)
    assert extras_of(project) == {"counts": {"per_label": {"a": 1, "b": 2}, "note": None}}


def test_xdist_workers_ship_their_extras_to_the_controller(project: pytest.Pytester) -> None:
    project.makepyfile(test_calibration=CALIBRATION, test_counts=SECOND_FILE)
    project.runpytest_subprocess("-n", "2").assert_outcomes(passed=2)
    assert extras_of(project) == {
        "judge_calibration": {"accuracy": 0.9, "kappa": 0.8, "trusted": True, "why": ["ok"]},
        "counts": {"per_label": {"a": 1, "b": 2}, "note": None},
    }


def test_outside_a_session_attach_warns_and_records_nothing(project: pytest.Pytester) -> None:
    project.makepyfile(test_counts=SECOND_FILE)
    project.runpytest().assert_outcomes(passed=1)  # a finished session detaches attach, as it does gates
    [results] = (project.path / "reports").glob("*/results.json")
    before = results.read_text()
    with pytest.warns(UserWarning, match=r"report.attach\('late'\): no harness session is running"):
        report.attach("late", {"x": 1})
    assert results.read_text() == before


@pytest.mark.parametrize(
    ("data", "complaint"),
    [({"when": Path("/x")}, "not JSON-able"), ({"kappa": float("nan")}, "not JSON-able"), ([1, 2], "must be a dict")],
)
def test_data_json_cannot_hold_fails_at_the_caller_with_the_fix(data: Any, complaint: str) -> None:
    with pytest.raises(TypeError, match=complaint) as raised:
        report.attach("judge_calibration", data)
    assert "report.attach('judge_calibration')" in str(raised.value)
