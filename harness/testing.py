"""Test doubles for the harness's own unit tests, shipped like httpx's MockTransport.

`FakeModel` is a `Backend` that answers from a function and counts what it was asked. Suites never use
it: they run against real models. It exists so the cache, gates and reports can be tested in
milliseconds and in isolation.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator, Sequence

from harness.errors import ModelError
from harness.models.base import Completion, Params, ProgressFactory, Prompt, as_messages


def echo_last_user_turn(messages: list[dict[str, str]]) -> str:
    return messages[-1]["content"]


class FakeModel:
    """A fake `Backend`: answer = respond(messages); optional delay per answer; may fail on demand."""

    def __init__(
        self,
        respond: Callable[[list[dict[str, str]]], str] = echo_last_user_turn,
        *,
        label: str = "fake:echo",
        version: str = "1",
        delay_s: float = 0.0,
        fail_after: int | None = None,
    ) -> None:
        self.respond = respond
        self.label = label
        self.version = version
        self.delay_s = delay_s
        self.fail_after = fail_after
        self.generated: list[list[dict[str, str]]] = []
        self.scored: list[list[dict[str, str]]] = []

    def fingerprint(self) -> str:
        return hashlib.sha256(f"{self.label}:{self.version}".encode()).hexdigest()

    def generate(
        self, prompts: Sequence[Prompt], params: Params, progress: ProgressFactory
    ) -> Iterator[tuple[int, Completion]]:
        with progress(len(prompts), f"generating {self.label}") as advance:
            for i, prompt in enumerate(prompts):
                if self.fail_after is not None and len(self.generated) >= self.fail_after:
                    raise ModelError(f"{self.label}: failing on purpose after {self.fail_after} answers")
                messages = as_messages(prompt)
                time.sleep(self.delay_s)
                self.generated.append(messages)
                text = self.respond(messages)
                yield i, Completion(text, len(str(messages).split()), len(text.split()), self.delay_s, "stop")
                advance(1)

    def score_choices(self, prompt: Prompt, choices: Sequence[str]) -> list[float]:
        """Score = -(edit-free) mismatch: the choice equal to respond(messages) gets 0, others -1."""
        messages = as_messages(prompt)
        self.scored.append(messages)
        answer = self.respond(messages)
        return [0.0 if choice == answer else -1.0 for choice in choices]
