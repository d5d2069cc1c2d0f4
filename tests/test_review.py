"""Human spot checks from outside: `harness review export` on a run's results.json, `harness review import`
of a filled-in CSV into the judge calibration set (re-frozen) or a proposals file."""

from __future__ import annotations

import contextlib
import csv
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness import gates
from harness.cli import main
from harness.golden import GoldenCase, load_file
from harness.golden.lock import LOCK_FILE, Lock, freeze, verify
from harness.judge import Grade, PairVerdict, judge_records
from harness.judge.calibration import PairCase, RubricCase, calibration_cases
from harness.judge.review import COLUMNS

ROOT = Path(__file__).resolve().parent.parent


def case(case_id: str, text: str, expected: Any = "x") -> GoldenCase:
    return GoldenCase(id=case_id, input=text, expected=expected)


@pytest.fixture
def recorded() -> Iterator[list[dict[str, Any]]]:
    """Gate records as a session would write them (real gates, recording into a list)."""
    records: list[dict[str, Any]] = []
    gates.configure(gates.GateSettings(), lambda result: records.append(result.to_record()))
    yield records
    gates.configure(gates.GateSettings(), lambda result: None)


def run_gate(gate: Any, *args: Any, **kwargs: Any) -> None:
    with contextlib.suppress(gates.GateFailure):  # a failed gate is recorded all the same: the review reads it
        gate(*args, **kwargs)


@pytest.fixture
def run(tmp_path: Path, recorded: list[dict[str, Any]]) -> Path:
    """reports/<run>/results.json with a regression, metric failures, judge verdicts and a measured baseline."""
    reg = [case(f"r{i}", f"question {i}") for i in range(1, 6)]
    outputs = ["lost it", "fine", "wrong", "fine <script>alert(1)</script>", "fixed"]
    run_gate(gates.no_regression, "regression.no_forgetting", [False, True, False, True, True],
             [True, True, False, True, False], 0.5, cases=reg, outputs=outputs,
             baseline_outputs=["kept", "fine", "wrong", "fine", "broken"])  # fmt: skip
    toy = [case("t1", "toy one", "yes"), case("t2", "toy two", "no")]
    run_gate(gates.at_least, "toy.accuracy", [False, True], 0.0, cases=toy, outputs=["no", "no"])
    run_gate(gates.measure, "toy.prompted_baseline.accuracy", [False], cases=[case("p1", "prompted")], outputs=["?"])
    run_gate(gates.measure, "judge.rubric.untrusted", [2.0, 1.0], cases=[reg[0], reg[3]],
             outputs=[outputs[0], outputs[3]])
    pairwise = [PairVerdict(("reference", "reference"), ("b is right", "b is right")),  # r2: loss, metric passed
                PairVerdict(("candidate", "candidate"), ("a", "a")),  # r3: win, metric failed
                PairVerdict(("candidate", "candidate"), ("a", "a")),  # r4: win, metric passed: nothing to see
                PairVerdict(("candidate", "reference"), ("a", "b"))]  # r5: flips with the order  # fmt: skip
    rubric = [Grade(2, "it lost the answer"), Grade(1, "nonsense")]  # r1, r4
    extras = {
        "judge_pairwise": {"trusted": False, "items": judge_records(
            ["r2", "r3", "r4", "r5"], pairwise, {"baseline_output": ["fine", "wrong", "fine", "broken"]})},
        "judge_rubric": {"trusted": False, "items": judge_records(["r1", "r4"], rubric, {})},
    }  # fmt: skip
    run_dir = tmp_path / "reports" / "20260101T000000Z-adapter"
    run_dir.mkdir(parents=True)
    (run_dir / "results.json").write_text(json.dumps({"gates": recorded, "extras": extras}))
    return run_dir


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows([{c: row.get(c, "") for c in COLUMNS} for row in rows])
    return path


# --- export ----------------------------------------------------------------------------------------------


def test_export_ranks_regressions_then_disagreements_then_judge_lows_then_failures_then_disputes(
    run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["review", "export", str(run), "--worst", "10"]) == 0
    rows = read_csv(run / "review" / "review.csv")

    assert [r["case_id"] for r in rows] == ["r1", "r2", "r3", "r4", "t1", "r5"]
    assert tuple(rows[0]) == COLUMNS and all(r["verdict"] == r["notes"] == "" for r in rows)
    why = {r["case_id"]: r["why_selected"] for r in rows}
    assert why["r1"].startswith("regression: baseline passed regression.no_forgetting, the model failed")
    assert "judge scored 2/5: it lost the answer (untrusted judge)" in why["r1"]
    disagree = "judge/metric disagree: "
    assert why["r2"].startswith(disagree + "passes regression.no_forgetting but judge preferred the baseline")
    assert why["r3"].startswith(disagree + "fails regression.no_forgetting but judge preferred the model")
    assert "failed regression.no_forgetting" in why["r3"]
    assert why["r4"].startswith(disagree + "passes regression.no_forgetting but judge scored 1/5")
    assert why["t1"] == "failed toy.accuracy"
    assert why["r5"].startswith("judge disputed: its verdict flipped when the answers swapped places")
    first = rows[0]
    assert (first["gate"], first["input"], first["output"], first["baseline_output"]) == (
        "regression.no_forgetting", "question 1", "lost it", "kept")
    assert "p1" not in why  # a measured figure (a prompted baseline's) is not the model failing
    assert "exported 6 case(s)" in capsys.readouterr().out


def test_export_keeps_the_worst_n_and_writes_an_escaped_self_contained_page(run: Path, tmp_path: Path) -> None:
    assert main(["review", "export", str(run / "results.json"), "--worst", "4", "--out", str(tmp_path / "rev")]) == 0
    assert [r["case_id"] for r in read_csv(tmp_path / "rev" / "review.csv")] == ["r1", "r2", "r3", "r4"]
    page = (tmp_path / "rev" / "review.html").read_text()
    assert "<script>" not in page and "fine &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "http" not in page.replace("<html", "")  # nothing fetched: no links, no external files
    assert page.count("<tr>") == 5 and "<th>verdict</th>" in page and "<th>why_selected</th>" in page


def test_export_names_a_missing_run_and_a_bad_count(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["review", "export", str(tmp_path / "nowhere")]) == 2
    assert "nowhere: no results.json — pass a reports/<run> directory" in capsys.readouterr().err
    assert main(["review", "export", str(tmp_path), "--worst", "0"]) == 2
    assert "--worst 0: pass a positive number" in capsys.readouterr().err


# --- import ----------------------------------------------------------------------------------------------


@pytest.fixture
def golden(tmp_path: Path) -> Path:
    """A golden dir with the shipped calibration set and one other set, frozen."""
    root = tmp_path / "golden"
    (root / "judge_calibration").mkdir(parents=True)
    shutil.copy(ROOT / "golden" / "judge_calibration" / "cases.jsonl", root / "judge_calibration" / "cases.jsonl")
    (root / "faq").mkdir()
    (root / "faq" / "cases.jsonl").write_text(json.dumps({"id": "faq-1", "input": "hi", "expected": "hello"}) + "\n")
    freeze(root, "initial")
    return root


def reviewed(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "review.csv", [
        {"run": "R", "case_id": "r1", "gate": "regression.no_forgetting", "input": "Capital of France?",
         "output": "Lyon.", "baseline_output": "Paris.", "verdict": "1", "notes": "wrong city"},
        {"case_id": "r2", "input": "2 + 2?", "output": "4", "baseline_output": "five", "verdict": "Model"},
        {"case_id": "r3", "input": "A colour?", "output": "Red.", "baseline_output": "Blue.", "verdict": ""},
        {"case_id": "r4", "input": "Largest\nplanet?", "output": "Jupiter.", "expected": "Jupiter", "verdict": "add"},
    ])  # fmt: skip


def test_import_adds_verdicts_to_calibration_re_freezes_with_the_reason_and_proposes_cases(
    golden: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = len(load_file(golden / "judge_calibration" / "cases.jsonl"))
    code = main(["review", "import", str(reviewed(tmp_path)), "--root", str(golden), "--reason", "spot check of R",
                 "--propose", "faq"])  # fmt: skip
    assert code == 0, capsys.readouterr().err

    path = golden / "judge_calibration" / "cases.jsonl"
    added = {c.id: c for c in load_file(path)[before:]}
    assert list(added) == ["review-r1", "review-r2"]
    assert verify(golden).ok
    lock = Lock.read(golden / LOCK_FILE)
    assert lock.reason.startswith("review import of 2 verdict(s) from ") and lock.reason.endswith(": spot check of R")
    typed = {c.id: c for c in calibration_cases(load_file(path), path)}  # the judge suite can use them as they are
    assert typed["review-r1"] == RubricCase("review-r1", "Capital of France?", "Lyon.", 1)
    assert typed["review-r2"] == PairCase("review-r2", "2 + 2?", "4", "five", "a")
    assert added["review-r1"].expected["notes"] == "wrong city"  # type: ignore[index]

    [proposal] = load_file(tmp_path / "review.proposed-faq.jsonl")
    assert (proposal.id, proposal.input, proposal.expected) == ("r4-review", "Largest\nplanet?", "Jupiter")
    assert load_file(golden / "faq" / "cases.jsonl")[-1].id == "faq-1"  # the set itself is untouched
    out = capsys.readouterr().out
    assert "added 2 verdict(s)" in out and "proposed 1 case(s) for faq" in out and "1 row(s) without a verdict" in out


def import_fails(args: list[str], capsys: pytest.CaptureFixture[str], golden: Path) -> str:
    """Run an import that must fail; check that it changed nothing under golden/, return its message."""
    before = {p: p.read_bytes() for p in golden.rglob("*") if p.is_file()}
    assert main(["review", "import", *args, "--root", str(golden)]) == 2
    assert {p: p.read_bytes() for p in golden.rglob("*") if p.is_file()} == before
    return capsys.readouterr().err


def test_bad_rows_are_all_reported_with_file_and_line_and_nothing_is_written(
    golden: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path / "bad.csv", [
        {"case_id": "a", "input": "multi\nline\ninput", "output": "x", "verdict": "great"},  # lines 2-4
        {"case_id": "b", "input": "q", "output": "x", "baseline_output": "", "verdict": "baseline"},
        {"case_id": "c", "input": "q", "output": "x", "verdict": "add"},
        {"case_id": "d", "input": "  ", "output": "x", "verdict": "3"},
        {"case_id": "e", "input": "q", "output": "x", "verdict": "4"},  # fine, but not imported alone
    ])  # fmt: skip
    error = import_fails([str(path), "--reason", "r"], capsys, golden)

    assert "nothing imported; fix these rows first:" in error
    assert f"{path}:2: case 'a': verdict 'great' is not 1–5, model, baseline, tie, add or blank" in error
    assert f"{path}:5: case 'b': verdict 'baseline' compares with the baseline, but baseline_output is empty" in error
    assert f"{path}:6: case 'c': verdict 'add' proposes a golden case; name the set it is for with --propose" in error
    assert f"{path}:7: field 'input' is empty" in error
    assert ":8:" not in error


def test_verdicts_need_a_reason_and_are_not_imported_twice(
    golden: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = reviewed(tmp_path)
    error = import_fails([str(path), "--propose", "faq"], capsys, golden)
    assert f"{path}:2: case 'r1': this verdict re-freezes golden/judge_calibration, which needs --reason" in error

    assert main(["review", "import", str(path), "--root", str(golden), "--reason", "once", "--propose", "faq"]) == 0
    error = import_fails([str(path), "--reason", "twice", "--propose", "faq"], capsys, golden)
    assert f"{path}:2: case 'r1': golden/judge_calibration already has 'review-r1' (imported before?)" in error


def test_import_refuses_to_freeze_changes_it_did_not_make(
    golden: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    faq = golden / "faq" / "cases.jsonl"
    faq.write_text(faq.read_text().replace("hello", "hello there"))  # someone's unfrozen edit
    error = import_fails([str(reviewed(tmp_path)), "--reason", "r", "--propose", "faq"], capsys, golden)
    assert "the golden sets already differ from their lock" in error and "changed: faq/cases.jsonl" in error


def test_a_file_without_the_review_columns_is_named(golden: Path, tmp_path: Path, capsys) -> None:
    path = tmp_path / "other.csv"
    path.write_text("id,text\n1,hello\n")
    error = import_fails([str(path), "--reason", "r"], capsys, golden)
    assert f"{path}:1: missing column(s) case_id, input, output, verdict" in error


def test_export_then_import_round_trip(run: Path, golden: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["review", "export", str(run)]) == 0
    path = run / "review" / "review.csv"
    rows = read_csv(path)
    for row in rows:
        row["verdict"] = {"r1": "2", "r2": "baseline", "r5": "tie"}.get(row["case_id"], "")
    write_csv(path, rows)
    assert main(["review", "import", str(path), "--root", str(golden), "--reason", "round trip"]) == 0
    cases = load_file(golden / "judge_calibration" / "cases.jsonl")
    typed = {c.id: c for c in calibration_cases(cases, golden / "judge_calibration" / "cases.jsonl")}
    assert typed["review-r1"] == RubricCase("review-r1", "question 1", "lost it", 2)
    assert typed["review-r2"] == PairCase("review-r2", "question 2", "fine", "fine", "b")
    assert typed["review-r5"] == PairCase("review-r5", "question 5", "fixed", "broken", "tie")
    assert verify(golden).ok
