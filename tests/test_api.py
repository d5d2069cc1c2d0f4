"""`harness.load_model`: the suites' model outside pytest, with their config, cache and fingerprints."""

from __future__ import annotations

from pathlib import Path

import pytest

import harness
from harness.models.spec import SpecError


@pytest.fixture
def project(tmp_path: Path, tiny_model_dir: Path, tiny_adapter_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("HARNESS_CACHE", raising=False)
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.harness]\ncache_dir = "cache"\n[tool.harness.models]\nbase = "hf:{tiny_model_dir}"\n'
        f'adapter = "peft:{tiny_adapter_dir}"\n[tool.harness.generation]\nmax_new_tokens = 4\n'
    )
    return tmp_path


def test_a_named_model_answers_and_a_second_load_is_served_from_the_cache(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)  # the project is found from the working directory
    first = harness.load_model("adapter")
    [answer] = first.generate(["where is my card?"])
    assert (project / "cache").is_dir()  # [tool.harness] cache_dir, resolved against the project

    again = harness.load_model("adapter", root=project)
    assert again.fingerprint() == first.fingerprint()
    assert again.generate(["where is my card?"])[0].text == answer.text
    assert not again.backend.weights.is_loaded  # type: ignore[attr-defined]  # the answer came from the cache
    assert harness.load_model("base", root=project).fingerprint() != first.fingerprint()


def test_without_the_cache_the_weights_load(project: Path) -> None:
    model = harness.load_model("base", root=project, cache=False)
    model.generate(["hello"])
    assert model.backend.weights.is_loaded  # type: ignore[attr-defined]


def test_a_bad_spec_is_the_usage_error_the_command_line_shows(project: Path) -> None:
    with pytest.raises(SpecError, match="not a configured name. Valid forms: .*adapter, base"):
        harness.load_model("adaptor", root=project)
