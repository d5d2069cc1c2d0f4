"""Production: recent traffic against what the model was built on, and the model under test against the champion.

Runs on a trace store (`harness traces import FILE --store DIR` writes one) given with `--traces=DIR`, and
skips without one, saying why. Gates (bars in [tool.harness.gates]):

- production.input_drift: the users' recent messages are not significantly far (MMD² of MiniLM embeddings,
  permutation test) from the reference given with --drift-reference (a training split or a golden set);
- production.label_shift: the label mix the model answered in production is not significantly different
  (total variation distance, permutation test) from the reference's labels;
- shadow.disagreement: replayed on the recent traces, the model under test answers differently from the
  registry's champion on at most this share of them (upper 95% bound in lower_bound mode);
- shadow.not_worse_on_corrections: on the traces a user corrected, the model under test is not significantly
  worse than the champion (exact McNemar, one-sided, the bar is alpha).

`harness promote` passes --traces when [tool.harness.production] store is set, so a candidate is replayed
against the champion's traffic before it can replace it. It passes no --drift-reference: drift is a fact
about the traffic, not about the candidate, so the drift tests skip there and run in the weekly job.
"""

import pytest

from harness import gate
from harness.baselines import Embedder
from harness.production import drift, shadow


@pytest.fixture(scope="module")
def drift_report(traces, drift_reference, harness_config):
    settings = harness_config.production
    return drift.measure(traces.traces, drift_reference, Embedder(harness_config.cache_dir),
                         permutations=settings.permutations, seed=settings.seed, window=traces.describe())


def test_inputs_have_not_drifted(drift_report):
    inputs = drift_report.inputs
    gate.no_shift("production.input_drift", inputs.statistic, inputs.p_value, what="MMD² (MiniLM, RBF)",
                  details={"n_traces": inputs.n_a, "n_reference": inputs.n_b, "bandwidth": inputs.bandwidth,
                           "reference": drift_report.reference, "window": drift_report.window})


def test_label_mix_has_not_shifted(drift_report):
    labels = drift_report.labels
    if labels is None:
        pytest.skip(f"{drift_report.reference} has no labels: only the inputs can be compared")
    gate.no_shift("production.label_shift", labels.statistic, labels.p_value, what="total variation distance",
                  details={"moves": labels.moves[:10], "n_traces": labels.n_a, "n_reference": labels.n_b})


@pytest.fixture(scope="module")
def shadowed(traces, model, champion, harness_config):
    if model.fingerprint() == champion.fingerprint():
        pytest.skip("the model under test is the champion: there is nothing to shadow")
    system, generation = shadow.served_as(harness_config.golden_dir, harness_config.production.system_from)
    return shadow.replay(traces.traces, model, champion, system=system, **generation)


def test_agrees_with_the_champion(shadowed):
    gate.at_most("shadow.disagreement", shadowed.disagreed, cases=shadowed.cases(), outputs=shadowed.candidate)


def test_not_worse_than_the_champion_on_corrected_traces(shadowed):
    indices, ours, theirs = shadowed.corrected()
    if not indices:
        pytest.skip("no corrected trace in the window: no paired accuracy to compare")
    cases = [shadow.TraceCase(shadowed.traces[i], shadowed.traces[i].correction) for i in indices]
    gate.not_worse_than("shadow.not_worse_on_corrections", ours, theirs, reference_name="champion", cases=cases,
                        outputs=[shadowed.candidate[i] for i in indices],
                        reference_outputs=[shadowed.champion[i] for i in indices])
