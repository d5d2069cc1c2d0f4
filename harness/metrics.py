"""Metrics: pure functions from model outputs (and references) to scores.

Every function takes `str | Completion` wherever it takes a model output and reads it with `str(x)`, so
suites pass `model.generate(...)` results straight in. Nothing here does I/O or keeps state, except the
two embedding metrics, which load the bundled all-MiniLM-L6-v2 once per process (see `_bert_scorer` and
`_minilm`). Heavy libraries (torch, transformers, scikit-learn, rouge-score) are imported inside the
function that needs them, so importing this module stays cheap.

Instruction checks follow IFEval: each is `check(output, **args) -> bool`, and `run_check` applies one
from a JSON spec such as {"check": "bullet_count", "n": 3}.
"""

from __future__ import annotations

import functools
import inspect
import json
import math
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np

from harness.models.base import Completion

Output: TypeAlias = str | Completion

OTHER = "(other)"
"""Confusion-matrix bucket for predictions outside the label set (off-list or unparseable answers)."""

_PREFIX = re.compile(r"^(?:label|intent)\s*:\s*", re.IGNORECASE)
_EDGES = re.compile(r"^[\s\"'`*]+|[\s\"'`*.,;:!?]+$")
_SEPARATORS = re.compile(r"[\s_-]+")
_FENCE = re.compile(r"```[\w-]*[ \t]*\n?(.*?)```", re.DOTALL)
_BULLET = re.compile(r"^[ \t]*(?:[-•]|\*(?!\*))[ \t]+\S", re.MULTILINE)
_NUMBER = re.compile(r"(?:(?<![\w-])-)?(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?")
_MINILM_MAX_TOKENS = 256  # all-MiniLM-L6-v2 was trained on 256-token inputs (sentence_bert_config.json)


# --- labels and classification -------------------------------------------------------------------------


def normalise_label(text: Output) -> str:
    """Canonical form of a class label, so "Label: Card arrival." matches "card_arrival".

    Keeps the first non-blank line (models often explain after the label), drops a leading "label:" or
    "intent:", surrounding quotes/backticks/asterisks and trailing punctuation, case-folds, and turns runs
    of spaces, hyphens and underscores into one underscore."""
    lines = str(text).strip().splitlines()
    label = _EDGES.sub("", _PREFIX.sub("", _EDGES.sub("", lines[0] if lines else "")))
    return _SEPARATORS.sub("_", label.casefold()).strip("_")


def label_match(output: Output, expected: str) -> bool:
    """Whether the output names the expected label, up to `normalise_label`."""
    return normalise_label(output) == normalise_label(expected)


def exact_match(output: Output, expected: str) -> bool:
    """Whether the output equals the expected text exactly, ignoring only surrounding whitespace."""
    return str(output).strip() == expected.strip()


def accuracy(flags: Sequence[bool]) -> float:
    """Fraction of True flags. Zero cases is an error, not 0.0 or 1.0: an empty suite must not pass."""
    if len(flags) == 0:
        raise ValueError("accuracy of zero cases is undefined; check that the golden set selects cases")
    return sum(bool(flag) for flag in flags) / len(flags)


@dataclass(frozen=True)
class ClassScores:
    """One class's row of the report; support is how many golden cases carry the label."""

    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class ClassificationReport:
    """Per-class and overall scores. `confusion[i][j]` counts true `confusion_labels[i]` predicted as
    `confusion_labels[j]`; `confusion_labels` is `labels` plus OTHER when any prediction fell outside."""

    labels: tuple[str, ...]
    per_class: Mapping[str, ClassScores]
    macro_f1: float
    accuracy: float
    confusion_labels: tuple[str, ...]
    confusion: list[list[int]]


def classification_report(
    y_true: Sequence[str], y_pred: Sequence[Output], labels: Sequence[str] | None = None
) -> ClassificationReport:
    """Precision/recall/F1 per class, macro-F1 and confusion matrix (scikit-learn, zero_division=0).

    All labels pass through `normalise_label` first, so this agrees with `label_match`. `labels` defaults
    to the classes present in y_true. A prediction outside `labels` counts as wrong: it lowers the recall
    of its true class, no class's precision, and lands in the OTHER column of the confusion matrix."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    if len(y_true) != len(y_pred) or len(y_true) == 0:
        raise ValueError(f"need as many predictions as true labels (> 0): {len(y_true)} vs {len(y_pred)}")
    truth = [normalise_label(label) for label in y_true]
    known = sorted(set(truth)) if labels is None else list(dict.fromkeys(map(normalise_label, labels)))
    missing = sorted(set(truth) - set(known))
    if missing:
        raise ValueError(f"true labels {missing} are not in `labels`; add them or fix the golden set")
    pred = [label if label in known else OTHER for label in map(normalise_label, y_pred)]
    precision, recall, f1, support = precision_recall_fscore_support(truth, pred, labels=known, zero_division=0)
    matrix_labels = [*known, OTHER] if OTHER in pred else known
    with warnings.catch_warnings():  # sklearn warns on any 1×1 matrix, even though we pass `labels`
        warnings.filterwarnings("ignore", message="A single label was found", category=UserWarning)
        matrix = confusion_matrix(truth, pred, labels=matrix_labels).tolist()
    return ClassificationReport(
        labels=tuple(known),
        per_class={
            label: ClassScores(float(p), float(r), float(f), int(s))
            for label, p, r, f, s in zip(known, precision, recall, f1, support, strict=True)
        },
        macro_f1=float(np.mean(f1)),
        accuracy=sum(t == p for t, p in zip(truth, pred, strict=True)) / len(truth),
        confusion_labels=tuple(matrix_labels),
        confusion=matrix,
    )


# --- text overlap and embeddings -----------------------------------------------------------------------


@functools.cache
def _rouge_scorer() -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)


def rouge_l(output: Output, reference: str) -> float:
    """ROUGE-L F-measure with Porter stemming. rouge-score keeps only [a-z0-9] tokens, so text in other
    scripts scores 0: use `semantic_similarity` or `bert_score` for it."""
    return float(_rouge_scorer().score(reference, str(output))["rougeL"].fmeasure)


@functools.cache
def _bert_scorer() -> Any:
    """One BERTScorer per process: `bert_score.score()` would reload the model on every call.

    The model is given as a local directory, so bert-score never reaches a hub; there is no published
    rescaling baseline for MiniLM, so scores are raw cosine-based F1 (not rescaled)."""
    from bert_score import BERTScorer

    from harness.models.embedded import minilm_dir

    directory = str(minilm_dir())
    if "t5" in directory:  # bert-score picks T5EncoderModel for any model_type containing "t5"
        raise RuntimeError(f"bert-score would load {directory} as a T5 model; install the venv elsewhere")
    return BERTScorer(model_type=directory, num_layers=6, lang="en", rescale_with_baseline=False)


def bert_score(outputs: Sequence[Output], references: Sequence[str]) -> list[float]:
    """BERTScore F1 of each output against its reference, on the bundled all-MiniLM-L6-v2 (6 layers).

    A blank output or reference scores 0.0, as bert-score intends; it is scored here rather than passed
    on because bert-score 0.3.13 crashes on blank text under transformers 5."""
    if len(outputs) != len(references):
        raise ValueError(f"bert_score needs one reference per output: {len(outputs)} vs {len(references)}")
    pairs = [(str(o), str(r)) for o, r in zip(outputs, references, strict=True)]
    scored = [i for i, (o, r) in enumerate(pairs) if o.strip() and r.strip()]
    scores = [0.0] * len(pairs)
    if scored:
        _, _, f1 = _bert_scorer().score([pairs[i][0] for i in scored], [pairs[i][1] for i in scored])
        for i, value in zip(scored, f1.tolist(), strict=True):
            scores[i] = float(value)
    return scores


@functools.cache
def _minilm() -> tuple[Any, Any]:
    """The bundled MiniLM tokenizer and encoder, loaded once per process."""
    from transformers import AutoModel, AutoTokenizer

    from harness.models.embedded import minilm_dir

    directory = minilm_dir()
    return AutoTokenizer.from_pretrained(directory), AutoModel.from_pretrained(directory).eval()


def embed(texts: Sequence[Output], batch_size: int = 64) -> np.ndarray:
    """Sentence embeddings (n × 384, float32, unit length): MiniLM token states mean-pooled over the
    attention mask, as the model was trained (sentence-transformers' Pooling + Normalize)."""
    import torch

    tokenizer, model = _minilm()
    rows = [np.zeros((0, model.config.hidden_size), dtype=np.float32)]
    for start in range(0, len(texts), batch_size):
        batch = tokenizer(
            [str(t) for t in texts[start : start + batch_size]],
            padding=True,
            truncation=True,
            max_length=_MINILM_MAX_TOKENS,
            return_tensors="pt",
        )
        with torch.inference_mode():
            hidden = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        rows.append(torch.nn.functional.normalize(pooled, dim=-1).numpy())
    return np.concatenate(rows)


def semantic_similarity(a: Output, b: Output) -> float:
    """Cosine similarity of the two texts' MiniLM embeddings, in [-1, 1] (≈1 for paraphrases)."""
    first, second = embed([a, b])
    return float(np.clip(np.dot(first, second), -1.0, 1.0))


# --- structured output ---------------------------------------------------------------------------------


def _parse_json(output: Output) -> tuple[bool, Any]:
    """(ok, value) of the first ``` fenced block if there is one, else of the whole text."""
    text = str(output).strip()
    fenced = _FENCE.search(text)
    try:
        return True, json.loads(fenced.group(1) if fenced else text)
    except ValueError:
        return False, None


def json_valid(output: Output) -> bool:
    """Whether the output is JSON, optionally inside a ```json fence."""
    return _parse_json(output)[0]


def json_schema_ok(output: Output, schema: Mapping[str, Any]) -> bool:
    """Whether the output's JSON (fences allowed) validates against `schema`. An invalid *schema* raises
    jsonschema.SchemaError: that is a bug in the suite, not a model failure."""
    from jsonschema.validators import validator_for

    ok, value = _parse_json(output)
    validator = validator_for(schema)
    validator.check_schema(schema)
    return ok and validator(schema).is_valid(value)


JSON_REL_TOL = 1e-3
"""`json_equals`' default tolerance on numbers: an extractor writing 0.1667 for one sixth is right."""


def json_equals(output: Output, value: Any, unordered: bool = False, casefold: bool = False,
                rel_tol: float = JSON_REL_TOL) -> bool:  # fmt: skip
    """Whether the output's JSON (fences allowed) equals `value`: numbers within `rel_tol` of each other,
    strings compared casefolded with `casefold`, arrays as multisets with `unordered` (an extraction's
    items in any order)."""
    ok, found = _parse_json(output)
    return ok and _json_same(found, value, unordered, casefold, rel_tol)


def json_items_f1(output: Output, spec: Mapping[str, Any]) -> float:
    """F1 of the items of the output's JSON array against those of a `json_equals` spec's array, compared
    as that spec compares them (its `casefold` and `rel_tol`), each item matched at most once: partial
    credit for an extraction. Output that is not a JSON array scores 0; an empty expected array scores 1
    only for an empty answer."""
    value, casefold, rel_tol = spec["value"], spec.get("casefold", False), spec.get("rel_tol", JSON_REL_TOL)
    ok, found = _parse_json(output)
    if not ok or not isinstance(found, list):
        return 0.0
    if not found and not value:
        return 1.0
    return 2 * _matched(found, value, casefold, rel_tol) / (len(found) + len(value))


def _json_same(found: Any, want: Any, unordered: bool, casefold: bool, rel_tol: float) -> bool:
    if isinstance(want, bool) or isinstance(found, bool):
        return found is want
    if isinstance(want, int | float):
        return isinstance(found, int | float) and math.isclose(found, want, rel_tol=rel_tol, abs_tol=1e-12)
    if isinstance(want, str):
        return isinstance(found, str) and (found.casefold() == want.casefold() if casefold else found == want)
    if isinstance(want, dict):
        return isinstance(found, dict) and found.keys() == want.keys() and all(
            _json_same(found[key], want[key], unordered, casefold, rel_tol) for key in want)  # fmt: skip
    if isinstance(want, list):
        if not isinstance(found, list) or len(found) != len(want):
            return False
        if not unordered:
            return all(_json_same(f, w, unordered, casefold, rel_tol) for f, w in zip(found, want, strict=True))
        return _matched(found, want, casefold, rel_tol) == len(want)
    return found == want


def _matched(found: list[Any], want: list[Any], casefold: bool, rel_tol: float) -> int:
    """How many items of `found` pair off with items of `want` (in any order), each used at most once."""
    unmatched = list(want)
    count = 0
    for item in found:
        match = next((i for i, w in enumerate(unmatched) if _json_same(item, w, True, casefold, rel_tol)), None)
        if match is not None:
            unmatched.pop(match)
            count += 1
    return count


# --- IFEval-style instruction checks -------------------------------------------------------------------


def all_caps(output: Output) -> bool:
    """No lowercase letters and at least one uppercase letter (an empty answer is not "all caps")."""
    text = str(output)
    return any(c.isupper() for c in text) and not any(c.islower() for c in text)


def no_commas(output: Output) -> bool:
    """No ASCII comma anywhere (IFEval's "punctuation:no_comma")."""
    return "," not in str(output)


def bullet_count(output: Output, n: int) -> bool:
    """Exactly n Markdown bullets: lines starting "- ", "* " or "• " (not "**bold**")."""
    return len(_BULLET.findall(str(output))) == n


def word_count_between(output: Output, lo: int, hi: int) -> bool:
    """lo ≤ number of whitespace-separated words ≤ hi."""
    if lo > hi:
        raise ValueError(f"word_count_between needs lo <= hi, got lo={lo}, hi={hi}")
    return lo <= len(str(output).split()) <= hi


def json_with_keys(output: Output, keys: Sequence[str]) -> bool:
    """The output is a JSON object (fences allowed) holding every key in `keys`."""
    ok, value = _parse_json(output)
    return ok and isinstance(value, dict) and all(key in value for key in keys)


def contains_all(output: Output, words: Sequence[str]) -> bool:
    """Every word or phrase appears as a whole word, case-insensitively ("cat" is not found in "concat")."""
    text = str(output)
    return all(re.search(rf"(?<!\w){re.escape(w)}(?!\w)", text, re.IGNORECASE) for w in words)


def starts_with(output: Output, prefix: str) -> bool:
    """Case-insensitive, ignoring surrounding whitespace (as IFEval does)."""
    return str(output).strip().casefold().startswith(prefix.strip().casefold())


def ends_with(output: Output, suffix: str) -> bool:
    """Case-insensitive, ignoring surrounding whitespace (as IFEval does)."""
    return str(output).strip().casefold().endswith(suffix.strip().casefold())


def number_equals(output: Output, value: float) -> bool:
    """The first number in the text equals `value`; "1,234.5" reads as 1234.5, "1,2" as 1."""
    found = _NUMBER.search(str(output))
    return found is not None and math.isclose(float(found.group().replace(",", "")), value, rel_tol=1e-12, abs_tol=1e-9)


CHECKS: Mapping[str, Callable[..., bool]] = {
    check.__name__: check
    for check in (
        all_caps,
        no_commas,
        bullet_count,
        word_count_between,
        json_with_keys,
        contains_all,
        starts_with,
        ends_with,
        number_equals,
        json_valid,
        json_schema_ok,
        json_equals,
    )
}
"""Checks by the name JSON specs use for them."""


def run_check(output: Output, spec: Mapping[str, Any]) -> bool:
    """Apply the check a spec names, e.g. {"check": "word_count_between", "lo": 50, "hi": 100}."""
    args = {key: value for key, value in spec.items() if key != "check"}
    check = CHECKS.get(spec.get("check", ""))
    if check is None:
        raise ValueError(f"unknown check {spec.get('check')!r} in spec {dict(spec)}; valid: {', '.join(CHECKS)}")
    try:
        inspect.signature(check).bind(output, **args)
    except TypeError as error:
        raise ValueError(
            f"spec {dict(spec)} does not fit {check.__name__}{inspect.signature(check)}: {error}"
        ) from None
    return check(output, **args)


def macro_f1_codes(true: Sequence[int], pred: Sequence[int], n_labels: int) -> float:
    """Macro-F1 over integer-coded labels 0..n_labels-1 (a prediction of -1 is outside the label set).

    Equal to `classification_report(...).macro_f1` for the same labels, and fast enough to bootstrap
    (a thousand resamples in milliseconds), since F1 = 2·TP / (support + predicted) per class."""
    truth, guess = np.asarray(true), np.asarray(pred)
    hits = np.bincount(truth[truth == guess], minlength=n_labels)
    support = np.bincount(truth, minlength=n_labels)
    predicted = np.bincount(guess[guess >= 0], minlength=n_labels)
    totals = support + predicted
    return float(np.mean(np.where(totals > 0, 2 * hits / np.maximum(totals, 1), 0.0)))
