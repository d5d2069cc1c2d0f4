"""Stage 7, leakage: a training row that repeats a golden case would inflate every score the gates see.

Every golden set (`golden/*/cases.jsonl`, loaded and validated with harness.golden) is checked, not
just the task's own, and each of a case's user turns (or its `input`) counts. A row leaks when one of
its user turns
  - equals a golden text once normalised (casefold, NFKC, punctuation and spacing ignored), or
  - shares any word 13-gram with one (the contamination test of GPT-3 and its successors), or
  - is a near-duplicate of one (the same MinHash LSH and Jaccard threshold as near-dup dedup).
The rejection names the golden file and case id it leaks into. The data suites run the same finder on
the written splits, independently of what the pipeline recorded.

The adversarial suite scores inputs it derives from golden cases (typos, casing, markup, long and empty
messages; harness.adversarial). Those are evaluation inputs too, so `probe_texts` rebuilds them with the
same public functions and seeds, and a row equal to one (or sharing a 13-gram, or a near-duplicate) leaks
into that probe. It builds every probe the generators can make from a set, every kind for every case, a
superset of the ones the suite's constants pick, so the check does not drift when those change.
A text with no words normalises to "": such texts match when both are blank (whitespace and invisible
characters only), or when their symbols are the same ("???" is not the empty message).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.adversarial import (
    CONTENT_FREE,
    KINDS,
    MARKUP_KINDS,
    RouterPrompt,
    long_input,
    perturb,
    seed_for,
    wrap_in_markup,
)
from harness.curation import minhash
from harness.curation.config import CurationError
from harness.curation.records import Example, Rejection, StageOutput, project_path, reject
from harness.curation.text import WordHasher, ngram_hashes, normalise
from harness.golden import GoldenCase, GoldenError, display_path, list_sets, load_set, set_path


@dataclass(frozen=True)
class GoldenText:
    file: str
    case_id: str
    text: str
    probe: str | None = None  # an adversarial probe's id (`b77-0003~typo`), made from case_id of file

    def where(self) -> str:
        if self.probe is None:
            return f"{self.file} case {self.case_id}"
        return f"adversarial probe {self.probe} (generated from {self.file})"


@dataclass(frozen=True)
class Leak:
    kind: str  # exact | ngram | near_dup
    golden: GoldenText
    detail: str

    def reason(self) -> str:
        return f"leaks into {self.golden.where()}: {self.detail}"

    def record(self) -> dict[str, str]:
        """What rejected.jsonl carries under "golden": file, case id, kind, and the probe id for a probe."""
        found = {"file": self.golden.file, "case_id": self.golden.case_id, "kind": self.kind}
        return found if self.golden.probe is None else {**found, "probe": self.golden.probe}


def golden_texts(golden_dir: Path, root: Path | None = None) -> list[GoldenText]:
    """Each user turn (or input) of every case of every golden set under `golden_dir`."""
    texts: list[GoldenText] = []
    for name in list_sets(golden_dir):
        path = project_path(set_path(golden_dir, name), root)
        for case in load_set(golden_dir, name):
            turns = [m["content"] for m in case.messages if m["role"] == "user"] if case.messages else [case.input]
            texts.extend(GoldenText(path, case.id, t) for t in turns if t)
    return texts


def router_sets(golden_dir: Path) -> list[str]:
    """The golden sets the adversarial generators can probe: chat cases under a label-router system turn."""
    return [name for name in list_sets(golden_dir) if _is_router(load_set(golden_dir, name))]


def _is_router(cases: Sequence[GoldenCase]) -> bool:
    messages = next((c.messages for c in cases if c.messages), None)
    if not messages or messages[0]["role"] != "system":
        return False
    try:
        RouterPrompt.parse(messages[0]["content"])
    except ValueError:
        return False
    return True


def probe_texts(golden_dir: Path, names: Sequence[str], root: Path | None = None) -> list[GoldenText]:
    """Every adversarial probe of the named sets' chat cases, built as suites/test_adversarial.py builds its
    own (same functions, seeds from `seed_for(case id, kind)`), plus the content-free messages once."""
    texts: list[GoldenText] = []
    for name in names:
        path = project_path(set_path(golden_dir, name), root)
        for case in load_set(golden_dir, name):
            if case.messages:  # the suite probes the last turn, the user's question
                made = _probes(case.id, str(case.messages[-1]["content"]))
                texts.extend(GoldenText(path, case.id, text, f"{case.id}~{how}") for how, text in made)
    if texts:
        texts.extend(GoldenText(texts[0].file, "", text, f"empty~{how}") for how, text in CONTENT_FREE.items())
    return texts


def _probes(case_id: str, query: str) -> list[tuple[str, str]]:
    """(how, text) of each probe of one case: each perturbation, long asked last and first, each markup."""
    made = [(kind, perturb(query, kind, seed_for(case_id, kind))) for kind in KINDS]
    seed = seed_for(case_id, "long")
    made += [("long", long_input(query, seed, question_first=first).text) for first in (False, True)]
    return made + [(kind, wrap_in_markup(query, kind)) for kind in MARKUP_KINDS]


def exact_key(text: str) -> str:
    """The key two texts must share to be the same text: normalised words; for a text without words, "blank"
    (whitespace and invisible characters only) or its symbols, so "???" does not equal the empty message."""
    if words := normalise(text):
        return words
    visible = "".join(ch for ch in unicodedata.normalize("NFKC", text) if not ch.isspace() and not _invisible(ch))
    return f"\x00symbols:{visible}" if visible else "\x00blank"


def _invisible(ch: str) -> bool:
    return unicodedata.category(ch) == "Cf"  # format characters: zero-width space and joiners, BOM


class LeakFinder:
    """Indexes the golden texts once; `find` checks any number of rows against them."""

    def __init__(self, golden: Sequence[GoldenText], ngram: int = 13, near: minhash.MinHashParams | None = None):
        self.golden, self.ngram, self.near = list(golden), ngram, near
        self.hasher = WordHasher()
        self.exact: dict[str, GoldenText] = {}
        for g in reversed(self.golden):  # the first golden text wins on repeats
            self.exact[exact_key(g.text)] = g
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
            if owner not in leaks and (hit := self.exact.get(exact_key(text))):
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
    golden_dir: Path,
    ngram: int,
    near: minhash.MinHashParams | None,
    root: Path | None = None,
    probes_from: Sequence[str] | None = (),
) -> LeakFinder:
    """A finder over every golden set under `golden_dir` (files recorded relative to `root`), and over the
    adversarial probes of the sets in `probes_from` (None: every label-router set; the default: none)."""
    try:
        texts = golden_texts(golden_dir, root)
        names = router_sets(golden_dir) if probes_from is None else probes_from
        return LeakFinder(texts + probe_texts(golden_dir, names, root), ngram, near)
    except GoldenError as error:
        raise CurationError(f"golden sets under {display_path(golden_dir)} could not be loaded: {error}") from None


def remove(examples: list[Example], finder: LeakFinder) -> StageOutput:
    leaks = finder.find([e.user_turns() for e in examples])
    kept = [e for i, e in enumerate(examples) if i not in leaks]
    by_kind: dict[str, int] = {}
    for leak in leaks.values():
        by_kind[leak.kind] = by_kind.get(leak.kind, 0) + 1
    probes = sum(g.probe is not None for g in finder.golden)
    info = {"golden_texts": len(finder.golden) - probes, "probe_texts": probes, "ngram": finder.ngram,
            "near_dup": finder.near is not None, "by_kind": by_kind,
            "into_probes": sum(leak.golden.probe is not None for leak in leaks.values())}  # fmt: skip
    return StageOutput(kept, rejections("leakage", examples, leaks), info)


def rejections(stage: str, examples: Sequence[Example], leaks: dict[int, Leak]) -> list[Rejection]:
    """One rejection per leaking row, naming the golden case or adversarial probe it leaks into."""
    return [reject(stage, examples[i], leak.reason(), golden=leak.record()) for i, leak in sorted(leaks.items())]
