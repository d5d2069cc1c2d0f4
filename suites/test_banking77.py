"""Banking77 intent routing: the model must route frozen golden queries to the right intent.

Gates (thresholds in [tool.harness.gates]):
- banking77.accuracy: overall accuracy, judged on its 95% lower bound;
- banking77.recall_floor: no intent may fall below the per-class recall floor. With 5 cases per intent
  no slice can be *significantly* below a floor after Holm over 77 intents, so this floor is judged on
  the rate itself (point mode): at 0.2, an intent the model never gets right fails the gate.
"""

import pytest

from harness import gate, metrics


@pytest.fixture(scope="module")
def routed(model, golden):
    """Each golden query, the model's answer, and whether it names the expected intent."""
    cases = golden("banking77")
    answers = model.generate([case.prompt() for case in cases], max_new_tokens=16)
    correct = [metrics.label_match(answer, case.expected) for answer, case in zip(answers, cases, strict=True)]
    return cases, answers, correct


def test_intent_accuracy(routed):
    cases, answers, correct = routed
    gate.at_least("banking77.accuracy", correct, 0.85, cases=cases, outputs=answers)


def test_no_intent_is_left_behind(routed):
    cases, answers, correct = routed
    intents = [case.expected for case in cases]
    gate.slices_at_least("banking77.recall_floor", correct, intents, 0.2, mode="point", cases=cases, outputs=answers)
