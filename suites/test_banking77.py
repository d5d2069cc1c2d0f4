"""Banking77 intent routing: the model must route frozen golden queries to the right intent.

Gates (thresholds in [tool.harness.gates]):
- banking77.accuracy: overall accuracy, judged on its 95% lower bound;
- banking77.macro_f1: macro-F1 over the 77 intents, bootstrap lower bound;
- banking77.recall_floor: no intent may fall below the per-class recall floor. With 5 cases per intent
  no slice can be *significantly* below a floor after Holm over 77 intents, so this floor is judged on
  the rate itself (point mode): at 0.2, an intent the model never gets right fails the gate;
- banking77.beats_prompted_baseline: the model must be significantly better (paired McNemar) than the
  baseline prompted with one training example per intent. That is the bar fine-tuning must clear.
"""

from pathlib import Path

import pytest

from harness import gate, metrics
from harness.golden import load_file

MAX_NEW_TOKENS = 20  # the longest label is 17 SmolLM2 tokens (+ end of turn); the regression suite reuses these answers
FEW_SHOT = Path(__file__).parent.parent / "golden" / "banking77" / "fewshot.jsonl"  # frozen with the golden set


@pytest.fixture(scope="module")
def cases(golden):
    return golden("banking77")


@pytest.fixture(scope="module")
def routed(model, cases):
    """The model's answer to each golden query, and whether it names the expected intent."""
    answers = model.generate([case.prompt() for case in cases], max_new_tokens=MAX_NEW_TOKENS)
    return answers, [metrics.label_match(answer, case.expected) for answer, case in zip(answers, cases, strict=True)]


def test_intent_accuracy(routed, cases):
    answers, correct = routed
    gate.at_least("banking77.accuracy", correct, 0.85, cases=cases, outputs=answers)


def test_macro_f1(routed, cases):
    answers, correct = routed
    labels = sorted({metrics.normalise_label(case.expected) for case in cases})
    code = {label: i for i, label in enumerate(labels)}
    truth = [code[metrics.normalise_label(case.expected)] for case in cases]
    guess = [code.get(metrics.normalise_label(answer), -1) for answer in answers]  # -1: not an intent

    def macro_f1(indices):
        return metrics.macro_f1_codes([truth[i] for i in indices], [guess[i] for i in indices], len(labels))

    gate.statistic_at_least("banking77.macro_f1", macro_f1, len(cases), 0.80, passed_cases=correct, cases=cases,
                            outputs=answers)  # fmt: skip


def test_no_intent_is_left_behind(routed, cases):
    answers, correct = routed
    intents = [case.expected for case in cases]
    gate.slices_at_least("banking77.recall_floor", correct, intents, 0.2, mode="point", cases=cases, outputs=answers)


def few_shot_prompt(case, shots):
    """The case's own system turn, then one solved training example per intent, then the query."""
    solved = [
        turn
        for s in shots
        for turn in ({"role": "user", "content": s.input}, {"role": "assistant", "content": s.expected})
    ]
    return [case.messages[0], *solved, case.messages[-1]]


def test_beats_the_prompted_baseline(routed, cases, baseline):
    answers, correct = routed
    shots = load_file(FEW_SHOT)
    prompted = baseline.generate([few_shot_prompt(case, shots) for case in cases], max_new_tokens=MAX_NEW_TOKENS)
    prompted_correct = [metrics.label_match(a, case.expected) for a, case in zip(prompted, cases, strict=True)]
    gate.measure("banking77.prompted_baseline.accuracy", prompted_correct, cases=cases, outputs=prompted)
    gate.better_than("banking77.beats_prompted_baseline", correct, prompted_correct, cases=cases, outputs=answers,
                     reference_outputs=prompted)  # fmt: skip
