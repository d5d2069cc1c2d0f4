"""Drift: the MMD and label-shift permutation tests, the references they read, and `harness traces drift`.

The acceptance check plants drift with real data and real MiniLM embeddings: traces drawn from out-of-scope
questions (training/data/ood) against Banking77 training texts must be found at p < 0.01 for every one of
20 seeds, and traces drawn from Banking77 itself must raise at most one false alarm in those 20 seeds.
Embeddings are computed once per text (and kept in the harness cache dir across runs).
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest

from harness.baselines import embed_cached
from harness.cli import main
from harness.config import default_cache_dir
from harness.production.drift import OTHER, Reference, label_shift_test, load_reference, measure, mmd_test
from harness.production.traces import Trace, TraceError

ROOT = Path(__file__).resolve().parents[1]
BANKING = ROOT / "training" / "data" / "banking77" / "train.csv"
OOD = ROOT / "training" / "data" / "ood" / "train.jsonl"
SEEDS = range(20)


@pytest.fixture(scope="module")
def pools() -> tuple[list[tuple[str, str]], list[str], Callable[[Sequence[str]], np.ndarray]]:
    """400 Banking77 training rows (text, label), the 400 out-of-scope texts, and their MiniLM embeddings
    looked up per text (computed once, cached on disk under the harness cache dir)."""
    with BANKING.open(encoding="utf-8") as f:
        banking = [(row["text"], row["category"]) for row in csv.DictReader(f)]
    banking = random.Random(0).sample(banking, 400)
    ood = [json.loads(line)["text"] for line in OOD.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts = [text for text, _ in banking] + ood
    vectors = dict(zip(texts, embed_cached(texts, default_cache_dir()), strict=True))
    return banking, ood, lambda batch: np.stack([vectors[text] for text in batch])


def traces_of(texts: Sequence[str], outputs: Sequence[str]) -> list[Trace]:
    start = datetime(2025, 6, 2, tzinfo=UTC)
    return [Trace(f"t-{i}", start + timedelta(minutes=i), "3", [{"role": "user", "content": text}], output)
            for i, (text, output) in enumerate(zip(texts, outputs, strict=True))]  # fmt: skip


def test_planted_drift_is_found_and_the_training_distribution_raises_at_most_one_false_alarm(pools) -> None:
    banking, ood, embed = pools
    found, false_alarms = [], []
    for seed in SEEDS:
        rng = random.Random(seed)
        rows = rng.sample(banking, 260)
        reference = Reference([t for t, _ in rows[:200]], [label for _, label in rows[:200]], "banking77 train")
        same = traces_of([t for t, _ in rows[200:]], [label for _, label in rows[200:]])
        drifted = traces_of(rng.sample(ood, 60), ["out_of_scope"] * 60)
        found.append(measure(drifted, reference, embed, permutations=500, seed=seed).inputs.p_value)
        false_alarms.append(measure(same, reference, embed, permutations=500, seed=seed).inputs.p_value)
    assert all(p < 0.01 for p in found), found
    assert sum(p < 0.01 for p in false_alarms) <= 1, false_alarms
    assert np.median(false_alarms) > 0.2  # not merely under the bar: the null p-values spread out


def test_mmd_matches_the_unbiased_estimator_computed_pair_by_pair() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(7, 3)), rng.normal(0.5, 1.0, size=(9, 3))
    result = mmd_test(x, y, permutations=200, seed=3)
    z = np.vstack([x, y])
    sigma2 = np.median([np.sum((a - b) ** 2) for i, a in enumerate(z) for j, b in enumerate(z) if i != j])

    def k(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.exp(-np.sum((a - b) ** 2) / (2 * sigma2)))

    xx = sum(k(a, b) for i, a in enumerate(x) for j, b in enumerate(x) if i != j) / (7 * 6)
    yy = sum(k(a, b) for i, a in enumerate(y) for j, b in enumerate(y) if i != j) / (9 * 8)
    xy = sum(k(a, b) for a in x for b in y) / (7 * 9)
    assert result.statistic == pytest.approx(xx + yy - 2 * xy, rel=1e-9)
    assert result.bandwidth == pytest.approx(np.sqrt(sigma2))
    assert result == mmd_test(x, y, permutations=200, seed=3)  # seeded: the same p-value on a rerun

    # The p-value is the share of splits of the pooled 16 points into 7 and 9 whose MMD² reaches the observed
    # one: every one of the C(16, 7) = 11,440 splits, scored with the pair-by-pair kernel, against 4,000 random ones.
    gram = np.array([[k(a, b) if i != j else 0.0 for j, b in enumerate(z)] for i, a in enumerate(z)])

    def split_mmd(first: tuple[int, ...]) -> float:
        inside = np.zeros(16, dtype=bool)
        inside[list(first)] = True
        return float(gram[inside][:, inside].sum() / 42 + gram[~inside][:, ~inside].sum() / 72
                     - 2 * gram[inside][:, ~inside].sum() / 63)  # fmt: skip

    exact = np.mean([split_mmd(first) >= result.statistic - 1e-12 for first in combinations(range(16), 7)])
    assert 0.005 < exact < 0.1  # a case where the p-value is neither its floor nor 1
    assert mmd_test(x, y, permutations=4000, seed=3).p_value == pytest.approx(exact, abs=0.008)  # 4 standard errors


def test_mmd_p_value_bottoms_out_at_one_over_permutations_plus_one() -> None:
    rng = np.random.default_rng(1)
    far = mmd_test(rng.normal(size=(30, 4)), rng.normal(5.0, 1.0, size=(30, 4)), permutations=99)
    assert far.p_value == pytest.approx(1 / 100)
    with pytest.raises(TraceError, match="at least 2 points per sample, got 1 traces"):
        mmd_test(np.zeros((1, 4)), np.zeros((5, 4)))


def test_label_shift_is_the_total_variation_distance_with_outputs_off_the_list_as_one_category() -> None:
    result = label_shift_test(["a", "a", "b", "zzz"], ["a", "b", "b", "b"], permutations=200)
    assert result.statistic == pytest.approx(0.5 * (0.25 + 0.5 + 0.25))
    assert result.moves[0] == ("b", 0.25, 0.75)
    assert (OTHER, 0.25, 0.0) in result.moves

    rng = random.Random(0)
    labels = [f"intent_{i}" for i in range(20)]
    reference = [rng.choice(labels) for _ in range(300)]
    assert label_shift_test([rng.choice(labels) for _ in range(80)], reference).p_value >= 0.01
    assert label_shift_test([rng.choice(labels[:4]) for _ in range(80)], reference).p_value < 0.01


def test_references_golden_sets_curated_splits_and_raw_csv(tmp_path: Path) -> None:
    golden = load_reference("banking77", ROOT / "golden")
    assert len(golden.texts) == len(golden.labels or []) > 300 and "card_arrival" in (golden.labels or [])
    assert not golden.texts[0].startswith("Classify")  # the user's turn, not the system prompt

    raw = load_reference(str(BANKING), ROOT / "golden")
    assert raw.labels is not None and raw.labels[0] == "card_arrival"  # `category`, found without being named
    assert "labels from 'category'" in raw.description
    assert raw.sample(50, seed=0) == raw.sample(50, seed=0) and len(raw.sample(50, seed=0).texts) == 50

    split = tmp_path / "train.jsonl"
    split.write_text(json.dumps({"id": "a", "messages": [{"role": "system", "content": "Route."},
                                                         {"role": "user", "content": "top up?"}],
                                 "label": "top_up_failed"}) + "\n")  # fmt: skip
    curated = load_reference(str(split), ROOT / "golden")
    assert (curated.texts, curated.labels) == (["top up?"], ["top_up_failed"])

    unlabelled = tmp_path / "texts.csv"
    unlabelled.write_text("text\nhello\nbye\n")
    assert load_reference(str(unlabelled), ROOT / "golden").labels is None
    with pytest.raises(TraceError, match="nowhere: neither a file nor a golden set under"):
        load_reference("nowhere", ROOT / "golden")


def test_the_drift_command_exits_1_on_out_of_scope_traffic_and_0_on_banking_traffic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], pools
) -> None:
    banking, ood, _ = pools
    (tmp_path / "pyproject.toml").write_text("[tool.harness.production]\nmax_reference = 200\npermutations = 500\n")
    monkeypatch.chdir(tmp_path)
    start = datetime(2025, 6, 2, tzinfo=UTC)

    def export(name: str, texts: list[str], outputs: list[str]) -> str:
        rows = [{"text": text, "output": output, "model_version": "3",
                 "timestamp": (start + timedelta(minutes=i)).isoformat()}
                for i, (text, output) in enumerate(zip(texts, outputs, strict=True))]  # fmt: skip
        (tmp_path / name).write_text("".join(json.dumps(row) + "\n" for row in rows))
        return name

    assert main(["traces", "import", export("ood.jsonl", ood[:60], ["out_of_scope"] * 60), "--store", "ood"]) == 0
    rows = banking[-60:]
    inside = export("bank.jsonl", [t for t, _ in rows], [label for _, label in rows])
    assert main(["traces", "import", inside, "--store", "bank"]) == 0
    capsys.readouterr()

    code = main(["traces", "drift", "--store", "ood", "--reference", str(BANKING), "--json", "ood.json"])
    out = capsys.readouterr().out
    assert code == 1, out
    assert "inputs:    MMD² " in out and "60 traces vs 200 reference rows: DRIFT (p < alpha 0.01)" in out
    assert "labels:    total variation distance 1.000" in out and "(not a reference label): 100.0% of traces" in out
    record = json.loads((tmp_path / "ood.json").read_text())
    assert record["drifted"] is True and record["inputs"]["p_value"] < 0.01 and record["alpha"] == [0.01, 0.01]

    code = main(["traces", "drift", "--store", "bank", "--reference", str(BANKING)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.count("no evidence of drift (p >= alpha 0.01)") == 2
