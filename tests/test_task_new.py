"""`harness task new`: a labelled table becomes a frozen golden set, a suite and its bars, runnable at once."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from harness.cli import main
from harness.golden import load_set
from harness.golden.lock import verify

ROWS = [("my card never came", "card"), ("where is my card", "card"), ("refund my fee", "fees"),
        ("why was I charged a fee", "fees"), ("what is the capital of peru", "other")]  # fmt: skip


def _table(path: Path) -> Path:
    path.write_text("text,label\n" + "".join(f"{text},{label}\n" for text, label in ROWS))
    return path


def test_a_table_becomes_a_task_that_runs_at_once(tiny_project, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    project = tiny_project("[tool.harness.gates]\n\"other.gate\" = 0.5\n")
    root = project.path
    (root / "suites").mkdir()
    (root / "suites" / "test_other.py").write_text(  # another task's suite, which --task routes leaves out
        'from harness import gate\n\ndef test_other():\n    gate.at_least("other.gate", [False])\n')
    monkeypatch.chdir(root)
    table = _table(root / "routes.csv")
    assert main(["task", "new", "routes", "--from", str(table), "--fallback", "other"]) == 0
    assert "run it: pytest suites/ --task routes --model=base" in capsys.readouterr().out

    cases = load_set(root / "golden", "routes")
    system = cases[0].messages[0]["content"]  # type: ignore[index]
    assert "- card\n- fees" in system and 'If none fits, answer "other"' in system and "- other" not in system
    assert [c.tags for c in cases] == [[], [], [], [], ["ood"]]
    assert verify(root / "golden").ok and "task routes: scaffolded from routes.csv (5 cases)" in (
        root / "golden" / "golden.lock").read_text()
    config = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["harness"]
    assert config["tasks"]["routes"] == {"suites": ["suites/test_routes.py"], "model_name": "routes"}
    assert config["gates"]["routes.accuracy"] == 0.8 and config["gates"]["other.gate"] == 0.5  # the rest kept

    result = project.runpytest("suites/", "--task", "routes", "--model=base", "-p", "no:randomly")
    result.assert_outcomes(failed=4, deselected=1)  # the tiny model routes nothing: every gate fails, none errors
    [results] = (root / "reports").glob("*/results.json")
    gates = {gate["name"] for gate in json.loads(results.read_text())["gates"]}
    assert gates == {"routes.accuracy", "routes.macro_f1", "routes.recall_floor", "routes.ood_fallback"}


def test_it_refuses_to_overwrite_or_to_guess(tiny_project, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    project = tiny_project()
    monkeypatch.chdir(project.path)
    table = _table(project.path / "routes.csv")
    assert main(["task", "new", "routes", "--from", str(table), "--fallback", "none"]) == 2
    assert "--fallback 'none' labels no row of routes.csv (labels: card, fees, other)" in capsys.readouterr().err
    assert not (project.path / "golden" / "routes").exists()  # nothing written
    assert main(["task", "new", "routes", "--from", str(table)]) == 0
    assert main(["task", "new", "routes", "--from", str(table)]) == 2
    assert "task 'routes' would overwrite golden/routes, suites/test_routes.py" in capsys.readouterr().err


def test_a_generation_task_is_scored_by_rouge_l_and_bert_score(tiny_project, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tiny_project()
    monkeypatch.chdir(project.path)
    table = project.path / "replies.csv"
    table.write_text("question,answer\nhow do I reset my pin,Open the app and choose Reset PIN.\n"
                     "when do cards arrive,Cards arrive within five working days.\n")  # fmt: skip
    assert main(["task", "new", "replies", "--from", str(table), "--kind", "generation", "--input-column",
                 "question", "--label-column", "answer", "--system", "You are a bank's assistant."]) == 0  # fmt: skip
    [first, _] = load_set(project.path / "golden", "replies")
    assert first.messages[0] == {"role": "system", "content": "You are a bank's assistant."}  # type: ignore[index]
    assert first.expected == "Open the app and choose Reset PIN."
    result = project.runpytest("suites/", "--task", "replies", "--model=base", "-p", "no:randomly")
    result.assert_outcomes(failed=2)  # both gates ran on the tiny model's answers, and failed; nothing errored
    [results] = (project.path / "reports").glob("*/results.json")
    assert {g["name"] for g in json.loads(results.read_text())["gates"]} == {"replies.rouge_l", "replies.bert_score"}
    assert main(["task", "new", "other", "--from", str(table), "--kind", "generation", "--fallback", "x"]) == 2
