"""Near-duplicate detection throughput and recall: the harness's vectorised MinHash LSH vs a plain
datasketch loop, on the same seeded corpus of 20,000 documents with planted near-duplicates.

    .venv/bin/python bench/dedup.py [--docs 20000] [--seed 0] [--repeats 3]

The corpus: documents of 30-80 words drawn from a seeded Zipf vocabulary (so common words repeat like
in real text), plus variants of some documents edited word by word until their word-5-gram Jaccard with
the original falls to a planted level (0.5-0.75: must not be flagged; 0.8-1.0: must be). Both sides do
the whole job end to end: normalise -> MinHash -> LSH -> candidates (the harness also confirms each by
true Jaccard) -> clusters. Reported: docs/s, recall on planted pairs with true Jaccard >= 0.8 (a pair is
found when both land in one cluster), precision of reported pairs. The plain loop (`MinHash(num_perm=128)`
updated word by word, `MinHashLSH(threshold=0.8)`) hashes words, not 5-grams, so its recall and precision
against 5-gram Jaccard are shown for reference only. Targets: >= 5,000 docs/s on 2 cores, recall >= 0.95.
The speed-up (plain loop time / harness time, higher is better) is printed last.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from datasketch import MinHash, MinHashLSH

from harness.curation import minhash
from harness.curation.text import normalise

ABOVE = (0.8, 0.85, 0.9, 0.95, 1.0)  # planted Jaccard levels that must be found
BELOW = (0.5, 0.6, 0.7, 0.75)  # planted levels that must not be
VARIANTS_PER_LEVEL = 400
VOCABULARY = 8_000


@dataclass(frozen=True)
class Corpus:
    texts: list[str]
    planted: list[tuple[int, int, float]]  # (original, variant, true 5-gram Jaccard)


def build_corpus(n_docs: int, seed: int) -> Corpus:
    """Originals first, then one variant per planted pair, each of a different original."""
    rng = np.random.default_rng(seed)
    vocabulary = [_pseudo_word(rng) for _ in range(VOCABULARY)]
    weights = 1.0 / np.arange(1, VOCABULARY + 1)  # Zipf: a few words are very common
    weights /= weights.sum()
    levels = [level for level in ABOVE + BELOW for _ in range(VARIANTS_PER_LEVEL)]
    n_originals = n_docs - len(levels)
    docs = [list(rng.choice(vocabulary, size=rng.integers(30, 81), p=weights)) for _ in range(n_originals)]
    texts = [_sentence(words) for words in docs]
    originals = iter(rng.permutation(n_originals).tolist())
    planted = []
    for level in levels:
        if level == 1.0:  # the same words, other case and punctuation: equal once normalised
            original = next(originals)
            planted.append((original, len(texts), 1.0))
            texts.append(texts[original].upper().replace(".", "!"))
            continue
        while (edited := _edit_to_level(docs[original := next(originals)], level, vocabulary, rng)) is None:
            pass  # too short to land in [level, level + 0.05) with whole-word edits: take another original
        planted.append((original, len(texts), edited[1]))
        texts.append(_sentence(edited[0]))
    return Corpus(texts, planted)


def _pseudo_word(rng: np.random.Generator) -> str:
    return "".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz"), size=rng.integers(2, 10)))


def _sentence(words: list[str]) -> str:
    return " ".join(words).capitalize() + "."


def _shingles(words: list[str], n: int = 5) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def _edit_to_level(
    words: list[str], level: float, vocabulary: list[str], rng: np.random.Generator
) -> tuple[list[str], float] | None:
    """Substitute words one at a time (of 8 random tries per step, the edit that lowers the 5-gram Jaccard
    most while staying >= level) until no try stays >= level. The result, if it lands in
    [level, level + 0.05) so that planted levels are what they say, else None."""
    original = _shingles(words)
    current, score = list(words), 1.0
    while True:
        best: tuple[list[str], float] | None = None
        for _ in range(8):
            trial = list(current)
            trial[int(rng.integers(len(trial)))] = vocabulary[int(rng.integers(len(vocabulary)))]
            shingles = _shingles(trial)
            trial_score = len(original & shingles) / len(original | shingles)
            if level <= trial_score < (best[1] if best else score):
                best = (trial, trial_score)
        if best is None:
            return (current, score) if score < level + 0.05 else None
        current, score = best


def harness_near_dups(texts: list[str]) -> tuple[np.ndarray, set[tuple[int, int]]]:
    params = minhash.MinHashParams()
    prints = minhash.fingerprint(texts, params)
    pairs = minhash.near_duplicate_pairs(prints, params)
    return minhash.clusters(len(texts), pairs), {(p.first, p.second) for p in pairs}


def plain_datasketch(texts: list[str]) -> tuple[np.ndarray, set[tuple[int, int]]]:
    """The reference: what the datasketch README suggests, with its defaults."""
    lsh = MinHashLSH(threshold=0.8, num_perm=128)
    sketches = []
    for i, text in enumerate(texts):
        sketch = MinHash(num_perm=128)
        for word in normalise(text).split():
            sketch.update(word.encode("utf-8"))
        lsh.insert(i, sketch)
        sketches.append(sketch)
    pairs = {(i, j) for i, sketch in enumerate(sketches) for j in lsh.query(sketch) if j > i}
    found = [minhash.Pair(i, j, 1.0) for i, j in sorted(pairs)]
    return minhash.clusters(len(texts), found), pairs


def score(corpus: Corpus, roots: np.ndarray, pairs: set[tuple[int, int]]) -> tuple[float, float, int]:
    """(recall on planted pairs with Jaccard >= 0.8, precision of reported pairs, positives)."""
    positives = [(a, b) for a, b, j in corpus.planted if j >= 0.8]
    recall = sum(roots[a] == roots[b] for a, b in positives) / len(positives)
    good = {(a, b) for a, b in positives}
    precision = len(pairs & good) / len(pairs) if pairs else 1.0
    return recall, precision, len(positives)


def _found_share(corpus: Corpus, roots: np.ndarray, level: float) -> float:
    """Share of the pairs planted at `level` (true Jaccard in [level, level + 0.05)) put in one cluster;
    below 0.8 that is the false-positive rate, which confirmation by true Jaccard keeps at 0."""
    pairs = [(a, b) for a, b, j in corpus.planted if level <= j < level + 0.05]
    return sum(roots[a] == roots[b] for a, b in pairs) / len(pairs)


def timed(run: Callable[[list[str]], tuple[np.ndarray, set[tuple[int, int]]]], texts: list[str], repeats: int):
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = run(texts)
        times.append(time.perf_counter() - started)
    assert result is not None
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per side; the median is reported")
    args = parser.parse_args()

    corpus = build_corpus(args.docs, args.seed)
    levels = np.array([j for _, _, j in corpus.planted])
    above, below = levels[levels >= 0.8], levels[levels < 0.8]
    print(f"corpus: {len(corpus.texts)} docs, {len(corpus.planted)} planted pairs ({above.size} with Jaccard >= 0.8, "
          f"{below.size} below; lowest positive {above.min():.3f}, highest negative {below.max():.3f})")  # fmt: skip
    harness_s, (roots, pairs) = timed(harness_near_dups, corpus.texts, args.repeats)
    recall, precision, positives = score(corpus, roots, pairs)
    params = minhash.MinHashParams()
    print(f"harness (word 5-grams, {params.bands}x{params.rows} bands, confirmed by Jaccard >= {params.threshold}): "
          f"{harness_s:.2f} s, {len(corpus.texts) / harness_s:,.0f} docs/s, recall {recall:.3f} "
          f"of {positives}, precision {precision:.3f}, {len(pairs)} pairs")  # fmt: skip
    print("  recall by planted level: " + ", ".join(
        f"{level:.2f} {_found_share(corpus, roots, level):.3f}" for level in ABOVE + BELOW))  # fmt: skip
    plain_s, (plain_roots, plain_pairs) = timed(plain_datasketch, corpus.texts, max(1, args.repeats // 2))
    plain_recall, plain_precision, _ = score(corpus, plain_roots, plain_pairs)
    print(f"plain datasketch loop (word unigrams, num_perm=128, threshold=0.8): {plain_s:.2f} s, "
          f"{len(corpus.texts) / plain_s:,.0f} docs/s, recall {plain_recall:.3f}, precision {plain_precision:.3f}, "
          f"{len(plain_pairs)} pairs")  # fmt: skip
    print(f"speed-up harness vs plain datasketch loop: {plain_s / harness_s:.1f}x (target: >= 5,000 docs/s)")


if __name__ == "__main__":
    main()
