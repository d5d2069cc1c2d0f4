"""No catastrophic forgetting: a fine-tuned model must keep passing what its baseline passes.

Gates (bars in [tool.harness.gates], the only place they are written):
- regression.no_forgetting: on golden/regression (general-capability cases the base model passes:
  facts, small arithmetic, format instructions), lose at most its bar's share of the baseline's passes,
  and not be significantly worse (McNemar);
- banking77.no_regression: the same rule for Banking77 routing, so a new adapter cannot trade away
  intents the baseline already routes. Against the base model, which routes none of the 385, it cannot
  fail; it bites with `--baseline=champion`.

Comparing a model with itself proves nothing, so both tests skip when model and baseline are the same.
"""

import pytest

from harness import gate, metrics


def passes(answer, expected) -> bool:
    """Every check of a case passes (`expected` is a list of check specs, or one)."""
    checks = expected if isinstance(expected, list) else [expected]
    return all(metrics.run_check(answer, check) for check in checks)


@pytest.fixture(scope="module")
def distinct(model, baseline):
    """The model and its baseline, or a skip when they are the same weights."""
    if model.fingerprint() == baseline.fingerprint():
        pytest.skip(
            f"model and baseline are the same model (fingerprint {model.fingerprint()[:12]}): nothing to compare"
        )
    return model, baseline


def compare(model, baseline, cases, passed):
    """Both models' answers on the same prompts, generated as the set fixes, and which of them pass."""
    prompts = [case.prompt() for case in cases]
    answers = model.generate(prompts, **cases.generation)
    baseline_answers = baseline.generate(prompts, **cases.generation)
    candidate_ok = [passed(answer, case.expected) for answer, case in zip(answers, cases, strict=True)]
    baseline_ok = [passed(answer, case.expected) for answer, case in zip(baseline_answers, cases, strict=True)]
    return dict(candidate=candidate_ok, baseline=baseline_ok, cases=cases, outputs=answers,
                baseline_outputs=baseline_answers)  # fmt: skip


def test_no_forgetting(distinct, golden):
    outcome = compare(*distinct, golden("regression"), passes)
    gate.no_regression("regression.no_forgetting", **outcome)


def test_banking77_no_regression(distinct, golden):
    outcome = compare(*distinct, golden("banking77"), metrics.label_match)
    gate.no_regression("banking77.no_regression", **outcome)
