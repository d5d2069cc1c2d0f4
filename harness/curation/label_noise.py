"""Stage 6, label-noise flags: rows whose given label a cheap classifier, trained without them, finds
unlikely (cleanlab's confident learning on out-of-sample probabilities).

The probabilities come from k-fold cross-validation (`cross_val_predict`), so every row is scored by a
model that never saw it: in-sample probabilities would simply agree with the labels. TF-IDF over words +
logistic regression is enough to find the obvious mislabels in seconds (5 folds over Banking77's 10k
rows: about 4 s, 88% out-of-fold accuracy). Flagged rows go to review.jsonl with the given label, the
suggested one and the classifier's confidence in the given label; they are dropped only when
`label_noise.drop` is true, because a flag is a question for a human, not a verdict.
"""

from __future__ import annotations

import warnings
from collections import Counter
from typing import Any

import numpy as np

from harness.curation.config import LabelNoiseConfig
from harness.curation.records import Example, StageOutput, reject


def flag(examples: list[Example], config: LabelNoiseConfig) -> StageOutput:
    """Flag (and, with drop, reject) likely mislabelled rows; classes smaller than `folds` are not checked."""
    counts = Counter(e.label for e in examples if e.label is not None)
    classes = sorted(label for label, n in counts.items() if n >= config.folds)
    unchecked = sorted(label for label, n in counts.items() if n < config.folds)
    checked = [i for i, e in enumerate(examples) if e.label in set(classes)]
    info = {"folds": config.folds, "classifier": f"tfidf(min_df={config.min_df}) + logistic regression (C={config.c})",
            "checked": len(checked), "classes_too_small": unchecked, "dropped": config.drop}  # fmt: skip
    if len(classes) < 2:
        return StageOutput(examples, [], {**info, "skipped": f"needs 2+ classes with >= {config.folds} rows"})
    texts = [examples[i].text for i in checked]
    labels = np.array([classes.index(examples[i].label) for i in checked])  # type: ignore[arg-type]
    try:
        probabilities = out_of_fold_probabilities(texts, labels, config)
    except ValueError as error:  # e.g. "no terms remain" on a tiny vocabulary: record why, flag nothing
        return StageOutput(examples, [], {**info, "skipped": f"classifier could not be fitted: {error}"})
    from cleanlab.filter import find_label_issues

    issues = find_label_issues(labels, probabilities, return_indices_ranked_by="self_confidence", n_jobs=1)
    review, dropped = [], set()
    for k in issues:
        example = examples[checked[k]]
        suggested = classes[int(probabilities[k].argmax())]
        confidence = float(probabilities[k, labels[k]])
        review.append({"id": example.id, "source": example.source, "text": example.text, "given_label": example.label,
                       "suggested_label": suggested, "self_confidence": round(confidence, 4),
                       "dropped": config.drop})  # fmt: skip
        if config.drop:
            dropped.add(checked[k])
    info.update(flagged=len(review), out_of_fold_accuracy=round(float((probabilities.argmax(1) == labels).mean()), 4))
    rejected = [reject("label_noise", examples[i], _reason(review, examples[i].id)) for i in sorted(dropped)]
    kept = [e for i, e in enumerate(examples) if i not in dropped]
    return StageOutput(kept, rejected, info, review)


def out_of_fold_probabilities(texts: list[str], labels: np.ndarray, config: LabelNoiseConfig) -> np.ndarray:
    """P(class | text) for every row from the fold that held it out (stratified, seeded)."""
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    folds = StratifiedKFold(n_splits=config.folds, shuffle=True, random_state=config.seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # tiny vocabularies in small test sets; the result stands
        probabilities = cross_val_predict(tfidf_classifier(config), texts, labels, cv=folds, method="predict_proba")
    return np.asarray(probabilities)


def tfidf_classifier(config: LabelNoiseConfig) -> Any:
    """An unfitted TF-IDF (words, sublinear tf) + logistic regression pipeline. One definition, so the
    classifier that flags label noise and the classical baseline the suites compare models with
    (harness.baselines) are the same model with the same settings."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(
        TfidfVectorizer(min_df=config.min_df, sublinear_tf=True), LogisticRegression(C=config.c, max_iter=1000)
    )


def _reason(review: list[dict[str, object]], example_id: str) -> str:
    entry = next(r for r in review if r["id"] == example_id)
    return (f"label noise: given {entry['given_label']!r}, a classifier that never saw this row suggests "
            f"{entry['suggested_label']!r} (confidence in the given label {entry['self_confidence']})")  # fmt: skip
