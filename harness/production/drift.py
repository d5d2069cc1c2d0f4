"""Drift: have this week's production inputs moved away from the data the model was trained and judged on?

Two two-sample tests, each with a permutation p-value, so each says how surprising the difference would
be if production and the reference were one distribution:

- inputs: the maximum mean discrepancy (MMD², unbiased) between the MiniLM embeddings of the users'
  messages and of the reference texts, with an RBF kernel whose bandwidth is the median pairwise distance
  of the pooled sample (the median heuristic). MMD with a characteristic kernel is zero only when the two
  distributions are equal, so it sees a new topic, a new language or a new phrasing, not just a moved mean.
- labels: the total variation distance between the label mix the model answered in production and the
  reference's labels (outputs that are no reference label count as one more category). It moves when the
  traffic's intents change, or when the model started answering differently.

Both p-values come from the same seeded permutations of the pooled sample (vectorised: one matrix product
per block of permutations), so a rerun gives the same p-value to the last digit. A permutation p-value
is never below 1/(permutations + 1). With thousands of traces any real difference is significant, so
the statistic is reported beside the p-value: read both.
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.golden import CASES_FILE, GoldenError, display_path, load_file
from harness.production.traces import Trace, TraceError

LABEL_FIELDS = ("label", "category", "intent")
"""Where a reference file's label is looked for when --label-field is not given, in this order."""
OTHER = "(not a reference label)"
PERMUTATION_BLOCK = 256
"""Permutations evaluated per matrix product: bounds memory at block × (traces + reference) floats."""

Embed = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class Reference:
    """What production is compared with: texts (the user's turn) and, when the source has them, labels."""

    texts: list[str]
    labels: list[str] | None
    description: str

    def sample(self, limit: int, seed: int) -> Reference:
        """At most `limit` rows, a seeded sample (rows stay paired with their labels)."""
        if len(self.texts) <= limit:
            return self
        keep = sorted(random.Random(seed).sample(range(len(self.texts)), limit))
        labels = [self.labels[i] for i in keep] if self.labels is not None else None
        return Reference([self.texts[i] for i in keep], labels, f"{self.description}, a seeded sample of {limit}")


@dataclass(frozen=True)
class TwoSample:
    """A permutation test: the statistic on the real split, and how often a random split did as well."""

    statistic: float
    p_value: float
    permutations: int
    n_a: int
    n_b: int


@dataclass(frozen=True)
class InputDrift(TwoSample):
    bandwidth: float
    """The RBF kernel's sigma: the median pairwise distance of the pooled embeddings."""


@dataclass(frozen=True)
class LabelShift(TwoSample):
    moves: list[tuple[str, float, float]]
    """(label, share in production, share in the reference), the largest moves first."""


@dataclass(frozen=True)
class DriftReport:
    inputs: InputDrift
    labels: LabelShift | None
    reference: str
    window: str

    def lines(self, alpha_inputs: float, alpha_labels: float) -> list[str]:
        """The human-readable report: figures, p-values and a verdict per test."""
        i = self.inputs
        lines = [f"traces:    {self.window}", f"reference: {self.reference}",
                 f"inputs:    MMD² {i.statistic:.5f} (RBF, sigma {i.bandwidth:.3f}), p={i.p_value:.4g} over "
                 f"{i.permutations} permutations, {i.n_a} traces vs {i.n_b} reference rows: "
                 f"{_verdict(i.p_value, alpha_inputs)}"]  # fmt: skip
        if self.labels is None:
            lines.append("labels:    not compared (the reference has no labels)")
            return lines
        s = self.labels
        lines.append(f"labels:    total variation distance {s.statistic:.3f}, p={s.p_value:.4g}: "
                     f"{_verdict(s.p_value, alpha_labels)}")  # fmt: skip
        lines += [f"           {label}: {ours:.1%} of traces vs {theirs:.1%} of the reference"
                  for label, ours, theirs in s.moves[:5]]  # fmt: skip
        return lines

    def drifted(self, alpha_inputs: float, alpha_labels: float) -> bool:
        labels = self.labels is not None and self.labels.p_value < alpha_labels
        return self.inputs.p_value < alpha_inputs or labels


def _verdict(p_value: float, alpha: float) -> str:
    return f"DRIFT (p < alpha {alpha:g})" if p_value < alpha else f"no evidence of drift (p >= alpha {alpha:g})"


# --- the reference ---------------------------------------------------------------------------------------


def load_reference(
    where: str, golden_dir: Path, *, text_field: str = "text", label_field: str | None = None
) -> Reference:
    """A golden set (a name under golden_dir, or its directory) or a training file: a curated split
    (`{"messages": [...], "label": ...}` JSONL), or a raw JSONL / CSV with a text column and a label column
    (`label`, `category` or `intent` unless `label_field` says which)."""
    path = Path(where)
    if not path.exists() and (golden_dir / where / CASES_FILE).is_file():
        path = golden_dir / where
    if path.is_dir():
        return _golden_reference(path)
    if not path.is_file():
        raise TraceError(f"{where}: neither a file nor a golden set under {display_path(golden_dir)} — pass a "
                         "training split (.jsonl/.csv) or a golden set name")  # fmt: skip
    return _file_reference(path, text_field, label_field)


def _golden_reference(directory: Path) -> Reference:
    cases_file = directory / CASES_FILE
    if not cases_file.is_file():
        raise TraceError(f"{display_path(directory)}: no {CASES_FILE} — pass a golden set directory or a file")
    try:
        cases = load_file(cases_file)
    except GoldenError as error:
        raise TraceError(str(error)) from None
    texts = [_last_user(case.prompt()) for case in cases]
    labels = [case.expected for case in cases]
    labelled = all(isinstance(label, str) for label in labels)
    return Reference(texts, [str(x) for x in labels] if labelled else None,
                     f"golden set {display_path(directory)} ({len(texts)} cases)")  # fmt: skip


def _file_reference(path: Path, text_field: str, label_field: str | None) -> Reference:
    from harness.curation.config import CurationError, SourceConfig
    from harness.curation.sources import read

    label_field = label_field or _detect_label_field(path)
    try:
        rows = read(path, SourceConfig(str(path), text_field=text_field, label_field=label_field))
    except CurationError as error:
        raise TraceError(str(error)) from None
    bad = [row for row in rows if row.problem]
    if bad:
        raise TraceError(f"{bad[0].source}: {bad[0].problem} ({len(bad)} bad row(s) in the reference) — fix the file")
    texts = [row.text if row.text is not None else _last_user(row.messages or []) for row in rows]
    if not texts:
        raise TraceError(f"{display_path(path)}: no rows — the reference must hold the training texts")
    labels = [row.label for row in rows]
    known = label_field is not None and all(label is not None for label in labels)
    return Reference(texts, [str(x) for x in labels] if known else None,
                     f"{display_path(path)} ({len(texts)} rows{f', labels from {label_field!r}' if known else ''})")


def _detect_label_field(path: Path) -> str | None:
    """The first of LABEL_FIELDS the file's header (CSV) or first row (JSONL) has."""
    with path.open(encoding="utf-8-sig") as f:
        head = f.readline()
    if path.suffix.lower() in (".csv", ".tsv"):
        names = next(csv.reader(io.StringIO(head), delimiter="\t" if path.suffix.lower() == ".tsv" else ","), [])
    else:
        try:
            first = json.loads(head)
        except json.JSONDecodeError:
            return None  # the reader reports the bad line
        names = list(first) if isinstance(first, dict) else []
    return next((name for name in LABEL_FIELDS if name in names), None)


def _last_user(messages: object) -> str:
    if isinstance(messages, str):
        return messages
    listed = messages if isinstance(messages, list) else []
    turns = [m for m in listed if isinstance(m, dict) and m.get("role") == "user"]
    if not turns:
        raise TraceError("a reference row has no user turn: drift compares what users wrote")
    return str(turns[-1].get("content", ""))


# --- the tests -------------------------------------------------------------------------------------------


def mmd_test(x: np.ndarray, y: np.ndarray, permutations: int = 1000, seed: int = 0) -> InputDrift:
    """Unbiased MMD² between samples x and y (rows are points) with an RBF kernel of median-heuristic
    bandwidth, and its permutation p-value."""
    m, n = len(x), len(y)
    if m < 2 or n < 2:
        raise TraceError(f"MMD needs at least 2 points per sample, got {m} traces and {n} reference rows")
    z = np.vstack([x, y]).astype(np.float64)
    squared = np.sum(z * z, axis=1)
    d2 = np.maximum(squared[:, None] + squared[None, :] - 2.0 * (z @ z.T), 0.0)
    off_diagonal = d2[~np.eye(len(z), dtype=bool)]
    sigma2 = float(np.median(off_diagonal)) or 1.0  # all points equal: any bandwidth gives MMD² = 0
    kernel = np.exp(-d2 / (2.0 * sigma2))
    np.fill_diagonal(kernel, 0.0)  # the unbiased estimator leaves out k(x_i, x_i)
    first = np.zeros((1, m + n), dtype=bool)
    first[0, :m] = True
    observed = float(_mmd2(kernel, first, m, n)[0])
    null = _permuted(lambda masks: _mmd2(kernel, masks, m, n), m, n, permutations, seed)
    p_value = (1 + int(np.sum(null >= observed - 1e-12))) / (1 + permutations)
    return InputDrift(observed, p_value, permutations, m, n, float(np.sqrt(sigma2)))


def _mmd2(kernel: np.ndarray, masks: np.ndarray, m: int, n: int) -> np.ndarray:
    """Unbiased MMD² for each row of `masks` (True: the point is in the first sample); zero-diagonal kernel."""
    a = masks.astype(np.float64).T  # (m + n) × P
    b = 1.0 - a
    ka = kernel @ a
    within_a = np.einsum("ip,ip->p", a, ka) / (m * (m - 1))
    within_b = np.einsum("ip,ip->p", b, kernel @ b) / (n * (n - 1))
    between = np.einsum("ip,ip->p", b, ka) / (m * n)
    result: np.ndarray = within_a + within_b - 2.0 * between
    return result


def _permuted(
    statistic: Callable[[np.ndarray], np.ndarray], m: int, n: int, permutations: int, seed: int
) -> np.ndarray:
    """The statistic on `permutations` random splits of the pooled sample into m and n points."""
    rng = np.random.default_rng(seed)
    values = []
    for start in range(0, permutations, PERMUTATION_BLOCK):
        size = min(PERMUTATION_BLOCK, permutations - start)
        order = np.argsort(rng.random((size, m + n)), axis=1)
        masks = np.zeros((size, m + n), dtype=bool)
        masks[np.arange(size)[:, None], order[:, :m]] = True
        values.append(statistic(masks))
    return np.concatenate(values)


def label_shift_test(
    production: Sequence[str], reference: Sequence[str], permutations: int = 1000, seed: int = 0
) -> LabelShift:
    """Total variation distance between two label mixes and its permutation p-value. Labels are compared
    as given: normalise them first (harness.metrics.normalise_label)."""
    known = set(reference)
    ours = [label if label in known else OTHER for label in production]
    names = sorted(known | set(ours))
    index = {name: i for i, name in enumerate(names)}
    pooled = np.array([index[label] for label in [*ours, *reference]])
    m, n, k = len(ours), len(reference), len(names)
    if m == 0 or n == 0:
        raise TraceError(f"label shift needs labels on both sides, got {m} traces and {n} reference rows")

    def tvd(masks: np.ndarray) -> np.ndarray:
        rows = np.arange(len(masks))[:, None]
        codes = np.broadcast_to(pooled, masks.shape) + k * rows
        counts_a = np.bincount(codes[masks], minlength=len(masks) * k).reshape(len(masks), k)
        counts_b = np.bincount(codes[~masks], minlength=len(masks) * k).reshape(len(masks), k)
        result: np.ndarray = 0.5 * np.abs(counts_a / m - counts_b / n).sum(axis=1)
        return result

    first = np.zeros((1, m + n), dtype=bool)
    first[0, :m] = True
    observed = float(tvd(first)[0])
    null = _permuted(tvd, m, n, permutations, seed)
    p_value = (1 + int(np.sum(null >= observed - 1e-12))) / (1 + permutations)
    share_a, share_b = Counter(ours), Counter(reference)
    moves = sorted(((name, share_a[name] / m, share_b[name] / n) for name in names),
                   key=lambda move: (-abs(move[1] - move[2]), move[0]))  # fmt: skip
    return LabelShift(observed, p_value, permutations, m, n, moves)


def measure(
    traces: Sequence[Trace], reference: Reference, embed: Embed, *, permutations: int = 1000, seed: int = 0,
    window: str = "",
) -> DriftReport:  # fmt: skip
    """Both tests on these traces against this reference (sample it first: `Reference.sample`)."""
    from harness.metrics import normalise_label

    if len(traces) < 2:
        raise TraceError(f"{len(traces)} trace(s) in the window: drift needs at least 2 — widen it (--days)")
    inputs = mmd_test(embed([t.input for t in traces]), embed(reference.texts), permutations, seed)
    labels = None
    if reference.labels is not None:
        ours = [normalise_label(t.output) for t in traces]
        labels = label_shift_test(ours, [normalise_label(label) for label in reference.labels], permutations, seed)
    return DriftReport(inputs, labels, reference.description, window or f"{len(traces)} trace(s)")
