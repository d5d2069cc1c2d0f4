"""The cheap baselines (harness.baselines) on real Banking77 rows, the `gate.not_worse_than` gate, and the
Banking77 suite's baseline tests end to end (pytester, FakeModel routers, a small curated split).

The data is real and small: the first 40 training rows of six intents from training/data/banking77/train.csv,
and the 30 frozen golden cases of the same intents, so the classifiers here learn the actual task.
"""

from __future__ import annotations

import csv
import json
import shutil
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness import baselines, gates, metrics
from harness.baselines import LabelledRows, MissingSplit
from harness.curation.config import LabelNoiseConfig
from harness.curation.label_noise import tfidf_classifier
from harness.gates import GateFailure, GateResult, GateSettings
from harness.golden import GoldenCase, load_file
from harness.golden.lock import freeze

REPO = Path(__file__).resolve().parent.parent
GOLDEN = REPO / "golden" / "banking77" / "cases.jsonl"
INTENTS = ("card_arrival", "exchange_rate", "lost_or_stolen_card", "pin_blocked", "top_up_failed",
           "apple_pay_or_google_pay")  # fmt: skip
ROWS_PER_INTENT = 40
SETTINGS = LabelNoiseConfig(c=10.0, min_df=2)  # the Banking77 config's label_noise values


@pytest.fixture(scope="module")
def rows() -> LabelledRows:
    """The first ROWS_PER_INTENT real training rows of each intent in INTENTS."""
    kept: dict[str, list[str]] = {intent: [] for intent in INTENTS}
    path = REPO / "training" / "data" / "banking77" / "train.csv"
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            texts = kept.get(row["category"])
            if texts is not None and len(texts) < ROWS_PER_INTENT:
                texts.append(row["text"])
    pairs = [(text, intent) for intent in INTENTS for text in kept[intent]]
    return LabelledRows([t for t, _ in pairs], [label for _, label in pairs], path)


@pytest.fixture(scope="module")
def cases() -> list[GoldenCase]:
    """The frozen golden cases of the same intents (5 each)."""
    return [case for case in load_file(GOLDEN) if case.expected in INTENTS]


def query(case: GoldenCase) -> str:
    return case.messages[-1]["content"]


def accuracy(predicted: list[str], cases: list[GoldenCase]) -> float:
    return float(np.mean([metrics.label_match(p, c.expected) for p, c in zip(predicted, cases, strict=True)]))


# --- classical classifiers ------------------------------------------------------------------------------


def test_the_tfidf_baseline_is_curations_label_noise_classifier(rows: LabelledRows, cases: list[GoldenCase]) -> None:
    classifier = baselines.fit_tfidf(rows, SETTINGS)
    leaf = {k: v for k, v in classifier.model.get_params().items() if "__" in k}  # each step's settings
    unfitted = {k: v for k, v in tfidf_classifier(SETTINGS).get_params().items() if "__" in k}
    assert leaf == unfitted
    assert leaf["logisticregression__C"] == 10.0 and leaf["tfidfvectorizer__min_df"] == 2
    assert len(cases) == 30
    assert accuracy(classifier.predict([query(c) for c in cases]), cases) >= 0.8
    assert classifier.name == "tfidf" and "C=10" in classifier.description


def test_the_minilm_baseline_fits_on_the_embeddings_it_is_given(rows: LabelledRows, cases: list[GoldenCase]) -> None:
    seen: list[int] = []

    def embedder(texts: Any) -> np.ndarray:
        seen.append(len(texts))
        return metrics.embed(texts)

    classifier = baselines.fit_minilm(rows, embedder)
    assert seen == [len(rows.texts)]
    assert accuracy(classifier.predict([query(c) for c in cases]), cases) >= 0.8
    assert seen == [len(rows.texts), len(cases)]  # queries go through the same embedder


def test_fit_minilm_refuses_vectors_that_do_not_match_the_rows(rows: LabelledRows) -> None:
    with pytest.raises(ValueError, match=r"fit_minilm: 3 vectors for 240 rows of .*train\.csv"):
        baselines.fit_minilm(rows, lambda texts: np.zeros((3, 384), dtype=np.float32))


# --- the curated split, found through the training config -----------------------------------------------


def write_task(root: Path, rows: LabelledRows | None, c: float = 3.0) -> Path:
    """A training config at root/training/configs/banking77.yaml whose curated split (if `rows`) is written."""
    if not (root / "pyproject.toml").exists():  # the project root that config paths resolve against
        (root / "pyproject.toml").write_text("")
    (root / "raw.csv").write_text("text,category\n")
    config = root / "training" / "configs" / "banking77.yaml"
    config.parent.mkdir(parents=True)
    config.write_text(f"task: banking77\ncurate:\n  sources:\n    - path: raw.csv\n      label_field: category\n"
                      f"  output_dir: runs/banking77/data\n  label_noise:\n    c: {c}\n    min_df: 1\n")  # fmt: skip
    if rows is not None:
        data = root / "runs" / "banking77" / "data"
        data.mkdir(parents=True)
        lines = [json.dumps({"id": f"train.csv:{i}", "label": label, "messages": [
            {"role": "system", "content": "Route it."}, {"role": "user", "content": text},
            {"role": "assistant", "content": label}]})
            for i, (text, label) in enumerate(zip(rows.texts, rows.labels, strict=True))]  # fmt: skip
        (data / "train.jsonl").write_text("\n".join(lines) + "\n")
        (data / "curation.json").write_text("{}")
    return config


def test_the_split_and_classifier_settings_come_from_the_training_config(tmp_path: Path, rows: LabelledRows) -> None:
    data = baselines.load_task_data(write_task(tmp_path, rows))
    assert data.train.texts == rows.texts and data.train.labels == rows.labels
    assert data.train.source == tmp_path / "runs" / "banking77" / "data" / "train.jsonl"
    assert data.classifier.c == 3.0 and data.classifier.min_df == 1
    assert data.val is None


def test_a_missing_split_names_the_command_that_writes_it(tmp_path: Path) -> None:
    expected = r"runs/banking77/data holds no curated split.*run `harness curate --config .*banking77\.yaml` first"
    with pytest.raises(MissingSplit, match=expected):
        baselines.load_task_data(write_task(tmp_path, None))


# --- retrieval few-shot ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vectors(rows: LabelledRows, cases: list[GoldenCase]) -> tuple[np.ndarray, np.ndarray]:
    return metrics.embed(rows.texts), metrics.embed([query(c) for c in cases])


def test_nearest_puts_a_training_row_first_for_its_own_text(vectors: tuple[np.ndarray, np.ndarray]) -> None:
    train, _ = vectors
    picked = baselines.nearest(train, train[[7, 100]], k=3)
    assert picked.shape == (2, 3) and picked[:, 0].tolist() == [7, 100]
    similarity = train[[7]] @ train[picked[0]].T
    assert np.all(np.diff(similarity[0]) <= 1e-6)  # most similar first
    with pytest.raises(ValueError, match="k=0 must be between 1 and the 240 training rows"):
        baselines.nearest(train, train[:1], k=0)


def test_retrieved_rows_mostly_share_the_querys_intent(
    rows: LabelledRows, cases: list[GoldenCase], vectors: tuple[np.ndarray, np.ndarray]
) -> None:
    """The point of retrieval: the worked examples are about the query's intent."""
    train, golden = vectors
    nearest = baselines.nearest(train, golden, k=4)
    same = [rows.labels[i] == case.expected for case, picked in zip(cases, nearest, strict=True) for i in picked]
    assert np.mean(same) >= 0.8


def test_retrieval_prompts_keep_the_system_turn_first_and_the_best_example_next_to_the_query(
    rows: LabelledRows, cases: list[GoldenCase], vectors: tuple[np.ndarray, np.ndarray]
) -> None:
    train, golden = vectors
    nearest = baselines.nearest(train, golden, k=3)
    prompts = baselines.retrieval_prompts([c.messages for c in cases], rows, nearest)
    for prompt, case, picked in zip(prompts, cases, nearest, strict=True):
        assert [m["role"] for m in prompt] == ["system"] + ["user", "assistant"] * 3 + ["user"]
        assert prompt[0] == case.messages[0] and prompt[-1] == case.messages[-1]  # one shared system prefix
        assert prompt[-3:-1] == [{"role": "user", "content": rows.texts[picked[0]]},
                                 {"role": "assistant", "content": rows.labels[picked[0]]}]  # fmt: skip
        assert prompt[1]["content"] == rows.texts[picked[2]]
    assert len({p[0]["content"] for p in prompts}) == 1


def test_with_examples_needs_a_system_turn_to_share() -> None:
    with pytest.raises(ValueError, match=r"needs a case of \[system, \.\.\., user\] messages"):
        baselines.with_examples([{"role": "user", "content": "where is my card"}], [("card?", "card_arrival")])


def test_embeddings_are_cached_by_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = metrics.embed

    def counting(texts: Any) -> np.ndarray:
        calls.append(len(texts))
        return real(texts)

    monkeypatch.setattr(metrics, "embed", counting)
    first = baselines.embed_cached(["my card has not arrived", "exchange rate"], tmp_path)
    again = baselines.embed_cached(["my card has not arrived", "exchange rate"], tmp_path)
    assert calls == [2] and np.array_equal(first, again)
    assert len(list((tmp_path / "embeddings").glob("*.npy"))) == 1
    baselines.embed_cached(["my card has not arrived", "exchange rates"], tmp_path)  # one character differs
    assert calls == [2, 2]
    baselines.embed_cached(["my card has not arrived"], None)  # no cache dir: always embeds
    assert calls == [2, 2, 1] and len(list((tmp_path / "embeddings").glob("*.npy"))) == 2
    embedder = baselines.Embedder(None)  # --no-cache: nothing on disk, each list still embedded once per run
    assert np.array_equal(embedder(["card", "rate"]), embedder(["card", "rate"])) and calls == [2, 2, 1, 2]


def test_compare_counts_each_side_of_the_discordant_pairs() -> None:
    model = [True, True, False, False, True]
    base = [True, False, True, True, True]
    result = baselines.compare(model, base).to_record()
    assert result["model_only_correct"] == 1 and result["baseline_only_correct"] == 2
    assert result["model_accuracy"] == 0.6 and result["baseline_accuracy"] == 0.8
    assert result["p_model_worse"] == 0.5 and result["p_model_better"] == 0.875  # Binomial(3, 1/2) tails


# --- gate.not_worse_than --------------------------------------------------------------------------------


def lose(reference: list[bool], n_lost: int) -> list[bool]:
    """The reference's outcomes with its first `n_lost` passes turned into failures."""
    out, lost = list(reference), 0
    for i, ok in enumerate(out):
        if ok and lost < n_lost:
            out[i], lost = False, lost + 1
    return out


REFERENCE = [i % 5 != 0 for i in range(40)]  # 32/40 right


def test_a_model_equal_to_the_reference_passes_and_its_answers_are_recorded(recorded: list[GateResult]) -> None:
    result = gates.not_worse_than("x.not_worse", REFERENCE, REFERENCE, reference_name="tfidf classifier",
                                  outputs=[f"m{i}" for i in range(40)],
                                  reference_outputs=[f"r{i}" for i in range(40)])  # fmt: skip
    assert result.passed and result.kind == "not_worse_than" and result.value == 0.0
    assert result.details["p_worse"] == 1.0 and result.threshold == 0.05
    assert "x.not_worse: 32/40 vs tfidf classifier 32/40 (+0.000;" in result.message
    assert [(c.baseline_passed, c.baseline_output) for c in result.cases[:2]] == [(False, "r0"), (True, "r1")]
    assert recorded == [result]


def test_five_lost_cases_and_none_gained_fail_at_alpha_005(recorded: list[GateResult]) -> None:
    """0.5^5 = 0.031 < 0.05; the message gives the counts, the p-value and the lost cases."""
    with pytest.raises(GateFailure) as failure:
        gates.not_worse_than("x.not_worse", lose(REFERENCE, 5), REFERENCE, reference_name="tfidf classifier")
    message = str(failure.value)
    assert "27/40 vs tfidf classifier 32/40 (-0.125; tfidf classifier right and candidate wrong on 5 cases" in message
    assert "the reverse on 0); McNemar p(worse)=0.0312 < alpha 0.05; worst: #1, #2, #3, …" in message
    assert not recorded[0].passed and recorded[0].details["lost"] == 5


def test_four_lost_cases_are_not_evidence_and_alpha_comes_from_config(recorded: list[GateResult]) -> None:
    assert gates.not_worse_than("x.not_worse", lose(REFERENCE, 4), REFERENCE).passed  # 0.5^4 = 0.0625
    gates.configure(GateSettings(thresholds={"x.not_worse": 0.1}), recorded.append)
    with pytest.raises(GateFailure, match=r"p\(worse\)=0.0625 < alpha 0.1"):
        gates.not_worse_than("x.not_worse", lose(REFERENCE, 4), REFERENCE)


def test_not_worse_than_refuses_unpaired_outcomes(recorded: list[GateResult]) -> None:
    with pytest.raises(ValueError, match="gate 'x': 3 candidate vs 2 reference outcomes"):
        gates.not_worse_than("x", [True] * 3, [True] * 2)


# --- the Banking77 suite's baseline tests, end to end -----------------------------------------------------

CONFTEST = """
import json
from pathlib import Path

import pytest

from harness.cache import GenerationCache
from harness.models.cached import CachedModel
from harness.testing import FakeModel

ANSWERS = json.loads((Path(__file__).parent / "answers.json").read_text())
PARAMS = {"max_new_tokens": 20, "temperature": 0.0, "top_p": 1.0}


def last_example(messages):
    # answers with the label of the worked example next to the query (the most similar row): 1-NN
    return messages[-2]["content"] if len(messages) > 2 else "out_of_scope"


@pytest.fixture(scope="session")
def model(tmp_path_factory):
    cache = GenerationCache(tmp_path_factory.mktemp("m") / "g.sqlite", enabled=False)
    return CachedModel(FakeModel(lambda m: ANSWERS[m[-1]["content"]], label="fake:router"), cache, PARAMS)


@pytest.fixture(scope="session")
def baseline(tmp_path_factory):
    cache = GenerationCache(tmp_path_factory.mktemp("b") / "g.sqlite", enabled=False)
    return CachedModel(FakeModel(last_example, label="fake:nearest"), cache, PARAMS)
"""


@pytest.fixture
def suite_project(tiny_project, rows: LabelledRows, cases: list[GoldenCase]) -> pytest.Pytester:
    """The real Banking77 suite on the 30 golden cases of INTENTS, with a curated split of their rows."""
    pytester = tiny_project(shipped_bars(REPO / "suites" / "test_banking77.py"))  # the real bars, from the config
    golden = pytester.path / "golden" / "banking77"
    golden.mkdir(parents=True)
    (golden / "cases.jsonl").write_text("".join(case.to_json_line() + "\n" for case in cases))
    shutil.copy(REPO / "golden" / "banking77" / "generation.toml", golden)  # the suite asks as the set says
    freeze(pytester.path / "golden", "baselines suite test")
    write_task(pytester.path, rows, c=10.0)
    shutil.copy(REPO / "suites" / "test_banking77.py", pytester.path / "test_banking77.py")
    pytester.makeconftest(CONFTEST)
    return pytester


def shipped_bars(suite: Path) -> str:
    """The repo's [tool.harness.gates] bars of the gates `suite` declares, as a table for a pytester project."""
    from harness.gate_keys import declared

    table = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["harness"]["gates"]
    gates = declared([suite])
    return "[tool.harness.gates]\n" + "".join(f'"{k}" = {v}\n' for k, v in table.items() if gates.knows(k))


def classifier_answers(rows: LabelledRows, cases: list[GoldenCase]) -> list[str]:
    """The answers of the classifier the suite compares with: the stronger of the two on these cases."""
    fitted = [baselines.fit_tfidf(rows, LabelNoiseConfig(c=10.0, min_df=1)), baselines.fit_minilm(rows)]
    answers = [classifier.predict([query(c) for c in cases]) for classifier in fitted]
    return max(answers, key=lambda predicted: accuracy(predicted, cases))


def run_suite(project: pytest.Pytester, answers: list[str], cases: list[GoldenCase]) -> tuple[Any, dict[str, Any]]:
    (project.path / "answers.json").write_text(json.dumps({query(c): a for c, a in zip(cases, answers, strict=True)}))
    result = project.runpytest("-p", "no:cacheprovider", "-k", "classical or retrieval")
    [report] = (project.path / "reports").glob("*/results.json")
    data = json.loads(report.read_text())
    data["summary.md"] = (report.parent / "summary.md").read_text()
    data["report.html"] = (report.parent / "report.html").read_text()
    shutil.rmtree(project.path / "reports")
    return result, data


def test_the_suite_passes_a_router_that_answers_as_the_classifier_does(
    suite_project: pytest.Pytester, rows: LabelledRows, cases: list[GoldenCase]
) -> None:
    reference = classifier_answers(rows, cases)
    result, data = run_suite(suite_project, reference, cases)
    result.assert_outcomes(passed=2)
    gates_by_name = {g["name"]: g for g in data["gates"]}
    gate = gates_by_name["banking77.not_worse_than_classical"]
    assert gate["passed"] and gate["kind"] == "not_worse_than" and gate["details"]["p_worse"] == 1.0
    assert [c["baseline_output"] for c in gate["cases"]] == reference  # the classifier's answer for every case
    assert {"banking77.classical_baseline.tfidf.accuracy", "banking77.classical_baseline.minilm.accuracy",
            "banking77.retrieval_baseline.accuracy"} <= set(gates_by_name)  # fmt: skip
    extras = data["extras"]
    assert extras["banking77.classical_baseline"]["model_vs_reference"]["p_model_worse"] == 1.0
    assert set(extras["banking77.classical_baseline"]["classifiers"]) == {"tfidf", "minilm"}
    retrieval = extras["banking77.retrieval_baseline"]
    assert retrieval["k"] == 4 and retrieval["accuracy"] >= 0.8  # 1-NN over real retrieved rows
    assert gates_by_name["banking77.retrieval_baseline.accuracy"]["value"] == retrieval["accuracy"]


def test_the_suite_fails_a_router_clearly_worse_than_the_classifier(
    suite_project: pytest.Pytester, rows: LabelledRows, cases: list[GoldenCase]
) -> None:
    """Wrong wherever it can be (an intent one place down the list): McNemar sees only losses."""
    wrong = [INTENTS[(INTENTS.index(c.expected) + 1) % len(INTENTS)] for c in cases]
    result, data = run_suite(suite_project, wrong, cases)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*banking77.not_worse_than_classical: 0/30 vs * classifier *McNemar p(worse)=* < "
                                 "alpha 0.05; worst: #b77-*"])  # fmt: skip
    gate = next(g for g in data["gates"] if g["name"] == "banking77.not_worse_than_classical")
    assert not gate["passed"] and gate["details"]["lost"] >= 24
    # the reports show the bar as what it is (alpha for the p-value of "worse"), and the lost cases side by side
    assert "| banking77.not_worse_than_classical | -" in data["summary.md"]
    assert "| p >= 0.05 | FAIL |" in data["summary.md"]
    reference = gate["details"]["reference"]
    assert f"banking77.not_worse_than_classical [{reference}]" in data["report.html"]
    assert f"lost ({reference} passed, model failed)" in data["report.html"]


def test_the_baseline_tests_skip_naming_the_command_without_a_curated_split(
    suite_project: pytest.Pytester, cases: list[GoldenCase]
) -> None:
    shutil.rmtree(suite_project.path / "runs")
    (suite_project.path / "answers.json").write_text(json.dumps({query(c): c.expected for c in cases}))
    result = suite_project.runpytest("-p", "no:cacheprovider", "-k", "classical or retrieval", "-rs")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(
        ["*runs/banking77/data*run `harness curate --config *training/configs/banking77.yaml`*"]
    )
