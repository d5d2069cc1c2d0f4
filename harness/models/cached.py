"""`CachedModel`: the `Model` suites see. It asks the cache first and the backend only for misses.

The backend is touched lazily: a fully cached call computes the fingerprint (a stat per file) and reads
SQLite, and never loads weights or opens a connection to a server.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any

from harness.cache import GenerationCache, request_key
from harness.errors import ModelError
from harness.models.base import Backend, Completion, ProgressFactory, Prompt, PromptsTooLong, as_messages
from harness.progress import plain_progress

GENERATION_PARAMS = frozenset({"max_new_tokens", "temperature", "top_p", "seed"})


class CachedModel:
    """A backend behind the generation cache, with generation defaults from config."""

    def __init__(
        self,
        backend: Backend,
        cache: GenerationCache,
        defaults: Mapping[str, Any],
        progress: ProgressFactory = plain_progress,
    ) -> None:
        self.backend = backend
        self.cache = cache
        self.defaults = dict(defaults)
        self.progress = progress
        self.label = backend.label

    def __repr__(self) -> str:
        return f"<Model {self.label}>"

    @cached_property
    def _fingerprint(self) -> str:
        return self.backend.fingerprint()

    def fingerprint(self) -> str:
        return self._fingerprint

    def generate(self, prompts: Sequence[Prompt], **params: Any) -> list[Completion]:
        """Answer every prompt; identical requests are generated once and answers come back in order."""
        effective = self._effective_params(params)
        requests = [{"messages": as_messages(p), "params": effective} for p in prompts]
        keys = [request_key(self.fingerprint(), "generate", r) for r in requests]
        answers: dict[str, Completion] = {
            key: Completion.from_record(record, cached=True)
            for key, record in self.cache.get_many(list(dict.fromkeys(keys))).items()
        }
        missing = [key for key in dict.fromkeys(keys) if key not in answers]
        if missing:
            first_index = _first_index(keys)
            positions = [first_index[key] for key in missing]
            try:
                for i, completion in self.backend.generate([prompts[p] for p in positions], effective, self.progress):
                    key = missing[i]
                    self.cache.put(key, self.fingerprint(), "generate", requests[positions[i]], completion.to_record())
                    answers[key] = completion
            except ModelError as error:
                if error.index is None:
                    raise
                raise _named(error, prompts, positions) from None
        unanswered = [k for k in missing if k not in answers]
        if unanswered:
            raise ModelError(f"{self.label}: backend returned no answer for {len(unanswered)} prompt(s)")
        return [answers[key] for key in keys]

    def score_choices(self, prompts: Sequence[Prompt], choices: Sequence[str]) -> list[list[float]]:
        """Log-likelihood of each choice as the reply to each prompt; argmax is the model's pick."""
        requests = [{"messages": as_messages(p), "choices": list(choices)} for p in prompts]
        keys = [request_key(self.fingerprint(), "score", r) for r in requests]
        scores: dict[str, list[float]] = self.cache.get_many(list(dict.fromkeys(keys)))
        missing = [key for key in dict.fromkeys(keys) if key not in scores]
        if missing:
            first_index = _first_index(keys)
            with self.progress(len(missing), f"scoring {self.label}") as advance:
                for key in missing:
                    request = requests[first_index[key]]
                    scores[key] = self.backend.score_choices(prompts[first_index[key]], choices)
                    self.cache.put(key, self.fingerprint(), "score", request, scores[key])
                    advance(1)
        return [scores[key] for key in keys]

    def _effective_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(params) - GENERATION_PARAMS)
        if unknown:
            raise TypeError(f"unknown generation parameter(s) {unknown}; valid: {sorted(GENERATION_PARAMS)}")
        effective = {**self.defaults, **params}
        if effective.get("seed") is None:
            effective.pop("seed", None)
        return effective


def _named(error: ModelError, prompts: Sequence[Prompt], positions: Sequence[int]) -> ModelError:
    """The backend's error with its prompt(s) named as the caller knows them. A backend numbers only the
    prompts the cache could not answer, which is no number the caller can look up."""

    def name(i: int) -> str:
        return describe_prompt(prompts[positions[i]], positions[i])

    if isinstance(error, PromptsTooLong):
        return ModelError(error.describe(name), index=positions[error.over[0][0]])
    assert error.index is not None
    return ModelError(f"{error} [request #{error.index} is {name(error.index)}]", index=positions[error.index])


def describe_prompt(prompt: Prompt, position: int) -> str:
    """`golden/b77/cases.jsonl:17 (case 'b77-0042')` for a golden case's prompt; otherwise its position in
    the call and its first words."""
    from harness.golden import source_of

    if where := source_of(prompt):
        return where
    text = " ".join(as_messages(prompt)[-1]["content"].split()) if as_messages(prompt) else ""
    return f"prompt #{position} of this call ({text[:60] + ('…' if len(text) > 60 else '')!r})"


def _first_index(keys: Sequence[str]) -> dict[str, int]:
    """Position of each key's first occurrence: duplicates are answered from that one request."""
    first: dict[str, int] = {}
    for i, key in enumerate(keys):
        first.setdefault(key, i)
    return first
