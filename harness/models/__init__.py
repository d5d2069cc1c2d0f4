"""Models: the `Model` interface suites call, its backends, spec parsing and the cached wrapper.

base.py      the Model / Backend protocols and Completion
spec.py      --model strings -> typed specs (no loading)
resolve.py   specs -> cached models, sharing weights (ModelFactory)
cached.py    CachedModel: the cache in front of any backend
hf.py        hf: and peft: backends (batched transformers generation, log-likelihood scoring)
openai_compat.py  openai: backend (any OpenAI-compatible server, retries, concurrency)
"""

from harness.models.base import Backend, Completion, Model, ModelError, Prompt

__all__ = ["Backend", "Completion", "Model", "ModelError", "Prompt"]
