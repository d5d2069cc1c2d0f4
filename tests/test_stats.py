"""harness.stats against reference implementations (statsmodels) and published values."""

from __future__ import annotations

import gc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from harness import stats

FAST = settings(max_examples=50, deadline=None)
CONFIDENCES = st.sampled_from([0.8, 0.9, 0.95, 0.99])


@st.composite
def successes_and_n(draw: st.DrawFn) -> tuple[int, int]:
    n = draw(st.integers(1, 5_000))
    return draw(st.integers(0, n)), n


@st.composite
def paired_outcomes(draw: st.DrawFn, min_size: int = 1) -> tuple[list[bool], list[bool]]:
    pairs = draw(st.lists(st.tuples(st.booleans(), st.booleans()), min_size=min_size, max_size=300))
    return [candidate for candidate, _ in pairs], [baseline for _, baseline in pairs]


# --- Wilson ---------------------------------------------------------------------------------------------


@FAST
@given(successes_and_n(), CONFIDENCES)
def test_wilson_matches_statsmodels(case: tuple[int, int], confidence: float) -> None:
    successes, n = case
    expected = proportion_confint(successes, n, alpha=1 - confidence, method="wilson")
    assert stats.wilson_interval(successes, n, confidence) == pytest.approx(expected, abs=1e-12)


def test_wilson_is_exact_at_the_edges() -> None:
    assert stats.wilson_interval(0, 20)[0] == 0.0
    assert stats.wilson_interval(20, 20)[1] == 1.0


@pytest.mark.parametrize(("successes", "n", "confidence"), [(0, 0, 0.95), (3, 2, 0.95), (-1, 5, 0.95), (1, 2, 1.0)])
def test_wilson_rejects_bad_input(successes: int, n: int, confidence: float) -> None:
    with pytest.raises(ValueError):
        stats.wilson_interval(successes, n, confidence)


def test_wilson_zero_trials_says_why() -> None:
    with pytest.raises(ValueError, match="n > 0"):
        stats.wilson_interval(0, 0)


# --- bootstrap ------------------------------------------------------------------------------------------

SCORES = st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=1, max_size=60)


@FAST
@given(SCORES, CONFIDENCES)
def test_bootstrap_interval_contains_the_mean(values: list[float], confidence: float) -> None:
    lower, upper = stats.bootstrap_mean_interval(values, confidence, n_resamples=500)
    assert lower - 1e-9 <= float(np.mean(values)) <= upper + 1e-9


@FAST
@given(SCORES, st.integers(0, 2**32 - 1))
def test_bootstrap_is_deterministic_with_the_seed(values: list[float], seed: int) -> None:
    first = stats.bootstrap_mean_interval(values, n_resamples=300, seed=seed)
    assert stats.bootstrap_mean_interval(values, n_resamples=300, seed=seed) == first


def test_bootstrap_seed_changes_the_draw() -> None:
    values = list(np.random.default_rng(1).normal(size=50))
    assert stats.bootstrap_mean_interval(values, seed=0) != stats.bootstrap_mean_interval(values, seed=1)


def test_bootstrap_interval_narrows_with_more_data() -> None:
    rng = np.random.default_rng(0)
    small = stats.bootstrap_mean_interval(rng.normal(size=20).tolist())
    large = stats.bootstrap_mean_interval(rng.normal(size=2_000).tolist())
    assert large[1] - large[0] < (small[1] - small[0]) / 5


def test_bootstrap_chunks_large_inputs_like_small_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    values = np.random.default_rng(2).normal(size=40).tolist()
    whole = stats.bootstrap_mean_interval(values, n_resamples=1_000)
    monkeypatch.setattr(stats, "_BOOTSTRAP_CHUNK_CELLS", 40 * 7)  # 7 resamples per chunk
    lower, upper = stats.bootstrap_mean_interval(values, n_resamples=1_000)
    assert (lower, upper) == pytest.approx(whole, abs=0.15)  # same distribution, different random stream


def test_bootstrap_rejects_empty_values() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        stats.bootstrap_mean_interval([])


@FAST
@given(st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=1, max_size=60))
def test_paired_bootstrap_diff_brackets_the_mean_difference(pairs: list[tuple[float, float]]) -> None:
    candidate, baseline = [c for c, _ in pairs], [b for _, b in pairs]
    diff, lower, upper = stats.paired_bootstrap_diff(candidate, baseline, n_resamples=500)
    assert diff == pytest.approx(float(np.mean(candidate) - np.mean(baseline)), abs=1e-12)
    assert lower - 1e-9 <= diff <= upper + 1e-9


def test_paired_bootstrap_diff_of_a_constant_shift_is_that_shift() -> None:
    baseline = np.random.default_rng(3).uniform(size=100)
    diff, lower, upper = stats.paired_bootstrap_diff((baseline + 0.1).tolist(), baseline.tolist())
    assert diff == lower == upper == pytest.approx(0.1)


def test_paired_bootstrap_diff_rejects_unpaired_lengths() -> None:
    with pytest.raises(ValueError, match="same cases"):
        stats.paired_bootstrap_diff([0.1, 0.2], [0.3])


# --- McNemar --------------------------------------------------------------------------------------------


@FAST
@given(paired_outcomes())
def test_mcnemar_matches_statsmodels_exact(outcomes: tuple[list[bool], list[bool]]) -> None:
    candidate, baseline = outcomes
    result = stats.mcnemar_exact(candidate, baseline)
    cand, base = np.array(candidate), np.array(baseline)
    assert result.b == int(np.sum(base & ~cand)) and result.c == int(np.sum(~base & cand))
    table = [[np.sum(base & cand), result.b], [result.c, np.sum(~base & ~cand)]]
    assert result.p_value == pytest.approx(mcnemar(table, exact=True).pvalue, rel=1e-9)
    assert 0.0 <= result.p_worse <= 1.0


def test_mcnemar_one_sided_p_points_at_the_worse_model() -> None:
    baseline = [True] * 20
    candidate = [False] * 9 + [True] * 11  # nine regressions, no fixes
    result = stats.mcnemar_exact(candidate, baseline)
    assert (result.b, result.c) == (9, 0)
    assert result.p_worse == pytest.approx(0.5**9)
    assert result.p_value == pytest.approx(2 * 0.5**9)
    assert stats.mcnemar_exact(baseline, candidate).p_worse == 1.0


def test_mcnemar_without_disagreements_finds_nothing() -> None:
    assert stats.mcnemar_exact([True, False], [True, False]) == stats.McNemarResult(0, 0, 1.0, 1.0)


def test_mcnemar_rejects_unpaired_lengths() -> None:
    with pytest.raises(ValueError, match="3 candidate and 2 baseline"):
        stats.mcnemar_exact([True] * 3, [True] * 2)


# --- non-inferiority ------------------------------------------------------------------------------------


def test_non_inferior_matches_newcombe_published_example() -> None:
    # Cavo et al. (2012) as analysed in Fagerland, Lydersen & Laake (2017), ch. 8: table [[59, 6], [16, 80]],
    # Newcombe square-and-add estimate -0.0621, 95% CI -0.1186 to -0.0046.
    candidate = [True] * 59 + [True] * 6 + [False] * 16 + [False] * 80
    baseline = [True] * 59 + [False] * 6 + [True] * 16 + [False] * 80
    result = stats.non_inferior(candidate, baseline, margin=0.15)
    assert (result.diff, result.lower, result.upper) == pytest.approx((-0.0621, -0.1186, -0.0046), abs=5e-5)
    assert result.passed
    assert not stats.non_inferior(candidate, baseline, margin=0.1).passed


@FAST
@given(paired_outcomes(), CONFIDENCES)
def test_non_inferior_interval_brackets_the_difference(
    outcomes: tuple[list[bool], list[bool]], confidence: float
) -> None:
    candidate, baseline = outcomes
    result = stats.non_inferior(candidate, baseline, margin=0.05, confidence=confidence)
    assert -1.0 <= result.lower <= result.diff <= result.upper <= 1.0
    assert result.diff == pytest.approx(np.mean(candidate) - np.mean(baseline))
    assert result.passed == (result.lower > -0.05)


def test_non_inferior_keeps_uncertainty_when_models_agree() -> None:
    same = [True] * 30 + [False] * 10
    result = stats.non_inferior(same, same, margin=0.02)
    assert result.diff == 0.0 and result.lower < -0.02  # a Wald interval would be [0, 0] and pass
    assert not result.passed


def test_non_inferior_agrees_with_wald_on_large_samples() -> None:
    rng = np.random.default_rng(4)
    baseline = rng.uniform(size=20_000) < 0.8
    candidate = np.where(rng.uniform(size=20_000) < 0.9, baseline, ~baseline)
    result = stats.non_inferior(candidate.tolist(), baseline.tolist(), margin=0.05)
    d = candidate.astype(float) - baseline.astype(float)
    half = 1.959964 * d.std() / np.sqrt(d.size)
    assert (result.lower, result.upper) == pytest.approx((d.mean() - half, d.mean() + half), abs=2e-3)


@pytest.mark.parametrize("margin", [-0.01, 1.0])
def test_non_inferior_rejects_bad_margin(margin: float) -> None:
    with pytest.raises(ValueError, match="margin"):
        stats.non_inferior([True], [True], margin=margin)


# --- Holm -----------------------------------------------------------------------------------------------

P_VALUES = st.lists(st.floats(0, 1) | st.sampled_from([0.0, 0.01, 0.0125, 0.025, 0.05, 1.0]), max_size=25)


def reference_holm(p_values: list[float], alpha: float) -> tuple[list[bool], list[float]]:
    # multipletests runs gc.collect() on every call: 0.1 s each once torch is loaded in the session.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(gc, "collect", lambda *args: 0)
        rejected, adjusted, _, _ = multipletests(p_values, alpha=alpha, method="holm")
    return rejected.tolist(), adjusted.tolist()


@FAST
@given(P_VALUES, st.sampled_from([0.01, 0.05, 0.1]))
def test_holm_matches_statsmodels(p_values: list[float], alpha: float) -> None:
    if not p_values:
        assert stats.holm(p_values, alpha) == [] and stats.holm_adjusted(p_values) == []
        return
    rejected, adjusted = reference_holm(p_values, alpha)
    assert stats.holm(p_values, alpha) == rejected
    assert stats.holm_adjusted(p_values) == pytest.approx(adjusted, abs=1e-12)


def test_holm_steps_down() -> None:
    # Bonferroni (each p <= 0.05/3) would reject only 0.01; Holm compares the k-th smallest with 0.05/(4-k).
    assert stats.holm([0.01, 0.02, 0.04], alpha=0.05) == [True, True, True]
    assert stats.holm([0.01, 0.03, 0.04], alpha=0.05) == [True, False, False]
    assert stats.holm_adjusted([0.01, 0.03, 0.04]) == pytest.approx([0.03, 0.06, 0.06])


@pytest.mark.parametrize("bad", [[0.5, 1.5], [-0.1], [float("nan")]])
def test_holm_rejects_values_that_are_not_p_values(bad: list[float]) -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        stats.holm(bad)
