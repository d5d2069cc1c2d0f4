"""Text normalisation and word n-gram hashing, shared by dedup, near-dup and leakage checks.

Every comparison between texts goes through `normalise`, so "Top-up?" in a training row and "top up" in a
golden case count as the same words. N-grams are hashed to 32-bit integers in bulk with numpy: hashing
each n-gram string in Python (datasketch's default) is what makes a naive MinHash loop slow.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence

import numpy as np

_NOT_WORD = re.compile(r"[^\w\s]+")
_MIX = np.uint64(0x9E3779B97F4A7C15)  # odd multiplier of the polynomial n-gram hash (golden ratio)
_FMIX1, _FMIX2 = np.uint64(0xFF51AFD7ED558CCD), np.uint64(0xC4CEB9FE1A85EC53)


def normalise(text: str) -> str:
    """Unicode NFKC, casefolded, punctuation and symbols replaced by spaces, whitespace collapsed.

    Replacing (not deleting) punctuation makes "top-up" equal "top up" and keeps "bad.This" two words."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_NOT_WORD.sub(" ", folded).split())


class WordHasher:
    """Stable 64-bit hashes of words (blake2b, so runs and processes agree; Python's `hash` is salted),
    memoised because a corpus repeats the same few thousand words."""

    def __init__(self) -> None:
        self._known: dict[str, int] = {}

    def hash_words(self, words: Sequence[str]) -> np.ndarray:
        known = self._known
        values = [known.get(w) for w in words]
        for i, value in enumerate(values):
            if value is None:
                word = words[i]
                value = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
                known[word] = value
                values[i] = value
        return np.array(values, dtype=np.uint64)


def ngram_hashes(
    word_hashes: Sequence[np.ndarray], n: int, *, shorter: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """32-bit hashes of every word n-gram of every document, flat, with offsets (doc d's n-grams are
    `flat[offsets[d]:offsets[d+1]]`).

    A document with fewer than `n` words yields one n-gram of all its words when `shorter` (so a 3-word
    query still has a fingerprint), none otherwise (13-gram leakage needs real 13-grams). Windows never
    cross documents. Vectorised over the whole corpus: one pass per distinct n-gram length."""
    lengths = np.array([len(w) for w in word_hashes], dtype=np.int64)
    flat_words = np.concatenate([np.zeros(0, np.uint64), *word_hashes])
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    sizes = np.minimum(lengths, n) if shorter else np.where(lengths >= n, n, 0)
    counts = np.where(sizes > 0, lengths - sizes + 1, 0)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    out = np.empty(int(offsets[-1]), dtype=np.uint32)
    for size in np.unique(sizes[sizes > 0]):
        docs = np.flatnonzero(sizes == size)
        positions = _concatenated_ranges(starts[docs], counts[docs])
        slots = _concatenated_ranges(offsets[docs], counts[docs])
        combined = np.full(positions.size, np.uint64(size), dtype=np.uint64)
        with np.errstate(over="ignore"):
            for j in range(int(size)):
                combined = combined * _MIX + flat_words[positions + j]
        out[slots] = _fmix64(combined) >> np.uint64(32)
    return out, offsets


def _concatenated_ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """concat(arange(s, s + c) for s, c in zip(starts, counts)), without a Python loop."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    shift = np.repeat(starts - (np.cumsum(counts) - counts), counts)
    return shift + np.arange(total, dtype=np.int64)


def _fmix64(values: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser: spreads the polynomial hash's bits before the top 32 are kept."""
    with np.errstate(over="ignore"):
        values = values ^ (values >> np.uint64(33))
        values = values * _FMIX1
        values = values ^ (values >> np.uint64(33))
        values = values * _FMIX2
        return values ^ (values >> np.uint64(33))
