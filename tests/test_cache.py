"""The generation cache: resume after kill -9, concurrent writers, invalidation, --no-cache."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from harness.cache import GenerationCache, request_key
from harness.models.base import ModelError
from harness.models.cached import CachedModel
from harness.progress import no_progress
from harness.testing import FakeModel

PARAMS = {"max_new_tokens": 8, "temperature": 0.0, "top_p": 1.0}
PROMPTS = [f"question {i}" for i in range(200)]

KILLED_RUN = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from harness.cache import GenerationCache
    from harness.models.cached import CachedModel
    from harness.progress import no_progress
    from harness.testing import FakeModel

    cache = GenerationCache(Path(sys.argv[1]))
    model = CachedModel(FakeModel(delay_s=0.02), cache, {PARAMS!r}, no_progress)
    model.generate({PROMPTS!r})
    """
).format(PARAMS=PARAMS, PROMPTS=PROMPTS)


def integrity(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def test_killed_run_resumes_without_redoing_finished_answers(tmp_path: Path) -> None:
    path = tmp_path / "generations.sqlite"
    run = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(path)], env={**os.environ, "PYTHONPATH": os.getcwd()})
    probe = GenerationCache(path)
    deadline = time.monotonic() + 60
    while (not path.exists() or probe.count() < 20) and time.monotonic() < deadline:
        time.sleep(0.05)
    run.send_signal(signal.SIGKILL)
    run.wait()

    kept = probe.count()
    assert 20 <= kept < len(PROMPTS)
    assert integrity(path) == "ok"
    backend = FakeModel()
    answers = CachedModel(backend, GenerationCache(path), PARAMS, no_progress).generate(PROMPTS)

    assert len(backend.generated) == len(PROMPTS) - kept  # only the unfinished ones
    assert [a.text for a in answers] == PROMPTS
    assert sum(a.cached for a in answers) == kept


def _write_many(path: str, worker: int, n: int) -> None:
    cache = GenerationCache(Path(path))
    for i in range(n):
        key = request_key("fp", "generate", {"worker": worker, "i": i})
        cache.put(key, "fp", "generate", {"worker": worker, "i": i}, {"text": f"{worker}-{i}"})
        cache.get_many([key])


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "generations.sqlite"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write_many, args=(str(path), w, 150)) for w in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0

    assert GenerationCache(path).count() == 600
    assert integrity(path) == "ok"


def test_new_fingerprint_never_serves_old_answers(cache: GenerationCache) -> None:
    CachedModel(FakeModel(version="1"), cache, PARAMS, no_progress).generate(["hello"])
    retrained = FakeModel(lambda m: "new answer", version="2")

    answer = CachedModel(retrained, cache, PARAMS, no_progress).generate(["hello"])[0]

    assert (answer.text, answer.cached) == ("new answer", False)


def test_disabled_cache_neither_reads_nor_writes(tmp_path: Path) -> None:
    path = tmp_path / "generations.sqlite"
    CachedModel(FakeModel(), GenerationCache(path), PARAMS, no_progress).generate(["a"])
    backend = FakeModel()

    answer = CachedModel(backend, GenerationCache(path, enabled=False), PARAMS, no_progress).generate(["a", "b"])

    assert len(backend.generated) == 2 and not any(a.cached for a in answer)
    assert GenerationCache(path).count() == 1


def test_a_failed_request_is_never_cached(cache: GenerationCache) -> None:
    model = CachedModel(FakeModel(fail_after=3), cache, PARAMS, no_progress)
    with pytest.raises(ModelError, match="failing on purpose"):
        model.generate([f"q{i}" for i in range(5)])
    assert cache.count() == 3  # the three finished answers are kept; nothing empty was stored


def test_file_digest_is_recomputed_when_the_file_changes(cache: GenerationCache, tmp_path: Path) -> None:
    weights = tmp_path / "adapter_model.safetensors"
    weights.write_bytes(b"one")
    first = cache.file_sha256(weights)
    assert cache.file_sha256(weights) == first
    weights.write_bytes(b"two, longer")
    assert cache.file_sha256(weights) != first


def test_score_choices_is_cached(cache: GenerationCache) -> None:
    backend = FakeModel(lambda m: "yes")
    model = CachedModel(backend, cache, PARAMS, no_progress)
    first = model.score_choices(["q1", "q2"], ["yes", "no"])
    second = model.score_choices(["q1", "q2"], ["yes", "no"])
    assert first == second == [[0.0, -1.0], [0.0, -1.0]]
    assert len(backend.scored) == 2
