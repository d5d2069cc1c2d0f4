"""MinHash LSH near-duplicate search: n-gram fingerprints → signatures → LSH candidates → true Jaccard.

Signatures use datasketch's own hash family (its default `affine32` scheme: a MurmurHash3 finaliser, then
`h * a + b mod 2^32` with datasketch's seeded `a`, `b`), computed for the whole corpus at once with numpy
instead of one `MinHash.update` per n-gram, so they equal what datasketch would compute and feed its
`MinHashLSH` as `LeanMinHash` objects. Bands × rows are set explicitly (default 14 × 8): letting
`threshold=` pick them loses recall just above the threshold. LSH only proposes candidates; each is
confirmed by the true Jaccard of the two n-gram sets, so a reported pair is never a false positive.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
from datasketch import LeanMinHash, MinHash, MinHashLSH

from harness.curation.text import WordHasher, ngram_hashes, normalise

_SCHEME = "affine32"
_EMPTY = np.uint32(0xFFFFFFFF)
_CHUNK_NGRAMS = 16_384  # n-grams per numpy block: 16k x 112 x 4 bytes = 7 MB of scratch
_FMIX32 = (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35), np.uint32(16))


@dataclass(frozen=True)
class MinHashParams:
    """How near is "near": word n-grams, Jaccard threshold, and the LSH banding that finds candidates."""

    bands: int = 14
    rows: int = 8
    threshold: float = 0.8
    ngram: int = 5
    seed: int = 1

    @property
    def num_perm(self) -> int:
        return self.bands * self.rows

    def candidate_probability(self, jaccard: float) -> float:
        """P(a pair with this Jaccard shares at least one band): the recall ceiling before confirmation."""
        return float(1 - (1 - jaccard**self.rows) ** self.bands)


@dataclass(frozen=True)
class Pair:
    """Two documents (by index) whose n-gram sets have true Jaccard `jaccard` >= the threshold."""

    first: int
    second: int
    jaccard: float


@dataclass
class Fingerprints:
    """Each document's hashed n-gram set (flat + offsets) and its MinHash signature row."""

    ngrams: np.ndarray
    offsets: np.ndarray
    signatures: np.ndarray
    _sets: dict[int, frozenset[int]] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def is_empty(self, i: int) -> bool:
        return bool(self.offsets[i] == self.offsets[i + 1])

    def ngram_set(self, i: int) -> frozenset[int]:
        if i not in self._sets:
            self._sets[i] = frozenset(self.ngrams[self.offsets[i] : self.offsets[i + 1]].tolist())
        return self._sets[i]

    def lean(self, i: int, seed: int) -> LeanMinHash:
        """Row i as the datasketch object its LSH takes (built from the precomputed signature)."""
        return LeanMinHash(seed=seed, hashvalues=self.signatures[i], scheme=_SCHEME)


def jaccard(a: frozenset[int], b: frozenset[int]) -> float:
    if not a and not b:
        return 0.0
    shared = len(a & b)
    return shared / (len(a) + len(b) - shared)


def fingerprint(texts: Sequence[str], params: MinHashParams, hasher: WordHasher | None = None) -> Fingerprints:
    """Normalise, split into words, hash word n-grams (shorter texts: one n-gram of all their words) and
    compute MinHash signatures for every text in one vectorised pass."""
    hasher = hasher or WordHasher()
    words = [hasher.hash_words(normalise(t).split()) for t in texts]
    flat, offsets = ngram_hashes(words, params.ngram, shorter=True)
    return Fingerprints(flat, offsets, signatures(flat, offsets, params.num_perm, params.seed))


def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's seeded affine parameters (a, b), taken from a MinHash so they match it exactly."""
    a, b = MinHash(num_perm=num_perm, seed=seed, scheme=_SCHEME).permutations
    return np.asarray(a, dtype=np.uint32), np.asarray(b, dtype=np.uint32)


def signatures(flat: np.ndarray, offsets: np.ndarray, num_perm: int, seed: int) -> np.ndarray:
    """Row d = min over doc d's n-gram hashes h of fmix32(h) * a + b (mod 2^32), per permutation; a doc
    without n-grams keeps datasketch's empty value. Processed in blocks of whole documents so scratch
    memory stays bounded."""
    a, b = permutations(num_perm, seed)
    n_docs = len(offsets) - 1
    out = np.full((n_docs, num_perm), _EMPTY, dtype=np.uint32)
    mixed = _fmix32(flat.astype(np.uint32, copy=False))
    nonempty = np.flatnonzero(np.diff(offsets) > 0)
    for docs in _blocks(nonempty, offsets):
        lo, hi = int(offsets[docs[0]]), int(offsets[docs[-1] + 1])
        permuted = mixed[lo:hi, None] * a[None, :] + b[None, :]  # uint32 arithmetic wraps: mod 2^32
        out[docs] = np.minimum.reduceat(permuted, offsets[docs] - lo, axis=0)
    return out


def _blocks(docs: np.ndarray, offsets: np.ndarray) -> Iterator[np.ndarray]:
    """Runs of consecutive non-empty docs holding about _CHUNK_NGRAMS n-grams each. An empty doc between
    two of them owns no n-grams, so a block's n-grams stay one contiguous slice of `flat`, as reduceat needs."""
    start = 0
    while start < len(docs):
        limit = offsets[docs[start]] + _CHUNK_NGRAMS
        end = max(start + 1, int(np.searchsorted(offsets[docs + 1], limit, side="right")))
        yield docs[start:end]
        start = end


def _fmix32(values: np.ndarray) -> np.ndarray:
    s1, m1, s2, m2, s3 = _FMIX32
    values = values ^ (values >> s1)
    values = values * m1
    values = values ^ (values >> s2)
    values = values * m2
    return values ^ (values >> s3)


def index(prints: Fingerprints, params: MinHashParams) -> MinHashLSH:
    """A datasketch LSH over every non-empty document (key = its index), filled in one insertion session."""
    lsh = MinHashLSH(num_perm=params.num_perm, params=(params.bands, params.rows))
    with lsh.insertion_session(buffer_size=max(1, len(prints))) as session:
        for i in range(len(prints)):
            if not prints.is_empty(i):
                session.insert(i, prints.lean(i, params.seed), check_duplication=False)
    return lsh


def near_duplicate_pairs(prints: Fingerprints, params: MinHashParams) -> list[Pair]:
    """Confirmed near-duplicate pairs (i < j) within one corpus: enough to build its clusters.

    Candidates come from the LSH buckets themselves (documents sharing a band), which is one pass over
    the index instead of one query per document. A candidate already in the same cluster as its partner
    is not re-confirmed: it could not change the clusters, and a bucket of many copies would otherwise
    cost a Jaccard per pair of copies."""
    lsh = index(prints, params)
    found = UnionFind(len(prints))
    pairs = []
    for i, j in sorted(_bucket_pairs(lsh)):
        if found.root(i) == found.root(j):
            continue
        score = jaccard(prints.ngram_set(i), prints.ngram_set(j))
        if score >= params.threshold:
            found.union(i, j)
            pairs.append(Pair(i, j, score))
    return pairs


def _bucket_pairs(lsh: MinHashLSH) -> set[tuple[int, int]]:
    pairs: set[tuple[int, int]] = set()
    for table in lsh.hashtables:
        for key, count in table.itemcounts().items():
            if count > 1:
                members = sorted(table.get(key))
                pairs.update((a, b) for n, a in enumerate(members) for b in members[n + 1 :])
    return pairs


def cross_matches(queries: Fingerprints, references: Fingerprints, params: MinHashParams) -> list[Pair]:
    """Pairs (query i, reference j) whose true Jaccard is >= the threshold, e.g. training rows vs golden."""
    lsh = index(references, params)
    pairs = []
    for i in range(len(queries)):
        if queries.is_empty(i):
            continue
        for j in lsh.query(queries.lean(i, params.seed)):
            score = jaccard(queries.ngram_set(i), references.ngram_set(j))
            if score >= params.threshold:
                pairs.append(Pair(i, j, score))
    return pairs


class UnionFind:
    """Clusters of documents; each cluster's representative is its smallest index (the earliest row)."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def root(self, i: int) -> int:
        parent = self.parent
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        a, b = self.root(i), self.root(j)
        if a != b:
            self.parent[max(a, b)] = min(a, b)


def clusters(n: int, pairs: Sequence[Pair]) -> np.ndarray:
    """Entry i is the representative (smallest index) of i's cluster under the pairs."""
    found = UnionFind(n)
    for pair in pairs:
        found.union(pair.first, pair.second)
    return np.array([found.root(i) for i in range(n)], dtype=np.int64)
