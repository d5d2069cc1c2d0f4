"""`make demo`'s closing table, read from real results.json records written by the harness's gates."""

from __future__ import annotations

import json
from pathlib import Path

from harness import gates
from harness.demo import accuracy_cell, forgetting_cell, read_results, table


def _record(tmp_path: Path, name: str, gate_records: list[dict[str, object]]) -> Path:
    run = tmp_path / name
    run.mkdir()
    (run / "results.json").write_text(json.dumps({"gates": gate_records}))
    return run


def test_the_table_reads_accuracy_and_forgetting_from_gate_records(tmp_path: Path) -> None:
    accuracy = gates.GateResult("banking77.accuracy", "at_least", 0.4, (0.35, 0.45), 0.85, False, "", {}, [])
    lost = gates.GateResult("regression.no_forgetting", "no_regression", 0.02, (0.0, 0.05), 0.05, True, "", {}, [])
    adapter = read_results(_record(tmp_path, "adapter", [accuracy.to_record(), lost.to_record()]))
    base = read_results(_record(tmp_path, "base", [accuracy.to_record()]))

    assert accuracy_cell(adapter) == "0.400 [0.350, 0.450]"
    assert forgetting_cell(adapter) == "0.020 (pass)"
    assert forgetting_cell(base) == "- (reference)"
    assert accuracy_cell(read_results(None)) == "-"
    lines = table([("base", accuracy_cell(base), forgetting_cell(base), "the bar")]).splitlines()
    assert lines[0].startswith("| model") and "0.400 [0.350, 0.450]" in lines[2]


def test_a_base_run_that_broke_stops_the_demo_with_exit_2(tmp_path: Path) -> None:
    """pytest exits 1 for a failed gate and for an errored test alike; the verdict tells the demo which."""
    import pytest

    from harness.demo import stop_if_broken

    accuracy = gates.GateResult("banking77.accuracy", "at_least", 0.0, (0.0, 0.01), 0.85, False, "", {}, [])
    failed_gate = {"gates": [accuracy.to_record()], "pytest_exit": 1,
                   "tests": [{"test": "suites/test_banking77.py::test_intent_accuracy", "outcome": "gate failed"}]}
    stop_if_broken("base suites", failed_gate)  # a result: the base fails the bar, the demo goes on
    errored = {**failed_gate, "tests": [*failed_gate["tests"],  # type: ignore[list-item]
               {"test": "suites/test_banking77.py::test_macro_f1", "outcome": "error", "message": "ModelError"}]}
    for broken in (errored, None):
        with pytest.raises(SystemExit) as stopped:
            stop_if_broken("base suites", broken)
        assert stopped.value.code == 2
