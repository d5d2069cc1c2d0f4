"""Quantity extraction: the model lists every quantity of a sentence as JSON, `golden/quantities`.

The project's second task, of another kind than the Banking77 router: structured output checked against a
schema and against quantulum3's published answers (golden/quantities/README.md). Declared in
[tool.harness.tasks.quantities], so it is promoted on its own (`harness promote --task quantities`) and
its gates never block Banking77's releases.

Gates (bars in [tool.harness.gates]):
- quantities.valid_json: the share of answers that are JSON of golden/quantities/schema.json;
- quantities.exact: the share of sentences whose quantities are all right and none is extra (each case's
  `json_equals` check: values within 0.1%, unit names casefolded, any order);
- quantities.item_f1: the mean per-sentence F1 over quantities, partial credit for a partly right list.
"""

import json
from pathlib import Path

import pytest

from harness import gate, metrics

SCHEMA = json.loads((Path(__file__).parent.parent / "golden" / "quantities" / "schema.json").read_text())


@pytest.fixture(scope="module")
def extracted(model, golden):
    cases = golden("quantities")
    return cases, model.generate([case.prompt() for case in cases], **cases.generation)


def test_answers_are_json_of_the_schema(extracted):
    cases, answers = extracted
    valid = [metrics.json_schema_ok(answer, SCHEMA) for answer in answers]
    gate.at_least("quantities.valid_json", valid, cases=cases, outputs=answers)


def test_every_quantity_is_extracted_exactly(extracted):
    cases, answers = extracted
    right = [metrics.run_check(answer, case.expected) for answer, case in zip(answers, cases, strict=True)]
    gate.at_least("quantities.exact", right, cases=cases, outputs=answers)


def test_item_f1(extracted):
    cases, answers = extracted
    scores = [metrics.json_items_f1(answer, case.expected) for answer, case in zip(answers, cases, strict=True)]
    gate.at_least("quantities.item_f1", scores, cases=cases, outputs=answers)
