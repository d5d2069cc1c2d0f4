"""The `harness` command: golden freeze/verify/add and report diff, through `main([...])` and the script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.golden import load_set
from harness.golden.lock import LOCK_FILE, lock_hash
from harness.report import diff as report_diff

CASES = [
    {"id": "t-1", "input": "my card has not arrived", "expected": "card_arrival"},
    {"id": "t-2", "input": "transfer money to savings", "expected": "transfer"},
]


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`golden/toy/cases.jsonl` under a fresh cwd, so the command's default `--root golden` finds it."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "golden" / "toy" / "cases.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("".join(json.dumps(case) + "\n" for case in CASES))
    return tmp_path / "golden"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --- golden freeze / verify -----------------------------------------------------------------------------


def test_freeze_then_verify_round_trip(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "golden", "freeze", "--reason", "first toy set")
    assert code == 0
    assert f"froze 1 golden file(s) into {Path('golden', LOCK_FILE)}: 'first toy set'" in out
    assert "  toy/cases.jsonl: 2 cases, sha256 " in out
    assert f"lock_hash {lock_hash(root)}" in out

    assert run(capsys, "golden", "verify") == (0, f"ok {lock_hash(root)}\n", "")


def test_freeze_refuses_without_a_reason(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["golden", "freeze"])
    assert exited.value.code == 2
    assert "the following arguments are required: --reason" in capsys.readouterr().err

    code, _, err = run(capsys, "golden", "freeze", "--reason", "  ")
    assert code == 2 and 'freeze needs a reason — say why the sets changed: --reason "add refund cases"' in err
    assert not (root / LOCK_FILE).exists()


def test_freeze_refuses_invalid_cases_naming_file_and_line(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with (root / "toy" / "cases.jsonl").open("a") as f:
        f.write('{"id": "t-3", "input": "hello"}\n')
    code, _, err = run(capsys, "golden", "freeze", "--reason", "x")
    assert code == 2
    assert "refusing to freeze invalid golden cases" in err
    assert "golden/toy/cases.jsonl:3: field 'expected' missing" in err


def test_verify_fails_with_exit_1_naming_the_changed_file(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "golden", "freeze", "--reason", "first toy set")
    path = root / "toy" / "cases.jsonl"
    path.write_text(path.read_text().replace("card_arrival", "card_linking"))
    (root / "extra").mkdir()
    (root / "extra" / "cases.jsonl").write_text(json.dumps(CASES[0]) + "\n")

    code, out, err = run(capsys, "golden", "verify")
    assert (code, out) == (1, "")
    assert f"golden sets differ from {Path('golden', LOCK_FILE)}" in err and "'first toy set'" in err
    assert "  changed: toy/cases.jsonl\n  added: extra/cases.jsonl\n" in err
    assert 'harness golden freeze --reason "why"' in err


def test_verify_without_a_lock_or_with_a_hand_edited_one_fails(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "golden", "verify")
    assert code == 1 and "no golden lock at golden/golden.lock (unfrozen sets: toy/cases.jsonl)" in err

    run(capsys, "golden", "freeze", "--reason", "first")
    lock = root / LOCK_FILE
    lock.write_text(lock.read_text().replace('"cases": 2', '"cases": 3').replace('"sha256": "', '"sha256": "0'))
    code, _, err = run(capsys, "golden", "verify")
    assert code == 1 and "golden/golden.lock: lock_hash does not match its file hashes (hand-edited?)" in err


def test_a_missing_root_says_how_to_point_at_one(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "golden", "verify", "--root", "nowhere")
    assert code == 2
    assert (
        "harness: error: nowhere: no golden sets directory here — run from the repository root, or pass --root" in err
    )


# --- golden add -----------------------------------------------------------------------------------------


def test_add_from_csv_with_renamed_columns_tags_and_system(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table = root.parent / "intents.csv"
    table.write_text('text,label,labels\nWhere is my card?,card_arrival,"card, urgent"\nHi,greeting,\n')
    run(capsys, "golden", "freeze", "--reason", "before adding")

    code, out, _ = run(capsys, "golden", "add", "intents", "--from", str(table), "--input-column", "text",
                       "--expected-column", "label", "--tags-column", "labels", "--system", "Classify.")  # fmt: skip
    assert code == 0
    assert out.startswith("added 2 case(s) from intents.csv to golden/intents/cases.jsonl\n")
    assert 'every suite run stops until you re-freeze on purpose: `harness golden freeze --reason "why"`' in out
    cases = load_set(root, "intents")
    assert [(c.id, c.expected, c.tags) for c in cases] == [("intents-0001", "card_arrival", ["card", "urgent"]),
                                                           ("intents-0002", "greeting", [])]  # fmt: skip
    assert cases[0].messages == [{"role": "system", "content": "Classify."},
                                 {"role": "user", "content": "Where is my card?"}]  # fmt: skip
    assert run(capsys, "golden", "verify")[0] == 1  # what the reminder says: the lock no longer matches


def test_add_from_jsonl_appends_to_an_existing_set(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table = root.parent / "more.jsonl"
    table.write_text(json.dumps({"id": "t-3", "input": "lost my phone", "expected": "lost_or_stolen_phone"}) + "\n")
    code, out, _ = run(capsys, "golden", "add", "toy", "--from", str(table))
    assert code == 0 and "added 1 case(s) from more.jsonl to golden/toy/cases.jsonl" in out
    assert [case.id for case in load_set(root, "toy")] == ["t-1", "t-2", "t-3"]

    code, _, err = run(capsys, "golden", "add", "toy", "--from", str(table))
    assert code == 2 and "golden/toy/cases.jsonl: 1 id(s) already taken: t-3" in err


def test_a_malformed_table_exits_2_naming_file_line_and_column(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table = root.parent / "bad.csv"
    table.write_text("text,label\nWhere is my card?,card_arrival\nHello,\n")
    code, out, err = run(capsys, "golden", "add", "toy", "--from", str(table), "--input-column", "text",
                         "--expected-column", "label")  # fmt: skip
    assert (code, out) == (2, "")
    assert err == "harness: error: bad.csv:3: field 'expected' (column 'label') is empty — add the expected label\n"
    assert [case.id for case in load_set(root, "toy")] == ["t-1", "t-2"]  # nothing appended


def test_a_table_without_rows_or_columns_is_refused(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = root.parent / "empty.csv"
    empty.write_text("input,expected\n")
    code, _, err = run(capsys, "golden", "add", "toy", "--from", str(empty))
    assert code == 2 and "empty.csv: no rows — add one case per row under the header" in err

    code, _, err = run(capsys, "golden", "add", "toy", "--from", str(empty), "--input-column", "text")
    assert code == 2 and "empty.csv: no column text (columns: expected, input)" in err


# --- report diff ----------------------------------------------------------------------------------------


def gate(name: str, value: float, passed: bool, threshold: float = 0.8, cases: Any = ()) -> dict[str, Any]:
    return {"name": name, "kind": "at_least", "value": value, "interval": [value - 0.1, value + 0.1],
            "threshold": threshold, "passed": passed, "message": "", "details": {},
            "cases": [{"id": cid, "passed": ok, "score": float(ok), "expected": exp, "output": out}
                      for cid, ok, exp, out in cases]}  # fmt: skip


def results(lock: str, *gates: dict[str, Any]) -> dict[str, Any]:
    return {"started": "2026-11-23T10:00:00+00:00", "golden_lock_hash": lock, "git_commit": "abc123",
            "models": {"model": {"label": "hf:tiny", "fingerprint": "f" * 64}},
            "thresholds": {}, "gates": list(gates)}  # fmt: skip


ACC_A = [("c1", True, "a", "a"), ("c2", True, "b", "b"), ("c3", False, "c", "x"), ("c4", True, "d", "d")]
ACC_B = [("c1", True, "a", "a"), ("c2", False, "b", "y"), ("c3", True, "c", "c"), ("c4", False, "d", "z")]
RUN_A = results(
    "1" * 64,
    gate("acc", 0.9, True, cases=ACC_A),
    gate("fmt", 0.5, True, threshold=0.3),
    gate("len", 0.85, True),
    gate("old", 0.9, True),
    gate("same", 0.7, False, cases=[("s1", True, "a", "a")]),
    gate("swap", 0.5, True, threshold=0.3, cases=[("w1", True, "a", "a"), ("w2", False, "b", "x")]),
)
RUN_B = results(
    "1" * 64,
    gate("acc", 0.7, False, cases=ACC_B),
    gate("fmt", 0.5 + 1e-12, True, threshold=0.3),  # float noise: not a change
    gate("len", 0.85, True, threshold=0.75),
    gate("new", 0.95, True),
    gate("same", 0.7, False, cases=[("s1", True, "a", "a")]),
    gate("swap", 0.5, True, threshold=0.3, cases=[("w1", False, "a", "x"), ("w2", True, "b", "b")]),
)


@pytest.fixture
def runs(tmp_path: Path) -> tuple[Path, Path]:
    """Run A as a run dir, run B as the path of its results.json: the command takes either."""
    paths = []
    for name, data in (("20261123T100000Z-a", RUN_A), ("20261123T110000Z-b", RUN_B)):
        run_dir = tmp_path / "reports" / name
        run_dir.mkdir(parents=True)
        (run_dir / "results.json").write_text(json.dumps(data))
        paths.append(run_dir)
    return paths[0], paths[1] / "results.json"


def test_report_diff_prints_changed_gates_most_important_first(
    runs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "report", "diff", str(runs[0]), str(runs[1]))
    assert code == 0
    assert out.split("\n\n")[1:] == [
        "acc: pass → FAIL  value 0.900 → 0.700 (-0.2)  threshold 0.8\n"
        "  lost (pass → fail): 2 case(s)\n"
        "    #c2 expected 'b': 'b' → 'y'\n"
        "    #c4 expected 'd': 'd' → 'z'\n"
        "  gained (fail → pass): 1 case(s)\n"
        "    #c3 expected 'c': 'x' → 'c'",
        "old: only in A (pass 0.900) — removed from B",
        "new: only in B (pass 0.950) — new gate",
        "len: pass  value 0.850  threshold 0.8 → 0.75",
        "swap: pass  value 0.500  threshold 0.3\n"
        "  lost (pass → fail): 1 case(s)\n"
        "    #w1 expected 'a': 'a' → 'x'\n"
        "  gained (fail → pass): 1 case(s)\n"
        "    #w2 expected 'b': 'x' → 'b'",
        "2 other gate(s) unchanged\n",
    ]
    assert out.startswith(
        "A: hf:tiny (fingerprint ffffffffffff), started 2026-11-23T10:00:00+00:00, golden 111111111111"
    )


def test_report_diff_warns_when_golden_sets_differ_and_limits_cases() -> None:
    other = {**RUN_B, "golden_lock_hash": "2" * 64}
    lines = report_diff.render(RUN_A, other, max_cases=1)
    assert lines[2].startswith("golden sets differ (111111111111 → 222222222222): cases are matched by id")
    assert "    … and 1 more" in lines


def test_identical_runs_have_no_changes() -> None:
    assert report_diff.diff_gates(RUN_A, RUN_A) == []
    assert report_diff.render(RUN_A, RUN_A)[-1] == "no gate or case changed (6 gate(s) compared)"


def test_case_flips_match_by_id_and_count_cases_in_one_run_only() -> None:
    a = [{"id": 1, "passed": True}, {"id": 2, "passed": False}, {"id": 3, "passed": True}, {"id": 4, "passed": None}]
    b = [{"id": 2, "passed": True}, {"id": 1, "passed": False}, {"id": 4, "passed": None}, {"id": 5, "passed": True}]
    flips, only_a, only_b = report_diff.case_flips(a, b)
    assert [(f.id, f.lost) for f in flips] == [("1", True), ("2", False)]
    assert (only_a, only_b) == (1, 1)


def test_report_diff_on_a_missing_or_foreign_file_says_what_to_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "report", "diff", str(tmp_path / "nope"), str(tmp_path))
    assert code == 2 and f"{tmp_path / 'nope'}: not found — pass a run dir under reports/" in err
    (tmp_path / "other.json").write_text("[1, 2]")
    code, _, err = run(capsys, "report", "diff", str(tmp_path / "other.json"), str(tmp_path / "other.json"))
    assert code == 2 and "other.json: no 'gates' list, so not a harness results.json" in err


# --- the installed entry point --------------------------------------------------------------------------


def test_the_console_script_runs_main(root: Path) -> None:
    assert main(["golden", "freeze", "--reason", "first"]) == 0
    script = Path(sys.executable).parent / "harness"
    assert script.is_file(), f"{script} missing: install the package with `pip install -e .` to get the script"
    done = subprocess.run([str(script), "golden", "verify"], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (0, f"ok {lock_hash(root)}\n")
    done = subprocess.run([str(script), "golden", "nope"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "invalid choice: 'nope'" in done.stderr
