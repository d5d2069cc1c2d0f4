"""The harness outside pytest: a model from a spec, for a notebook or a script.

    import harness
    model = harness.load_model("adapter")                 # or "base", "champion", "peft:DIR", "openai:NAME@URL"
    [answer] = model.generate(["Where is my card?"])
    answer.text, answer.latency_s, model.fingerprint()

It is what the suites' `model` fixture is: the same spec syntax and names from `[tool.harness.models]`,
the same generation defaults, the same backends and fingerprints, and the same generation cache, so an
answer computed here is served from the cache to the next suite run (and the reverse).
"""

from __future__ import annotations

from pathlib import Path

from harness.cache import GenerationCache
from harness.config import HarnessConfig
from harness.models.base import Model


def load_model(spec: str = "base", *, root: Path | str | None = None, cache: bool = True) -> Model:
    """The model `spec` names, as `--model=SPEC` would give it to a suite.

    `root` is the project (the directory of its pyproject.toml); by default the nearest one at or above the
    working directory. `cache=False` generates every answer afresh and stores nothing. Weights load on the
    first answer that is not cached. Bad specs raise the `UsageError` the command line would show."""
    from harness.models.resolve import ModelFactory
    from harness.models.spec import parse_spec

    project = Path(root).resolve() if root is not None else project_root(Path.cwd())
    config = HarnessConfig.load(project)
    generation_cache = GenerationCache.in_dir(config.cache_dir, enabled=cache)
    return ModelFactory(config, generation_cache).build(parse_spec(spec, config, cwd=Path.cwd()))


def project_root(start: Path) -> Path:
    """The nearest directory at or above `start` that holds a pyproject.toml; `start` when none does."""
    for directory in (start.resolve(), *start.resolve().parents):
        if (directory / "pyproject.toml").is_file():
            return directory
    return start.resolve()
