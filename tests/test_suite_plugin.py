"""The plugin's golden checks, gates and reports, from outside (pytester), on a tiny model and a toy set.

Start-up: a golden set that differs from golden.lock, or holds a malformed case, stops the run before any
test, naming the file (and line). End of run: gates print their table and write results.json and
summary.md, the same with `-n 2` as serially.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from harness import gates
from harness.golden import GoldenError
from harness.golden.lock import LOCK_FILE, FrozenFile, Lock, file_hashes, freeze, lock_hash

TOY = [("toy-1", "where is my card", "card_arrival"), ("toy-2", "send money to my savings", "transfer"),
       ("toy-3", "what is the capital of france", "paris"), ("toy-4", "answer with yes or no", "yes"),
       ("toy-5", "the quick brown fox", "fox"), ("toy-6", "my card has not arrived", "card_arrival")]  # fmt: skip

SUITE = """
from harness import gate, metrics


def test_toy_accuracy(model, golden):
    cases = golden("toy")
    answers = model.generate([case.prompt() for case in cases])
    correct = [metrics.label_match(a, c.expected) for a, c in zip(answers, cases, strict=True)]
    gate.at_least("toy.accuracy", correct, cases=cases, outputs=answers)


def test_toy_answers_something(model, golden):
    cases = golden("toy")
    answers = model.generate([case.prompt() for case in cases])
    gate.at_least("toy.answered", [a.completion_tokens >= 1 for a in answers], 0.0, cases=cases, outputs=answers)
"""

MORE_GATES = """
from harness import gate, metrics


def test_no_regression_against_baseline(model, baseline, golden):
    cases = golden("toy")
    answers, before = model.generate([c.prompt() for c in cases]), baseline.generate([c.prompt() for c in cases])
    ok = [a.completion_tokens >= 1 for a in answers]
    base_ok = [b.completion_tokens >= 1 for b in before]
    gate.no_regression("toy.no_regression", ok, base_ok, 0.05, cases=cases, outputs=answers, baseline_outputs=before)


def test_every_label_is_answered(model, golden):
    cases = golden("toy")
    answers = model.generate([c.prompt() for c in cases])
    gate.slices_at_least("toy.per_label", [a.completion_tokens >= 1 for a in answers], [c.expected for c in cases],
                         0.5, mode="point", cases=cases, outputs=answers)
"""


def toy_lines() -> list[str]:
    return [json.dumps({"id": cid, "input": text, "expected": label}) for cid, text, label in TOY]


def write_set(root: Path, name: str, lines: list[str]) -> Path:
    path = root / "golden" / name / "cases.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines))
    return path


def lock_as_is(golden: Path) -> None:
    """Write a golden.lock matching the files as they are, valid or not. `freeze` refuses malformed cases;
    this stands for a lock written by hand or by an older, laxer harness, so the run's own check is reached."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    files = {name: FrozenFile(digest, 0, now) for name, digest in file_hashes(golden).items()}
    (golden / LOCK_FILE).write_text(Lock("as is", now, lock_hash(golden), files).to_json())


@pytest.fixture
def project(tiny_project) -> pytest.Pytester:
    """`base` is the tiny model; golden/toy holds six frozen cases; toy.accuracy's bar is in pyproject."""
    pytester = tiny_project('[tool.harness.gates]\n"toy.accuracy" = 0.9\n')
    write_set(pytester.path, "toy", toy_lines())
    freeze(pytester.path / "golden", "toy set for the plugin tests")
    return pytester


def usage_error(result: pytest.RunResult) -> str:
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    return result.stderr.str()


def the_run_dir(project: pytest.Pytester) -> Path:
    [results] = (project.path / "reports").glob("*/results.json")
    return results.parent


def results_of(project: pytest.Pytester) -> dict[str, Any]:
    """The run's results.json; the reports dir is then removed so the next run's report stands alone."""
    data = json.loads((the_run_dir(project) / "results.json").read_text())
    shutil.rmtree(project.path / "reports")
    return data


# --- start-up golden checks -----------------------------------------------------------------------------


def test_a_tampered_golden_file_stops_the_run_naming_it_and_the_fix(project: pytest.Pytester) -> None:
    path = project.path / "golden" / "toy" / "cases.jsonl"
    path.write_text(path.read_text().replace('"fox"', '"dog"'))
    write_set(project.path, "extra", toy_lines()[:1])
    project.makepyfile(test_suite=SUITE)
    error = usage_error(project.runpytest())
    assert "golden sets differ from golden/golden.lock (frozen " in error
    assert "'toy set for the plugin tests'" in error
    assert "  changed: toy/cases.jsonl\n" in error and "  added: extra/cases.jsonl\n" in error
    assert 'harness golden freeze --reason "why"' in error
    assert not (project.path / "reports").exists()


def test_a_malformed_set_cannot_be_frozen_and_an_unfrozen_one_reports_the_lock_first(
    project: pytest.Pytester,
) -> None:
    write_set(project.path, "toy", [*toy_lines()[:2], json.dumps({"id": "toy-7", "input": "hi"})])
    with pytest.raises(GoldenError, match=r"golden/toy/cases\.jsonl:3: field 'expected' missing"):
        freeze(project.path / "golden", "try")
    (project.path / "golden" / LOCK_FILE).unlink()
    error = usage_error(project.runpytest())
    assert "no golden lock at golden/golden.lock (unfrozen sets: toy/cases.jsonl)" in error
    assert 'create it with `harness golden freeze --reason "why"`' in error


def test_a_malformed_case_under_a_matching_lock_is_named_by_file_line_and_field(project: pytest.Pytester) -> None:
    write_set(project.path, "toy", [*toy_lines()[:2], json.dumps({"id": "toy-7", "input": "hi"})])
    lock_as_is(project.path / "golden")
    project.makepyfile(test_suite=SUITE)
    error = usage_error(project.runpytest())
    assert "golden/toy/cases.jsonl:3: field 'expected' missing — add the expected label" in error


def test_duplicate_ids_are_reported_with_both_lines(project: pytest.Pytester) -> None:
    lines = toy_lines()
    write_set(project.path, "toy", [*lines, lines[1]])
    lock_as_is(project.path / "golden")
    error = usage_error(project.runpytest())
    assert "golden/toy/cases.jsonl:7: duplicate id 'toy-2' (also on line 2)" in error


def test_a_hand_edited_lock_is_a_usage_error(project: pytest.Pytester) -> None:
    lock = project.path / "golden" / LOCK_FILE
    lock.write_text(lock.read_text().replace('"sha256": "', '"sha256": "0'))
    error = usage_error(project.runpytest())
    assert "golden/golden.lock: lock_hash does not match its file hashes (hand-edited?)" in error


# --- gates and reports ----------------------------------------------------------------------------------


def test_a_failing_gate_reports_itself_and_writes_the_run_report(
    project: pytest.Pytester, tiny_model_dir: Path
) -> None:
    project.makepyfile(test_suite=SUITE)
    result = project.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    run_dir = the_run_dir(project)
    output = result.stdout.str()
    assert run_dir.parent == project.path / "reports" and run_dir.name.endswith("-base")
    # the gate's own message, with its bar from pyproject (0.9): the suite calls it without one
    assert "GateFailure: toy.accuracy 0.000 [0.000, 0.390] < 0.9 (6/6 wrong; worst: #toy-1 card_arrival→" in output
    assert f"; report: reports/{run_dir.name}/summary.md" in output
    result.stdout.fnmatch_lines([
        "*= harness gates =*",
        "gate *value*95% interval*threshold*result",
        "toy.accuracy *0.000*[[]0.000, 0.390]*>= 0.9*FAIL*",
        "toy.answered *1.000*[[]0.610, 1.000]*>= 0*pass*",
        f"report: reports/{run_dir.name}/summary.md",
    ])  # fmt: skip

    data = json.loads((run_dir / "results.json").read_text())
    assert set(data) >= {"models", "golden_lock_hash", "git_commit", "thresholds", "gates"}
    assert data["golden_lock_hash"] == lock_hash(project.path / "golden")
    model, baseline = data["models"]["model"], data["models"]["baseline"]
    assert model["label"] == baseline["label"] == f"hf:{tiny_model_dir}"
    assert len(model["fingerprint"]) == 64 and model["fingerprint"] == baseline["fingerprint"]
    assert data["thresholds"] == {"toy.accuracy": 0.9}
    accuracy, answered = data["gates"]
    assert (accuracy["name"], accuracy["passed"], accuracy["threshold"]) == ("toy.accuracy", False, 0.9)
    assert answered["passed"] is True
    assert [(c["id"], c["passed"], c["expected"]) for c in accuracy["cases"]] == [
        (cid, False, label) for cid, _, label in TOY]  # fmt: skip
    assert all(isinstance(c["output"], str) and c["input"] for c in accuracy["cases"])

    summary = (run_dir / "summary.md").read_text()
    assert summary.startswith(f"# Eval run {run_dir.name}\n")
    assert "| toy.accuracy | 0.000 | [0.000, 0.390] | >= 0.9 | FAIL |" in summary


def test_no_gates_means_no_report(project: pytest.Pytester) -> None:
    project.makepyfile(test_plain="def test_ok(golden):\n    assert len(golden('toy')) == 6\n", test_suite=SUITE)
    result = project.runpytest("test_plain.py")  # toy.accuracy's bar is for test_suite.py, which does not run
    result.assert_outcomes(passed=1)
    assert "harness gates" not in result.stdout.str() and not (project.path / "reports").exists()


def test_gates_used_after_a_session_do_not_point_at_its_report(project: pytest.Pytester) -> None:
    project.makepyfile(test_values="from harness import gate\n\ndef test_v():\n    gate.at_least('v', [True], 0.0)\n")
    project.runpytest().assert_outcomes(passed=1)
    with pytest.raises(gates.GateFailure) as failure:
        gates.at_least("after", [False], 0.5)
    assert "report:" not in str(failure.value)


# --- [tool.harness.gates] keys ---------------------------------------------------------------------------

DATA_SUITE = """
from harness import gate


def test_rows(golden):
    gate.at_least("toy.rows", [len(golden("toy")) >= 6])
"""

KINDS = """

def test_kinds(golden):
    for kind in ["a"]:
        gate.at_least(f"toy.{kind}.rate", [True], 0.0)
"""


def test_a_misspelt_gate_key_stops_the_run_naming_it_and_the_closest_gate(tiny_project) -> None:
    project = tiny_project('[tool.harness.gates]\nmode = "point"\n"toy.acuracy" = 0.9\n"toy.answered" = 0.0\n')
    write_set(project.path, "toy", toy_lines())
    freeze(project.path / "golden", "toy set")
    project.makepyfile(test_suite=SUITE)
    error = usage_error(project.runpytest())
    assert "pyproject.toml: [tool.harness.gates] sets bars for gates no suite has, so they would never apply" in error
    assert '  "toy.acuracy": did you mean "toy.accuracy"?' in error
    assert "toy.answered" not in error and "mode" not in error  # a known gate, an option
    assert not (project.path / "reports").exists()  # stopped before any test ran

    distributed = project.runpytest_subprocess("-n", "2")
    assert distributed.ret == pytest.ExitCode.USAGE_ERROR
    assert '"toy.acuracy": did you mean "toy.accuracy"?' in distributed.stderr.str() + distributed.stdout.str()


def test_a_gate_key_is_known_from_any_suite_of_the_tree_and_from_f_string_names(tiny_project) -> None:
    bars = '[tool.harness.gates]\n"toy.accuracy" = 0.9\n"toy.rows" = 0.0\n"toy.any_kind.rate" = 0.0\n'
    project = tiny_project(bars)
    write_set(project.path, "toy", toy_lines())
    freeze(project.path / "golden", "toy set")
    (project.path / "suites" / "data").mkdir(parents=True)
    (project.path / "suites" / "test_suite.py").write_text(SUITE + KINDS)
    (project.path / "suites" / "data" / "test_data.py").write_text(DATA_SUITE)
    project.runpytest("suites/data").assert_outcomes(passed=1)  # toy.accuracy is suites/test_suite.py's gate

    project = tiny_project(bars + '"toy.nothing" = 1.0\n')
    error = usage_error(project.runpytest("suites/data"))
    assert '"toy.nothing": no gate is close (the suites\' gates: toy.*.rate, toy.accuracy, toy.answered' in error
    assert "(gates read from 2 suite files under suites)" in error


# --- every bar written once ------------------------------------------------------------------------------


def test_a_gate_with_no_bar_anywhere_stops_the_run_naming_it_and_the_fix(tiny_project) -> None:
    project = tiny_project('[tool.harness.gates]\nmode = "point"\n')  # toy.accuracy has no bar, in code or here
    write_set(project.path, "toy", toy_lines())
    freeze(project.path / "golden", "toy set")
    project.makepyfile(test_suite=SUITE)
    error = usage_error(project.runpytest())
    assert (
        "pyproject.toml: a gate needs one bar, in [tool.harness.gates] or else in its suite:\n"
        '  test_suite.py:8: gate "toy.accuracy" has no bar: add "toy.accuracy" = <bar> to [tool.harness.gates] '
        "in pyproject.toml\n"
    ) in error
    assert "toy.answered" not in error  # its bar is in the suite (0.0), a suite-local one
    assert not (project.path / "reports").exists()  # stopped before any test ran

    distributed = project.runpytest_subprocess("-n", "2")
    assert distributed.ret == pytest.ExitCode.USAGE_ERROR
    assert 'gate "toy.accuracy" has no bar: add' in distributed.stderr.str() + distributed.stdout.str()


def test_a_bar_in_the_suite_that_differs_from_the_config_stops_the_run_naming_both(tiny_project) -> None:
    project = tiny_project('[tool.harness.gates]\n"toy.accuracy" = 0.9\n"toy.answered" = 0.25\n')
    write_set(project.path, "toy", toy_lines())
    freeze(project.path / "golden", "toy set")
    project.makepyfile(test_suite=SUITE)
    error = usage_error(project.runpytest())
    assert (
        '  test_suite.py:14: gate "toy.answered" has two bars: 0 in the suite and 0.25 in [tool.harness.gates]; '
        "a bar is written once: drop the suite's argument (or the key, for a suite-local bar)"
    ) in error
    assert "toy.accuracy" not in error and not (project.path / "reports").exists()


def test_a_bar_the_source_does_not_show_is_checked_when_the_gate_runs(tiny_project) -> None:
    project = tiny_project('[tool.harness.gates]\n"toy.rate" = 0.5\n')
    project.makepyfile(test_rate="from harness import gate\n\nBAR = 0.8\n\n\ndef test_rate():\n"
                                 "    gate.at_least('toy.rate', [True], BAR)\n")  # fmt: skip
    result = project.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*ConfigError: gate \"toy.rate\" has two bars: 0.8 in the suite and 0.5 in *"])


def comparable(gate: dict[str, Any]) -> dict[str, Any]:
    """A gate record without per-case latencies, which differ between any two runs."""
    timings = ("latency_s", "baseline_latency_s")
    return {**gate, "cases": [{k: v for k, v in case.items() if k not in timings} for case in gate["cases"]]}


def test_two_xdist_workers_record_the_same_gates_as_a_serial_run(project: pytest.Pytester) -> None:
    project.makepyfile(test_suite=SUITE, test_more=MORE_GATES)
    project.runpytest().assert_outcomes(passed=3, failed=1)  # generates once, fills the cache
    serial = results_of(project)

    distributed = project.runpytest_subprocess("--no-cache", "-n", "2")  # every worker generates afresh
    distributed.assert_outcomes(passed=3, failed=1)
    distributed.stdout.fnmatch_lines(["*= harness gates =*", "toy.accuracy *FAIL*", "report: reports/*/summary.md"])
    parallel = results_of(project)

    names = ["toy.accuracy", "toy.answered", "toy.no_regression", "toy.per_label"]
    assert [g["name"] for g in serial["gates"]] == [g["name"] for g in parallel["gates"]] == names
    assert [comparable(g) for g in serial["gates"]] == [comparable(g) for g in parallel["gates"]]
    assert serial["models"] == parallel["models"]
    assert serial["golden_lock_hash"] == parallel["golden_lock_hash"]


def test_junitxml_still_works_alongside_the_report(project: pytest.Pytester) -> None:
    project.makepyfile(test_suite=SUITE)
    result = project.runpytest("--junitxml=junit.xml")
    result.assert_outcomes(passed=1, failed=1)
    junit = (project.path / "junit.xml").read_text()
    assert 'tests="2"' in junit and 'failures="1"' in junit
    assert "toy.accuracy 0.000 [0.000, 0.390] &lt; 0.9" in junit
    assert (the_run_dir(project) / "results.json").is_file()


# --- the classification example of docs/authoring.md -----------------------------------------------------

CLASSIFIER_CONFTEST = """
import pytest

from harness.cache import GenerationCache
from harness.models.cached import CachedModel
from harness.testing import FakeModel

ROUTES = {"refund please": "billing", "card charged twice": "billing", "app crashes": "bug",
          "login fails": "bug", "what is the weather": "other", "tell me a joke": "bug"}


@pytest.fixture(scope="session")
def model(tmp_path_factory):
    cache = GenerationCache(tmp_path_factory.mktemp("m") / "g.sqlite", enabled=False)
    return CachedModel(FakeModel(lambda m: ROUTES[m[-1]["content"]], label="fake:router"), cache,
                       {"max_new_tokens": 8, "temperature": 0.0, "top_p": 1.0})
"""


def test_the_documented_classifier_suite_runs_as_written(tiny_project) -> None:  # type: ignore[no-untyped-def]
    """docs/authoring.md's classifier suite, copied verbatim: every gate runs on its own slice of the set,
    with the set's generation settings, and a misrouted out-of-scope message fails the fallback gate."""
    docs = (Path(__file__).parents[1] / "docs" / "authoring.md").read_text()
    suite = docs.split("```python\n# suites/test_tickets.py\n", 1)[1].split("```", 1)[0]
    bars = {"accuracy": 0.1, "macro_f1": 0.1, "recall_floor": 0.5, "ood_fallback": 0.6}
    project = tiny_project("[tool.harness.gates]\n" + "".join(f'"tickets.{k}" = {v}\n' for k, v in bars.items()))
    rows = [("refund please", "billing", []), ("card charged twice", "billing", []), ("app crashes", "bug", []),
            ("login fails", "bug", []), ("what is the weather", "other", ["ood"]), ("tell me a joke", "other", ["ood"])]
    lines = [json.dumps({"id": f"t-{i}", "input": text, "expected": label, "tags": tags})
             for i, (text, label, tags) in enumerate(rows)]  # fmt: skip
    write_set(project.path, "tickets", lines)
    (project.path / "golden" / "tickets" / "generation.toml").write_text("max_new_tokens = 8\n")
    freeze(project.path / "golden", "tickets")
    project.makeconftest(CLASSIFIER_CONFTEST)
    project.makepyfile(test_tickets=suite)
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=3, failed=1)
    gates_run = {gate["name"]: gate for gate in results_of(project)["gates"]}
    assert set(gates_run) == {"tickets.accuracy", "tickets.macro_f1", "tickets.recall_floor", "tickets.ood_fallback"}
    assert gates_run["tickets.accuracy"]["value"] == 1.0 and len(gates_run["tickets.accuracy"]["cases"]) == 4
    assert gates_run["tickets.ood_fallback"]["value"] == 0.5 and not gates_run["tickets.ood_fallback"]["passed"]
