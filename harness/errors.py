"""Every exception the harness raises on purpose, in one tree.

Each error names what failed, where and how to fix it; the branch says whose move it is. The plugin and
the `harness` command catch `HarnessError`, not a hand-kept list: a usage or input-data error (or a
registry that cannot answer) stops a pytest run as a usage error and exits the command with 2 and the
message; a model error is an ERROR, never a pass, and the command exits 2 (the run decided nothing);
a refusal is a decision, exit 1. Leaves live beside the code that raises them; the branches live here.

    HarnessError
    ├── UsageError ─────────── how the harness was asked to run: fix the command line or the config
    │   ├── ConfigError            harness.config: [tool.harness] (gate bars and unknown gate keys included)
    │   ├── SpecError              harness.models.spec: a --model / --baseline / --judge string
    │   ├── TrainConfigError       harness.train.config: the train: section of a task config
    │   └── MissingEmbeddedModel   harness.models.embedded: a default model's wheel is not installed
    ├── InputDataError ─────── the data a run reads: fix the file
    │   ├── GoldenError            harness.golden.cases: a golden set, table or golden.lock (tampered too)
    │   ├── CurationError          harness.curation.config: a curation config, raw source or curated dataset
    │   ├── DatasetError           harness.train.data: the curated splits training reads
    │   ├── MissingSplit           harness.baselines: the split the classical baselines learn from
    │   ├── CalibrationError       harness.judge.calibration: golden/judge_calibration's human verdicts
    │   ├── ReviewError            harness.judge.review: a review.csv or the run it came from
    │   ├── TraceError             harness.production.traces: a trace file, the trace store or a drift reference
    │   └── ReportError            harness.report.diff: a run's results.json
    ├── ModelError ─────────── a model could not answer: a server failing after its retries, unusable weights
    │   └── PromptsTooLong         harness.models.base: prompts that cannot fit the model's context
    ├── RegistryError ──────── the model registry or its adapter store cannot give what was asked
    └── Refused ────────────── not a fault: the harness decided no
        ├── GateFailure            harness.gates: a gate did not pass (an AssertionError: a failed test)
        └── TrainingRefused        harness.train.run: training did not start (data gates, --strict lint)

A leaf keeps a standard base as well (ConfigError and CurationError are ValueErrors, GateFailure an
AssertionError) where callers or tests rely on it.
"""

from __future__ import annotations


class HarnessError(Exception):
    """Raised on purpose by the harness; the message says what failed, where, and how to fix it."""


class UsageError(HarnessError):
    """The harness was asked to run in a way it cannot: a config key, a command-line option, a spec."""


class InputDataError(HarnessError):
    """Data the harness reads is missing or malformed: golden sets, datasets, review files, reports."""


class ModelError(HarnessError):
    """A model could not answer (server down after retries, unusable weights). Never recorded as output.

    `index` is the position, in the prompts the backend was given, of the prompt that failed (None when
    the failure is not about one prompt). Backends only see the prompts the cache could not answer, so
    `CachedModel` uses it to name the prompt the way its caller knows it: the golden case, or its position."""

    def __init__(self, message: str, *, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


class RegistryError(HarnessError):
    """The registry or its store cannot give what was asked; the message says which and how to fix it."""


class Refused(HarnessError):
    """The harness decided no (a gate failed, training refused): a verdict on the inputs, not a fault."""
