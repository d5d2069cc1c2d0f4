"""The product's suites, end to end on the real embedded SmolLM2, over a small slice of each golden set."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parent.parent


def run_suites(cache_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    paths = [a for a in args if a.startswith("suites/")] or ["suites/"]
    options = [a for a in args if not a.startswith("suites/")]
    command = [sys.executable, "-m", "pytest", *paths, "--golden-limit=6", "-p", "no:cacheprovider", *options]
    env = {**os.environ, "HARNESS_CACHE": str(cache_dir)}
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_suites_on_the_base_model_gate_report_and_rerun_from_cache(fresh_cache_dir: Path) -> None:
    first = run_suites(fresh_cache_dir, "--model=base")

    assert first.returncode == 1, first.stdout[-3000:] + first.stderr[-3000:]  # the base model fails the bar
    out = first.stdout
    assert "harness gates" in out
    assert re.search(r"banking77\.accuracy\s+0\.\d{3}\s+\[0\.\d{3}, \d\.\d{3}\]\s+>= 0\.85\s+FAIL", out)
    assert "banking77.prompted_baseline.accuracy" in out
    assert re.search(r"quantities\.valid_json\s+0\.\d{3}\s+\[", out)  # the second task's suite runs too
    assert "model and baseline are the same model" in out  # the regression suite skips, saying why
    run_dir = report_dir(out)
    try:
        results = json.loads((run_dir / "results.json").read_text())
        assert results["golden_limit"] == 6
        assert results["models"]["model"]["label"] == "hf:HuggingFaceTB/SmolLM2-135M-Instruct"
        accuracy = next(g for g in results["gates"] if g["name"] == "banking77.accuracy")
        assert len(accuracy["cases"]) == 6 and all(c["output"] is not None for c in accuracy["cases"])

        rerun = run_suites(fresh_cache_dir, "--model=base")
        shutil.rmtree(report_dir(rerun.stdout))
        assert rerun.returncode == 1
        assert _gate_lines(rerun.stdout) == _gate_lines(out)  # same answers, from the cache
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


def report_dir(output: str) -> Path:
    """The run dir this run wrote (reports/ is the user's; remove only what the test made)."""
    found = re.search(r"report: (\S+)/summary\.md", output)
    assert found, output[-3000:]
    return ROOT / found.group(1)


def _gate_lines(output: str) -> list[str]:
    section = output.split("harness gates", 1)[1]
    return [line for line in section.splitlines() if line.startswith(("banking77", "regression"))]


def test_regression_suite_passes_an_adapter_that_changes_nothing(fresh_cache_dir: Path, tmp_path: Path) -> None:
    """A LoRA adapter at its default initialisation (B = 0) answers exactly like its base: nothing is lost."""
    adapter = zero_lora_on_the_embedded_base(fresh_cache_dir, tmp_path / "zero-lora")

    run = run_suites(fresh_cache_dir, f"--model=peft:{adapter}", "--baseline=base", "suites/test_regression.py")
    run_dir = report_dir(run.stdout)
    shutil.rmtree(run_dir)

    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert re.search(r"regression\.no_forgetting\s+0\.000\s+\[0\.000, 0\.\d+\]\s+<= 0\.05\s+pass", run.stdout)


def zero_lora_on_the_embedded_base(cache_dir: Path, out: Path) -> Path:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from harness.config import EMBEDDED_BASE_ID
    from harness.models.embedded import materialised_dir

    base = AutoModelForCausalLM.from_pretrained(materialised_dir(EMBEDDED_BASE_ID, cache_dir))
    get_peft_model(base, LoraConfig(r=4, target_modules=["q_proj", "v_proj"])).save_pretrained(out)
    config_file = out / "adapter_config.json"
    config = json.loads(config_file.read_text())
    config["base_model_name_or_path"] = EMBEDDED_BASE_ID  # resolves offline through the wheel, on any machine
    config_file.write_text(json.dumps(config))
    return out
