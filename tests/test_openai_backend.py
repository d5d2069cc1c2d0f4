"""The `openai:` backend against a real llama.cpp server serving the embedded SmolLM2 (no mocks).

The server requires an API key, so every passing test also proves the key is read from the environment
variable the spec names and sent; the tests that read the cache file prove it is never stored.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from harness.cache import GenerationCache
from harness.config import OpenAISettings
from harness.models.base import ModelError, Prompt
from harness.models.cached import CachedModel
from harness.models.embedded import smollm2_gguf
from harness.models.openai_compat import OpenAIBackend
from harness.models.spec import OpenAISpec
from harness.progress import no_progress
from tests.llama_server import MODEL_ALIAS, LlamaServer, free_port

pytestmark = pytest.mark.integration

KEY_ENV = "HARNESS_TEST_OPENAI_KEY"
KEY = "sk-harness-test-5f1c9e0a7b3d42e8"
PARAMS = {"max_new_tokens": 16, "temperature": 0.0, "top_p": 1.0}
FAST = OpenAISettings(concurrency=4, timeout_s=30.0, max_retries=2, backoff_s=0.01, backoff_max_s=0.05)
PROMPTS: list[Prompt] = [
    "What is the capital of France?",
    [{"role": "system", "content": "You answer in one word."}, {"role": "user", "content": "Name a colour."}],
    "Write a haiku about the sea.",
    [{"role": "user", "content": "What is 2 + 2?"}],
]


@pytest.fixture(scope="module")
def server() -> Iterator[LlamaServer]:
    with LlamaServer(smollm2_gguf(), api_key=KEY) as running:
        yield running


@pytest.fixture
def live(server: LlamaServer, monkeypatch: pytest.MonkeyPatch) -> LlamaServer:
    """The module's server, running (a test that stopped it may have failed before restarting it)."""
    monkeypatch.setenv(KEY_ENV, KEY)
    server.start()
    return server


def model_for(base_url: str, cache: GenerationCache, settings: OpenAISettings = FAST) -> CachedModel:
    backend = OpenAIBackend(OpenAISpec(MODEL_ALIAS, base_url, key_env=KEY_ENV), settings)
    return CachedModel(backend, cache, PARAMS, no_progress)


def uncached(tmp_path: Path) -> GenerationCache:
    return GenerationCache(tmp_path / "off.sqlite", enabled=False)


def test_generates_in_order_then_serves_reruns_from_cache_even_with_server_down(
    live: LlamaServer, tmp_path: Path
) -> None:
    model = model_for(live.base_url, GenerationCache(tmp_path / "c.sqlite"))
    answers = model.generate(PROMPTS)

    assert all(a.text.strip() and not a.cached for a in answers)
    assert all(a.prompt_tokens > 0 and a.completion_tokens > 0 and a.latency_s > 0 for a in answers)
    one_by_one = [model_for(live.base_url, uncached(tmp_path)).generate([p])[0].text for p in PROMPTS]
    assert [a.text for a in answers] == one_by_one  # index i answers prompt i, whatever finished first

    live.stop()
    rerun = model_for(live.base_url, GenerationCache(tmp_path / "c.sqlite")).generate(PROMPTS)
    assert [a.text for a in rerun] == [a.text for a in answers]
    assert all(a.cached for a in rerun)


def test_temperature_zero_is_deterministic(live: LlamaServer, tmp_path: Path) -> None:
    model = model_for(live.base_url, uncached(tmp_path))
    first, second = model.generate(PROMPTS[:1]), model.generate(PROMPTS[:1])
    assert first[0].text == second[0].text
    assert not second[0].cached


def test_concurrent_requests_match_sequential_ones(live: LlamaServer, tmp_path: Path) -> None:
    words = ["cat", "dog", "sun", "tree", "blue", "red", "go", "sky"]
    prompts = [f"Give one word that rhymes with {word}." for word in words]
    concurrent = model_for(live.base_url, uncached(tmp_path), replace(FAST, concurrency=4)).generate(prompts)
    sequential = model_for(live.base_url, uncached(tmp_path), replace(FAST, concurrency=1)).generate(prompts)
    assert len(concurrent) == len(prompts)
    assert [a.text for a in concurrent] == [a.text for a in sequential]


def test_retries_until_a_restarted_server_answers(live: LlamaServer, tmp_path: Path) -> None:
    patient = replace(FAST, max_retries=8, backoff_s=0.5, backoff_max_s=1.0)
    model = model_for(live.base_url, GenerationCache(tmp_path / "c.sqlite"), patient)
    live.stop()
    outcome: list[object] = []

    def call() -> None:
        try:
            outcome.append(model.generate(PROMPTS[:1]))
        except Exception as exc:  # handed to the main thread, which reports it
            outcome.append(exc)

    worker = threading.Thread(target=call)
    worker.start()
    time.sleep(1.5)
    assert worker.is_alive(), f"generate returned while the server was down: {outcome}"
    live.start()
    worker.join(timeout=60)
    assert outcome and isinstance(outcome[0], list), f"generate did not recover: {outcome}"
    assert outcome[0][0].text.strip()


def test_server_down_fails_fast_with_url_and_attempts_and_caches_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    base_url = f"http://127.0.0.1:{free_port()}/v1"
    cache = GenerationCache(tmp_path / "c.sqlite")
    start = time.monotonic()
    with pytest.raises(ModelError) as failure:
        model_for(base_url, cache).generate(PROMPTS)
    assert time.monotonic() - start < 5
    message = str(failure.value)
    assert base_url in message and "3 attempt(s)" in message and "Is the server running" in message
    assert cache.count() == 0
    assert KEY not in message


@pytest.mark.parametrize(
    ("path", "prompt", "status"),
    [
        ("/nope", "Hello", "HTTP 404"),  # llama.cpp answers unknown paths with FastAPI's 404
        ("/v1", "hello " * 3000, "HTTP 400"),  # past n_ctx: 400 context_length_exceeded
    ],
)
def test_client_errors_fail_at_once(live: LlamaServer, tmp_path: Path, path: str, prompt: str, status: str) -> None:
    slow_retries = replace(FAST, max_retries=5, backoff_s=5.0, backoff_max_s=5.0)
    model = model_for(f"http://127.0.0.1:{live.port}{path}", uncached(tmp_path), slow_retries)
    start = time.monotonic()
    with pytest.raises(ModelError, match=f"{status}.*not retried"):
        model.generate([prompt])
    assert time.monotonic() - start < 4, "a 4xx was retried"


def test_wrong_key_is_rejected_without_being_echoed(
    live: LlamaServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-wrong-key-0123456789")
    with pytest.raises(ModelError, match=f"HTTP 401.*{KEY_ENV}") as failure:
        model_for(live.base_url, uncached(tmp_path)).generate(PROMPTS[:1])
    assert "sk-wrong-key-0123456789" not in str(failure.value)


def test_answers_before_a_failure_stay_cached(live: LlamaServer, tmp_path: Path) -> None:
    cache = GenerationCache(tmp_path / "c.sqlite")
    model = model_for(live.base_url, cache, replace(FAST, concurrency=1))
    with pytest.raises(ModelError, match="HTTP 400"):
        model.generate([*PROMPTS[:2], "hello " * 3000])
    assert cache.count() == 2


def test_api_key_is_never_stored(live: LlamaServer, tmp_path: Path) -> None:
    cache = GenerationCache(tmp_path / "c.sqlite")
    model = model_for(live.base_url, cache)
    model.generate(PROMPTS[:2])
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("c.sqlite*"))
    assert cache.count() == 2 and KEY.encode() not in stored
    assert KEY not in model.label and KEY not in model.fingerprint() and KEY not in repr(model.backend)


def test_fingerprint_needs_no_server_and_names_model_and_url() -> None:
    spec = OpenAISpec(MODEL_ALIAS, f"http://127.0.0.1:{free_port()}/v1")
    backend = OpenAIBackend(spec, FAST)
    assert backend.fingerprint() == OpenAIBackend(spec, FAST).fingerprint()
    assert backend.fingerprint() != OpenAIBackend(replace(spec, model="other"), FAST).fingerprint()
    assert backend.label == f"openai:{MODEL_ALIAS}@{spec.base_url}"


def test_score_choices_explains_why_it_is_unavailable() -> None:
    backend = OpenAIBackend(OpenAISpec(MODEL_ALIAS, "http://127.0.0.1:1/v1"), FAST)
    with pytest.raises(ModelError, match="log-likelihood.*generate"):
        backend.score_choices("Is the sky blue?", ["yes", "no"])
