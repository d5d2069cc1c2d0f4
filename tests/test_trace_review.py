"""From traces to cases: `harness traces review` picks corrected, thumbs-down and least confident traces and
clusters them (real MiniLM embeddings); a person's `add` verdicts then go through the existing
`harness review import --propose` to golden proposals, or through `harness traces confirmed` to a training
source that curation's reader takes.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.curation.config import SourceConfig
from harness.curation.sources import read

LABELS = ["card_arrival", "exchange_rate", "top_up_failed", "lost_or_stolen_card"]


def row(i: int, text: str, output: str, **fields: Any) -> dict[str, Any]:
    when = datetime(2025, 6, 2, tzinfo=UTC) + timedelta(minutes=i)
    return {"id": f"r{i}", "text": text, "output": output, "model_version": "3", "timestamp": when.isoformat(),
            "confidence": 0.95, **fields}  # fmt: skip


TRACES = [
    row(0, "My new card still hasn't arrived, it's been two weeks", "card_linking", correction="card_arrival"),
    row(1, "Where is my card? It has not been delivered yet", "card_linking", correction="card_arrival"),
    row(2, "I ordered a card ages ago and it never came", "top_up_failed", feedback="down"),
    row(3, "What exchange rate do you use for euros?", "top_up_failed", feedback="down"),
    row(4, "How do you calculate the exchange rate for dollars?", "exchange_rate", confidence=0.21),
    row(5, "My top-up failed, why?", "top_up_failed"),  # confident, no feedback: not for review
    row(6, "Someone stole my wallet with my card", "lost_or_stolen_card", correction="lost_or_stolen_card"),  # agreed
    row(7, "Is my money safe with you?", "top_up_failed", confidence=0.4),
]


@pytest.fixture
def reviewed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Path:
    """The traces imported and exported for review (two least confident); returns the review.csv."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "week.jsonl").write_text("".join(json.dumps(r) + "\n" for r in TRACES))
    assert main(["traces", "import", "week.jsonl", "--store", "store"]) == 0
    capsys.readouterr()
    assert main(["traces", "review", "--store", "store", "--out", "review", "--least-confident", "2"]) == 0
    out = capsys.readouterr().out
    assert "6 selected for review in 3 cluster(s)" in out
    assert "then: harness review import review/review.csv --propose SET" in out
    return tmp_path / "review" / "review.csv"


def rows_of(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_review_selects_corrected_thumbs_down_and_least_confident_traces_clustered(reviewed: Path) -> None:
    rows = rows_of(reviewed)
    assert [r["case_id"] for r in rows] == ["r0", "r1", "r2", "r3", "r4", "r7"]  # not r5 (fine), not r6 (agreed)
    assert [r["why_selected"].split(";")[0] for r in rows] == ["cluster 1 (3 trace(s))"] * 3 + [
        "cluster 2 (2 trace(s))"] * 2 + ["cluster 3 (1 trace(s))"]  # fmt: skip
    assert rows[0]["why_selected"] == "cluster 1 (3 trace(s)); corrected: 'card_linking' -> 'card_arrival'"
    assert rows[2]["why_selected"].endswith("; thumbs down")
    assert rows[4]["why_selected"].endswith("; confidence 0.21, among the 2 least confident")
    assert (rows[0]["expected"], rows[2]["expected"]) == ("card_arrival", "")  # the user's correction, to confirm
    assert {r["run"] for r in rows} == {"traces:store"} and {r["verdict"] for r in rows} == {""}
    assert "I ordered a card ages ago and it never came" in (reviewed.parent / "review.html").read_text()


def fill(path: Path, verdicts: dict[str, tuple[str, str]]) -> None:
    """A reviewer's edits: case id -> (verdict, expected)."""
    rows = rows_of(path)
    for r in rows:
        if r["case_id"] in verdicts:
            r["verdict"], r["expected"] = verdicts[r["case_id"]]
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_confirmed_rows_become_golden_proposals_through_review_import(
    reviewed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(reviewed, {"r0": ("add", "card_arrival"), "r2": ("add", "card_arrival"), "r3": ("add", "exchange_rate")})
    assert main(["review", "import", str(reviewed), "--propose", "banking77", "--root", "golden"]) == 0
    assert "proposed 3 case(s) for banking77 in review/review.proposed-banking77.jsonl" in capsys.readouterr().out
    proposals = [json.loads(line) for line in (reviewed.parent / "review.proposed-banking77.jsonl").open()]
    assert [(p["id"], p["expected"]) for p in proposals] == [
        ("r0-review", "card_arrival"), ("r2-review", "card_arrival"), ("r3-review", "exchange_rate")]  # fmt: skip
    assert proposals[1]["input"] == "I ordered a card ages ago and it never came"


def test_confirmed_rows_become_a_training_source_curation_reads(
    reviewed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "labels.json").write_text(json.dumps(LABELS))
    fill(reviewed, {"r1": ("add", "card_arrival"), "r4": ("add", "exchange_rate"), "r7": ("skip", "")})
    assert main(["traces", "confirmed", str(reviewed), "--out", "confirmed.jsonl", "--labels", "labels.json"]) == 0
    assert "wrote 2 confirmed row(s) to confirmed.jsonl" in capsys.readouterr().out
    source = read(tmp_path / "confirmed.jsonl", SourceConfig("confirmed.jsonl"))
    assert [(r.text, r.label, r.problem) for r in source] == [
        ("Where is my card? It has not been delivered yet", "card_arrival", None),
        ("How do you calculate the exchange rate for dollars?", "exchange_rate", None),
    ]

    fill(reviewed, {"r0": ("4", "card_arrival"), "r2": ("add", "card_arival"), "r3": ("add", "")})
    assert main(["traces", "confirmed", str(reviewed), "--out", "again.jsonl", "--labels", "labels.json"]) == 2
    err = capsys.readouterr().err
    assert "nothing written; fix these rows first:" in err
    assert "review/review.csv:2: verdict '4': a trace is confirmed with 'add' (or left blank)" in err
    assert "review/review.csv:4: 'card_arival' is not a known label" in err
    assert "review/review.csv:5: verdict 'add' with no expected label" in err
    assert not (tmp_path / "again.jsonl").exists()


# --- preference pairs -------------------------------------------------------------------------------------


def test_corrections_become_dpo_pairs_trl_renders_with_a_chat_template(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from trl.data_utils import apply_chat_template, is_conversational

    from tests.tiny_models import build_tiny_tokenizer

    monkeypatch.chdir(tmp_path)
    (tmp_path / "week.jsonl").write_text("".join(json.dumps(r) + "\n" for r in TRACES))
    assert main(["traces", "import", "week.jsonl", "--store", "store"]) == 0
    assert main(["traces", "pairs", "--store", "store", "--out", "pairs.jsonl", "--system-from", ""]) == 0
    assert "wrote 2 preference pair(s) from 8 trace(s) to pairs.jsonl" in capsys.readouterr().out
    pairs = [json.loads(line) for line in (tmp_path / "pairs.jsonl").open()]  # r6's correction agrees: no pair
    assert [p["id"] for p in pairs] == ["r0", "r1"]
    assert pairs[0]["prompt"] == [{"role": "user", "content": TRACES[0]["text"]}]
    assert pairs[0]["chosen"] == [{"role": "assistant", "content": "card_arrival"}]
    assert pairs[0]["rejected"] == [{"role": "assistant", "content": "card_linking"}]
    assert is_conversational(pairs[0])
    rendered = apply_chat_template(pairs[0], build_tiny_tokenizer())
    assert rendered["prompt"].endswith("<|im_start|>assistant\n")
    assert rendered["chosen"].startswith("card_arrival") and rendered["rejected"].startswith("card_linking")
