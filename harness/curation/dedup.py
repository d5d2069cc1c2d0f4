"""Stages 2 and 3: exact duplicates (same normalised text) and near-duplicates (MinHash LSH, confirmed
by the true Jaccard of word n-grams, default 5-grams; texts shorter than that are one n-gram of all
their words, so two short texts are near-duplicates only when they are equal once normalised).

The first row of each cluster is kept and the others are rejected with `duplicate_of` naming it. With
`near_dup.drop: false` every member is kept instead and marked with a shared `group`, which the split
keeps inside one split, so a near-copy of a training row can never land in the test split.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from harness.curation import minhash
from harness.curation.config import NearDupConfig
from harness.curation.records import Example, StageOutput, reject
from harness.curation.text import normalise


def exact(examples: list[Example]) -> StageOutput:
    """Keep the first row of each normalised text (casefolded, NFKC, punctuation and spacing ignored)."""
    first: dict[str, Example] = {}
    kept, rejected = [], []
    for example in examples:
        key = normalise(example.text)
        original = first.setdefault(key, example)
        if original is example:
            kept.append(example)
            continue
        conflict = f"; its label differs ({example.label!r} here, {original.label!r} kept)" if (
            example.label != original.label) else ""  # fmt: skip
        reason = f"exact duplicate (after normalising) of {original.id}{conflict}"
        rejected.append(reject("exact_dedup", example, reason, duplicate_of=original.source))
    return StageOutput(kept, rejected, {"label_conflicts": sum("label differs" in r.reason for r in rejected)})


def near(examples: list[Example], config: NearDupConfig) -> StageOutput:
    """Cluster near-duplicates; keep each cluster's first row (or all rows, grouped, when drop is false)."""
    params = config.params()
    prints = minhash.fingerprint([e.text for e in examples], params)
    pairs = minhash.near_duplicate_pairs(prints, params)
    roots = minhash.clusters(len(examples), pairs)
    clustered = roots != np.arange(len(roots))
    info = {
        "pairs": len(pairs), "clusters": len(set(roots[clustered].tolist())), "bands": params.bands,
        "rows": params.rows, "num_perm": params.num_perm, "ngram": params.ngram, "threshold": params.threshold,
        "lsh_recall_at_threshold": round(params.candidate_probability(params.threshold), 4),
    }  # fmt: skip
    if not config.drop:
        regroup(examples, [(p.first, p.second) for p in pairs])
        return StageOutput(examples, [], {**info, "dropped": False})
    match: dict[int, minhash.Pair] = {}  # a confirmed pair each clustered row is in, to cite in its reason
    for pair in pairs:
        match.setdefault(pair.second, pair)
        match.setdefault(pair.first, pair)
    kept, rejected = [], []
    for i, example in enumerate(examples):
        root = int(roots[i])
        if root == i:
            kept.append(example)
            continue
        pair = match[i]
        partner = examples[pair.first if pair.second == i else pair.second]
        reason = (f"near-duplicate: word {params.ngram}-gram Jaccard {pair.jaccard:.2f} with {partner.id}; "
                  f"its cluster keeps {examples[root].id}")  # fmt: skip
        rejected.append(reject("near_dup", example, reason, duplicate_of=examples[root].source,
                               jaccard=round(pair.jaccard, 4)))  # fmt: skip
    return StageOutput(kept, rejected, info)


def regroup(examples: list[Example], pairs: Sequence[tuple[int, int]]) -> None:
    """Merge the pairs into the examples' existing groups; a group is named by its first member's id."""
    found = minhash.UnionFind(len(examples))
    by_group: dict[str, int] = {}
    for i, example in enumerate(examples):
        if example.group is not None:
            found.union(i, by_group.setdefault(example.group, i))
    for a, b in pairs:
        found.union(a, b)
    roots = [found.root(i) for i in range(len(examples))]
    sizes: dict[int, int] = {}
    for root in roots:
        sizes[root] = sizes.get(root, 0) + 1
    for example, root in zip(examples, roots, strict=True):
        example.group = examples[root].id if sizes[root] > 1 else None
