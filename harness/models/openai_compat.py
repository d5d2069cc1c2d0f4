"""`OpenAIBackend`: any OpenAI-compatible chat-completions server (OpenAI, vLLM, llama.cpp server).

Requests run concurrently in a thread pool and are yielded as they finish, so the cache keeps every
answer of a run that dies half-way. Retries are ours, not the client's (`max_retries=0`), so that the
backoff and the error a person finally reads are the harness's: what failed, how often it was tried,
and where the server was expected. The API key is read once from the environment and never leaves the
client: it is not in the label, the fingerprint, any error message, or anything cached.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, cast

import openai
from openai.types.chat import ChatCompletionMessageParam

from harness.config import OpenAISettings
from harness.errors import ModelError
from harness.models.base import Completion, Params, ProgressFactory, Prompt, as_messages
from harness.models.spec import OpenAISpec

PLACEHOLDER_KEY = "EMPTY"
"""Sent when the key variable is unset: local servers (vLLM, llama.cpp) accept any key."""

RETRYABLE_STATUS = frozenset({408, 409, 429})
"""Plus every 5xx: the server is busy, overloaded or restarting, so the same request may succeed later."""


class OpenAIBackend:
    """Chat completions against `spec.base_url`, `settings.concurrency` requests in flight at once."""

    def __init__(self, spec: OpenAISpec, settings: OpenAISettings) -> None:
        self.spec = spec
        self.settings = settings
        self.label = f"openai:{spec.model}@{spec.base_url}"
        self._key = os.environ.get(spec.key_env) or PLACEHOLDER_KEY
        self._client = openai.OpenAI(
            base_url=spec.base_url, api_key=self._key, timeout=settings.timeout_s, max_retries=0
        )

    def __repr__(self) -> str:
        return f"<OpenAIBackend {self.label}>"

    def fingerprint(self) -> str:
        """Hash of model name and URL only, without a network call, so a cached rerun never needs the server.

        A server that swaps weights under the same model name is therefore not detected: serve models
        under a name that changes with the weights (e.g. `banking77-v3`, a vLLM LoRA name per adapter)."""
        blob = json.dumps({"backend": "openai", "model": self.spec.model, "base_url": self.spec.base_url})
        return hashlib.sha256(blob.encode()).hexdigest()

    def generate(
        self, prompts: Sequence[Prompt], params: Params, progress: ProgressFactory
    ) -> Iterator[tuple[int, Completion]]:
        """Yield (index, completion) as requests finish. The first request that fails for good cancels
        the rest and raises ModelError; answers already yielded stay yielded (and cached)."""
        stop = threading.Event()
        pool = ThreadPoolExecutor(max_workers=max(1, self.settings.concurrency), thread_name_prefix="openai")
        try:
            with progress(len(prompts), f"generating {self.label}") as advance:
                pending: dict[Future[Completion], int] = {
                    pool.submit(self._request, i, prompt, params, stop): i for i, prompt in enumerate(prompts)
                }
                while pending:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in sorted(done, key=lambda f: f.exception() is not None):  # successes first
                        index = pending.pop(future)
                        yield index, future.result()  # raises the request's ModelError
                        advance(1)
        finally:
            stop.set()  # requests sleeping between retries give up instead of finishing the backoff
            pool.shutdown(wait=False, cancel_futures=True)

    def score_choices(self, prompt: Prompt, choices: Sequence[str]) -> list[float]:
        raise ModelError(
            f"{self.label}: score_choices is not available on an OpenAI-compatible server: chat completions "
            "do not expose the log-likelihood of an arbitrary continuation. Use model.generate with a "
            "label-matching metric (e.g. metrics.label_match) instead, or an hf:/peft: model for scoring."
        )

    def _request(self, index: int, prompt: Prompt, params: Params, stop: threading.Event) -> Completion:
        """One request with exponential backoff on transient failures; other failures raise at once.

        The raw body is read and checked here rather than by the client's parser, which hands back a
        plain string for an HTML page and fails with an AttributeError deep inside on other bodies."""
        attempts = self.settings.max_retries + 1
        for attempt in range(attempts):
            start = time.perf_counter()
            try:
                raw = self._client.chat.completions.with_raw_response.create(
                    model=self.spec.model, messages=_messages(prompt), **_request_params(params)
                )
            except openai.APIStatusError as exc:
                if not _retryable_status(exc.status_code):
                    raise ModelError(self._status_message(index, exc), index=index) from None
                failure = f"HTTP {exc.status_code} ({self._excerpt(exc.message)})"
            except openai.APIConnectionError as exc:  # APITimeoutError is a subclass; so is a body cut off mid-way
                failure = f"{type(exc).__name__} ({self._excerpt(str(exc.__cause__ or exc))})"
            else:
                return self._completion(index, raw.text, str(raw.url), time.perf_counter() - start)
            if attempt + 1 < attempts and stop.wait(self._backoff(attempt)):
                raise ModelError(f"{self.label}: request #{index} abandoned after another request failed", index=index)
        raise ModelError(
            f"{self.label}: request #{index} failed after {attempts} attempt(s), last error: {failure}. "
            f"Is the server running at {self.spec.base_url}? (retries and backoff: [tool.harness.openai])",
            index=index,
        ) from None

    def _backoff(self, attempt: int) -> float:
        delay = min(self.settings.backoff_s * 2.0**attempt, self.settings.backoff_max_s)
        return delay * random.uniform(1.0, 1.1)  # jitter: concurrent retries do not hit the server in step

    def _completion(self, index: int, body: str, url: str, latency_s: float) -> Completion:
        """The answer in a 200 response's body, or a ModelError that shows the body.

        A body that is not a chat completion (an HTML page from a proxy or a wrong URL, JSON cut off by the
        server, a legacy completions body) would come back the same on a retry, so it is not retried. An
        empty `content` is a real empty answer only when the server says why it stopped (finish_reason);
        without one the response is malformed and must not be cached as an answer."""
        try:
            choice, usage = _chat_choice(body)
        except _NotChat as exc:
            raise ModelError(
                f"{self.label}: request #{index} to {url} got HTTP 200 but {exc}; the body starts: "
                f"{self._excerpt(body, 200)!r}. Is this an OpenAI-compatible /v1/chat/completions endpoint? "
                "(check the base URL, usually ending in /v1; not retried: the server would answer the same way)",
                index=index,
            ) from None
        content, finish_reason = choice["message"].get("content"), choice.get("finish_reason")
        if content is None and not finish_reason:
            raise ModelError(
                f"{self.label}: request #{index} got a response with no content and no finish_reason "
                f"from {self.spec.base_url}; the server is not speaking the chat-completions format",
                index=index,
            )
        return Completion(
            text=content or "",
            prompt_tokens=_count(usage, "prompt_tokens"),
            completion_tokens=_count(usage, "completion_tokens"),
            latency_s=latency_s,
            finish_reason=finish_reason if isinstance(finish_reason, str) else None,
        )

    def _status_message(self, index: int, exc: openai.APIStatusError) -> str:
        status = exc.status_code
        hint = {
            401: f"check the API key in ${self.spec.key_env}",
            403: f"check the API key in ${self.spec.key_env} and its permissions",
            404: f"check the base URL (usually ending in /v1) and that the server serves {self.spec.model!r}",
        }.get(status, "fix the request or the server; retrying would not help")
        return (
            f"{self.label}: request #{index} rejected with HTTP {status} "
            f"({self._excerpt(exc.message)}), not retried: {hint}"
        )

    def _excerpt(self, text: str, limit: int = 300) -> str:
        """A server's error text, shortened, on one line and with the API key masked (servers may echo it)."""
        if self._key != PLACEHOLDER_KEY:
            text = text.replace(self._key, "***")
        text = " ".join(text.split())
        return text if len(text) <= limit else text[:limit] + "..."


def _request_params(params: Params) -> dict[str, Any]:
    """The harness's parameter names mapped to the chat-completions API's; absent ones are not sent."""
    names = {"max_new_tokens": "max_tokens", "temperature": "temperature", "top_p": "top_p", "seed": "seed"}
    return {api: params[ours] for ours, api in names.items() if params.get(ours) is not None}


def _messages(prompt: Prompt) -> list[ChatCompletionMessageParam]:
    """The prompt as chat turns; roles are passed through and checked by the server, not here."""
    return cast(list[ChatCompletionMessageParam], as_messages(prompt))


def _retryable_status(status: int) -> bool:
    return status in RETRYABLE_STATUS or status >= 500


class _NotChat(ModelError):
    """A 200 body that is not a chat completion; the message says what is wrong with it."""


def _chat_choice(body: str) -> tuple[dict[str, Any], Any]:
    """The first choice of a chat-completions body, and its `usage`; raises _NotChat saying what is off."""
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        page = " (an HTML page?)" if body.lstrip()[:1] == "<" else ""
        raise _NotChat(f"the body is not JSON{page}: {exc.msg} at character {exc.pos} of {len(body)}") from None
    if not isinstance(data, dict):
        raise _NotChat(f"the body is a JSON {type(data).__name__}, not an object")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise _NotChat("the body has no 'choices' list with an object in it")
    choice = choices[0]
    if not isinstance(choice.get("message"), dict):
        legacy = " (choices[0].text: a legacy /v1/completions body)" if "text" in choice else ""
        raise _NotChat(f"choices[0] has no 'message' object{legacy}")
    if not isinstance(choice["message"].get("content"), str | None):
        raise _NotChat(f"choices[0].message.content is {type(choice['message']['content']).__name__}, not text")
    return choice, data.get("usage")


def _count(usage: Any, name: str) -> int:
    """A token count from `usage`; servers that leave it out (or send null) count as 0."""
    value = usage.get(name) if isinstance(usage, dict) else None
    return value if isinstance(value, int) else 0
