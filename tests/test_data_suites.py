"""`pytest suites/data --dataset=DIR` from outside (pytester): the real data suite on a dataset that the
real pipeline curated passes (exit 0), and each planted defect fails its gate (exit 1). Training refuses
to start on anything but exit 0, so these exit codes are the contract."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.curation import config as curation_config
from harness.curation import pipeline
from harness.golden.lock import freeze

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = {"toy-1": "Please close my account and delete all of my personal data for good.",
          "toy-2": "How much does a replacement card cost?"}  # fmt: skip
TOPICS = {
    "card_arrival": "my card {} has still not arrived in the post",
    "exchange_rate": "what exchange rate applies to {} payments abroad",
    "cancel_transfer": "please cancel the transfer {} that I sent by mistake",
    "pin_blocked": "my pin got blocked after {} wrong attempts at the cash machine",
}
NUMBERS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"]
GATES = """
[tool.harness.gates]
"data.no_leakage" = 1.0
"data.no_pii" = 1.0
"data.splits_disjoint" = 1.0
"data.min_examples" = 40
"data.min_per_class" = 5
"data.min_balance" = 0.1
"""


@pytest.fixture(scope="module")
def curated_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dataset curated by the real pipeline from 48 clean rows (4 intents x 12)."""
    from harness.config import default_cache_dir
    from harness.curation.pii import Redactor  # built once here, so in-process runs below reuse it

    Redactor(curation_config.PIIConfig(), default_cache_dir())
    root = tmp_path_factory.mktemp("curate")
    (root / "pyproject.toml").write_text('[project]\nname = "toy"\n')
    _write_golden(root)
    rows = [{"text": template.format(n), "label": label} for label, template in TOPICS.items() for n in NUMBERS]
    (root / "raw.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (root / "toy.yaml").write_text("task: toy\ncurate:\n  sources:\n    - path: raw.jsonl\n  output_dir: out\n"
                                   "  semantic:\n    enabled: false\n  label_noise:\n    enabled: false\n")  # fmt: skip
    result = pipeline.curate(curation_config.load(root / "toy.yaml"))
    assert sum(result.curation["splits"].values()) == 48, "the clean rows all survive curation"
    return result.output_dir


def _write_golden(root: Path) -> None:
    golden = root / "golden" / "toy"
    golden.mkdir(parents=True)
    lines = [json.dumps({"id": cid, "input": text, "expected": "x"}) for cid, text in GOLDEN.items()]
    (golden / "cases.jsonl").write_text("\n".join(lines) + "\n")


@pytest.fixture
def project(pytester: pytest.Pytester, curated_dir: Path) -> pytest.Pytester:
    return _project_with(pytester, curated_dir)


def _project_with(pytester: pytest.Pytester, dataset: Path) -> pytest.Pytester:
    """A project with the repo's data suite, a frozen golden set, data gate bars and a copy of `dataset`."""
    pytester.makepyprojecttoml(GATES)
    _write_golden(pytester.path)
    freeze(pytester.path / "golden", "toy golden set for the data suite tests")
    suites = pytester.path / "suites" / "data"
    suites.mkdir(parents=True)
    shutil.copy(ROOT / "suites" / "data" / "test_dataset.py", suites / "test_dataset.py")
    shutil.copytree(dataset, pytester.path / "data")
    return pytester


def add_row(project: pytest.Pytester, split: str, text: str, label: str, row_id: str) -> None:
    row = {"id": row_id, "messages": [{"role": "user", "content": text}, {"role": "assistant", "content": label}],
           "label": label}  # fmt: skip
    with (project.path / "data" / f"{split}.jsonl").open("a") as f:
        f.write(json.dumps(row) + "\n")


def run(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    return project.runpytest("suites/data", "-p", "no:cacheprovider", *args)


def test_a_clean_curated_dataset_passes_every_gate(project):
    result = run(project, "--dataset=data")
    result.assert_outcomes(passed=6)
    assert result.ret == 0
    results = json.loads(next((project.path / "reports").glob("*/results.json")).read_text())
    assert {g["name"] for g in results["gates"]} == {"data.no_leakage", "data.no_pii", "data.splits_disjoint",
                                                      "data.min_examples", "data.min_per_class", "data.min_balance"}


def test_a_leaked_golden_case_fails_the_leakage_gate(project):
    add_row(project, "val", GOLDEN["toy-2"].lower().rstrip("?"), "card_arrival", "sneaky.csv:7")
    result = run(project, "--dataset=data")
    assert result.ret == 1
    result.assert_outcomes(passed=5, failed=1)
    result.stdout.fnmatch_lines(["*_ test_no_golden_leakage _*", "*data.no_leakage 0.980 * < 1 *#val:sneaky.csv:7 0,*"])


def test_too_few_rows_of_a_class_fails(project):
    train = project.path / "data" / "train.jsonl"
    rows = [json.loads(line) for line in train.read_text().splitlines()]
    kept = [r for r in rows if r["label"] != "pin_blocked"] + [r for r in rows if r["label"] == "pin_blocked"][:2]
    train.write_text("".join(json.dumps(r) + "\n" for r in kept))
    result = run(project, "--dataset=data")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*_ test_enough_examples_per_class _*",
                                 "*data.min_per_class 2.000 * < 5 *#train:pin_blocked 2*"])  # fmt: skip


def test_pii_left_in_a_split_fails(project):
    add_row(project, "train", "my email is someone@example.com, is my card coming?", "card_arrival", "raw:99")
    result = run(project, "--dataset=data")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*_ test_no_pii_left _*", "*data.no_pii * < 1 *#train:raw:99 0,*"])


def test_a_row_in_two_splits_fails(project):
    first = (project.path / "data" / "train.jsonl").read_text().splitlines()[0]
    with (project.path / "data" / "test.jsonl").open("a") as f:
        f.write(first + "\n")
    result = run(project, "--dataset=data")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*_ test_splits_are_disjoint _*", "*data.splits_disjoint * < 1 *"])


def test_without_dataset_the_data_suites_skip(project):
    result = run(project, "-rs")
    result.assert_outcomes(skipped=6)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*no --dataset DIR given*"])


def test_a_dir_that_is_not_a_curated_dataset_is_a_usage_error(project):
    result = run(project, "--dataset=nowhere")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--dataset=nowhere: nowhere: no such directory*"])


ANSWERS = [("the tank holds {} litres", "litre"), ("we walked {} kilometres today", "kilometre"),
           ("the parcel weighs {} kilograms", "kilogram"), ("the film lasted {} minutes", "minute")]  # fmt: skip


@pytest.fixture(scope="module")
def extraction_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dataset of free-text answers (`answer_field`: JSON, as an extractor answers), curated by the real
    pipeline, plus one row whose answer is missing."""
    root = tmp_path_factory.mktemp("extract")
    (root / "pyproject.toml").write_text('[project]\nname = "toy"\n')
    _write_golden(root)
    rows = [{"text": template.format(n), "answer": json.dumps([{"value": n, "unit": unit}])}
            for template, unit in ANSWERS for n in range(3, 15)]  # fmt: skip
    rows.append({"text": "the bottle holds 2 litres"})
    (root / "raw.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (root / "toy.yaml").write_text("task: toy\ncurate:\n  sources:\n    - path: raw.jsonl\n      label_field: null\n"
                                   "      answer_field: answer\n  output_dir: out\n  semantic:\n    enabled: false\n"
                                   "  near_dup:\n    enabled: false\n")  # fmt: skip
    result = pipeline.curate(curation_config.load(root / "toy.yaml"))
    assert sum(result.curation["splits"].values()) == 48, "every row with an answer survives curation"
    rejected = [json.loads(line) for line in (result.output_dir / "rejected.jsonl").read_text().splitlines()]
    assert [(r["source"], r["reason"]) for r in rejected] == [
        ("raw.jsonl:49", "field 'answer' missing — every row needs its answer as text")]
    return result.output_dir


def test_free_text_answers_are_curated_as_chats_without_labels(extraction_dir):
    rows = [json.loads(line) for name in ("train", "val", "test")
            for line in (extraction_dir / f"{name}.jsonl").read_text().splitlines()]  # fmt: skip
    assert all(row["label"] is None for row in rows)
    first = next(row for row in rows if row["messages"][0]["content"] == "the tank holds 3 litres")
    assert json.loads(first["messages"][-1]["content"]) == [{"value": 3, "unit": "litre"}]


def test_a_dataset_of_free_text_answers_skips_the_class_gates_and_passes(pytester, extraction_dir):
    _project_with(pytester, extraction_dir)
    result = pytester.runpytest("suites/data", "-p", "no:cacheprovider", "--dataset=data", "-rs")
    result.assert_outcomes(passed=4, skipped=2)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*the answers are free text (answer_field), so there are no classes to count*"])


def test_a_source_with_both_a_label_and_an_answer_field_is_a_config_error(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "toy"\n')
    (tmp_path / "raw.jsonl").write_text("")
    (tmp_path / "toy.yaml").write_text("task: toy\ncurate:\n  sources:\n    - path: raw.jsonl\n"
                                       "      answer_field: answer\n")  # fmt: skip
    with pytest.raises(curation_config.CurationError,
                       match=r"toy.yaml:5: curate.sources\[0\].answer_field: .*set label_field: null"):  # fmt: skip
        curation_config.load(tmp_path / "toy.yaml")
