"""The one interface every suite calls a model through, and the smaller one each backend implements.

Suites see a `Model`: batched `generate` and `score_choices`, already cached. Backends (HF weights, an
OpenAI-compatible server) only implement `Backend`, which knows nothing of the cache; `CachedModel` in
`cached.py` joins the two. Keeping the cache out of backends is what lets a fully cached rerun skip
loading weights altogether.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol, TypeAlias

from harness.errors import ModelError

Message: TypeAlias = Mapping[str, str]
"""One chat turn in OpenAI format: {"role": "user", "content": "..."}."""

Prompt: TypeAlias = str | Sequence[Message]
"""A conversation, or a plain string, which is sent as a single user turn."""

Params: TypeAlias = Mapping[str, Any]
"""Generation parameters: max_new_tokens, temperature, top_p, seed."""


@dataclass(frozen=True)
class Completion:
    """One generated answer. `str(completion)` is its text, so metrics take either."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    """Seconds spent producing this answer: per request on a server, batch time / batch size on HF."""
    finish_reason: str | None = None
    cached: bool = False

    def __str__(self) -> str:
        return self.text

    def to_record(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "latency_s": self.latency_s,
            "finish_reason": self.finish_reason,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any], *, cached: bool = False) -> Completion:
        return cls(**record, cached=cached)


ProgressFactory: TypeAlias = Callable[[int, str], AbstractContextManager[Callable[[int], None]]]
"""progress(total, description) -> context manager yielding advance(n). The plugin supplies one that
draws a bar past pytest's output capture; library callers get a plain tqdm bar."""


class Backend(Protocol):
    """What a model implementation provides. Called only for requests the cache does not hold."""

    label: str
    """How reports and errors name this model, e.g. "peft:runs/banking77/adapter"."""

    def fingerprint(self) -> str:
        """A hash of everything that decides the outputs (weights, adapter, tokenizer, chat template).

        Must not load the weights: a fully cached rerun calls this and nothing else."""
        ...

    def generate(
        self, prompts: Sequence[Prompt], params: Params, progress: ProgressFactory
    ) -> Iterator[tuple[int, Completion]]:
        """Yield (index into prompts, completion) as answers finish, in any order.

        Yielding as they finish lets the cache keep every answer of a run that is killed half-way."""
        ...

    def score_choices(self, prompt: Prompt, choices: Sequence[str]) -> list[float]:
        """Summed log-likelihood of each choice as the assistant's reply to prompt."""
        ...


class Model(Protocol):
    """The fixture interface suites use: `model` and `baseline` both satisfy it."""

    label: str

    def fingerprint(self) -> str: ...

    def generate(self, prompts: Sequence[Prompt], **params: Any) -> list[Completion]: ...

    def score_choices(self, prompts: Sequence[Prompt], choices: Sequence[str]) -> list[list[float]]: ...


class PromptsTooLong(ModelError):
    """Prompts that cannot fit the model's context. `over` holds (index into the backend's prompts, what is
    too long about it), `rule` the limit they break and the fix; `CachedModel` names the prompts."""

    def __init__(self, label: str, over: Sequence[tuple[int, str]], rule: str) -> None:
        self.label, self.over, self.rule = label, list(over), rule
        super().__init__(self.describe(lambda i: f"prompt #{i}"), index=self.over[0][0])

    def describe(self, name: Callable[[int], str], shown: int = 3) -> str:
        """The message, each prompt called by `name(index)`; the first `shown` are listed."""
        listed = "; ".join(f"{name(i)} {what}" for i, what in self.over[:shown])
        more = f" (and {len(self.over) - shown} more)" if len(self.over) > shown else ""
        return f"{self.label}: {len(self.over)} prompt(s) too long: {listed}{more}. {self.rule}"


def as_messages(prompt: Prompt) -> list[dict[str, str]]:
    """Normalise a prompt to a list of chat turns; a plain string becomes one user turn."""
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    return [{"role": str(turn["role"]), "content": str(turn["content"])} for turn in prompt]
