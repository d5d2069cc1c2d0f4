"""`harness promote`: the decision rule from results.json files, and the command end to end on a tiny project.

The tiny project's golden answers are what the `good` tiny LoRA adapter generates, so `good` passes its gate
and other adapters fail it, through the real suites run, real models and a real MLflow registry (tmp sqlite).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.config import HarnessConfig
from harness.errors import RegistryError, UsageError
from harness.golden.lock import freeze
from harness.models.resolve import pinned
from harness.models.spec import PeftSpec, parse_spec
from harness.release import registry as reg
from harness.release.decision import TestOutcome, changed_sets, compare_with_champion, decide
from harness.release.registry import Registry, adapter_sha256
from tests.tiny_models import build_tiny_adapter

# --- the decision rule --------------------------------------------------------------------------------------


def gate(name: str, passed: list[bool], *, ok: bool = True, kind: str = "at_least") -> dict[str, Any]:
    cases = [{"id": f"c-{i}", "passed": p, "score": float(p)} for i, p in enumerate(passed)]
    return {"name": name, "kind": kind, "passed": ok, "value": sum(passed) / len(passed), "cases": cases}


def results(*gates: dict[str, Any], lock: str = "lock-1", golden_limit: int | None = None) -> dict[str, Any]:
    return {"golden_lock_hash": lock, "golden_limit": golden_limit, "gates": list(gates)}


def test_promotes_when_every_gate_passes_and_there_is_no_champion() -> None:
    decision = decide(results(gate("a", [True, False]), gate("b", [True])), None, 0.05)
    assert decision.promote and decision.reasons == []
    assert (decision.gates_passed, decision.gates_failed, decision.comparisons) == (["a", "b"], [], [])


def test_refuses_naming_the_failed_gates_and_the_other_failed_tests() -> None:
    tests = [TestOutcome("suites.test_x::test_a", "failed", "harness.gates.GateFailure: toy.match 0.1 < 0.5"),
             TestOutcome("suites.test_x::test_b", "error", "failed on setup with ConnectionError: refused"),
             TestOutcome("suites.test_x::test_judge", "skipped", "no LLM judge configured"),
             TestOutcome("suites.test_x::test_flaky", "xfailed", "judge untrusted: kappa 0.2 < 0.6")]  # fmt: skip
    decision = decide(results(gate("a", [True]), gate("toy.match", [False], ok=False)), None, 0.05,
                      exit_code=1, tests=tests)  # fmt: skip
    assert not decision.promote and decision.gates_failed == ["toy.match"]
    assert decision.reasons == [  # the failed gate once, as a gate; the other failure as a test
        "1 test(s) failed or errored outside the gates: suites.test_x::test_b (error: failed on setup with "
        "ConnectionError: refused)",
        "gate(s) failed: toy.match",
    ]
    assert [t.outcome for t in decision.allowed] == ["skipped", "xfailed"]  # allowed, and listed


def test_allowed_tests_are_listed_one_line_per_module_and_reason() -> None:
    skipped = [TestOutcome(f"suites.data.test_dataset::test_{i}", "skipped", "no --dataset DIR given") for i in "abc"]
    judge = TestOutcome("suites.test_judge::test_win_rate", "xfailed", "judge untrusted")
    decision = decide(results(gate("a", [True])), None, 0.05, tests=[*skipped, judge])
    assert decision.allowed_lines() == [
        "suites.data.test_dataset (3 tests) (skipped: no --dataset DIR given)",
        "suites.test_judge::test_win_rate (xfailed: judge untrusted)",
    ]
    many = [gate(f"g{i}", [False], ok=False) for i in range(8)]
    assert decide(results(*many), None, 0.05).reasons == ["gate(s) failed: g0, g1, g2, g3, g4, g5, … (8 in all)"]


def test_skips_and_xfails_alone_do_not_refuse() -> None:
    tests = [TestOutcome("suites.test_judge::test_win_rate", "skipped", "no LLM judge configured")]
    assert decide(results(gate("a", [True])), None, 0.05, exit_code=0, tests=tests).promote


@pytest.mark.parametrize(
    ("exit_code", "meaning"), [(2, "interrupted"), (3, "internal error"), (4, "usage error"), (5, "no tests collected")]
)
def test_a_broken_run_refuses_with_its_reason(exit_code: int, meaning: str) -> None:
    decision = decide(None, None, 0.05, exit_code=exit_code)
    assert f"the suites run itself broke: pytest exit {exit_code} ({meaning}); fix it and promote again" in (
        decision.reasons
    )
    assert "the suites wrote no results.json (no gate ran): nothing shows the adapter is good" in decision.reasons


def test_exit_1_without_a_failed_gate_still_refuses() -> None:
    decision = decide(results(gate("a", [True])), None, 0.05, exit_code=1)
    assert decision.reasons == ["pytest exit 1: a test or gate failed (see the output above)"]


def test_a_smoke_run_or_a_run_without_gates_is_not_a_decision() -> None:
    assert "a smoke run (--golden-limit 5) is not a decision; run without --golden-limit" in (
        decide(results(gate("a", [True]), golden_limit=5), None, 0.05).reasons
    )
    only_measured = results(gate("fewshot.accuracy", [True], kind="measure"))
    assert decide(only_measured, None, 0.05).reasons == ["no gate ran: nothing shows the adapter is good"]


def test_refuses_a_candidate_significantly_worse_than_the_champion_even_if_its_gates_pass() -> None:
    champion = results(gate("toy.match", [True] * 8))
    candidate = results(gate("toy.match", [False] * 8))  # gate passed (a low bar), but 8 regressions, 0 fixes
    decision = decide(candidate, champion, 0.05)
    assert decision.gates_failed == [] and not decision.promote
    [comparison] = decision.comparisons
    assert (comparison.lost, comparison.gained, comparison.p_worse) == (8, 0, pytest.approx(0.5**8))
    assert decision.reasons == [
        "significantly worse than the champion (alpha 0.05) on: toy.match (lost 8, gained 0, p=0.00391)"
    ]
    assert comparison.line() == (
        "toy.match: 0/8 vs champion 8/8, lost 8, gained 0; McNemar p(worse)=0.00391 < 0.05: significantly worse"
    )


def test_a_few_flips_either_way_are_not_significantly_worse() -> None:
    champion = results(gate("toy.match", [True, True, True, False, True, True]))
    candidate = results(gate("toy.match", [True, False, True, True, False, True]))  # lost 2, gained 1
    decision = decide(candidate, champion, 0.05)
    assert decision.promote and not decision.comparisons[0].worse


def test_comparison_pairs_cases_by_id_and_lists_what_it_could_not_compare() -> None:
    champion_gate = gate("toy.match", [True, False, True])
    champion_gate["cases"].reverse()  # another order: pairing is by case id, not by position
    candidate = results(gate("toy.match", [True, False, True]), gate("new.gate", [True]),
                        gate("few.shot", [True], kind="measure"))  # fmt: skip
    comparisons, not_compared = compare_with_champion(candidate, results(champion_gate), 0.05)
    assert [(c.gate, c.lost, c.gained, c.p_worse) for c in comparisons] == [("toy.match", 0, 0, 1.0)]
    assert not_compared == ["new.gate (the champion's run has no such gate)"]
    with pytest.raises(ValueError, match="golden lock lock-2.* re-run the suites on the champion first"):
        compare_with_champion(candidate, results(champion_gate, lock="lock-2"), 0.05)


def test_only_a_change_to_a_set_the_candidate_scored_stops_the_comparison() -> None:
    """Per-set hashes: another task's set re-frozen (a new lock) leaves the champion's results usable."""
    sets = {"c-0": "toy", "c-1": "toy", "c-2": "toy", "x-0": "other"}
    toy = gate("toy.match", [True, True, True])
    candidate = results(toy, lock="lock-2") | {"golden_sets": {"toy": "t1", "other": "o2"}}
    champion = results(gate("toy.match", [True, True, True])) | {"golden_sets": {"toy": "t1", "other": "o1"}}
    assert changed_sets(candidate, champion, sets) == []
    assert compare_with_champion(candidate, champion, 0.05, sets)[0][0].lost == 0  # compared despite the lock
    changed = champion | {"golden_sets": {"toy": "t0", "other": "o2"}}
    assert changed_sets(candidate, changed, sets) == ["toy"]
    with pytest.raises(ValueError, match=r"golden set\(s\) toy changed since the champion's results"):
        compare_with_champion(candidate, changed, 0.05, sets)
    assert changed_sets(candidate, results(toy), sets) is None  # a record without per-set hashes: the lock decides


# --- the command end to end on a tiny project ---------------------------------------------------------------

PROMPTS = ["where is my card", "send money to my savings", "what is the capital of france", "answer with yes or no",
           "the quick brown fox", "my card has not arrived", "please transfer money", "a lazy dog"]  # fmt: skip
EXTRA_PROMPT = "transfer money to my card"

SUITE = """
import pytest

from harness import gate, metrics


def test_toy_match(model, golden):
    cases = golden("toy")
    answers = model.generate([case.prompt() for case in cases])
    matched = [metrics.exact_match(a, c.expected) for a, c in zip(answers, cases, strict=True)]
    gate.at_least("toy.match", matched, cases=cases, outputs=answers)


def test_needs_a_server():
    pytest.skip("no server configured")
"""


@pytest.fixture(scope="module")
def adapters(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path, tiny_adapter_dir: Path) -> dict[str, Path]:
    """good: the adapter the golden answers come from; worse and failing: two others."""
    out = tmp_path_factory.mktemp("adapters")
    return {"good": tiny_adapter_dir, "worse": build_tiny_adapter(tiny_model_dir, out / "worse", seed=2),
            "failing": build_tiny_adapter(tiny_model_dir, out / "failing", seed=3)}  # fmt: skip


@pytest.fixture(scope="module")
def good_answers(tiny_adapter_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """What `good` answers to each prompt, greedy and 4 tokens long like the project's generation defaults."""
    from harness.cache import GenerationCache
    from harness.models.resolve import ModelFactory
    from harness.progress import no_progress

    scratch = tmp_path_factory.mktemp("good-answers")
    factory = ModelFactory(HarnessConfig(root=scratch, cache_dir=scratch),
                           GenerationCache(scratch / "g.sqlite", enabled=False), no_progress)  # fmt: skip
    answers = factory.build(PeftSpec(tiny_adapter_dir)).generate([*PROMPTS, EXTRA_PROMPT], max_new_tokens=4)
    assert all(a.text.strip() for a in answers), "the tiny adapter must answer every prompt with visible text"
    return {prompt: answer.text for prompt, answer in zip([*PROMPTS, EXTRA_PROMPT], answers, strict=True)}


def write_golden(root: Path, answers: dict[str, str], prompts: list[str]) -> None:
    path = root / "golden" / "toy" / "cases.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"id": f"t-{i}", "input": p, "expected": answers[p]}) for i, p in enumerate(prompts)]
    path.write_text("".join(line + "\n" for line in lines))
    freeze(root / "golden", "toy answers of the good adapter")


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One generation cache for the module: an adapter's answers are generated once, later runs skip torch."""
    return tmp_path_factory.mktemp("harness-cache")


@pytest.fixture
def project(
    tmp_path: Path, registry_uri: str, tiny_model_dir: Path, good_answers: dict[str, str], shared_cache: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[[float], Path]:  # fmt: skip
    """make(bar) -> a project dir (the cwd) with the toy suite, its frozen golden set and a tmp registry."""

    def make(bar: float) -> Path:
        root = tmp_path / "project"
        (root / "suites").mkdir(parents=True)
        (root / "suites" / "test_toy.py").write_text(SUITE)
        (root / "pyproject.toml").write_text(
            f'[tool.harness.models]\nbase = "hf:{tiny_model_dir}"\n[tool.harness.generation]\nmax_new_tokens = 4\n'
            f'[tool.harness.registry]\ntracking_uri = "{registry_uri}"\nmodel_name = "tiny-router"\n'
            f'[tool.harness.gates]\n"toy.match" = {bar}\n'
        )
        write_golden(root, good_answers, PROMPTS)
        monkeypatch.chdir(root)
        monkeypatch.setenv("HARNESS_CACHE", str(shared_cache))
        return root

    return make


def promote(capfd: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["promote", *args])
    out, err = capfd.readouterr()
    return code, out + err


def registry_of(root: Path) -> Registry:
    return Registry(HarnessConfig.load(root))


def test_refuses_a_failing_adapter_and_leaves_the_registry_unchanged(
    project: Callable[[float], Path], adapters: dict[str, Path], capfd: pytest.CaptureFixture[str]
) -> None:
    root = project(0.5)
    code, out = promote(capfd, "--adapter", str(adapters["failing"]))
    assert code == 1, out
    assert "gates:      0 passed, 1 failed\n" in out
    assert "  - suites.test_toy::test_needs_a_server (skipped: no server configured)" in out  # allowed, listed
    assert "decision:   REFUSE\n  - gate(s) failed: toy.match\nregistry:" in out
    assert "toy.match 0.000 [0.000, 0.324] < 0.5 (8/8 wrong" in out  # the suites' own output, streamed
    assert "registry:   unchanged (champion: none; tiny-router at sqlite:///" in out
    assert registry_of(root).versions() == [] and registry_of(root).champion() is None
    assert not (root / "runs").exists()  # nothing stored


def test_dry_run_shows_the_decision_and_changes_nothing(
    project: Callable[[float], Path], adapters: dict[str, Path], capfd: pytest.CaptureFixture[str]
) -> None:
    root = project(0.5)
    code, out = promote(capfd, "--adapter", str(adapters["good"]), "--dry-run")
    assert code == 0, out
    assert "gates:      1 passed, 0 failed" in out
    assert "pytest:     exit 0 (1 skipped/xfailed, allowed)\n  - suites.test_toy::test_needs_a_server (skipped: " in out
    assert "decision:   PROMOTE (dry run: nothing registered)" in out
    sha = adapter_sha256(adapters["good"])
    assert f"registry:   would register {root / 'runs' / 'registry' / 'adapters' / sha} as a new version" in out
    assert registry_of(root).versions() == [] and not (root / "runs").exists()


def test_promotes_a_passing_adapter_with_its_tags_and_moves_the_alias(
    project: Callable[[float], Path], adapters: dict[str, Path], tiny_model_dir: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    root = project(0.5)
    code, out = promote(capfd, "--adapter", str(adapters["good"]))
    assert code == 0, out
    assert "decision:   PROMOTE\n" in out
    assert "registered tiny-router version 1; alias champion -> 1" in out

    champion = registry_of(root).champion()
    sha = adapter_sha256(adapters["good"])
    assert champion is not None and champion.version == "1" and champion.aliases == ("champion",)
    assert champion.adapter_dir == root / "runs" / "registry" / "adapters" / sha
    [report_dir] = [p for p in (root / "reports").iterdir() if p.name.endswith("-promote-" + adapters["good"].name)]
    run_results = json.loads((report_dir / "results.json").read_text())
    tags = champion.tags
    assert tags[reg.TAG_ADAPTER] == sha and tags[reg.TAG_GOLDEN] == run_results["golden_lock_hash"]
    assert tags[reg.TAG_BASE] == str(tiny_model_dir)  # from the adapter's adapter_config.json
    assert json.loads(tags[reg.TAG_GATES]) == {"toy.match": [True, 1.0]}
    assert tags[reg.TAG_REPORT] == str(report_dir)
    assert tags[reg.TAG_FINGERPRINT] == run_results["models"]["model"]["fingerprint"]
    assert reg.TAG_COMMIT in tags and champion.results() == json.loads(Path(tags[reg.TAG_RESULTS]).read_text())
    assert champion.results() is not None and champion.results()["gates"] == run_results["gates"]  # type: ignore[index]
    # --model=champion now resolves to the stored copy, which later retraining cannot touch
    config = HarnessConfig.load(root)
    assert pinned(parse_spec("champion", config, cwd=root), config) == PeftSpec(champion.adapter_dir)
    assert json.loads((report_dir / "decision.json").read_text())["registered"] == "1"

    code, out = promote(capfd, "--adapter", str(adapters["good"]))  # the same adapter again: nothing moves
    assert code == 0 and "unchanged: this adapter already is champion (version 1;" in out
    runs = sorted(p for p in (root / "reports").iterdir() if p.name.endswith("-promote-" + adapters["good"].name))
    assert json.loads((runs[-1] / "decision.json").read_text())["already_champion"] is True


def test_refuses_a_candidate_worse_than_the_champion_rerunning_it_on_a_new_golden_lock(
    project: Callable[[float], Path], adapters: dict[str, Path], good_answers: dict[str, str],
    capfd: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """With a bar of 0 every adapter passes its gate; only the paired comparison with the champion stops
    `worse`. The golden set grows after the champion was promoted, so the champion is re-run first."""
    root = project(0.0)
    assert promote(capfd, "--adapter", str(adapters["good"]))[0] == 0
    unrelated = root / "golden" / "unrelated" / "cases.jsonl"  # another task's set: a new lock, toy unchanged
    unrelated.parent.mkdir()
    unrelated.write_text(json.dumps({"id": "u-1", "input": "hi", "expected": "hello"}) + "\n")
    freeze(root / "golden", "another task's set")
    code, out = promote(capfd, "--adapter", str(adapters["worse"]), "--dry-run")
    assert code == 1 and "running the suites on it" not in out, out  # the champion's stored results serve
    assert "significantly worse than the champion (alpha 0.05) on: toy.match" in out

    write_golden(root, good_answers, [*PROMPTS, EXTRA_PROMPT])  # a new toy case, re-frozen

    code, out = promote(capfd, "--adapter", str(adapters["worse"]), "--baseline", "champion")
    assert code == 1, out
    assert "gates:      1 passed, 0 failed" in out
    assert "the champion (version 1) cannot be compared as stored (golden set(s) toy changed); running" in out
    assert "  - toy.match: 0/9 vs champion 9/9, lost 9, gained 0; McNemar p(worse)=0.00195 < 0.05" in out
    assert "significantly worse than the champion (alpha 0.05) on: toy.match (lost 9, gained 0, p=0.00195)" in out
    worse_runs = (p for p in (root / "reports").iterdir() if p.name.endswith("-promote-" + adapters["worse"].name))
    *_, report_dir = sorted(worse_runs)  # the second candidate run, the one on the new toy set
    decision = json.loads((report_dir / "decision.json").read_text())  # the block above, as data
    assert decision["promote"] is False and decision["broken"] is False and decision["gates_failed"] == []
    assert decision["worse_than_champion"] == ["toy.match"] and decision["champion_before"] == "1"
    assert decision["registered"] is None and decision["reasons"][0].startswith("significantly worse than the")
    registry = registry_of(root)
    assert [v.version for v in registry.versions()] == ["1"]
    assert registry.champion() is not None and registry.champion().tags[reg.TAG_ADAPTER] == adapter_sha256(  # type: ignore[union-attr]
        adapters["good"]
    )


OTHER_SUITE = """
from harness import gate


def test_other_is_not_ready():
    gate.at_least("other.done", [False, False, True])
"""


def test_tasks_are_promoted_on_their_own_suites_each_with_its_champion(
    project: Callable[[float], Path], adapters: dict[str, Path], capfd: pytest.CaptureFixture[str]
) -> None:  # fmt: skip
    """Two tasks in one project: the unfinished one's failing suite does not block the other's release,
    and each task has its own registered model, so `champion:TASK` names one champion."""
    root = project(0.5)
    (root / "suites" / "test_other.py").write_text(OTHER_SUITE)
    with (root / "pyproject.toml").open("a") as pyproject:
        pyproject.write(
            '"other.done" = 0.9\n'
            '[tool.harness.tasks.toy]\nsuites = ["suites/test_toy.py"]\nmodel_name = "tiny-router"\n'
            '[tool.harness.tasks.other]\nsuites = ["suites/test_other.py"]\nmodel_name = "other-model"\n'
        )
    code, out = promote(capfd, "--adapter", str(adapters["good"]), "--dry-run")  # which task's champion? say
    assert code == 2 and "this project has 2 tasks ([tool.harness.tasks]: other, toy); name the one" in out, out

    code, out = promote(capfd, "--adapter", str(adapters["good"]), "--task", "toy")
    assert code == 0 and "registered tiny-router version 1; alias champion -> 1" in out, out
    assert "--task toy" in out and "other.done" not in out  # only the task's suite ran

    code, out = promote(capfd, "--adapter", str(adapters["good"]), "--task", "other")
    assert code == 1 and "registry:   unchanged (champion: none; other-model at" in out, out

    config = HarnessConfig.load(root)
    stored = registry_of(root).champion()
    assert stored is not None
    assert pinned(parse_spec("champion:toy", config, cwd=root), config) == PeftSpec(stored.adapter_dir)
    with pytest.raises(UsageError, match=r"'champion' is ambiguous in a project of 2 tasks: name one \(champion:other"):
        pinned(parse_spec("champion", config, cwd=root), config)
    with pytest.raises(RegistryError, match=r"no 'champion' in the model registry yet \(model 'other-model'.*"
                                            r"`harness promote --task other --adapter DIR`"):  # fmt: skip
        pinned(parse_spec("champion:other", config, cwd=root), config)
    with pytest.raises(UsageError, match=r"no task 'toys' in \[tool.harness.tasks\] \(tasks: other, toy\); did you"):
        parse_spec("champion:toys", config, cwd=root)
    assert promote(capfd, "--adapter", str(adapters["good"]), "--task", "toys")[0] == 2
