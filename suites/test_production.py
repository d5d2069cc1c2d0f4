"""Production: recent traffic against what the model was built on.

Runs on a trace store (`harness traces import FILE --store DIR` writes one) given with `--traces=DIR`, and
skips without one, saying why. Gates (bars in [tool.harness.gates]):

- production.input_drift: the users' recent messages are not significantly far (MMD² of MiniLM embeddings,
  permutation test) from the reference given with --drift-reference (a training split or a golden set);
- production.label_shift: the label mix the model answered in production is not significantly different
  (total variation distance, permutation test) from the reference's labels.

Drift is a fact about the traffic, not about a model: the weekly job runs these with --drift-reference.
"""

import pytest

from harness import gate
from harness.baselines import Embedder
from harness.production import drift


@pytest.fixture(scope="module")
def drift_report(traces, drift_reference, harness_config):
    settings = harness_config.production
    return drift.measure(traces.traces, drift_reference, Embedder(harness_config.cache_dir),
                         permutations=settings.permutations, seed=settings.seed, window=traces.describe())


def test_inputs_have_not_drifted(drift_report):
    inputs = drift_report.inputs
    gate.no_shift("production.input_drift", inputs.statistic, inputs.p_value, 0.01, what="MMD² (MiniLM, RBF)",
                  details={"n_traces": inputs.n_a, "n_reference": inputs.n_b, "bandwidth": inputs.bandwidth,
                           "reference": drift_report.reference, "window": drift_report.window})


def test_label_mix_has_not_shifted(drift_report):
    labels = drift_report.labels
    if labels is None:
        pytest.skip(f"{drift_report.reference} has no labels: only the inputs can be compared")
    gate.no_shift("production.label_shift", labels.statistic, labels.p_value, 0.01, what="total variation distance",
                  details={"moves": labels.moves[:10], "n_traces": labels.n_a, "n_reference": labels.n_b})
