"""Eval-first fine-tuning harness on pytest.

Suites get `model`, `baseline` and `golden` fixtures from `harness.plugin` and decide with `gate`:

    from harness import gate, metrics

Importing this package stays cheap: torch and transformers load only when a model first has to answer.
"""

from harness import gates as gate
from harness.errors import HarnessError, ModelError
from harness.models.base import Completion, Model, Prompt

__all__ = ["Completion", "HarnessError", "Model", "ModelError", "Prompt", "gate"]
