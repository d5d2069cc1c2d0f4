"""`make demo`'s closing table, read from real results.json records written by the harness's gates."""

from __future__ import annotations

import json
from pathlib import Path

from harness import gates
from harness.demo import Step, accuracy_cell, baseline_rows, decision_cell, forgetting_cell, gate, read_json, table


def _record(tmp_path: Path, name: str, gate_records: list[dict[str, object]]) -> Path:
    run = tmp_path / name
    run.mkdir()
    (run / "results.json").write_text(json.dumps({"gates": gate_records}))
    return run


def test_the_table_reads_accuracy_and_forgetting_from_gate_records(tmp_path: Path) -> None:
    accuracy = gates.GateResult("banking77.accuracy", "at_least", 0.4, (0.35, 0.45), 0.85, False, "", {}, [])
    lost = gates.GateResult("regression.no_forgetting", "no_regression", 0.02, (0.0, 0.05), 0.05, True, "", {}, [])
    adapter = read_json(_record(tmp_path, "adapter", [accuracy.to_record(), lost.to_record()]) / "results.json")
    base = read_json(_record(tmp_path, "base", [accuracy.to_record()]) / "results.json")

    assert accuracy_cell(gate(adapter, "banking77.accuracy")) == "0.400 [0.350, 0.450]"
    assert forgetting_cell(adapter) == "0.020 (pass)"
    assert forgetting_cell(base) == "- (not measured)"
    assert accuracy_cell(gate(read_json(None), "banking77.accuracy")) == "-"
    lines = table([("base", accuracy_cell(gate(base, "banking77.accuracy")), forgetting_cell(base), "the bar")])
    lines = lines.splitlines()
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


def test_the_cheap_baselines_come_from_the_base_run_and_the_stronger_classifier_is_shown() -> None:
    def measured(name: str, value: float) -> dict[str, object]:
        interval = (value - 0.03, value + 0.03)
        return gates.GateResult(name, "measure", value, interval, None, True, "", {}, []).to_record()

    base = {"gates": [measured("banking77.classical_baseline.tfidf.accuracy", 0.881),
                      measured("banking77.classical_baseline.minilm.accuracy", 0.925),
                      measured("banking77.retrieval_baseline.accuracy", 0.868)]}  # fmt: skip
    rows = baseline_rows(base)
    assert [row[0] for row in rows] == ["classical baseline (minilm + logistic regression)",
                                        "retrieval few-shot on base (k=4)"]  # fmt: skip
    assert rows[0][1] == "0.925 [0.895, 0.955]" and baseline_rows(None) == []


def test_the_decision_column_says_what_promote_decided_and_why() -> None:
    step = Step("promote", 1.0, 1)
    refused = {"promote": False, "already_champion": False, "champion_before": "3", "registered": None,
               "gates_failed": ["a", "b", "banking77.macro_f1", "regression.no_forgetting", "banking77.accuracy"],
               "worse_than_champion": ["banking77.accuracy"], "reasons": ["gate(s) failed: ..."]}  # fmt: skip
    assert decision_cell(step, refused) == (
        "REFUSED: 5 gates failed (banking77.accuracy, regression.no_forgetting, a, …); "
        "worse than champion v3 on 1 gates"
    )
    promoted = {**refused, "promote": True, "registered": "4", "gates_failed": [], "worse_than_champion": []}
    assert decision_cell(Step("promote", 1.0, 0), promoted) == "promoted: champion v4"
    assert decision_cell(step, {**promoted, "already_champion": True}) == "unchanged: already champion (v3)"
    assert decision_cell(Step("promote", 1.0, 2), None) == "no decision (promote exit 2)"


def test_an_adapter_row_reads_its_promote_run_and_its_training_summary(tmp_path: Path) -> None:
    from harness.demo import adapter_row

    accuracy = gates.GateResult("banking77.accuracy", "at_least", 0.873, (0.836, 0.902), 0.85, False, "", {}, [])
    run = _record(tmp_path, "promote", [accuracy.to_record()])
    (run / "decision.json").write_text(json.dumps({"promote": False, "already_champion": False, "reasons": ["r"],
                                                   "gates_failed": ["banking77.accuracy"], "worse_than_champion": [],
                                                   "champion_before": None, "registered": None}))  # fmt: skip
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "training_summary.json").write_text(json.dumps({"result": {"steps": 942}}))
    assert adapter_row("adapter", adapter, Step("promote", 1.0, 1), run) == (
        f"adapter ({adapter}, 942 steps)", "0.873 [0.836, 0.902]", "- (not measured)",
        "REFUSED: 1 gates failed (banking77.accuracy)",
    )  # fmt: skip
    assert adapter_row("candidate", adapter, Step("promote", 1.0, 2), None)[1:] == (
        "-", "- (not measured)", "no decision (promote exit 2)")  # fmt: skip
