"""The real embedded SmolLM2: materialised once under concurrency, and one slice through the fixtures."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness.config import EMBEDDED_BASE_ID

pytestmark = pytest.mark.integration

MATERIALISE = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from harness.models.embedded import materialised_dir
    print(materialised_dir(sys.argv[1], Path(sys.argv[2])))
    """
)


def test_two_workers_materialise_once_and_never_see_a_half_written_dir(tmp_path: Path) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", MATERIALISE, EMBEDDED_BASE_ID, str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )  # fmt: skip
        for _ in range(2)
    ]
    outputs = [worker.communicate(timeout=300) for worker in workers]

    assert all(worker.returncode == 0 for worker in workers), outputs
    paths = {stdout.strip() for stdout, _ in outputs}
    assert len(paths) == 1
    assert sum("materialising" in stderr for _, stderr in outputs) == 1
    model_dir = Path(paths.pop())
    assert (model_dir / ".complete").is_file() and (model_dir / "model.safetensors").is_file()
    assert not list(model_dir.parent.glob(".staging-*"))


def test_base_model_answers_through_the_fixtures_and_reruns_from_cache(
    pytester: pytest.Pytester, fresh_cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HARNESS_CACHE", str(fresh_cache_dir))
    pytester.makepyfile(
        test_slice="""
        def test_base(model, pytestconfig):
            answers = model.generate(["What is the capital of France? Answer in one word.",
                                      [{"role": "user", "content": "Reply with the word yes."}]],
                                     max_new_tokens=12)
            assert "paris" in answers[0].text.lower()
            yes, no = model.score_choices(["Is Paris in France? Answer yes or no."], ["yes", "no"])[0]
            assert yes > no
            print("CACHED", [a.cached for a in answers])
        """
    )
    pytester.runpytest("-s", "--model=base").assert_outcomes(passed=1)
    rerun = pytester.runpytest("-s", "--model=base")
    rerun.assert_outcomes(passed=1)
    rerun.stdout.fnmatch_lines(["*CACHED [[]True, True[]]*"])
