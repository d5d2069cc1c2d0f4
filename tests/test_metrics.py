"""harness.metrics: properties of the pure metrics, and the embedding metrics on the real bundled MiniLM."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from harness import metrics
from harness.models.base import Completion

FAST = settings(max_examples=50, deadline=None)

LABELS = st.from_regex(r"[a-z][a-z0-9]{0,7}(_[a-z0-9]{1,6}){0,2}", fullmatch=True)
WORDS = st.lists(st.from_regex(r"[a-z]{1,8}", fullmatch=True), min_size=1, max_size=30)


def completion(text: str) -> Completion:
    return Completion(text=text, prompt_tokens=3, completion_tokens=2, latency_s=0.01)


# --- labels ---------------------------------------------------------------------------------------------


@FAST
@given(LABELS)
def test_normalise_label_keeps_canonical_labels(label: str) -> None:
    assert metrics.normalise_label(label) == label


@FAST
@given(st.text())
def test_label_match_is_reflexive(text: str) -> None:
    assert metrics.label_match(text, text)


@FAST
@given(
    LABELS,
    st.sampled_from([str.upper, str.title, str.lower]),
    st.sampled_from(["_", " ", "-", "  ", " - "]),
    st.sampled_from(["{}", "  {}\n", '"{}"', "'{}'.", "`{}`", "**{}**", "Label: {}", "intent: {}!", "{}\nBecause..."]),
)
def test_label_match_ignores_case_separators_and_wrapping(
    label: str, case: Callable[[str], str], separator: str, wrapping: str
) -> None:
    variant = wrapping.format(case(label.replace("_", separator)))
    assert metrics.label_match(variant, label)
    assert metrics.label_match(completion(variant), label)


@FAST
@given(LABELS, LABELS)
def test_label_match_tells_different_labels_apart(first: str, second: str) -> None:
    assume(first != second)
    assert not metrics.label_match(first, second)


def test_normalise_label_examples() -> None:
    assert metrics.normalise_label("Card arrival") == "card_arrival"
    assert metrics.normalise_label('Label: "Card-Arrival".\nThe customer asks...') == "card_arrival"
    assert metrics.normalise_label("\n\n  top_up  \n") == "top_up"
    assert metrics.normalise_label("") == ""


def test_exact_match_strips_whitespace_only() -> None:
    assert metrics.exact_match(completion("  Paris\n"), "Paris")
    assert not metrics.exact_match("paris", "Paris")
    assert not metrics.exact_match("Paris.", "Paris")


@FAST
@given(st.lists(st.booleans(), min_size=1))
def test_accuracy_is_the_fraction_correct(flags: list[bool]) -> None:
    assert 0.0 <= metrics.accuracy(flags) <= 1.0
    assert metrics.accuracy(flags) == pytest.approx(sum(flags) / len(flags))


def test_accuracy_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="zero cases"):
        metrics.accuracy([])


# --- classification report ------------------------------------------------------------------------------


@st.composite
def classifications(draw: st.DrawFn) -> tuple[list[str], list[str]]:
    classes = draw(st.lists(LABELS, min_size=1, max_size=5, unique=True))
    n = draw(st.integers(1, 40))
    y_true = draw(st.lists(st.sampled_from(classes), min_size=n, max_size=n))
    guesses = st.sampled_from(classes) | st.sampled_from(["", "I am not sure", "Unknown-Intent"])
    return y_true, draw(st.lists(guesses, min_size=n, max_size=n))


@FAST
@given(classifications())
def test_classification_report_invariants(case: tuple[list[str], list[str]]) -> None:
    y_true, y_pred = case
    report = metrics.classification_report(y_true, y_pred)
    assert 0.0 <= report.macro_f1 <= 1.0
    assert sum(map(sum, report.confusion)) == len(y_true)
    assert report.accuracy == pytest.approx(
        metrics.accuracy([metrics.label_match(p, t) for p, t in zip(y_pred, y_true, strict=True)])
    )
    assert sum(scores.support for scores in report.per_class.values()) == len(y_true)


@FAST
@given(classifications())
def test_classification_report_is_perfect_on_perfect_predictions(case: tuple[list[str], list[str]]) -> None:
    y_true, _ = case
    report = metrics.classification_report(y_true, [completion(label.upper()) for label in y_true])
    assert report.macro_f1 == report.accuracy == 1.0
    assert report.confusion_labels == report.labels
    assert all(
        report.confusion[i][j] == 0 for i in range(len(report.labels)) for j in range(len(report.labels)) if i != j
    )


def test_off_list_predictions_land_in_the_other_bucket() -> None:
    report = metrics.classification_report(
        ["card_arrival", "card_arrival", "top_up"], ["Card arrival", "I think it's a card", "top_up"]
    )
    assert report.confusion_labels == ("card_arrival", "top_up", metrics.OTHER)
    assert report.confusion == [[1, 0, 1], [0, 1, 0], [0, 0, 0]]
    assert report.per_class["card_arrival"].recall == 0.5
    assert report.per_class["card_arrival"].precision == 1.0  # the miss is nobody's false positive
    assert report.accuracy == pytest.approx(2 / 3)


def test_explicit_labels_include_classes_never_seen() -> None:
    report = metrics.classification_report(["a", "a"], ["a", "b"], labels=["a", "b", "c"])
    assert report.labels == ("a", "b", "c")
    assert report.per_class["c"].support == 0
    assert report.macro_f1 == pytest.approx((2 / 3 + 0 + 0) / 3)


def test_classification_report_errors_say_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="1 vs 2"):
        metrics.classification_report(["a"], ["a", "b"])
    with pytest.raises(ValueError, match=r"\['b'\] are not in `labels`"):
        metrics.classification_report(["a", "b"], ["a", "b"], labels=["a"])


# --- ROUGE ----------------------------------------------------------------------------------------------


@FAST
@given(WORDS)
def test_rouge_l_of_text_with_itself_is_one(words: list[str]) -> None:
    text = " ".join(words)
    assert metrics.rouge_l(completion(text), text) == pytest.approx(1.0)


@FAST
@given(st.lists(st.from_regex(r"[a-m]{2,6}", fullmatch=True), min_size=1, max_size=10), WORDS)
def test_rouge_l_is_a_bounded_overlap(words: list[str], other: list[str]) -> None:
    score = metrics.rouge_l(" ".join(words), " ".join(other))
    assert 0.0 <= score <= 1.0
    disjoint = " ".join(w.translate(str.maketrans("abcdefghijklm", "nopqrstuvwxyz")) for w in words)
    assert metrics.rouge_l(disjoint, " ".join(words)) == 0.0


# --- JSON -----------------------------------------------------------------------------------------------

JSON_VALUES = st.integers() | st.booleans() | st.text(max_size=10) | st.none()
OBJECTS = st.dictionaries(st.text(min_size=1, max_size=8), JSON_VALUES, min_size=1, max_size=6)
WRAPPINGS = st.sampled_from(
    ["{}", "```json\n{}\n```", "```\n{}\n```", "Here you go:\n```json\n{}\n```\nAnything else?"]
)


@FAST
@given(OBJECTS, WRAPPINGS)
def test_json_schema_ok_accepts_generated_objects(obj: dict[str, Any], wrapping: str) -> None:
    output = wrapping.format(json.dumps(obj))
    schema = {
        "type": "object",
        "required": sorted(obj),
        "additionalProperties": {"type": ["integer", "boolean", "string", "null"]},
    }
    assert metrics.json_valid(output)
    assert metrics.json_schema_ok(output, schema)
    assert metrics.json_with_keys(completion(output), list(obj))
    assert not metrics.json_schema_ok(output, {**schema, "required": [*obj, "missing key \u2603"]})
    assert not metrics.json_schema_ok(output, {**schema, "maxProperties": len(obj) - 1})


@pytest.mark.parametrize("output", ["", "{'a': 1}", '{"a": 1', 'Sure! {"a": 1}', '```json\n{"a": \n```'])
def test_json_checks_reject_broken_json(output: str) -> None:
    assert not metrics.json_valid(output)
    assert not metrics.json_schema_ok(output, {"type": "object"})
    assert not metrics.json_with_keys(output, ["a"])


def test_json_with_keys_needs_an_object() -> None:
    assert not metrics.json_with_keys('["a", "b"]', ["a"])


QUANTITIES = [{"value": 2, "unit": "metre"}, {"value": 2000, "unit": "pound sterling"}]
SPEC = {"check": "json_equals", "value": QUANTITIES, "unordered": True, "casefold": True}


@pytest.mark.parametrize(("output", "right"), [
    ('[{"value": 2, "unit": "metre"}, {"value": 2000, "unit": "pound sterling"}]', True),
    ('```json\n[{"unit": "Pound Sterling", "value": 2000.0}, {"value": 2, "unit": "metre"}]\n```', True),  # order, case
    ('[{"value": 2.001, "unit": "metre"}, {"value": 2000, "unit": "pound sterling"}]', True),  # within 0.1%
    ('[{"value": 2.01, "unit": "metre"}, {"value": 2000, "unit": "pound sterling"}]', False),  # 0.5% off
    ('[{"value": 2, "unit": "metre"}]', False),  # one missing
    ('[{"value": 2, "unit": "metre"}, {"value": 2, "unit": "metre"}]', False),  # one item twice is not two
    ('[{"value": 2, "unit": "metre", "note": "x"}, {"value": 2000, "unit": "pound sterling"}]', False),  # extra key
    ('[{"value": "2", "unit": "metre"}, {"value": 2000, "unit": "pound sterling"}]', False),  # a string is no number
    ("two metres and two thousand pounds", False),
])  # fmt: skip
def test_json_equals_compares_an_extraction_as_its_spec_says(output: str, right: bool) -> None:
    assert metrics.run_check(output, SPEC) is right


def test_json_equals_is_strict_without_its_options() -> None:
    assert not metrics.json_equals('[{"value": 2000, "unit": "pound sterling"}, {"value": 2, "unit": "metre"}]',
                                   QUANTITIES)  # order counts unless unordered  # fmt: skip
    assert not metrics.json_equals('[{"value": 2, "unit": "Metre"}, {"value": 2000, "unit": "pound sterling"}]',
                                   QUANTITIES)  # case counts unless casefold  # fmt: skip
    assert not metrics.json_equals("true", 1) and metrics.json_equals("1.0", 1)  # a boolean is not a number


@pytest.mark.parametrize(("output", "f1"), [
    ('[{"value": 2, "unit": "metre"}, {"value": 2000, "unit": "pound sterling"}]', 1.0),
    ('[{"value": 2, "unit": "METRE"}]', 2 / 3),  # 1 of 1 found is right, 1 of 2 expected found
    ('[{"value": 2, "unit": "metre"}, {"value": 5, "unit": "inch"}, {"value": 2000, "unit": "dollar"}]', 2 / 5),
    ('[{"value": 2, "unit": "metre"}, {"value": 2, "unit": "metre"}]', 1 / 2),  # a match is used once
    ("[]", 0.0),
    ('{"value": 2, "unit": "metre"}', 0.0),  # not an array
    ("not json", 0.0),
])  # fmt: skip
def test_json_items_f1_gives_partial_credit_item_by_item(output: str, f1: float) -> None:
    assert metrics.json_items_f1(output, SPEC) == pytest.approx(f1)


def test_json_items_f1_of_an_empty_expectation() -> None:
    empty = {**SPEC, "value": []}
    assert metrics.json_items_f1("[]", empty) == 1.0
    assert metrics.json_items_f1('[{"value": 1, "unit": "day"}]', empty) == 0.0


def test_a_broken_schema_is_a_suite_bug_not_a_model_failure() -> None:
    from jsonschema.exceptions import SchemaError

    with pytest.raises(SchemaError):
        metrics.json_schema_ok("{}", {"type": "no-such-type"})


# --- instruction checks ---------------------------------------------------------------------------------


@FAST
@given(WORDS, st.sampled_from(["-", "*", "•"]), st.booleans())
def test_bullet_count_counts_generated_lists(items: list[str], marker: str, preamble: bool) -> None:
    text = ("Here is the list:\n\n" if preamble else "") + "\n".join(f"{marker} {item}" for item in items)
    assert metrics.bullet_count(text, len(items))
    assert not metrics.bullet_count(text, len(items) + 1)


def test_bullet_count_ignores_bold_rules_and_hyphenated_numbers() -> None:
    text = "**Summary**\n---\n-5 degrees\n  - indented item\n* starred item"
    assert metrics.bullet_count(text, 2)


@FAST
@given(WORDS, st.integers(0, 40), st.integers(0, 40))
def test_word_count_between_counts_generated_words(words: list[str], lo: int, hi: int) -> None:
    assume(lo <= hi)
    text = "  ".join(words) + "\n"
    assert metrics.word_count_between(text, lo, hi) == (lo <= len(words) <= hi)


def test_word_count_between_rejects_an_empty_range() -> None:
    with pytest.raises(ValueError, match="lo <= hi"):
        metrics.word_count_between("a b", 5, 2)


@FAST
@given(st.text(alphabet="abcdefXYZ ß!?\n", min_size=1))
def test_all_caps(text: str) -> None:
    has_letter = any(c.isalpha() for c in text)
    assert metrics.all_caps(text.upper()) == has_letter
    if any(c.islower() for c in text):
        assert not metrics.all_caps(text)


def test_simple_instruction_checks() -> None:
    assert metrics.no_commas("no commas here.") and not metrics.no_commas("one, two")
    assert metrics.contains_all("The Cat sat on the mat, happily.", ["cat", "on the mat"])
    assert not metrics.contains_all("concatenate", ["cat"])
    assert metrics.starts_with("  Dear team, ...", "dear team")
    assert metrics.ends_with("Best regards.\n", "best regards.")
    assert not metrics.ends_with("Best regards, Sam", "best regards")


@FAST
@given(st.integers(-(10**9), 10**9), st.sampled_from(["{:,}", "{}", "{:,}.00"]))
def test_number_equals_reads_the_first_number(value: int, style: str) -> None:
    text = f"The answer is {style.format(value)} and then 7 more."
    assert metrics.number_equals(completion(text), value)
    assert not metrics.number_equals(text, value + 1)


def test_number_equals_edge_cases() -> None:
    assert metrics.number_equals("Total: $1,234.50", 1234.5)
    assert metrics.number_equals("COVID-19 numbers", 19)
    assert metrics.number_equals("It is -3 degrees", -3)
    assert not metrics.number_equals("no digits at all", 0)


@pytest.mark.parametrize(
    ("spec", "output", "expected"),
    [
        ({"check": "bullet_count", "n": 2}, "- a\n- b", True),
        ({"check": "word_count_between", "lo": 1, "hi": 2}, "one two three", False),
        ({"check": "json_with_keys", "keys": ["a"]}, '{"a": 1}', True),
        ({"check": "json_schema_ok", "schema": {"type": "array"}}, "[1]", True),
        ({"check": "all_caps"}, "SHOUT", True),
        ({"check": "number_equals", "value": 42}, "42 apples", True),
    ],
)
def test_run_check_dispatches_by_name(spec: dict[str, Any], output: str, expected: bool) -> None:
    assert metrics.run_check(completion(output), spec) is expected


def test_run_check_unknown_name_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="unknown check 'bullets'.*bullet_count.*word_count_between"):
        metrics.run_check("x", {"check": "bullets", "n": 3})


def test_run_check_bad_arguments_show_the_signature() -> None:
    with pytest.raises(ValueError, match=r"bullet_count\(output.*n"):
        metrics.run_check("x", {"check": "bullet_count", "count": 3})


def test_importing_metrics_loads_no_heavy_library() -> None:
    code = "import sys, harness.metrics; print(sorted({'torch', 'transformers', 'sklearn'} & set(sys.modules)))"
    assert subprocess.check_output([sys.executable, "-c", code], text=True).strip() == "[]"


# --- embedding metrics on the real bundled MiniLM -------------------------------------------------------


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuse every outgoing connection, so a hub download fails the test instead of passing silently."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")

    def refuse(self: socket.socket, address: Any) -> None:
        raise OSError(f"network access attempted during an offline metric: {address!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)


REFERENCE = "The cat is sitting on the mat."
PARAPHRASE = "A cat sits on the mat."
UNRELATED = "Quarterly interest rates rose by half a percent."


@pytest.mark.integration
@pytest.mark.usefixtures("offline")
def test_embedding_metrics_on_the_bundled_minilm() -> None:
    same, paraphrase, unrelated = metrics.bert_score(
        [REFERENCE, completion(PARAPHRASE), UNRELATED], [REFERENCE, REFERENCE, REFERENCE]
    )
    assert same == pytest.approx(1.0, abs=1e-4)
    assert paraphrase > unrelated
    assert metrics.bert_score([], []) == []
    assert metrics.bert_score(["", REFERENCE, " "], [REFERENCE, "", " "]) == [0.0, 0.0, 0.0]

    assert metrics.semantic_similarity(REFERENCE, completion(REFERENCE)) == pytest.approx(1.0, abs=1e-5)
    assert metrics.semantic_similarity(REFERENCE, PARAPHRASE) > metrics.semantic_similarity(REFERENCE, UNRELATED) + 0.3

    texts = [REFERENCE, PARAPHRASE, UNRELATED, "short"]
    vectors = metrics.embed(texts)
    assert vectors.shape == (4, 384)
    assert np.linalg.norm(vectors, axis=1) == pytest.approx(np.ones(4), abs=1e-5)
    assert metrics.embed(texts, batch_size=1) == pytest.approx(vectors, abs=1e-5)  # padding must not leak in
    assert metrics.embed([]).shape == (0, 384)


@given(
    st.lists(st.tuples(st.integers(0, 4), st.integers(-1, 4)), min_size=1, max_size=60),
)
@settings(max_examples=50, deadline=None)
def test_macro_f1_codes_matches_the_classification_report(pairs: list[tuple[int, int]]) -> None:
    labels = [f"l{i}" for i in range(5)]
    truth = [labels[t] for t, _ in pairs]
    predicted = [labels[p] if p >= 0 else "something else" for _, p in pairs]
    expected = metrics.classification_report(truth, predicted, labels=labels).macro_f1
    fast = metrics.macro_f1_codes([t for t, _ in pairs], [p for _, p in pairs], 5)
    assert fast == pytest.approx(expected)
