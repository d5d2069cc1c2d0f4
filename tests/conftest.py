"""Shared fixtures for the harness's own tests: tiny in-process models and fresh caches."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness import gates
from harness.cache import GenerationCache
from harness.config import HarnessConfig, default_cache_dir
from harness.gates import GateResult, GateSettings
from tests.tiny_models import build_tiny_adapter, build_tiny_model

pytest_plugins = ["pytester"]


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def tiny_adapter_dir(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    return build_tiny_adapter(tiny_model_dir, tmp_path_factory.mktemp("tiny-lora"))


@pytest.fixture(scope="session", autouse=True)
def _import_the_model_stack_once(tiny_model_dir: Path, tiny_adapter_dir: Path, tmp_path_factory) -> None:
    """Load and run a peft model once per process, before any test. pytester's in-process runs restore
    sys.modules afterwards; torch and transformers modules first imported inside one would be imported
    again later, and torch cannot initialise twice in a process."""
    from harness.models.resolve import ModelFactory
    from harness.models.spec import PeftSpec
    from harness.progress import no_progress

    scratch = tmp_path_factory.mktemp("warm-up")
    cache = GenerationCache(scratch / "generations.sqlite", enabled=False)
    ModelFactory(HarnessConfig(root=scratch, cache_dir=scratch), cache, no_progress).build(
        PeftSpec(tiny_adapter_dir)
    ).generate(["warm up"], max_new_tokens=2)


@pytest.fixture
def cache(tmp_path: Path) -> GenerationCache:
    cache = GenerationCache(tmp_path / "cache" / "generations.sqlite")
    yield cache
    cache.close()


@pytest.fixture
def config(tmp_path: Path) -> HarnessConfig:
    return HarnessConfig(root=tmp_path, cache_dir=tmp_path / "cache")


@pytest.fixture(scope="session")
def shared_models_dir() -> Path:
    """Where the embedded SmolLM2 is materialised for all tests: the user's default cache, so it is
    written once per machine, not once per test."""
    path = default_cache_dir() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def fresh_cache_dir(tmp_path: Path, shared_models_dir: Path) -> Path:
    """An empty generation cache dir that reuses the already materialised embedded model."""
    cache_dir = tmp_path / "harness-cache"
    cache_dir.mkdir()
    os.symlink(shared_models_dir, cache_dir / "models")
    return cache_dir


@pytest.fixture
def tiny_project(
    pytester: pytest.Pytester, tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[[str], pytest.Pytester]:
    """make(extra_toml) -> a pytester project whose `base` is the tiny model, with its own cache dir."""
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "harness-cache"))

    def make(extra_toml: str = "") -> pytest.Pytester:
        base = f'[tool.harness.models]\nbase = "hf:{tiny_model_dir}"\n[tool.harness.generation]\nmax_new_tokens = 4\n'
        pytester.makepyprojecttoml(base + extra_toml)
        return pytester

    return make


@pytest.fixture(scope="session")
def _empty_registry_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MLflow sqlite store with its tables created. Creating them costs ~9 s of fsyncs, so tests copy it."""
    from harness.release.registry import quiet_mlflow

    db = tmp_path_factory.mktemp("registry-template") / "mlflow.db"
    with quiet_mlflow():
        from mlflow import MlflowClient

        MlflowClient(tracking_uri=f"sqlite:///{db}", registry_uri=f"sqlite:///{db}").search_registered_models()
    return db


@pytest.fixture
def registry_uri(tmp_path: Path, _empty_registry_db: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh, empty sqlite model registry in tmp_path; $MLFLOW_TRACKING_URI is cleared so it cannot leak in."""
    import shutil

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    db = tmp_path / "registry" / "mlflow.db"
    db.parent.mkdir()
    shutil.copy(_empty_registry_db, db)
    return f"sqlite:///{db}"


@pytest.fixture
def recorded() -> Iterator[list[GateResult]]:
    """Gate results recorded in-process (default settings), reset afterwards."""
    results: list[GateResult] = []
    gates.configure(GateSettings(), results.append)
    yield results
    gates.configure(GateSettings(), lambda result: None, "")
