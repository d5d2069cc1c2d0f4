"""Data gates: a curated dataset must pass every one of these before training starts.

    pytest suites/data --dataset=runs/banking77/data

Each check reads the splits as written, not the curation run's bookkeeping: the golden sets are re-read
and every row is checked for leakage again, the PII recognizers run again on every turn, and counts come
from the rows themselves. Bars live in [tool.harness.gates] (data.*). Without --dataset these tests skip;
they never load a model.
"""

import pytest

from harness import gate
from harness.curation import checks


def test_no_golden_leakage(dataset, harness_config):
    """No row repeats a case of any golden set: same text, a shared word 13-gram, or a MinHash near-copy."""
    values, cases = checks.as_cases(dataset, checks.leaks(dataset, harness_config.golden_dir))
    gate.at_least("data.no_leakage", values, cases=cases)


def test_no_pii_left(dataset, harness_config):
    """The PII recognizers find nothing in any user or assistant turn (names are not detectable offline)."""
    values, cases = checks.as_cases(dataset, checks.pii(dataset, harness_config.cache_dir))
    gate.at_least("data.no_pii", values, cases=cases)


def test_splits_are_disjoint(dataset):
    """No row id and no normalised text appears in two splits: a test row seen in training proves nothing."""
    values, cases = checks.as_cases(dataset, checks.overlaps(dataset))
    gate.at_least("data.splits_disjoint", values, cases=cases)


def test_enough_examples(dataset):
    """Enough rows survived curation to be worth training on."""
    total = len(dataset.rows)
    sizes = ", ".join(f"{name} {len(rows)}" for name, rows in dataset.splits.items())
    gate.at_least("data.min_examples", [float(total)], cases=[checks.RowCase("all splits", sizes, None)])


def test_enough_examples_per_class(dataset):
    """Every class (every configured label) has enough training rows to be learnt."""
    _skip_without_classes(dataset)
    counts = checks.class_counts(dataset, "train")
    assert counts, f"{dataset.path}: no labelled training rows"
    smallest = min(counts, key=lambda label: (counts[label], label))
    case = checks.RowCase(f"train:{smallest}", f"{counts[smallest]} training rows", None)
    gate.at_least("data.min_per_class", [float(counts[smallest])], cases=[case])


def test_classes_balanced(dataset):
    """The smallest class has at least a set share of the largest one's training rows (imbalance bound)."""
    _skip_without_classes(dataset)
    counts = checks.class_counts(dataset, "train")
    assert counts, f"{dataset.path}: no labelled training rows"
    smallest = min(counts, key=lambda label: (counts[label], label))
    largest = max(counts, key=lambda label: (counts[label], label))
    balance = counts[smallest] / counts[largest] if counts[largest] else 0.0
    case = checks.RowCase(f"train:{smallest}/{largest}", f"{counts[smallest]} vs {counts[largest]} rows", None)
    gate.at_least("data.min_balance", [balance], cases=[case])


def _skip_without_classes(dataset):
    if not dataset.has_classes:
        pytest.skip(f"{dataset.path}: the answers are free text (answer_field), so there are no classes to count")
