"""Eval-first fine-tuning harness on pytest.

Suites get `model`, `baseline` and `golden` fixtures from `harness.plugin` and decide with `gate`:

    from harness import gate, metrics

and a notebook or a script gets the same model with `harness.load_model("adapter")` (`harness.api`).

Importing this package stays cheap: torch and transformers load only when a model first has to answer.
"""

from harness import gates as gate
from harness.api import load_model
from harness.errors import HarnessError, ModelError
from harness.models.base import Completion, Model, Prompt

__all__ = ["Completion", "HarnessError", "Model", "ModelError", "Prompt", "gate", "load_model"]
