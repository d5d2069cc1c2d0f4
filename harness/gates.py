"""Gates: thresholds with statistical confidence. A suite calls them; the exit code is the decision.

    gate.at_least("banking77.accuracy", correct, cases=cases, outputs=answers)
    gate.no_regression("regression.no_forgetting", candidate_ok, baseline_ok, cases=cases)
    gate.at_most("shadow.disagreement", disagreed, cases=traces)
    gate.no_shift("production.input_drift", mmd2, p_value, alpha=0.01)

A gate computes its value and 95% interval, compares with its bar, records everything (per-case outcomes
included) for the run's report, and raises `GateFailure` with a message that says what failed, by how much
and where to look. Each gate returns its own result type (`harness.gate_results`), which the reports render.

Every bar is written once. It lives in `[tool.harness.gates]` under the gate's name; a suite passes one
in code only for a gate the config does not list (a suite-local bar). No bar in either place, or two
different ones, is a `ConfigError`: the plugin finds both in the suites' source before any test runs
(`harness.gate_keys.check_bars`), and the gate raises it as well when it runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness import metrics, stats
from harness.config import ConfigError
from harness.errors import Refused
from harness.gate_results import (
    BarResult,
    BetterThanResult,
    CaseOutcome,
    CeilingResult,
    GateResult,
    LossResult,
    Measurement,
    NoShiftResult,
    NotWorseThanResult,
)

__all__ = ["CaseOutcome", "GateResult"]  # re-exported: suites and tests import them from here

OPTIONS = ("mode", "confidence", "alpha")
"""Keys of [tool.harness.gates] that say how gates decide; every other key is a gate's bar."""
GATES_WITH_BARS = (
    "at_least", "at_most", "statistic_at_least", "no_regression", "better_than", "not_worse_than",
    "slices_at_least", "no_shift", "macro_f1", "per_class_recall",
)  # fmt: skip
"""The gates that look a bar up by their name (`measure` takes none): what a key of [tool.harness.gates] can set."""
BAR_ARGUMENTS = {
    "at_least": (2, "threshold"), "at_most": (2, "threshold"), "statistic_at_least": (3, "threshold"),
    "no_regression": (3, "max_drop"), "slices_at_least": (3, "floor"), "no_shift": (3, "alpha"),
    "macro_f1": (3, "threshold"), "per_class_recall": (3, "floor"),
}  # fmt: skip
"""The gates whose bar a suite may also pass in code: the bar's position and keyword. `better_than` and
`not_worse_than` take none in code: their bar is alpha, which a key of their name overrides."""


class GateFailure(Refused, AssertionError):
    """A gate did not pass. An AssertionError, so pytest reports it as an ordinary test failure."""


@dataclass(frozen=True)
class GateSettings:
    """`[tool.harness.gates]`: thresholds by gate name, plus how gates decide."""

    thresholds: Mapping[str, float] = field(default_factory=dict)
    mode: str = "lower_bound"  # "lower_bound": the 95% lower bound must clear the bar; "point": the value must
    confidence: float = 0.95
    alpha: float = 0.05  # significance for "candidate is worse" (McNemar) and slice floors (Holm)

    @classmethod
    def from_table(cls, table: Mapping[str, Any]) -> GateSettings:
        options = {k: table[k] for k in OPTIONS if k in table}
        thresholds = {k: float(v) for k, v in table.items() if k not in options}
        if options.get("mode", "lower_bound") not in ("lower_bound", "point"):
            raise ConfigError(f"[tool.harness.gates] mode = {options['mode']!r}: use 'lower_bound' or 'point'")
        return cls(thresholds=thresholds, **options)

    def threshold(self, name: str, in_code: float | None) -> float:
        """The gate's bar: `[tool.harness.gates]`'s, else the one the suite passed (a suite-local bar for a
        gate the config does not list). Neither, or both with different values, is a ConfigError."""
        configured = self.thresholds.get(name)
        if configured is None:
            if in_code is None:
                raise ConfigError(no_bar(name))
            return float(in_code)
        if in_code is not None and float(in_code) != configured:
            raise ConfigError(two_bars(name, float(in_code), configured))
        return configured


def no_bar(name: str) -> str:
    return f'gate "{name}" has no bar: add "{name}" = <bar> to [tool.harness.gates] in pyproject.toml'


def two_bars(name: str, in_code: float, configured: float) -> str:
    return (
        f'gate "{name}" has two bars: {in_code:g} in the suite and {configured:g} in [tool.harness.gates]; '
        "a bar is written once: drop the suite's argument (or the key, for a suite-local bar)"
    )


Recorder = Callable[[GateResult], None]


def _discard(result: GateResult) -> None:
    """Outside a session a result is returned and raised on, but recorded nowhere."""


@dataclass(frozen=True)
class GateSession:
    """One run's gate state: the bars and settings gates judge by, where results are recorded, and the report
    path named in a failure. The plugin opens one per pytest session (`configure`) and closes it at the end;
    library use outside pytest (a script, a notebook) judges with defaults and records nothing."""

    settings: GateSettings = field(default_factory=GateSettings)
    record: Recorder = _discard
    report_hint: str = ""


OUTSIDE_A_SESSION = GateSession()
_SESSION: ContextVar[GateSession] = ContextVar("harness_gate_session", default=OUTSIDE_A_SESSION)


def session() -> GateSession:
    """The session gates run in now."""
    return _SESSION.get()


def configured_bar(name: str) -> float | None:
    """The bar [tool.harness.gates] sets for `name` in this run, or None: for callers outside a suite (the
    `harness shadow` command) whose own default applies only where the config has no bar."""
    value = session().settings.thresholds.get(name)
    return None if value is None else float(value)


def configure(settings: GateSettings, record: Recorder, report_hint: str = "") -> GateSession:
    """Open a session: gates called from now on judge by `settings` and send their results to `record`."""
    opened = GateSession(settings, record, report_hint)
    _SESSION.set(opened)
    return opened


def at_least(
    name: str,
    values: Sequence[bool] | Sequence[float],
    threshold: float | None = None,
    *,
    cases: Sequence[Any] | None = None,
    outputs: Sequence[Any] | None = None,
    predictions: Sequence[str] | None = None,
) -> GateResult:
    """Pass when the mean of `values` clears the threshold: its lower confidence bound in lower_bound mode
    (Wilson for pass/fail, bootstrap for scores), the value itself in point mode. `threshold` left out (the
    rule for every gate's bar): the one in [tool.harness.gates]; given, it must not differ from that one."""
    settings = session().settings
    bar = settings.threshold(name, threshold)
    if not values:
        raise ValueError(f"gate {name!r} got no values: is the golden set empty?")
    value, interval = _mean_and_interval(values, settings.confidence)
    judged = interval[0] if settings.mode == "lower_bound" else value
    outcomes = _outcomes(values, cases, outputs)
    passed = judged >= bar
    message = (
        f"{name} {value:.3f} [{interval[0]:.3f}, {interval[1]:.3f}] {'>=' if passed else '<'} {bar:g} "
        f"({_case_summary(outcomes, predictions)})"
    )
    return _finish(
        BarResult(name, "at_least", value, interval, bar, passed, message, {"mode": settings.mode}, outcomes)
    )


def at_most(
    name: str,
    values: Sequence[bool] | Sequence[float],
    threshold: float | None = None,
    *,
    cases: Sequence[Any] | None = None,
    outputs: Sequence[Any] | None = None,
) -> GateResult:
    """Pass when the mean of `values`, a rate of something unwanted (disagreeing with the champion), stays
    under the bar: its upper confidence bound in lower_bound mode, the value itself in point mode. The mirror
    of `at_least`: with few cases the bound is wide, and the gate fails rather than trust a lucky sample.
    A case whose value is True (or above 0) is recorded as not passed, so reviews and reports pick it up."""
    settings = session().settings
    bar = settings.threshold(name, threshold)
    if not values:
        raise ValueError(f"gate {name!r} got no values: nothing was compared")
    value, interval = _mean_and_interval(values, settings.confidence)
    judged = interval[1] if settings.mode == "lower_bound" else value
    outcomes = _outcomes(values, cases, outputs)
    for outcome in outcomes:  # the value is the unwanted event: a case that has it did not pass
        outcome.passed = not outcome.score
    passed = judged <= bar
    bad = [i for i, o in enumerate(outcomes) if not o.passed]
    message = (
        f"{name} {value:.3f} [{interval[0]:.3f}, {interval[1]:.3f}] {'<=' if passed else '>'} {bar:g} "
        f"({len(bad)}/{len(outcomes)} cases{_worst(bad, None, outcomes)})"
    )
    details = {"mode": settings.mode}
    return _finish(CeilingResult(name, "at_most", value, interval, bar, passed, message, details, outcomes))


def no_shift(
    name: str,
    statistic: float,
    p_value: float,
    alpha: float | None = None,
    *,
    what: str = "two-sample test",
    details: Mapping[str, Any] | None = None,
) -> GateResult:
    """Pass unless a two-sample test finds that two samples differ: its p-value must be at least `alpha`
    (the bar; config wins). For drift: are this week's production inputs drawn from the distribution the
    model was trained and judged on? `statistic` (e.g. MMD²) is the recorded value; the interval holds the
    p-value, as for the McNemar gates. A pass is no evidence of a shift, not evidence of none."""
    settings = session().settings
    bar = settings.threshold(name, alpha)
    if not 0.0 <= p_value <= 1.0:
        raise ValueError(f"gate {name!r}: p-value {p_value!r} is not in [0, 1]")
    passed = p_value >= bar
    message = (
        f"{name}: {what} statistic {statistic:.4g}, p={p_value:.3g} {'>=' if passed else '<'} alpha {bar:g} "
        f"({'no evidence of a shift' if passed else 'the samples differ'})"
    )
    interval = (p_value, p_value)
    return _finish(NoShiftResult(name, "no_shift", statistic, interval, bar, passed, message, dict(details or {})))


def statistic_at_least(
    name: str,
    statistic: Callable[[Sequence[int]], float],
    n_cases: int,
    threshold: float | None = None,
    *,
    passed_cases: Sequence[bool] | None = None,
    cases: Sequence[Any] | None = None,
    outputs: Sequence[Any] | None = None,
) -> GateResult:
    """Like `at_least`, for a set-level metric such as macro-F1: `statistic(indices)` scores a subset of
    the cases; the value uses all of them and the interval comes from a bootstrap over cases.
    `passed_cases` (e.g. per-case correctness) is recorded for the report."""
    settings = session().settings
    bar = settings.threshold(name, threshold)
    value = float(statistic(list(range(n_cases))))
    interval = stats.bootstrap_statistic_interval(n_cases, lambda idx: statistic(idx.tolist()), settings.confidence)
    judged = interval[0] if settings.mode == "lower_bound" else value
    passed = judged >= bar
    message = (
        f"{name} {value:.3f} [{interval[0]:.3f}, {interval[1]:.3f}] {'>=' if passed else '<'} {bar:g} "
        f"(n={n_cases}, bootstrap over cases)"
    )
    per_case = passed_cases if passed_cases is not None else [True] * n_cases
    result = BarResult(
        name, "at_least", value, interval, bar, passed, message, {"mode": settings.mode},
        _outcomes([bool(v) for v in per_case], cases, outputs),
    )  # fmt: skip
    return _finish(result)


def no_regression(
    name: str,
    candidate: Sequence[bool],
    baseline: Sequence[bool],
    max_drop: float | None = None,
    *,
    cases: Sequence[Any] | None = None,
    outputs: Sequence[Any] | None = None,
    baseline_outputs: Sequence[Any] | None = None,
) -> GateResult:
    """Among the cases the baseline passes, fail if more than `max_drop` of them are lost, or if McNemar's
    exact test says the candidate is significantly worse than the baseline (alpha from config)."""
    settings = session().settings
    bar = settings.threshold(name, max_drop)
    if len(candidate) != len(baseline):
        raise ValueError(f"gate {name!r}: {len(candidate)} candidate vs {len(baseline)} baseline outcomes")
    # Plain bools: numpy's would put numpy ints in the record, which JSON and xdist's channel cannot carry.
    candidate, baseline = [bool(c) for c in candidate], [bool(b) for b in baseline]
    kept_by_baseline = sum(baseline)
    lost = sum(b and not c for c, b in zip(candidate, baseline, strict=True))
    gained = sum(c and not b for c, b in zip(candidate, baseline, strict=True))
    drop = lost / kept_by_baseline if kept_by_baseline else 0.0
    test = stats.mcnemar_exact(candidate, baseline)
    interval = stats.wilson_interval(lost, kept_by_baseline, settings.confidence) if kept_by_baseline else (0.0, 0.0)
    significantly_worse = test.p_worse < settings.alpha
    passed = drop <= bar and not significantly_worse
    message = (
        f"{name}: lost {lost}/{kept_by_baseline} baseline passes ({drop:.1%}, max {bar:.1%}), gained {gained}; "
        f"McNemar p(worse)={test.p_worse:.3g} {'<' if significantly_worse else '>='} alpha {settings.alpha:g}"
    )
    outcomes = _outcomes(candidate, cases, outputs)
    for outcome, base_ok, base_out in zip(outcomes, baseline, baseline_outputs or [None] * len(outcomes), strict=True):
        outcome.baseline_passed, outcome.baseline_output = bool(base_ok), _text(base_out)
        _record_baseline_cost(outcome, base_out)
    details = {"lost": lost, "gained": gained, "baseline_passes": kept_by_baseline, "p_worse": test.p_worse,
               "p_value": test.p_value}  # fmt: skip
    return _finish(LossResult(name, "no_regression", drop, interval, bar, passed, message, details, outcomes))


def better_than(
    name: str,
    candidate: Sequence[bool],
    reference: Sequence[bool],
    *,
    cases: Sequence[Any] | None = None,
    outputs: Sequence[Any] | None = None,
    reference_outputs: Sequence[Any] | None = None,
) -> GateResult:
    """Pass when the candidate is significantly better than a reference on the same cases: exact McNemar
    on the discordant pairs, one-sided, at the configured alpha (a `"<name>"` entry in config overrides
    alpha for this gate). The bar fine-tuning must clear, e.g. the few-shot prompted base model."""
    settings = session().settings
    alpha = settings.thresholds.get(name, settings.alpha)
    candidate, reference = [bool(v) for v in candidate], [bool(v) for v in reference]
    if len(candidate) != len(reference):
        raise ValueError(f"gate {name!r}: {len(candidate)} candidate vs {len(reference)} reference outcomes")
    p_better = stats.mcnemar_exact(reference, candidate).p_worse  # P(reference this much worse by chance)
    diff = (sum(candidate) - sum(reference)) / len(candidate)
    passed = p_better < alpha
    message = (
        f"{name}: {sum(candidate)}/{len(candidate)} vs reference {sum(reference)}/{len(reference)} "
        f"({diff:+.3f}); McNemar p(better)={p_better:.3g} {'<' if passed else '>='} alpha {alpha:g}"
    )
    outcomes = _outcomes(candidate, cases, outputs)
    for outcome, ok, out in zip(outcomes, reference, reference_outputs or [None] * len(outcomes), strict=True):
        outcome.baseline_passed, outcome.baseline_output = ok, _text(out)
        _record_baseline_cost(outcome, out)
    details = {"p_better": p_better, "reference_rate": sum(reference) / len(reference)}
    return _finish(
        BetterThanResult(name, "better_than", diff, (p_better, p_better), alpha, passed, message, details, outcomes)
    )


def not_worse_than(
    name: str,
    candidate: Sequence[bool],
    reference: Sequence[bool],
    *,
    reference_name: str = "reference",
    cases: Sequence[Any] | None = None,
    outputs: Sequence[Any] | None = None,
    reference_outputs: Sequence[Any] | None = None,
) -> GateResult:
    """Fail when the candidate is significantly worse than a reference on the same cases: exact McNemar on
    the discordant pairs, one-sided, at the configured alpha (a `"<name>"` entry in config overrides alpha
    for this gate).

    Why not `better_than`: that asks for evidence of a gain, the bar for "was training worth it" against a
    weak baseline. Against a strong cheap system (a TF-IDF classifier) the question is the reverse, "is
    the fine-tune losing to something cheaper?", and only evidence of a loss should stop it; a tie passes.
    Why not `no_regression`: its drop bar is about keeping what a baseline could do, while here any
    significant loss fails, whatever its size."""
    settings = session().settings
    alpha = settings.thresholds.get(name, settings.alpha)
    candidate, reference = [bool(v) for v in candidate], [bool(v) for v in reference]
    if len(candidate) != len(reference):
        raise ValueError(f"gate {name!r}: {len(candidate)} candidate vs {len(reference)} {reference_name} outcomes")
    if not candidate:
        raise ValueError(f"gate {name!r} got no outcomes: is the golden set empty?")
    test = stats.mcnemar_exact(candidate, reference)
    diff = (sum(candidate) - sum(reference)) / len(candidate)
    passed = test.p_worse >= alpha
    outcomes = _outcomes(candidate, cases, outputs)
    for outcome, ok, out in zip(outcomes, reference, reference_outputs or [None] * len(outcomes), strict=True):
        outcome.baseline_passed, outcome.baseline_output = ok, _text(out)
        _record_baseline_cost(outcome, out)
    lost = [i for i, (c, r) in enumerate(zip(candidate, reference, strict=True)) if r and not c]
    message = (
        f"{name}: {sum(candidate)}/{len(candidate)} vs {reference_name} {sum(reference)}/{len(reference)} "
        f"({diff:+.3f}; {reference_name} right and candidate wrong on {test.b} cases, the reverse on {test.c}); "
        f"McNemar p(worse)={test.p_worse:.3g} {'>=' if passed else '<'} alpha {alpha:g}"
        + ("" if passed else _worst(lost, None, outcomes))  # the cases the candidate lost, to look at first
    )
    details = {"p_worse": test.p_worse, "p_value": test.p_value, "reference": reference_name,
               "reference_rate": sum(reference) / len(reference), "lost": test.b, "gained": test.c}  # fmt: skip
    interval = (test.p_worse, test.p_worse)  # as better_than: the p-value, which is what the bar (alpha) judges
    result = NotWorseThanResult(name, "not_worse_than", diff, interval, alpha, passed, message, details, outcomes)
    return _finish(result)


def measure(
    name: str,
    values: Sequence[bool] | Sequence[float],
    *,
    cases: Sequence[Any] | None = None,
    outputs: Sequence[Any] | None = None,
) -> GateResult:
    """Record a figure with its interval for the report without deciding anything (e.g. the prompted
    baseline's accuracy, shown next to the model's). Never fails."""
    value, interval = _mean_and_interval(values, session().settings.confidence)
    message = f"{name} {value:.3f} [{interval[0]:.3f}, {interval[1]:.3f}] (measured, not gated)"
    return _finish(
        Measurement(name, "measure", value, interval, 0.0, True, message, {}, _outcomes(values, cases, outputs))
    )


def slices_at_least(
    name: str,
    values: Sequence[bool],
    tags: Sequence[str],
    floor: float | None = None,
    *,
    mode: str | None = None,
    cases: Sequence[Any] | None = None,
    outputs: Sequence[Any] | None = None,
) -> GateResult:
    """A floor per slice (e.g. recall per intent).

    lower_bound mode: a slice fails only when it is significantly below the floor (exact binomial test,
    Holm-corrected across slices). Slices too small for that to ever happen make the gate unable to
    fail, which is refused rather than passed. point mode: a slice fails when its rate is below the floor.
    `mode` overrides the configured mode for this gate."""
    settings = session().settings
    bar = settings.threshold(name, floor)
    mode = mode or settings.mode
    slices: dict[str, list[bool]] = {}
    for tag, ok in zip(tags, values, strict=True):
        slices.setdefault(tag, []).append(bool(ok))
    names = sorted(slices)
    rates = {s: sum(slices[s]) / len(slices[s]) for s in names}
    if mode == "point":
        failing = [s for s in names if rates[s] < bar]
        rule = f"below {bar:g}"
    else:
        _require_power(name, [len(slices[s]) for s in names], bar, settings.alpha)
        p_values = [stats.binomial_p_below(sum(slices[s]), len(slices[s]), bar) for s in names]
        failing = [s for s, rejected in zip(names, stats.holm(p_values, settings.alpha), strict=True) if rejected]
        rule = f"significantly below {bar:g} (Holm, alpha {settings.alpha:g})"
    lowest = min(names, key=lambda s: (rates[s], s))
    interval = stats.wilson_interval(sum(slices[lowest]), len(slices[lowest]), settings.confidence)
    listed = ", ".join(f"{s} {rates[s]:.2f}" for s in failing[:5]) + (", …" if len(failing) > 5 else "")
    message = f"{name}: {len(failing)}/{len(names)} slices {rule}" + (
        f": {listed}" if failing else f"; lowest slice {lowest} {rates[lowest]:.2f}"
    )
    details = {"slices": rates, "failing": failing, "mode": mode}
    result = BarResult(
        name, "slices_at_least", rates[lowest], interval, bar, not failing, message, details,
        _outcomes(values, cases, outputs),
    )  # fmt: skip
    return _finish(result)


def macro_f1(
    name: str, answers: Sequence[Any], cases: Sequence[Any], threshold: float | None = None
) -> GateResult:  # fmt: skip
    """Macro-F1 of label answers over the labels the cases expect, judged like `statistic_at_least`
    (bootstrap lower bound over cases). An answer that names no expected label counts against the class
    it should have been. Labels match up to `metrics.normalise_label`."""
    labels = sorted({metrics.normalise_label(case.expected) for case in cases})
    code = {label: i for i, label in enumerate(labels)}
    truth = [code[metrics.normalise_label(case.expected)] for case in cases]
    guess = [code.get(metrics.normalise_label(answer), -1) for answer in answers]  # -1: not a label

    def score(indices: Sequence[int]) -> float:
        return metrics.macro_f1_codes([truth[i] for i in indices], [guess[i] for i in indices], len(labels))

    correct = [t == g for t, g in zip(truth, guess, strict=True)]
    return statistic_at_least(name, score, len(cases), threshold, passed_cases=correct, cases=cases, outputs=answers)


def per_class_recall(
    name: str, answers: Sequence[Any], cases: Sequence[Any], floor: float | None = None, *, mode: str | None = None
) -> GateResult:  # fmt: skip
    """No expected label's recall below the floor: `slices_at_least` over the cases grouped by the label
    they expect (mode "point" judges each rate itself, for classes of a few cases each)."""
    correct = [metrics.label_match(answer, case.expected) for answer, case in zip(answers, cases, strict=True)]
    labels = [metrics.normalise_label(case.expected) for case in cases]
    return slices_at_least(name, correct, labels, floor, mode=mode, cases=cases, outputs=answers)


def _require_power(name: str, sizes: list[int], floor: float, alpha: float) -> None:
    """Refuse a slice gate that could not fail even if every slice got everything wrong."""
    best_p = (1 - floor) ** max(sizes)  # P(0 successes) for the largest slice: the smallest p attainable
    if best_p >= alpha / len(sizes):
        raise ValueError(
            f"gate {name!r} cannot fail: with {len(sizes)} slices of at most {max(sizes)} cases, even 0 correct is "
            f"not significantly below {floor:g} after Holm at alpha {alpha:g}. Use mode='point', more cases per "
            "slice, or fewer slices"
        )


def _finish(result: GateResult) -> GateResult:
    current = session()
    current.record(result)
    if not result.passed:
        hint = f"; report: {current.report_hint}" if current.report_hint else ""
        raise GateFailure(result.message + hint)
    return result


def _mean_and_interval(
    values: Sequence[bool] | Sequence[float], confidence: float
) -> tuple[float, tuple[float, float]]:
    if all(_is_flag(v) for v in values):
        successes = sum(bool(v) for v in values)
        return successes / len(values), stats.wilson_interval(successes, len(values), confidence)
    floats = [float(v) for v in values]
    return sum(floats) / len(floats), stats.bootstrap_mean_interval(floats, confidence)


def _outcomes(values: Sequence[Any], cases: Sequence[Any] | None, outputs: Sequence[Any] | None) -> list[CaseOutcome]:
    cases = cases or [None] * len(values)
    outputs = outputs or [None] * len(values)
    return [
        CaseOutcome(
            id=str(getattr(case, "id", i)),
            passed=bool(v) if _is_flag(v) else None,
            score=float(v),
            input=_input_of(case),
            output=_text(out),
            expected=getattr(case, "expected", None),
            latency_s=getattr(out, "latency_s", None),
            prompt_tokens=getattr(out, "prompt_tokens", None),
            completion_tokens=getattr(out, "completion_tokens", None),
        )
        for i, (v, case, out) in enumerate(zip(values, cases, outputs, strict=True))
    ]


def _record_baseline_cost(outcome: CaseOutcome, output: Any) -> None:
    """The baseline's latency and tokens, when its outputs are Completions, for the report's cost table."""
    outcome.baseline_latency_s = getattr(output, "latency_s", None)
    outcome.baseline_prompt_tokens = getattr(output, "prompt_tokens", None)
    outcome.baseline_completion_tokens = getattr(output, "completion_tokens", None)


def _is_flag(value: Any) -> bool:
    """Pass/fail rather than a score; numpy's bools count too (`np.array(outputs) == labels` gives them)."""
    return isinstance(value, bool | np.bool_)


def _case_summary(outcomes: list[CaseOutcome], predictions: Sequence[str] | None) -> str:
    """`38/200 wrong; worst: …` for pass/fail values; for scores, which have no wrong cases, the lowest."""
    if all(o.passed is None for o in outcomes):
        lowest = sorted(outcomes, key=lambda o: o.score)[:3]
        shown = ", ".join(f"#{o.id} {o.score:.3g}" for o in lowest) + (", …" if len(outcomes) > 3 else "")
        return f"n={len(outcomes)}; lowest: {shown}"
    wrong = [i for i, o in enumerate(outcomes) if o.passed is False]
    return f"{len(wrong)}/{len(outcomes)} wrong{_worst(wrong, predictions, outcomes)}"


def _worst(wrong: list[int], predictions: Sequence[str] | None, outcomes: list[CaseOutcome]) -> str:
    if not wrong:
        return ""
    shown = []
    for i in wrong[:3]:
        outcome = outcomes[i]
        got = outcome.output if predictions is None else predictions[i]
        pair = "" if outcome.expected is None and got is None else f" {outcome.expected}→{_short(got)}"
        shown.append(f"#{outcome.id}{pair}")  # without cases and outputs the id is all there is to show
    return "; worst: " + ", ".join(shown) + (", …" if len(wrong) > 3 else "")


def _input_of(case: Any) -> Any:
    if case is None:
        return None
    messages = getattr(case, "messages", None)
    return messages[-1]["content"] if messages else getattr(case, "input", None)


def _text(output: Any) -> str | None:
    return None if output is None else str(output)


def _short(text: str | None, limit: int = 40) -> str:
    """One line of printable text: model output may hold any control character, and a stray line separator
    or escape code would break the gate message in the terminal and in JUnit XML."""
    text = " ".join((text or "").split())
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
