"""`pytest suites/test_production.py --traces=DIR` from outside (pytester): the repo's production suite on a
trace store the real import wrote. Out-of-scope traffic fails the drift gates; traffic drawn from the
reference passes them; without --traces every test skips saying why, and a --traces that is no store stops
the run before any test.
"""

from __future__ import annotations

import csv
import json
import random
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from harness.cli import main
from harness.config import default_cache_dir

ROOT = Path(__file__).resolve().parents[1]
BANKING = ROOT / "training" / "data" / "banking77" / "train.csv"
OOD = ROOT / "training" / "data" / "ood" / "train.jsonl"
SHARED_CACHE = default_cache_dir()
"""Read before pytester points $HOME elsewhere: reference embeddings are computed once, there."""
CONFIG = """
[tool.harness.production]
max_reference = 200
permutations = 500

[tool.harness.gates]
"production.input_drift" = 0.01
"production.label_shift" = 0.01
"shadow.disagreement" = 0.05
"shadow.not_worse_on_corrections" = 0.05
"""


@pytest.fixture(scope="session")
def _presidio_loaded() -> None:
    """Presidio's analyzer built once, before pytester snapshots sys.modules: after a test, pytester drops the
    modules first imported during it, and spaCy's function registry cannot be loaded a second time."""
    from harness.curation.config import PIIConfig
    from harness.curation.pii import Redactor

    Redactor(PIIConfig(), SHARED_CACHE)


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, _presidio_loaded: None) -> pytest.Pytester:
    monkeypatch.setenv("HARNESS_CACHE", str(SHARED_CACHE))
    pytester.makepyprojecttoml(CONFIG)
    (pytester.path / "suites").mkdir()
    shutil.copy(ROOT / "suites" / "test_production.py", pytester.path / "suites" / "test_production.py")
    return pytester


def store(project: pytest.Pytester, name: str, rows: list[tuple[str, str]]) -> str:
    """Import (text, output) rows, one a minute, through `harness traces import`."""
    start = datetime(2025, 6, 2, tzinfo=UTC)
    export = project.path / f"{name}.jsonl"
    export.write_text("".join(json.dumps({"text": text, "output": output, "model_version": "3",
                                          "timestamp": (start + timedelta(minutes=i)).isoformat()}) + "\n"
                              for i, (text, output) in enumerate(rows)))  # fmt: skip
    assert main(["traces", "import", str(export), "--store", str(project.path / name)]) == 0
    return name


def run(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    return project.runpytest("suites", "-p", "no:cacheprovider", "-rs", *args)


def test_out_of_scope_traffic_fails_both_drift_gates(project: pytest.Pytester) -> None:
    ood = [json.loads(line)["text"] for line in OOD.read_text().splitlines() if line.strip()]
    name = store(project, "ood", [(text, "out_of_scope") for text in random.Random(0).sample(ood, 60)])
    result = run(project, f"--traces={name}", f"--drift-reference={BANKING}")
    result.assert_outcomes(failed=2, skipped=2)
    result.stdout.fnmatch_lines([
        "*production.input_drift: MMD² (MiniLM, RBF) statistic *, p=0.002 < alpha 0.01 (the samples differ)*",
        "*production.label_shift: total variation distance statistic 1, p=0.002 < alpha 0.01*",
        "*SKIPPED*no 'champion' in the model registry yet*",
    ])  # fmt: skip
    [run_dir] = (project.path / "reports").iterdir()
    gates = {g["name"]: g for g in json.loads((run_dir / "results.json").read_text())["gates"]}
    assert gates["production.input_drift"]["kind"] == "no_shift" and not gates["production.input_drift"]["passed"]
    assert gates["production.input_drift"]["details"]["n_traces"] == 60


def test_traffic_drawn_from_the_reference_passes_the_drift_gates(project: pytest.Pytester) -> None:
    with BANKING.open() as f:
        rows = [(row["text"], row["category"]) for row in csv.DictReader(f)]
    name = store(project, "bank", random.Random(1).sample(rows, 60))
    run(project, f"--traces={name}", f"--drift-reference={BANKING}").assert_outcomes(passed=2, skipped=2)


def test_without_traces_the_production_suite_skips_saying_why(project: pytest.Pytester) -> None:
    result = run(project)
    result.assert_outcomes(skipped=4)
    result.stdout.fnmatch_lines(["*no --traces DIR given: the production suite reads a trace store*"])


def test_traces_that_are_no_store_stop_the_run(project: pytest.Pytester) -> None:
    result = run(project, "--traces=nowhere")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--traces=nowhere: nowhere: no trace store here (traces.sqlite missing)*"])
