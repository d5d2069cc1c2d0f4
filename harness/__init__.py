"""Eval-first fine-tuning harness on pytest.

Suites get `model` and `baseline` fixtures from `harness.plugin`; library users can build the same
models with `harness.models.ModelFactory`. Importing this package stays cheap: torch and transformers
load only when a model first has to answer.
"""

from harness.models.base import Completion, Model, ModelError, Prompt

__all__ = ["Completion", "Model", "ModelError", "Prompt"]
