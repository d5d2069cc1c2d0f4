"""LLM-as-judge: the model's answers to general prompts must not lose to the baseline's, by the verdict of a
judge that has first shown it agrees with people.

Needs a judge: `--judge=openai:MODEL@BASE_URL` (any --model form) or `spec` in [tool.harness.judge];
without one every test here skips and says how to configure one.

1. test_judge_agrees_with_people: the judge gives its verdicts on golden/judge_calibration, which holds
   human ones. Accuracy, Cohen's kappa and the position-bias rate go to the report (extras
   "judge_calibration"). Below [tool.harness.judge] min_kappa the judge is untrusted: this test and the
   two below xfail with the measured kappa, and the judge's figures are recorded as `*.untrusted`
   measurements, never as gates.
2. test_judge_win_rate: on up to max_items golden/regression prompts, the judge compares the model's
   answer with the baseline's in both orders (a pair whose orders disagree is a tie). Gate
   judge.win_rate: the 95% lower bound of the win rate (win 1, tie 0.5, loss 0) must clear its bar.
3. test_judge_rubric: the judge's 1–5 grade of each of the model's answers on the same prompts, measured
   for the report and for `harness review export` (lowest scores first).

A verdict the judge could not give (unreadable after one re-ask) is never a score: it is left out and
listed, and more than max_error_rate of them fails the test. A judge server that stays down is an error.
"""

import pytest

from harness import gate, report
from harness.golden import evenly_spread
from harness.judge import PairItem, RubricItem, judge_records, render_prompt
from harness.judge.calibration import calibrate, calibration_cases

ITEMS_SET = "regression"


@pytest.fixture(scope="module")
def calibration(judge, golden, harness_config):
    """The judge's agreement with the human verdicts, attached to the run's report."""
    cases = golden("judge_calibration")
    source = harness_config.golden_dir / "judge_calibration" / "cases.jsonl"
    result = calibrate(judge, calibration_cases(cases, source))
    report.attach("judge_calibration", result.to_report())
    return result


@pytest.fixture(scope="module")
def items(judge, model, golden):
    """Up to max_items prompts spread over the regression set, with the model's answers."""
    items_set = golden(ITEMS_SET)
    cases = evenly_spread(items_set, judge.settings.max_items)
    answers = model.generate([case.prompt() for case in cases], **items_set.generation)  # test_regression's answers
    return cases, answers


def xfail_unless_trusted(calibration):
    if not calibration.trusted:
        pytest.xfail(calibration.summary() + "; its figures are recorded as measurements, not gates")


def require_verdicts(cases, verdicts, max_error_rate):
    """Fail when the judge left too many items without a readable verdict (those are never scores)."""
    errors = [f"#{case.id}: {verdict.error}" for case, verdict in zip(cases, verdicts, strict=True) if verdict.error]
    if len(errors) > max_error_rate * len(cases):
        pytest.fail(f"the judge gave no readable verdict on {len(errors)}/{len(cases)} items "
                    f"(max {max_error_rate:.0%}): " + "; ".join(errors[:3]))  # fmt: skip


def test_judge_agrees_with_people(calibration, golden):
    by_id = {case.id: case for case in golden("judge_calibration")}
    rows = calibration.cases
    gate.measure("judge.calibration.agreement", [row["agree"] for row in rows],
                 cases=[by_id[row["id"]] for row in rows], outputs=[str(row["judge"]) for row in rows])  # fmt: skip
    xfail_unless_trusted(calibration)


def test_judge_win_rate(judge, calibration, items, model, baseline, golden):
    if model.fingerprint() == baseline.fingerprint():
        pytest.skip(f"model and baseline are the same model ({model.fingerprint()[:12]}): nothing to compare")
    cases, answers = items
    reference = baseline.generate([case.prompt() for case in cases], **golden(ITEMS_SET).generation)
    verdicts = judge.compare([PairItem(render_prompt(c.prompt()), a.text, r.text)
                              for c, a, r in zip(cases, answers, reference, strict=True)])  # fmt: skip
    records = judge_records([c.id for c in cases], verdicts, {"baseline_output": [r.text for r in reference]})
    report.attach("judge_pairwise", {"judge": judge.label, "trusted": calibration.trusted, "items": records})
    scored = [(c, a, v.score) for c, a, v in zip(cases, answers, verdicts, strict=True) if v.score is not None]
    if not calibration.trusted:
        if scored:
            gate.measure("judge.win_rate.untrusted", [s for _, _, s in scored],
                         cases=[c for c, _, _ in scored], outputs=[a for _, a, _ in scored])  # fmt: skip
        xfail_unless_trusted(calibration)
    require_verdicts(cases, verdicts, judge.settings.max_error_rate)
    gate.at_least("judge.win_rate", [s for _, _, s in scored],
                  cases=[c for c, _, _ in scored], outputs=[a for _, a, _ in scored])  # fmt: skip


def test_judge_rubric(judge, calibration, items):
    cases, answers = items
    grades = judge.grade([RubricItem(render_prompt(c.prompt()), a.text) for c, a in zip(cases, answers, strict=True)])
    report.attach("judge_rubric", {"judge": judge.label, "trusted": calibration.trusted,
                                   "items": judge_records([c.id for c in cases], grades, {})})  # fmt: skip
    scored = [(c, a, g.score) for c, a, g in zip(cases, answers, grades, strict=True) if g.score is not None]
    if scored:
        gate.measure("judge.rubric" if calibration.trusted else "judge.rubric.untrusted", [s for _, _, s in scored],
                     cases=[c for c, _, _ in scored], outputs=[a for _, a, _ in scored])  # fmt: skip
    xfail_unless_trusted(calibration)
    require_verdicts(cases, grades, judge.settings.max_error_rate)
