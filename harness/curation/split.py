"""Stage 9, stratified split (80/10/10 by default), seeded, with duplicate clusters kept whole.

scikit-learn's StratifiedGroupKFold cuts the rows into k equal folds (k = 10 for 80/10/10) that keep each
label's share, never putting two rows of one group in different folds; whole folds then make up train,
val and test. Rows without a label (an extraction task's free-text answers, `answer_field`) are one class,
so they are split at random. Rows without a group are a group of their own; kept near-duplicates and paraphrases
(`drop: false`) share one, so no split ever holds a near-copy of another split's row.
"""

from __future__ import annotations

import warnings
from collections import Counter
from fractions import Fraction

import numpy as np

from harness.curation.config import CurationError, SplitConfig
from harness.curation.records import Example

SPLITS = ("train", "val", "test")


def folds_for(config: SplitConfig) -> tuple[int, dict[str, int]]:
    """The smallest k that expresses the fractions in whole folds, and each split's share of them."""
    fractions = {name: Fraction(getattr(config, name)).limit_denominator(100) for name in SPLITS}
    k = 1
    for fraction in fractions.values():
        k = k * fraction.denominator // np.gcd(k, fraction.denominator)
    return k, {name: int(fraction * k) for name, fraction in fractions.items()}


def split(examples: list[Example], config: SplitConfig) -> dict[str, list[Example]]:
    """Rows per split, each in input order."""
    k, shares = folds_for(config)
    groups = [e.group or f"row:{e.id}" for e in examples]
    if len(set(groups)) < k:
        raise CurationError(
            f"only {len(set(groups))} distinct rows/groups are left after curation, fewer than the {k} folds a "
            f"{config.train:g}/{config.val:g}/{config.test:g} split needs — add data or loosen the filters"
        )
    labels = [e.label or "" for e in examples]
    fold_of = _folds(labels, groups, k, config.seed)
    bounds = np.cumsum([shares[name] for name in SPLITS])
    names = [SPLITS[int(np.searchsorted(bounds, fold, side="right"))] for fold in fold_of]
    return {name: [e for e, n in zip(examples, names, strict=True) if n == name] for name in SPLITS}


def _folds(labels: list[str], groups: list[str], k: int, seed: int) -> np.ndarray:
    """Fold of each row: StratifiedGroupKFold, or, when every class is smaller than k (sklearn refuses
    then), groups dealt round-robin in (label, seeded shuffle) order, which spreads each class evenly."""
    from sklearn.model_selection import StratifiedGroupKFold

    fold_of = np.empty(len(labels), dtype=np.int64)
    if max(Counter(labels).values()) >= k:
        splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # classes smaller than k cannot be in every fold
            for fold, (_, members) in enumerate(splitter.split(np.zeros(len(labels)), labels, groups)):
                fold_of[members] = fold
        return fold_of
    first: dict[str, int] = {}
    for i, group in enumerate(groups):
        first.setdefault(group, i)
    order = np.random.default_rng(seed).permutation(len(first))
    ranked = sorted(zip(first, order, strict=True), key=lambda item: (labels[first[item[0]]], item[1]))
    fold_of_group = {group: position % k for position, (group, _) in enumerate(ranked)}
    return np.array([fold_of_group[g] for g in groups], dtype=np.int64)
