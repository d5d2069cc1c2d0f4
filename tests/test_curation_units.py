"""Curation building blocks: MinHash signatures equal datasketch's, near-dup search and its short-text
fallback, dedup idempotence and split properties (Hypothesis), group-aware splits, label-noise flags, and
the datasets-dir source."""

from __future__ import annotations

import random

import numpy as np
import pytest
from datasketch import MinHash
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.curation import dedup, label_noise, minhash, sources
from harness.curation.config import LabelNoiseConfig, NearDupConfig, SourceConfig, SplitConfig
from harness.curation.records import Example
from harness.curation.split import split
from harness.curation.text import WordHasher, ngram_hashes, normalise

WORDS = ["card", "transfer", "money", "rate", "pending", "account", "top", "up", "fee", "why", "my", "is", "the",
         "not", "arrived", "cash", "refund", "pin", "blocked", "app"]  # fmt: skip


def example(i: int, text: str, label: str | None = "a", group: str | None = None) -> Example:
    chat = [{"role": "user", "content": text}, {"role": "assistant", "content": label or "x"}]
    return Example(f"t.csv:{i}", f"t.csv:{i}", chat, label, {}, group)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.integers(0, 2**32 - 1), min_size=0, max_size=30), min_size=1, max_size=8),
       st.integers(1, 6), st.integers(0, 50))  # fmt: skip
def test_signatures_equal_datasketch(docs, bands, seed):
    """The vectorised signatures are datasketch's own MinHash (affine32 scheme) of the same hash values."""
    flat = np.array([h for doc in docs for h in doc], dtype=np.uint32)
    offsets = np.cumsum([0] + [len(doc) for doc in docs])
    ours = minhash.signatures(flat, offsets, bands * 4, seed)
    for doc, row in zip(docs, ours, strict=True):
        reference = MinHash(num_perm=bands * 4, seed=seed, hashfunc=lambda value: value)
        reference.update_batch(doc)
        assert np.array_equal(reference.hashvalues, row)


def test_ngrams_fall_back_to_the_whole_text_when_shorter():
    hasher = WordHasher()
    words = [hasher.hash_words(t.split()) for t in ["a b c d e f", "a b c", "", "a b c d e"]]
    flat, offsets = ngram_hashes(words, 5)
    assert np.diff(offsets).tolist() == [2, 1, 0, 1]
    strict, strict_offsets = ngram_hashes(words, 5, shorter=False)
    assert np.diff(strict_offsets).tolist() == [2, 0, 0, 1]
    assert flat[offsets[3]] == flat[offsets[0]], "the 5-gram 'a b c d e' hashes the same in both texts"


def test_normalise_ignores_case_punctuation_and_spacing():
    assert normalise("  Can I use Apple Pay to TOP-UP?\n") == normalise("can i use apple pay to top up")
    assert normalise("ｆｕｌｌ width") == "full width"  # NFKC


def test_near_duplicates_are_found_and_far_pairs_are_not():
    base = ("i ordered a new debit card three weeks ago and it still has not been delivered to my home address even "
            "though the app says it was shipped on monday and the courier claims it was left with a neighbour")
    texts = [base, base.replace("neighbour", "friend"), "completely different words about exchange rates and fees",
             base.replace("weeks ago and it still", "months ago but honestly it")]  # fmt: skip
    params = minhash.MinHashParams()
    prints = minhash.fingerprint(texts, params)
    pairs = minhash.near_duplicate_pairs(prints, params)
    assert [(p.first, p.second) for p in pairs] == [(0, 1)]
    truth = minhash.jaccard(prints.ngram_set(0), prints.ngram_set(1))
    assert pairs[0].jaccard == truth >= 0.8
    assert minhash.jaccard(prints.ngram_set(0), prints.ngram_set(3)) < 0.8


def corpus(draw_texts: list[list[int]]) -> list[Example]:
    return [example(i, " ".join(WORDS[w] for w in words)) for i, words in enumerate(draw_texts)]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(st.integers(0, len(WORDS) - 1), min_size=1, max_size=12), min_size=1, max_size=40),
       st.data())  # fmt: skip
def test_dedup_is_idempotent(texts, data):
    """dedup(dedup(x)) == dedup(x): with copies and near-copies planted, a second pass removes nothing."""
    for _ in range(data.draw(st.integers(0, 10))):  # plant exact and near copies of earlier texts
        source = data.draw(st.sampled_from(texts))
        texts = [*texts, source + data.draw(st.lists(st.integers(0, len(WORDS) - 1), max_size=1))]
    config = NearDupConfig(threshold=0.5)

    def once(examples: list[Example]) -> list[str]:
        kept = dedup.near(dedup.exact(examples).kept, config).kept
        return [e.id for e in kept]

    examples = corpus(texts)
    first = once(examples)
    survivors = [e for e in examples if e.id in set(first)]
    assert once(survivors) == first


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(10, 60), min_size=1, max_size=5), st.integers(0, 1000))
def test_splits_are_disjoint_and_stratified(class_sizes, seed):
    rows = [example(i, f"text {i}", f"c{c}") for i, (c, _) in
            enumerate((c, k) for c, size in enumerate(class_sizes) for k in range(size))]  # fmt: skip
    random.Random(seed).shuffle(rows)
    out = split(rows, SplitConfig(seed=seed))
    ids = [e.id for name in ("train", "val", "test") for e in out[name]]
    assert sorted(ids) == sorted(e.id for e in rows) and len(set(ids)) == len(ids), "a partition of the rows"
    for name, share in (("train", 0.8), ("val", 0.1), ("test", 0.1)):
        for c, size in enumerate(class_sizes):
            got = sum(e.label == f"c{c}" for e in out[name])
            assert abs(got - share * size) <= 2, f"{name}: class c{c} has {got} of {size} rows"


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(0, 7), min_size=30, max_size=80), st.integers(0, 1000))
def test_groups_stay_in_one_split(group_of, seed):
    group_of = [*group_of, *[7] * 10]  # at least 10 ungrouped rows: enough groups for 10 folds
    rows = [example(i, f"text {i}", f"c{i % 3}", f"g{g}" if g < 4 else None) for i, g in enumerate(group_of)]
    out = split(rows, SplitConfig(seed=seed))
    home: dict[str, set[str]] = {}
    for name, members in out.items():
        for e in members:
            if e.group:
                home.setdefault(e.group, set()).add(name)
    assert all(len(names) == 1 for names in home.values()), home


def test_kept_near_duplicates_share_a_group_and_a_split():
    base = "please tell me why the card payment i made yesterday in the shop is still showing as pending now"
    rows = [example(0, base)] + [example(i, f"filler text number {i} about something else") for i in range(1, 30)]
    rows.append(example(30, base + " again"))
    out = dedup.near(rows, NearDupConfig(drop=False))
    assert len(out.kept) == 31 and not out.rejected
    assert rows[0].group == rows[30].group == "t.csv:0"
    splits = split(out.kept, SplitConfig())
    assert [name for name, members in splits.items() if rows[0] in members] == \
        [name for name, members in splits.items() if rows[30] in members]  # fmt: skip


def test_label_noise_flags_flipped_labels_for_review_without_dropping():
    vocab = {"card": ["card", "arrive", "delivery", "post"], "fx": ["rate", "euro", "dollar", "exchange"],
             "pin": ["pin", "blocked", "code", "unlock"]}  # fmt: skip
    rnd = random.Random(0)
    rows = [example(k * 40 + i, " ".join(rnd.choices(words, k=6)), label)
            for k, (label, words) in enumerate(vocab.items()) for i in range(40)]  # fmt: skip
    flipped = {rows[3].id, rows[50].id, rows[95].id}
    for row in rows:
        if row.id in flipped:
            row.label = "fx" if row.label != "fx" else "pin"
    out = label_noise.flag(rows, LabelNoiseConfig(min_df=1))
    assert flipped <= {r["id"] for r in out.review}
    assert len(out.kept) == len(rows) and not out.rejected
    entry = next(r for r in out.review if r["id"] == rows[3].id)
    assert entry["given_label"] == "fx" and entry["suggested_label"] == "card" and entry["self_confidence"] < 0.5
    dropped = label_noise.flag(rows, LabelNoiseConfig(min_df=1, drop=True))
    assert flipped <= {r.source for r in dropped.rejected} and all(r.stage == "label_noise" for r in dropped.rejected)


def test_datasets_dir_source(tmp_path):
    from datasets import Dataset, DatasetDict

    DatasetDict({"train": Dataset.from_dict({"text": ["hello there", ""], "label": ["greet", "greet"]})}).save_to_disk(
        str(tmp_path / "ds"))  # fmt: skip
    rows = sources.read(tmp_path / "ds", SourceConfig(path="ds", split="train"), tmp_path)
    assert [(r.id, r.source, r.text, r.label) for r in rows] == [("ds:1", "ds:1", "hello there", "greet"),
                                                                  ("ds:2", "ds:2", "", "greet")]  # fmt: skip
    with pytest.raises(ValueError, match="split 'test' not found"):
        sources.read(tmp_path / "ds", SourceConfig(path="ds", split="test"))
