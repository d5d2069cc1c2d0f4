"""`make demo-loop`'s traffic is unseen text, and its stand-in reviewer confirms only corrected rows."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest

from harness.golden import load_set
from harness.production import demo

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)


def test_traffic_holds_no_golden_case_and_no_out_of_scope_row_curation_reads(in_repo: None) -> None:
    traffic = demo._unseen_messages(random.Random(0))

    golden_texts = {case.messages[-1]["content"] for case in load_set(REPO / "golden", "banking77")}
    pool = [json.loads(line)["text"] for line in (REPO / demo.OOD_POOL).read_text().splitlines() if line]
    assert demo.ood_rows_read_by_curation() == 200  # training/configs/banking77.yaml: max_rows
    read_by_curation = set(pool[:200])
    texts = [text for text, _ in traffic]
    assert len(traffic) == sum(b + o for b, o in demo.WEEK_SIZES) == len(set(texts))
    assert not golden_texts & set(texts)
    assert not read_by_curation & set(texts)
    out_of_scope = [i for i, (_, label) in enumerate(traffic) if label == "out_of_scope"]
    week_1 = demo.WEEK_SIZES[0][0] + demo.WEEK_SIZES[0][1]
    assert len(out_of_scope) == sum(o for _, o in demo.WEEK_SIZES) and min(out_of_scope) >= week_1


def test_a_wrong_answer_carries_the_label_as_its_correction() -> None:
    assert demo._trace("where is my card", "card_arrival", "card_arrival", "base", 0).get("correction") is None
    wrong = demo._trace("where is my card", "card_arrival", "lost_or_stolen_card", "base", 3)
    assert wrong["correction"] == "card_arrival" and demo.EMAIL in wrong["text"]


def test_only_corrected_review_rows_are_confirmed(tmp_path: Path) -> None:
    review, confirmed = tmp_path / "review.csv", tmp_path / "confirmed.csv"
    fields = ["case_id", "input", "output", "expected", "verdict"]
    with review.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerow({"case_id": "t-1", "input": "my card?", "output": "x", "expected": "card_arrival"})
        writer.writerow({"case_id": "t-2", "input": "hello", "output": "y", "expected": ""})

    demo.confirm_corrections(review, confirmed)

    with confirmed.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(row["case_id"], row["verdict"]) for row in rows] == [("t-1", "add"), ("t-2", "skip")]
    assert list(rows[0]) == fields


def test_a_missing_candidate_stops_the_demo_before_any_generation(
    in_repo: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert demo.main(["--out", str(tmp_path), "--candidate", f"peft:{tmp_path / 'none'}"]) == 2

    error = capsys.readouterr().err
    assert f"{tmp_path / 'none'}: no adapter_config.json" in error and "run `make demo` first" in error
    assert not (tmp_path / "week1.jsonl").exists()
