"""Banking77 intent routing: the model must route frozen golden queries to the right intent.

Gates (bars in [tool.harness.gates], the only place they are written):
- banking77.accuracy: overall accuracy, judged on its 95% lower bound;
- banking77.macro_f1: macro-F1 over the 77 intents, bootstrap lower bound;
- banking77.recall_floor: no intent may fall below the per-class recall floor. With 5 cases per intent
  no slice can be *significantly* below a floor after Holm over 77 intents, so this floor is judged on
  the rate itself (point mode): an intent the model never gets right fails the gate;
- banking77.beats_prompted_baseline: the model must be significantly better (paired McNemar) than the
  baseline prompted with one training example per intent. That is the bar fine-tuning must clear.
- banking77.not_worse_than_classical: the model must not be significantly worse (paired McNemar) than a
  linear classifier fitted in seconds on the same curated training split: TF-IDF or MiniLM embeddings +
  logistic regression, whichever scores higher on these cases. A fine-tune that loses to it must not ship.

Measured, not gated: the baselines a team tries before it trains (harness.baselines), each with a paired
comparison in results.json's extras: both classical classifiers, and the `baseline` model given the
training rows most similar to each query as worked examples (retrieval-augmented few-shot). They need the
curated split (`harness curate --config training/configs/banking77.yaml`) and skip, saying so, without it.
"""

from pathlib import Path
from typing import NamedTuple

import pytest

from harness import baselines, gate, metrics, report
from harness.golden import load_file

FEW_SHOT = Path(__file__).parent.parent / "golden" / "banking77" / "fewshot.jsonl"  # frozen with the golden set
TRAINING_CONFIG = "training/configs/banking77.yaml"  # its curate.output_dir holds the split the baselines learn from
RETRIEVED_SHOTS = 4  # training rows per query for retrieval few-shot: chosen on the curated val split (docs/gates.md)


@pytest.fixture(scope="module")
def cases(golden):
    return golden("banking77")


@pytest.fixture(scope="module")
def routed(model, cases):
    """The model's answer to each golden query, and whether it names the expected intent."""
    answers = model.generate([case.prompt() for case in cases], **cases.generation)
    return answers, [metrics.label_match(answer, case.expected) for answer, case in zip(answers, cases, strict=True)]


def test_intent_accuracy(routed, cases):
    answers, correct = routed
    gate.at_least("banking77.accuracy", correct, cases=cases, outputs=answers)


def test_macro_f1(routed, cases):
    answers, _ = routed
    gate.macro_f1("banking77.macro_f1", answers, cases)


def test_no_intent_is_left_behind(routed, cases):
    answers, _ = routed
    gate.per_class_recall("banking77.recall_floor", answers, cases, mode="point")


def few_shot_prompt(case, shots):
    """The case's own system turn, then one solved training example per intent, then the query."""
    return baselines.with_examples(case.messages, [(s.input, s.expected) for s in shots])


def test_beats_the_prompted_baseline(routed, cases, baseline):
    answers, correct = routed
    shots = load_file(FEW_SHOT)
    prompted = baseline.generate([few_shot_prompt(case, shots) for case in cases], **cases.generation)
    prompted_correct = [metrics.label_match(a, case.expected) for a, case in zip(prompted, cases, strict=True)]
    gate.measure("banking77.prompted_baseline.accuracy", prompted_correct, cases=cases, outputs=prompted)
    gate.better_than("banking77.beats_prompted_baseline", correct, prompted_correct, cases=cases, outputs=answers,
                     reference_outputs=prompted)  # fmt: skip


# --- audit before spend: the cheap baselines -----------------------------------------------------------------


@pytest.fixture(scope="module")
def task_data(harness_config):
    """The curated training split named by the task's training config; skips, naming the command, without it."""
    try:
        return baselines.load_task_data(harness_config.root / TRAINING_CONFIG)
    except baselines.MissingSplit as missing:
        pytest.skip(str(missing))


@pytest.fixture(scope="module")
def embedder(harness_config, pytestconfig):
    """MiniLM embeddings, kept in the harness cache dir (none with --no-cache): ~7k rows cost a minute."""
    cache_dir = None if pytestconfig.getoption("--no-cache") else harness_config.cache_dir
    return baselines.Embedder(cache_dir)


@pytest.fixture(scope="module")
def queries(cases):
    return [case.messages[-1]["content"] for case in cases]


@pytest.fixture(scope="module")
def classical(task_data, embedder, cases, queries):
    """Both classical classifiers, fitted on the curated split, with their answers to the golden queries."""
    train = task_data.train
    fitted = [baselines.fit_tfidf(train, task_data.classifier), baselines.fit_minilm(train, embedder)]
    answers = [classifier.predict(queries) for classifier in fitted]
    return [Classified(c, predicted, right(predicted, cases)) for c, predicted in zip(fitted, answers, strict=True)]


class Classified(NamedTuple):
    classifier: baselines.Classifier
    predicted: list[str]
    correct: list[bool]


def right(answers, cases):
    return [metrics.label_match(answer, case.expected) for answer, case in zip(answers, cases, strict=True)]


def test_not_worse_than_the_classical_classifier(routed, cases, classical):
    answers, correct = routed
    for c in classical:
        gate.measure(f"banking77.classical_baseline.{c.classifier.name}.accuracy", c.correct, cases=cases,
                     outputs=c.predicted)  # fmt: skip
    # The stronger of the two on these cases: the bar is the best cheap classifier, so picking it can only
    # make the gate stricter. A tie keeps TF-IDF, the cheaper one.
    best = max(classical, key=lambda c: sum(c.correct))
    report.attach("banking77.classical_baseline", {
        "reference": best.classifier.name,
        "classifiers": {c.classifier.name: {"description": c.classifier.description,
                                            "accuracy": sum(c.correct) / len(c.correct),
                                            "fit_seconds": round(c.classifier.fit_seconds, 2)} for c in classical},
        "model_vs_reference": baselines.compare(correct, best.correct).to_record(),
    })  # fmt: skip
    gate.not_worse_than("banking77.not_worse_than_classical", correct, best.correct,
                        reference_name=f"{best.classifier.name} classifier", cases=cases, outputs=answers,
                        reference_outputs=best.predicted)  # fmt: skip


def test_retrieval_few_shot_baseline(routed, cases, queries, baseline, task_data, embedder):
    """The `baseline` model with the RETRIEVED_SHOTS nearest training rows as worked examples: measured and
    compared with the model, not gated (a fine-tune should beat it, but that is the audit's finding)."""
    answers, correct = routed
    nearest = baselines.nearest(embedder(task_data.train.texts), embedder(queries), RETRIEVED_SHOTS)
    prompts = baselines.retrieval_prompts([case.messages for case in cases], task_data.train, nearest)
    retrieved = baseline.generate(prompts, **cases.generation)
    retrieved_correct = right(retrieved, cases)
    report.attach("banking77.retrieval_baseline", {
        "k": RETRIEVED_SHOTS,
        "accuracy": sum(retrieved_correct) / len(cases),
        "generation_seconds": sum(a.latency_s for a in retrieved),  # what producing them cost, cached or not
        "mean_prompt_tokens": sum(a.prompt_tokens for a in retrieved) / len(cases),
        "model_vs_retrieval": baselines.compare(correct, retrieved_correct).to_record(),
    })  # fmt: skip
    gate.measure("banking77.retrieval_baseline.accuracy", retrieved_correct, cases=cases, outputs=retrieved)
