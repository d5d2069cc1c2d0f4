"""Gates on plain values (no models): what passes, what fails, what the message says, what is recorded."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from harness import gates, stats
from harness.config import ConfigError
from harness.gates import GateFailure, GateResult, GateSettings
from harness.report.summary import gate_rows


@dataclass(frozen=True)
class Case:
    """Just the attributes a gate reads from a GoldenCase."""

    id: str
    expected: str
    messages: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Answer:
    """Just what a gate reads from a Completion: its text (str) and latency."""

    text: str
    latency_s: float = 0.25

    def __str__(self) -> str:
        return self.text


@pytest.fixture(autouse=True)
def recorded() -> Iterator[list[GateResult]]:
    """Gates record into this list with default settings; module state is reset after each test."""
    results: list[GateResult] = []
    gates.configure(GateSettings(), results.append)
    yield results
    gates.configure(GateSettings(), lambda result: None, "")


def use(settings: GateSettings, recorded: list[GateResult], hint: str = "") -> None:
    gates.configure(settings, recorded.append, hint)


def flags(passes: int, n: int) -> list[bool]:
    return [True] * passes + [False] * (n - passes)


def banking_cases(n: int, wrong: int) -> tuple[list[Case], list[Answer], list[bool]]:
    """n cases, the first `wrong` answered card_linking instead of card_arrival."""
    cases = [Case(f"b-{i}", "card_arrival", [{"role": "user", "content": f"where is card {i}?"}]) for i in range(n)]
    answers = [Answer("card_linking" if i < wrong else "card_arrival") for i in range(n)]
    return cases, answers, [i >= wrong for i in range(n)]


# --- at_least -------------------------------------------------------------------------------------------


def test_at_least_judges_the_wilson_lower_bound_not_the_point_value() -> None:
    values = flags(170, 200)  # 0.85, but the 95% lower bound is about 0.794
    low, high = stats.wilson_interval(170, 200)
    result = gates.at_least("acc", values, 0.79)
    assert (result.value, result.interval, result.passed) == (0.85, (low, high), True)
    with pytest.raises(
        GateFailure, match=r"^acc 0\.850 \[0\.794, 0\.893\] < 0\.8 \(30/200 wrong; worst: #170, #171, #172, …\)$"
    ):
        gates.at_least("acc", values, 0.80)


def test_point_mode_judges_the_value(recorded: list[GateResult]) -> None:
    use(GateSettings(mode="point"), recorded)
    result = gates.at_least("acc", flags(170, 200), 0.80)
    assert result.passed and result.details == {"mode": "point"}
    with pytest.raises(GateFailure):
        gates.at_least("acc", flags(170, 200), 0.86)


def test_a_gate_called_without_a_bar_takes_the_configured_one(recorded: list[GateResult]) -> None:
    use(GateSettings(thresholds={"acc": 0.5, "reg": 0.2, "f1": 0.4, "floor": 0.1}), recorded)
    assert gates.at_least("acc", flags(10, 10)).threshold == 0.5
    assert gates.statistic_at_least("f1", lambda idx: 1.0, 5).threshold == 0.4
    assert gates.no_regression("reg", [True], [True]).threshold == 0.2
    assert gates.slices_at_least("floor", [True], ["a"], mode="point").threshold == 0.1
    assert gates.at_least("other", flags(10, 10), 0.6).threshold == 0.6  # not configured: a suite-local bar
    assert gates.at_least("acc", flags(10, 10), 0.5).threshold == 0.5  # the same bar twice: pointless, allowed


CALLS_WITHOUT_A_BAR = {
    "at_least": lambda: gates.at_least("g", flags(1, 2)),
    "statistic_at_least": lambda: gates.statistic_at_least("g", lambda idx: 1.0, 2),
    "no_regression": lambda: gates.no_regression("g", [True], [True]),
    "slices_at_least": lambda: gates.slices_at_least("g", [True], ["a"]),
}


@pytest.mark.parametrize("kind", sorted(CALLS_WITHOUT_A_BAR))
def test_a_gate_with_no_bar_anywhere_is_a_config_error_saying_what_to_add(kind: str, recorded) -> None:
    from harness.errors import UsageError

    with pytest.raises(ConfigError) as error:
        CALLS_WITHOUT_A_BAR[kind]()
    assert isinstance(error.value, UsageError)
    assert str(error.value) == 'gate "g" has no bar: add "g" = <bar> to [tool.harness.gates] in pyproject.toml'
    assert recorded == []


def test_a_bar_in_code_that_differs_from_the_configured_one_is_an_error_naming_both(recorded) -> None:
    use(GateSettings(thresholds={"acc": 0.85, "reg": 0.05}), recorded)
    with pytest.raises(ConfigError, match=r'^gate "acc" has two bars: 0\.8 in the suite and 0\.85 in \[tool\.harness'
                                          r"\.gates\]; a bar is written once: drop the suite's argument"):
        gates.at_least("acc", flags(10, 10), 0.8)
    with pytest.raises(ConfigError, match=r'"reg" has two bars: 0\.1 in the suite and 0\.05 in'):
        gates.no_regression("reg", [True], [True], max_drop=0.1)
    assert recorded == []


def test_alpha_keys_of_the_mcnemar_gates_are_read_as_before(recorded) -> None:
    """better_than and not_worse_than take no bar in code: a key of their name sets their alpha."""
    use(GateSettings(thresholds={"b": 0.2}), recorded)
    assert gates.better_than("b", flags(5, 5), flags(0, 5)).threshold == 0.2
    assert gates.not_worse_than("n", flags(5, 5), flags(5, 5)).threshold == 0.05  # the configured alpha


def test_no_values_is_an_error_not_a_pass() -> None:
    with pytest.raises(ValueError, match="gate 'acc' got no values: is the golden set empty"):
        gates.at_least("acc", [], 0.5)


def test_failure_message_says_what_by_how_much_and_where_to_look(recorded: list[GateResult]) -> None:
    use(GateSettings(), recorded, "reports/run-1/summary.md")
    cases, answers, correct = banking_cases(200, wrong=38)
    low, high = stats.wilson_interval(162, 200)
    with pytest.raises(GateFailure) as failure:
        gates.at_least("banking77.accuracy", correct, 0.85, cases=cases, outputs=answers)
    assert str(failure.value) == (
        f"banking77.accuracy 0.810 [{low:.3f}, {high:.3f}] < 0.85 (38/200 wrong; worst: "
        "#b-0 card_arrival→card_linking, #b-1 card_arrival→card_linking, #b-2 card_arrival→card_linking, …)"
        "; report: reports/run-1/summary.md"
    )
    assert re.search(r"\[0\.75\d, 0\.85\d\]", str(failure.value))


def test_predictions_replace_raw_outputs_in_the_message() -> None:
    cases, answers, correct = banking_cases(4, wrong=1)
    answers[0] = Answer("I think it is card_linking, because…")
    predictions = ["card_linking", "card_arrival", "card_arrival", "card_arrival"]
    with pytest.raises(GateFailure, match=r"\(1/4 wrong; worst: #b-0 card_arrival→card_linking\)$"):
        gates.at_least("acc", correct, 0.99, cases=cases, outputs=answers, predictions=predictions)


def test_model_output_in_the_message_stays_on_one_printable_line() -> None:
    cases, answers, correct = banking_cases(1, wrong=1)
    answers[0] = Answer("card\x18\n\x1elinking\u2028 \x1b[31m" + "x" * 50)
    with pytest.raises(GateFailure) as failure:
        gates.at_least("acc", correct, 0.5, cases=cases, outputs=answers)
    shown = str(failure.value).split("card_arrival→")[1]
    assert shown == r"card\x18 linking \x1b[31m" + "x" * 14 + "…)"  # escaped, whitespace collapsed, 40 chars


def test_scores_use_a_bootstrap_interval_and_name_the_lowest_cases() -> None:
    scores = [0.9, 0.4, 0.8, 0.95, 0.7]
    low, high = stats.bootstrap_mean_interval(scores)
    result = gates.at_least("rouge", scores, 0.3)
    assert result.interval == (low, high) and result.value == pytest.approx(0.75)
    assert all(outcome.passed is None for outcome in result.cases)  # a score has no pass/fail per case
    assert result.message.endswith("(n=5; lowest: #1 0.4, #4 0.7, #2 0.8, …)")


def test_numpy_bools_are_pass_fail_not_scores() -> None:
    correct = list(np.array(["a", "b", "a", "a"]) == "a")
    result = gates.at_least("acc", correct, 0.1)
    assert result.interval == stats.wilson_interval(3, 4)
    assert [outcome.passed for outcome in result.cases] == [True, False, True, True]
    assert "(1/4 wrong; worst: #1" in result.message


def test_every_gate_is_recorded_with_its_per_case_outcomes(recorded: list[GateResult]) -> None:
    cases, answers, correct = banking_cases(3, wrong=1)
    gates.at_least("acc", correct, 0.0, cases=cases, outputs=answers)
    with pytest.raises(GateFailure):
        gates.at_least("acc.strict", correct, 0.99, cases=cases, outputs=answers)
    assert [(r.name, r.kind, r.passed) for r in recorded] == [
        ("acc", "at_least", True),
        ("acc.strict", "at_least", False),
    ]
    first = recorded[0].to_record()["cases"][0]
    assert first == {
        "id": "b-0", "passed": False, "score": 0.0, "input": "where is card 0?", "output": "card_linking",
        "expected": "card_arrival", "baseline_output": None, "baseline_passed": None, "latency_s": 0.25,
        "prompt_tokens": None, "completion_tokens": None, "baseline_latency_s": None, "baseline_prompt_tokens": None,
        "baseline_completion_tokens": None,
    }  # fmt: skip


def test_gate_failure_is_an_assertion_error_so_pytest_reports_a_failed_test() -> None:
    assert issubclass(GateFailure, AssertionError)


# --- no_regression --------------------------------------------------------------------------------------


def paired(both: int, lost: int, gained: int, neither: int) -> tuple[list[bool], list[bool]]:
    """(candidate, baseline) pass flags with the given paired counts."""
    candidate = [True] * both + [False] * lost + [True] * gained + [False] * neither
    baseline = [True] * both + [True] * lost + [False] * gained + [False] * neither
    return candidate, baseline


def test_no_regression_counts_lost_and_gained_among_baseline_passes() -> None:
    candidate, baseline = paired(both=39, lost=1, gained=2, neither=8)
    result = gates.no_regression("reg", candidate, baseline, max_drop=0.05)
    assert result.passed and result.value == pytest.approx(1 / 40)
    counts = {k: result.details[k] for k in ("lost", "gained", "baseline_passes")}
    assert counts == {"lost": 1, "gained": 2, "baseline_passes": 40}
    assert result.interval == stats.wilson_interval(1, 40)
    assert result.message.startswith("reg: lost 1/40 baseline passes (2.5%, max 5.0%), gained 2; McNemar p(worse)=")


def test_no_regression_fails_on_max_drop_even_when_not_significant() -> None:
    candidate, baseline = paired(both=18, lost=2, gained=2, neither=0)  # 10% of baseline passes lost
    with pytest.raises(GateFailure) as failure:
        gates.no_regression("reg", candidate, baseline, max_drop=0.05)
    assert "lost 2/20 baseline passes (10.0%, max 5.0%), gained 2" in str(failure.value)
    assert "p(worse)=0.688 >= alpha 0.05" in str(failure.value)


def test_no_regression_fails_when_mcnemar_says_significantly_worse() -> None:
    candidate, baseline = paired(both=32, lost=8, gained=0, neither=0)  # 20% < max_drop, but 8 vs 0
    expected = stats.mcnemar_exact(candidate, baseline)
    with pytest.raises(GateFailure, match=r"p\(worse\)=0\.00391 < alpha 0\.05"):
        gates.no_regression("reg", candidate, baseline, max_drop=0.5)
    assert expected.p_worse == pytest.approx(0.5**8)


def test_no_regression_records_the_baseline_side_of_each_case(recorded: list[GateResult]) -> None:
    candidate, baseline = paired(both=1, lost=0, gained=1, neither=0)
    gates.no_regression("reg", candidate, baseline, 0.05, outputs=["a", "b"], baseline_outputs=["a", "x"])
    cases = recorded[0].cases
    assert [(c.passed, c.baseline_passed, c.output, c.baseline_output) for c in cases] == [
        (True, True, "a", "a"), (True, False, "b", "x")]  # fmt: skip


def test_no_regression_needs_paired_outcomes() -> None:
    with pytest.raises(ValueError, match="gate 'reg': 2 candidate vs 3 baseline outcomes"):
        gates.no_regression("reg", [True, True], [True, True, False], max_drop=0.05)


def test_no_regression_records_plain_python_numbers_for_numpy_input(recorded: list[GateResult]) -> None:
    candidate, baseline = (list(np.array(side)) for side in paired(both=3, lost=1, gained=0, neither=1))
    with pytest.raises(GateFailure):
        gates.no_regression("reg", candidate, baseline, max_drop=0.05)
    details = recorded[0].details
    assert all(type(details[k]) is int for k in ("lost", "gained", "baseline_passes"))


# --- slices_at_least ------------------------------------------------------------------------------------


def test_a_slice_fails_only_when_significantly_below_the_floor(recorded: list[GateResult]) -> None:
    tags = ["a"] * 10 + ["b"] * 10 + ["c"] * 10
    values = flags(0, 10) + flags(3, 10) + flags(10, 10)  # b at 0.3 is below 0.5, but not significantly
    with pytest.raises(GateFailure) as failure:
        gates.slices_at_least("recall", values, tags, 0.5)
    assert str(failure.value) == "recall: 1/3 slices significantly below 0.5 (Holm, alpha 0.05): a 0.00"
    assert recorded[0].details == {"slices": {"a": 0.0, "b": 0.3, "c": 1.0}, "failing": ["a"], "mode": "lower_bound"}
    assert recorded[0].value == 0.0


def test_holm_keeps_one_unlucky_slice_among_many_from_failing_the_gate() -> None:
    alone = flags(1, 8)  # p = 9/256 ≈ 0.035: below alpha on its own
    assert stats.binomial_p_below(1, 8, 0.5) < 0.05
    with pytest.raises(GateFailure):
        gates.slices_at_least("recall", alone, ["x"] * 8, 0.5)
    values = alone + alone + flags(8, 8)  # three slices: 0.035 > 0.05 / 3, so Holm rejects none
    result = gates.slices_at_least("recall", values, ["x"] * 8 + ["y"] * 8 + ["z"] * 8, 0.5)
    assert result.passed
    assert result.message == "recall: 0/3 slices significantly below 0.5 (Holm, alpha 0.05); lowest slice x 0.12"


def test_alpha_comes_from_settings(recorded: list[GateResult]) -> None:
    use(GateSettings(alpha=0.2), recorded)
    values = flags(1, 8) + flags(1, 8) + flags(8, 8)  # 0.035 < 0.2 / 3: now both low slices fail
    with pytest.raises(
        GateFailure, match=r"2/3 slices significantly below 0\.5 \(Holm, alpha 0\.2\): x 0\.12, y 0\.12"
    ):
        gates.slices_at_least("recall", values, ["x"] * 8 + ["y"] * 8 + ["z"] * 8, 0.5)


# --- settings -------------------------------------------------------------------------------------------


def test_settings_from_the_pyproject_table_separate_options_from_thresholds() -> None:
    settings = GateSettings.from_table({"mode": "point", "alpha": 0.01, "banking77.accuracy": 0.85, "x": 1})
    assert (settings.mode, settings.alpha, settings.confidence) == ("point", 0.01, 0.95)
    assert settings.thresholds == {"banking77.accuracy": 0.85, "x": 1.0}


def test_an_unknown_mode_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"mode = 'upper': use 'lower_bound' or 'point'"):
        GateSettings.from_table({"mode": "upper"})


def test_outside_a_session_gates_use_defaults_and_record_nothing() -> None:
    gates.configure(GateSettings(), lambda result: None, "")
    result: Any = gates.at_least("acc", flags(10, 10), 0.5)
    assert result.passed and result.details["mode"] == "lower_bound"


def test_a_slice_gate_that_could_never_fail_is_refused(recorded) -> None:
    """Five cases per intent over 77 intents: even 0/5 is not significant after Holm, so no verdict."""
    tags = [f"intent{i}" for i in range(77) for _ in range(5)]
    with pytest.raises(ValueError, match=r"cannot fail: with 77 slices of at most 5 cases.*Use mode='point'"):
        gates.slices_at_least("recall", [False] * len(tags), tags, 0.5)
    assert recorded == []


def test_point_mode_slice_floor_fails_on_the_rate_itself(recorded) -> None:
    tags = ["a"] * 5 + ["b"] * 5
    values = flags(0, 5) + flags(4, 5)
    with pytest.raises(GateFailure, match=r"recall: 1/2 slices below 0\.2: a 0\.00"):
        gates.slices_at_least("recall", values, tags, 0.2, mode="point")
    assert recorded[0].details["mode"] == "point"


# --- which gate names the suites declare (harness.gate_keys) ------------------------------------------------

DECLARING = '''
from harness import gate as g
from harness.gates import no_regression as keep
import harness.gates

def test_a(model):
    g.at_least("lit.accuracy", [True], 0.5)
    keep(name="kw.no_regression", candidate=[True], baseline=[True])
    harness.gates.slices_at_least("dotted.floor", [True], ["a"], 0.1)
    g.better_than(f"fmt.{model}.beats", [True], [False])
    g.at_least("arm.trusted" if model else "arm.untrusted", [True], 0.5)
    g.at_least("no.bar.here", [True])  # its bar comes from [tool.harness.gates]
    g.measure("measured.only", [True])  # no bar: a key cannot set one
    other.at_least("not.a.gate", [True], 0.5)
'''


def test_gate_names_are_read_from_every_spelling_of_a_gate_call(tmp_path) -> None:
    from harness.gate_keys import declared

    suite = tmp_path / "test_declaring.py"
    suite.write_text(DECLARING)
    found = declared([suite])
    assert found.names == {"lit.accuracy", "kw.no_regression", "dotted.floor", "arm.trusted", "arm.untrusted",
                           "no.bar.here"}
    assert found.patterns == {"fmt.*.beats"} and found.knows("fmt.anything.beats")
    assert not found.knows("measured.only") and not found.knows("not.a.gate")


def test_unknown_gate_keys_name_the_closest_gate_and_options_are_not_gates(tmp_path) -> None:
    from harness.config import ConfigError
    from harness.gate_keys import DeclaredGates, check_keys

    known = DeclaredGates(frozenset({"banking77.accuracy", "banking77.macro_f1"}), files=(tmp_path / "test_b.py",))
    check_keys({"mode": "point", "alpha": 0.01, "banking77.accuracy": 0.85}, known, "pyproject.toml")
    with pytest.raises(ConfigError, match=r'^pyproject.toml: \[tool.harness.gates\] sets bars for gates no suite has'
                                          r'.*\n  "banking77.acuracy": did you mean "banking77.accuracy"\?$'):
        check_keys({"banking77.acuracy": 0.85}, known, "pyproject.toml")
    with pytest.raises(ValueError, match=r'"zzz": no gate is close \(the suites\' gates: banking77.accuracy, '):
        check_keys({"zzz": 1}, known, "pyproject.toml")


def test_a_gate_named_by_a_variable_could_be_any_gate_so_no_key_is_unknown(tmp_path) -> None:
    from harness.gate_keys import check_keys, declared

    suite = tmp_path / "test_dynamic.py"
    suite.write_text("from harness import gate\n\ndef test_x(name):\n    gate.at_least(name, [True], 0.1)\n")
    check_keys({"anything.at.all": 0.5}, declared([suite]), "pyproject.toml")
    suite.write_text("def test_half_written(:\n")  # a sibling that does not parse could declare any gate too
    check_keys({"anything.at.all": 0.5}, declared([suite]), "pyproject.toml")


BARS = '''
from harness import gate
from harness.gates import slices_at_least as floor

def test_bars(model, bar, extra):
    gate.at_least("in.config", [True])
    gate.at_least("in.code", [True], 0.5)
    gate.at_least("in.both.same", [True], threshold=0.5)
    gate.no_regression("in.both.differ", [True], [True], max_drop=0.1)
    gate.statistic_at_least("nowhere", len, 3, passed_cases=[True])
    floor("nowhere.floor", [True], ["a"], mode="point")
    gate.at_least("variable", [True], bar)  # unreadable here: the gate checks it when it runs
    gate.no_regression("spread", **extra)
    gate.at_least(f"pattern.{model}", [True])  # a pattern: which key it reads is known only when it runs
    gate.better_than("alpha.only", [True], [False])  # takes no bar in code
'''


def test_bars_are_checked_in_the_source_nowhere_and_twice_are_named_by_line(tmp_path, monkeypatch) -> None:
    from harness.gate_keys import check_bars

    monkeypatch.chdir(tmp_path)
    suite = tmp_path / "test_bars.py"
    suite.write_text(BARS)
    table = {"mode": "point", "in.config": 0.9, "in.both.same": 0.5, "in.both.differ": 0.05, "variable": 0.1}
    with pytest.raises(ConfigError) as error:
        check_bars(table, [suite], "pyproject.toml")
    assert str(error.value) == (
        "pyproject.toml: a gate needs one bar, in [tool.harness.gates] or else in its suite:\n"
        '  test_bars.py:9: gate "in.both.differ" has two bars: 0.1 in the suite and 0.05 in [tool.harness.gates]; '
        "a bar is written once: drop the suite's argument (or the key, for a suite-local bar)\n"
        '  test_bars.py:10: gate "nowhere" has no bar: add "nowhere" = <bar> to [tool.harness.gates] in '
        "pyproject.toml\n"
        '  test_bars.py:11: gate "nowhere.floor" has no bar: add "nowhere.floor" = <bar> to [tool.harness.gates] in '
        "pyproject.toml"
    )
    check_bars({**table, "in.both.differ": 0.1, "nowhere": 1, "nowhere.floor": 0.2}, [suite], "pyproject.toml")


# --- at_most and no_shift ---------------------------------------------------------------------------------


def test_at_most_judges_the_upper_bound_of_an_unwanted_rate(recorded: list[GateResult]) -> None:
    gates.at_most("shadow.disagreement", flags(0, 100), 0.05)  # 0/100: upper bound 0.037 <= 0.05
    with pytest.raises(GateFailure, match=r"shadow\.disagreement 0\.000 \[0\.000, 0\.242\] > 0\.05 \(0/12 cases\)"):
        gates.at_most("shadow.disagreement", flags(0, 12), 0.05)  # too few to show it is under 5%
    with pytest.raises(GateFailure, match=r"0\.100 \[0\.055, 0\.174\] > 0\.05 \(10/100 cases; worst: #0, #1, #2, …"):
        gates.at_most("shadow.disagreement", [i < 10 for i in range(100)], 0.05)
    use(GateSettings(mode="point"), recorded)
    gates.at_most("shadow.disagreement", flags(0, 12), 0.05)  # point mode: the value itself
    passed, small, flipped, point = recorded
    assert [r.passed for r in recorded] == [True, False, False, True]
    assert flipped.kind == "at_most" and flipped.value == pytest.approx(0.1)
    assert [c.passed for c in flipped.cases[:11]] == [False] * 10 + [True]  # a disagreement is a case not passed
    assert gate_rows([flipped.to_record()])[0] == ("shadow.disagreement", "0.100", "[0.055, 0.174]", "<= 0.05", "FAIL")


def test_no_shift_passes_unless_the_p_value_is_below_alpha(recorded: list[GateResult]) -> None:
    gates.no_shift("production.input_drift", 0.0012, 0.42, 0.01, what="MMD²", details={"n": 60})
    with pytest.raises(GateFailure, match=r"production\.input_drift: MMD² statistic 0\.0863, p=0\.000999 < alpha "
                                          r"0\.01 \(the samples differ\)"):  # fmt: skip
        gates.no_shift("production.input_drift", 0.0863, 0.000999, 0.01, what="MMD²")
    use(GateSettings(thresholds={"production.input_drift": 0.5}), recorded)
    with pytest.raises(GateFailure):  # the configured alpha is the bar
        gates.no_shift("production.input_drift", 0.0012, 0.42)
    with pytest.raises(ConfigError, match="two bars"):  # and a different one in code is an error, not overridden
        gates.no_shift("production.input_drift", 0.0012, 0.42, 0.01)
    with pytest.raises(ValueError, match="p-value 1.5 is not in"):
        gates.no_shift("production.input_drift", 0.1, 1.5)
    calm, drifted, strict = recorded
    assert (calm.passed, calm.interval, calm.details) == (True, (0.42, 0.42), {"n": 60})
    assert gate_rows([drifted.to_record()])[0] == ("production.input_drift", "0.0863", "p=0.001", "p >= 0.01", "FAIL")
    assert strict.threshold == 0.5 and not strict.passed
