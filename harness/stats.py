"""Statistics behind the gates: intervals, paired tests and multiple-comparison control.

A gate never compares a point estimate with a threshold: 170/200 correct and 17/20 correct are both 0.85,
but only the first is evidence. So every function here returns an interval or a p-value, and the paired
ones (McNemar, paired bootstrap, non-inferiority) exploit that candidate and baseline answer the *same*
cases, which is far more sensitive than comparing two independent pass rates.

Everything is a pure function of its arguments; the bootstrap is deterministic given its seed so that a
gate decision reproduces run to run. scipy is imported only by the exact binomial test that needs it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

_BOOTSTRAP_CHUNK_CELLS = 4_000_000
"""Resample indices drawn per chunk (rows × n): bounds memory at ~32 MB however large the golden set."""


@dataclass(frozen=True)
class McNemarResult:
    """Exact McNemar test on paired pass/fail outcomes. Only discordant pairs carry information."""

    b: int
    """Cases the baseline passed and the candidate failed (regressions)."""
    c: int
    """Cases the baseline failed and the candidate passed (fixes)."""
    p_value: float
    """Two-sided: any difference between candidate and baseline."""
    p_worse: float
    """One-sided: evidence that the candidate is worse (small when regressions outnumber fixes)."""


@dataclass(frozen=True)
class NonInferiorityResult:
    """Paired difference in pass rate (candidate − baseline) with Newcombe's method-10 interval."""

    diff: float
    lower: float
    upper: float
    margin: float
    confidence: float
    passed: bool
    """lower > −margin: with this confidence, the candidate loses less than `margin` of pass rate."""


def _z(confidence: float) -> float:
    """Two-sided standard-normal critical value, e.g. 1.96 for 0.95."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence!r} (e.g. 0.95)")
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion.

    Chosen over the Wald interval because it stays inside [0, 1] and keeps its coverage at 0/n and n/n,
    which is exactly where strong models sit on easy suites.
    """
    if n <= 0:
        raise ValueError(f"wilson_interval needs n > 0 trials, got n={n}; did the suite select zero cases?")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be within [0, n={n}], got {successes}")
    z = _z(confidence)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    # The bounds are exactly 0 at 0/n and 1 at n/n; say so rather than report rounding noise like 3e-17.
    lower = 0.0 if successes == 0 else max(0.0, centre - half)
    upper = 1.0 if successes == n else min(1.0, centre + half)
    return lower, upper


def _as_array(values: Sequence[float] | Sequence[bool], name: str) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence of numbers, got shape {array.shape}")
    return array


def _bootstrap_means(values: np.ndarray, n_resamples: int, seed: int) -> np.ndarray:
    """Means of `n_resamples` resamples with replacement, drawn in memory-bounded vectorised chunks."""
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be at least 1, got {n_resamples}")
    rng = np.random.default_rng(seed)
    rows = max(1, _BOOTSTRAP_CHUNK_CELLS // values.size)
    chunks = []
    for start in range(0, n_resamples, rows):
        size = min(rows, n_resamples - start)
        chunks.append(values[rng.integers(0, values.size, size=(size, values.size))].mean(axis=1))
    return np.concatenate(chunks)


def bootstrap_mean_interval(
    values: Sequence[float], confidence: float = 0.95, n_resamples: int = 10_000, seed: int = 0
) -> tuple[float, float]:
    """Percentile-bootstrap interval for the mean of a continuous score (ROUGE, BERTScore, judge grades),
    where no closed form fits the unknown, often bounded and skewed, distribution."""
    _z(confidence)  # validates confidence
    means = _bootstrap_means(_as_array(values, "values"), n_resamples, seed)
    tail = (1 - confidence) / 2
    lower, upper = np.quantile(means, [tail, 1 - tail])
    return float(lower), float(upper)


def paired_bootstrap_diff(
    candidate: Sequence[float],
    baseline: Sequence[float],
    confidence: float = 0.95,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(mean difference candidate − baseline, lower, upper), resampling *cases* so pairs stay together.

    Resampling per-case differences keeps the between-case variance (hard vs easy prompts) out of the
    interval, which is what makes a paired comparison sharper than two independent intervals."""
    diffs = _as_array(candidate, "candidate") - _paired(baseline, len(candidate))
    lower, upper = bootstrap_mean_interval(diffs.tolist(), confidence, n_resamples, seed)
    return float(diffs.mean()), lower, upper


def _paired(baseline: Sequence[float] | Sequence[bool], n: int) -> np.ndarray:
    if len(baseline) != n:
        raise ValueError(
            f"paired comparison needs one baseline result per candidate case: got {n} candidate and "
            f"{len(baseline)} baseline results; score both models on the same cases in the same order"
        )
    return _as_array(baseline, "baseline")


def _discordant(candidate: Sequence[bool], baseline: Sequence[bool]) -> tuple[int, int, int, int]:
    """(both pass, candidate only, baseline only, neither) counts of a paired pass/fail table."""
    cand = _as_array(candidate, "candidate").astype(bool)
    base = _paired(baseline, len(candidate)).astype(bool)
    return (
        int(np.sum(cand & base)),
        int(np.sum(cand & ~base)),
        int(np.sum(~cand & base)),
        int(np.sum(~cand & ~base)),
    )


def mcnemar_exact(candidate: Sequence[bool], baseline: Sequence[bool]) -> McNemarResult:
    """Exact McNemar test: under H0 a discordant pair is equally likely to favour either model, so the
    number of fixes is Binomial(b + c, 1/2). Exact rather than χ² because fine-tunes often differ from
    their baseline on only a handful of cases, where the χ² approximation is poor."""
    from scipy.stats import binomtest

    _, fixes, regressions, _ = _discordant(candidate, baseline)
    discordant = fixes + regressions
    if discordant == 0:
        return McNemarResult(b=regressions, c=fixes, p_value=1.0, p_worse=1.0)
    two_sided = binomtest(fixes, discordant, 0.5, alternative="two-sided").pvalue
    return McNemarResult(b=regressions, c=fixes, p_value=float(two_sided), p_worse=mcnemar_p_worse(fixes, regressions))


def mcnemar_p_worse(fixes: int, regressions: int) -> float:
    """McNemar's exact one-sided p-value that the candidate is worse: P(at most `fixes` of the discordant
    pairs favour it) when each favours either model with probability 1/2."""
    from scipy.stats import binomtest

    if fixes + regressions == 0:
        return 1.0
    return float(binomtest(fixes, fixes + regressions, 0.5, alternative="less").pvalue)


def most_losable(baseline_passes: int, gained: int, max_share: float, alpha: float) -> int:
    """The most of a baseline's passes a candidate that gained `gained` others may lose and still pass a
    no-regression gate (`gates.no_regression`'s rule): at most `max_share` of them, and not significantly
    worse by McNemar at `alpha`. Both limits only tighten as losses grow, so the first failure ends it."""
    lost = 0
    while lost < baseline_passes and (lost + 1) / baseline_passes <= max_share \
            and mcnemar_p_worse(gained, lost + 1) >= alpha:  # fmt: skip
        lost += 1
    return lost


def non_inferior(
    candidate_pass: Sequence[bool], baseline_pass: Sequence[bool], margin: float, confidence: float = 0.95
) -> NonInferiorityResult:
    """Is the candidate no worse than the baseline by more than `margin` (absolute pass rate)?

    Uses Newcombe's (1998) method 10, square-and-add of the two Wilson intervals corrected for the
    pairing correlation φ (with his n/2 continuity adjustment of φ). Preferred to the paired Wald interval,
    which collapses to zero width when the models never disagree and so claims certainty from luck.
    Matches Fagerland, Lydersen & Laake (2017), ch. 8, to four decimals (see tests/test_stats.py).
    `confidence` is two-sided, as CONSORT reports non-inferiority: 0.95 makes `lower` a 97.5% bound.
    """
    if not 0.0 <= margin < 1.0:
        raise ValueError(f"margin is an absolute pass-rate difference in [0, 1), got {margin!r} (e.g. 0.02)")
    both, cand_only, base_only, neither = _discordant(candidate_pass, baseline_pass)
    n = both + cand_only + base_only + neither
    p1, p2 = (both + cand_only) / n, (both + base_only) / n
    l1, u1 = wilson_interval(both + cand_only, n, confidence)
    l2, u2 = wilson_interval(both + base_only, n, confidence)
    phi = _newcombe_phi(both, cand_only, base_only, neither)
    diff = p1 - p2
    lower = diff - math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    upper = diff + math.sqrt(max(0.0, (p2 - l2) ** 2 - 2 * phi * (p2 - l2) * (u1 - p1) + (u1 - p1) ** 2))
    return NonInferiorityResult(diff, lower, upper, margin, confidence, passed=lower > -margin)


def _newcombe_phi(a: int, b: int, c: int, d: int) -> float:
    """Correlation of the paired outcomes, shrunk toward 0 by n/2 when positive (Newcombe 1998)."""
    n = a + b + c + d
    product = (a + b) * (c + d) * (a + c) * (b + d)
    if product == 0:
        return 0.0
    numerator: float = a * d - b * c
    if numerator > n / 2:
        numerator -= n / 2
    elif numerator >= 0:
        numerator = 0.0
    return numerator / math.sqrt(product)


def _check_p_values(p_values: Sequence[float]) -> np.ndarray:
    p = np.asarray(p_values, dtype=float)
    if p.ndim != 1 or np.any(np.isnan(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError(f"p-values must be a flat sequence of numbers in [0, 1], got {list(p_values)!r}")
    return p


def holm(p_values: Sequence[float], alpha: float = 0.05) -> list[bool]:
    """Which hypotheses Holm–Bonferroni rejects at family-wise error rate `alpha`.

    A promotion checks many suites at once; without this, 20 gates at 0.05 let a regression through by
    chance about two times in three. Step-down: the k-th smallest p is compared with alpha / (m − k)."""
    p = _check_p_values(p_values)
    rejected = [False] * p.size
    for rank, index in enumerate(np.argsort(p, kind="stable")):
        if p[index] > alpha / (p.size - rank):
            break
        rejected[int(index)] = True
    return rejected


def holm_adjusted(p_values: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values (reject where adjusted ≤ alpha), for reports that show one number per gate."""
    p = _check_p_values(p_values)
    order = np.argsort(p, kind="stable")
    scaled = np.maximum.accumulate(p[order] * np.arange(p.size, 0, -1))
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(scaled, 1.0)
    return adjusted.tolist()


def binomial_p_below(successes: int, n: int, floor: float) -> float:
    """One-sided exact p-value for "the true rate is at least `floor`", given successes out of n.

    Small means the observed rate is significantly below the floor. Used for per-slice floors, where
    slices are too small for "significantly above" to ever hold."""
    if n <= 0:
        raise ValueError("binomial_p_below needs n > 0")
    from scipy.stats import binomtest

    return float(binomtest(successes, n, floor, alternative="less").pvalue)


def bootstrap_statistic_interval(
    n: int,
    statistic: Callable[[np.ndarray], float],
    confidence: float = 0.95,
    n_resamples: int = 1_000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile-bootstrap interval of a set-level statistic (macro-F1), which is not a mean of per-case
    values: `statistic(indices)` is evaluated on resampled case indices. Fewer resamples than for a mean,
    because each costs a full metric computation."""
    _z(confidence)
    if n < 1:
        raise ValueError("bootstrap_statistic_interval needs at least one case")
    rng = np.random.default_rng(seed)
    values = [statistic(rng.integers(0, n, size=n)) for _ in range(n_resamples)]
    tail = (1 - confidence) / 2
    lower, upper = np.quantile(values, [tail, 1 - tail])
    return float(lower), float(upper)
