"""Stage 7, leakage: a training row that repeats a golden case would inflate every score the gates see.

Every golden set (`golden/*/cases.jsonl`, loaded and validated with harness.golden) is checked, not
just the task's own, and each of a case's user turns (or its `input`) counts. A row leaks when one of
its user turns
  - equals a golden text once normalised (casefold, NFKC, punctuation and spacing ignored), or
  - shares any word 13-gram with one (the contamination test of GPT-3 and its successors), or
  - is a near-duplicate of one (the same MinHash LSH and Jaccard threshold as near-dup dedup).
The rejection names the golden file and case id it leaks into. The data suites run the same finder on
the written splits, independently of what the pipeline recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.curation import minhash
from harness.curation.config import CurationError
from harness.curation.records import Example, StageOutput, project_path, reject
from harness.curation.text import WordHasher, ngram_hashes, normalise
from harness.golden import GoldenError, display_path, list_sets, load_set, set_path


@dataclass(frozen=True)
class GoldenText:
    file: str
    case_id: str
    text: str


@dataclass(frozen=True)
class Leak:
    kind: str  # exact | ngram | near_dup
    golden: GoldenText
    detail: str


def golden_texts(golden_dir: Path, root: Path | None = None) -> list[GoldenText]:
    """Each user turn (or input) of every case of every golden set under `golden_dir`."""
    texts: list[GoldenText] = []
    for name in list_sets(golden_dir):
        path = project_path(set_path(golden_dir, name), root)
        for case in load_set(golden_dir, name):
            turns = [m["content"] for m in case.messages if m["role"] == "user"] if case.messages else [case.input]
            texts.extend(GoldenText(path, case.id, t) for t in turns if t)
    return texts


class LeakFinder:
    """Indexes the golden texts once; `find` checks any number of rows against them."""

    def __init__(self, golden: Sequence[GoldenText], ngram: int = 13, near: minhash.MinHashParams | None = None):
        self.golden, self.ngram, self.near = list(golden), ngram, near
        self.hasher = WordHasher()
        self.exact: dict[str, GoldenText] = {}
        for g in reversed(self.golden):  # the first golden text wins on repeats
            self.exact[normalise(g.text)] = g
        grams, offsets = ngram_hashes(self._words([g.text for g in self.golden]), ngram, shorter=False)
        self.grams: dict[int, GoldenText] = {}
        for k in reversed(range(len(self.golden))):
            for value in grams[offsets[k] : offsets[k + 1]].tolist():
                self.grams[value] = self.golden[k]
        self.prints = minhash.fingerprint([g.text for g in self.golden], near, self.hasher) if near else None

    def _words(self, texts: Sequence[str]) -> list[np.ndarray]:
        return [self.hasher.hash_words(normalise(t).split()) for t in texts]

    def find(self, rows: Sequence[Sequence[str]]) -> dict[int, Leak]:
        """Row index -> its first leak (exact before n-gram before near-dup), for rows given as user turns."""
        owners = [i for i, turns in enumerate(rows) for _ in turns]
        texts = [t for turns in rows for t in turns]
        leaks: dict[int, Leak] = {}
        for owner, text in zip(owners, texts, strict=True):
            if owner not in leaks and (hit := self.exact.get(normalise(text))):
                leaks[owner] = Leak("exact", hit, "same text once normalised")
        grams, offsets = ngram_hashes(self._words(texts), self.ngram, shorter=False)
        for k, owner in enumerate(owners):
            if owner in leaks:
                continue
            for value in grams[offsets[k] : offsets[k + 1]].tolist():
                if hit := self.grams.get(value):
                    leaks[owner] = Leak("ngram", hit, f"shares a word {self.ngram}-gram")
                    break
        if self.near is not None and self.prints is not None and texts:
            queries = minhash.fingerprint(texts, self.near, self.hasher)
            for pair in sorted(minhash.cross_matches(queries, self.prints, self.near), key=lambda p: -p.jaccard):
                owner = owners[pair.first]
                if owner not in leaks:
                    detail = f"near-duplicate, word {self.near.ngram}-gram Jaccard {pair.jaccard:.2f}"
                    leaks[owner] = Leak("near_dup", self.golden[pair.second], detail)
        return leaks


def finder_for(
    golden_dir: Path, ngram: int, near: minhash.MinHashParams | None, root: Path | None = None
) -> LeakFinder:
    """A finder over every golden set under `golden_dir` (files recorded relative to `root`)."""
    try:
        return LeakFinder(golden_texts(golden_dir, root), ngram, near)
    except GoldenError as error:
        raise CurationError(f"golden sets under {display_path(golden_dir)} could not be loaded: {error}") from None


def remove(examples: list[Example], finder: LeakFinder) -> StageOutput:
    leaks = finder.find([e.user_turns() for e in examples])
    rejected = []
    for i, leak in sorted(leaks.items()):
        reason = f"leaks into {leak.golden.file} case {leak.golden.case_id}: {leak.detail}"
        rejected.append(reject("leakage", examples[i], reason, golden={"file": leak.golden.file,
                               "case_id": leak.golden.case_id, "kind": leak.kind}))  # fmt: skip
    kept = [e for i, e in enumerate(examples) if i not in leaks]
    by_kind: dict[str, int] = {}
    for leak in leaks.values():
        by_kind[leak.kind] = by_kind.get(leak.kind, 0) + 1
    info = {"golden_texts": len(finder.golden), "ngram": finder.ngram, "near_dup": finder.near is not None,
            "by_kind": by_kind}  # fmt: skip
    return StageOutput(kept, rejected, info)
