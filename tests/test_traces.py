"""`harness traces import`: the trace format, PII redaction before storage, bad rows, and the SQLite store.

Through the command (`harness.cli.main`) and the store's own reading API; Presidio runs for real (its
blank-spaCy pipeline, offline), so what the tests read back is what a team's store would hold.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.config import default_cache_dir
from harness.production.store import TraceStore

EMAIL = "jane.roe@example.org"


def trace(text: str = "my card has not arrived", **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"text": text, "output": "card_arrival", "model_version": "3",
                           "timestamp": "2025-06-02T09:14:03Z"}  # fmt: skip
    row.update(fields)
    return row


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["traces", *args])
    out, err = capsys.readouterr()
    return code, out + err


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no pyproject.toml here: the harness's defaults


def stored_bytes(store: Path) -> bytes:
    """Everything the store directory holds on disk, journals included."""
    return b"".join(path.read_bytes() for path in sorted(store.rglob("*")) if path.is_file())


# --- PII never reaches the store --------------------------------------------------------------------------


def test_an_email_address_never_reaches_the_store_unredacted(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    rows = [
        trace(f"please email me at {EMAIL} about my card", id=f"order-{EMAIL}", correction=f"card_arrival {EMAIL}",
              tags={"customer": EMAIL}),
        trace(messages=None, output=f"I wrote to {EMAIL}"),
    ]
    del rows[1]["messages"]
    rows[1]["timestamp"] = "2025-06-02T10:00:00+02:00"
    store = tmp_path / "store"
    code, out = run(capsys, "import", str(write_jsonl(tmp_path / "week.jsonl", rows)), "--store", str(store))
    assert code == 0, out
    assert "2 row(s), 2 new, 0 updated, 0 already stored, 0 rejected" in out
    assert "PII redacted before storing: EMAIL_ADDRESS 5" in out

    on_disk = stored_bytes(store)
    assert EMAIL.encode() not in on_disk and b"jane.roe" not in on_disk
    assert b"<EMAIL_ADDRESS>" in on_disk  # redacted in place, not dropped
    first, second = sorted(TraceStore.open(store).between(), key=lambda t: t.timestamp, reverse=True)
    assert first.input == "please email me at <EMAIL_ADDRESS> about my card"
    assert first.id == "<EMAIL_ADDRESS>"  # Presidio reads "order-jane.roe@…" as one address: the id too
    assert (first.correction, first.tags) == ("card_arrival <EMAIL_ADDRESS>", {"customer": "<EMAIL_ADDRESS>"})
    assert second.output == "I wrote to <EMAIL_ADDRESS>"
    assert second.timestamp == datetime(2025, 6, 2, 8, 0, tzinfo=UTC)  # stored in UTC


def test_a_rejected_row_is_set_aside_redacted_with_its_line_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [trace(), trace(f"write to {EMAIL}", timestamp="2025-06-02 09:00"), trace("hi", feedback="meh")]
    rejected = tmp_path / "rejected.jsonl"
    code, out = run(capsys, "import", str(write_jsonl(tmp_path / "week.jsonl", rows)), "--store", "store",
                    "--reject-to", str(rejected))  # fmt: skip
    assert code == 0, out
    assert "3 row(s), 1 new, 0 updated, 0 already stored, 2 rejected" in out
    assert "2 row(s) set aside, redacted, in rejected.jsonl:" in out
    assert "week.jsonl:2: timestamp: '2025-06-02 09:00' has no time zone — add Z (UTC) or an offset" in out
    assert "week.jsonl:3: feedback: 'meh' is not up or down" in out
    assert EMAIL not in rejected.read_text()
    records = [json.loads(line) for line in rejected.read_text().splitlines()]
    assert [r["source"] for r in records] == ["week.jsonl:2", "week.jsonl:3"]
    assert records[0]["row"]["text"] == "write to <EMAIL_ADDRESS>"
    assert records[0]["problems"][0]["field"] == "timestamp"
    assert EMAIL.encode() not in stored_bytes(tmp_path / "store")


# --- bad rows refuse the import by default -------------------------------------------------------------------


def test_bad_rows_refuse_the_import_naming_every_line_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [trace(), trace(corection="top_up"), trace(confidence=1.5), {"text": "no output", "timestamp": "x"},
            trace(messages=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}])]
    del rows[4]["text"]
    path = write_jsonl(tmp_path / "week.jsonl", rows)
    with path.open("a") as f:
        f.write("{not json\n")
    code, out = run(capsys, "import", str(path), "--store", "store")
    assert code == 2
    assert "nothing imported: 5 row(s) of week.jsonl cannot be used:" in out
    assert "week.jsonl:2: corection: unknown field — did you mean 'correction'?" in out
    assert "or leave it out with --drop-field corection" in out
    assert "week.jsonl:3: confidence: '1.5' must be a number in [0, 1]" in out
    assert "week.jsonl:4: output: missing — every trace needs it" in out
    assert "week.jsonl:4: model_version: missing" in out
    assert "week.jsonl:4: timestamp: 'x' is not ISO 8601" in out
    assert "week.jsonl:5: messages.1: the chat must end on the user's (non-empty) turn" in out
    assert "week.jsonl:6: (line): invalid JSON" in out
    assert "pass --reject-to FILE to store the good rows" in out
    assert not (tmp_path / "store").exists()  # a refused first import leaves no store behind


def test_csv_traces_with_tag_columns_and_a_dropped_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "week.csv"
    path.write_text(
        "messages,output,model_version,timestamp,feedback,logprob,tag.channel,latency_ms\n"
        '"[{""role"": ""system"", ""content"": ""Route it.""}, {""role"": ""user"", ""content"": ""top up?""}]",'
        "top_up_by_card_charge,v7,2025-06-03T08:00:00Z,-1,-0.7,app,120\n",
        encoding="utf-8",
    )
    code, out = run(capsys, "import", str(path), "--store", "store")
    assert code == 2
    assert "week.csv:1: unknown column 'latency_ms'" in out and "--drop-field latency_ms" in out

    code, out = run(capsys, "import", str(path), "--store", "store", "--drop-field", "latency_ms")
    assert code == 0, out
    [stored] = TraceStore.open(tmp_path / "store").between()
    assert stored.messages == [{"role": "system", "content": "Route it."}, {"role": "user", "content": "top up?"}]
    assert (stored.feedback, stored.logprob, stored.tags) == ("down", -0.7, {"channel": "app"})
    assert stored.source == "week.csv:2" and stored.negative


# --- the store ----------------------------------------------------------------------------------------------


def test_reimporting_stores_each_trace_once_and_a_later_correction_fills_it_in(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    week = write_jsonl(tmp_path / "week.jsonl", [trace(), trace("top up?", output="top_up_failed")])
    assert run(capsys, "import", str(week), "--store", "store")[0] == 0
    code, out = run(capsys, "import", str(week), "--store", "store")
    assert code == 0 and "2 row(s), 0 new, 0 updated, 2 already stored, 0 rejected" in out

    corrected = write_jsonl(tmp_path / "corrected.jsonl", [trace(correction="card_delivery_estimate")])
    code, out = run(capsys, "import", str(corrected), "--store", "store")
    assert code == 0 and "1 row(s), 0 new, 1 updated, 0 already stored" in out
    by_input = {t.input: t for t in TraceStore.open(tmp_path / "store").between()}
    assert by_input["my card has not arrived"].correction == "card_delivery_estimate"

    clash = write_jsonl(tmp_path / "clash.jsonl", [trace(correction="card_linking")])
    code, out = run(capsys, "import", str(clash), "--store", "store")
    assert code == 2 and "clash.jsonl:1: correction: trace id 't-" in out
    assert "is stored (from week.jsonl:1) with another correction — fix one of them" in out
    assert [log["stored"] for log in TraceStore.open(tmp_path / "store").imports()] == [2, 0, 0]


def test_recent_is_the_window_before_the_newest_trace_sampled_with_a_seed(tmp_path: Path) -> None:
    from harness.curation.config import PIIConfig
    from harness.curation.pii import Redactor
    from harness.production.ingest import import_traces

    rows = [trace(f"question {day}-{i}", timestamp=f"2025-06-{day:02d}T12:00:00Z") for day in range(1, 21)
            for i in range(3)]  # fmt: skip
    redactor = Redactor(PIIConfig(), default_cache_dir())
    store = import_traces(write_jsonl(tmp_path / "t.jsonl", rows), tmp_path / "store", redactor).store
    window = store.recent(days=7)
    assert window.available == 24 and {t.timestamp.day for t in window.traces} == set(range(13, 21))
    sampled = store.recent(days=7, limit=10, seed=1)
    assert len(sampled.traces) == 10 and sampled.available == 24
    assert [t.id for t in sampled.traces] == [t.id for t in store.recent(days=7, limit=10, seed=1).traces]
    assert [t.id for t in sampled.traces] != [t.id for t in store.recent(days=7, limit=10, seed=2).traces]
    assert sampled.describe() == (
        "24 trace(s) from 2025-06-13T12:00:00.000000Z to 2025-06-20T12:00:00.000000Z (a seeded sample of 10)"
    )
    earlier = store.recent(days=2, until=datetime(2025, 6, 5, 12, tzinfo=UTC))
    assert {t.timestamp.day for t in earlier.traces} == {3, 4, 5}


def test_a_directory_without_a_store_is_named_with_the_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    code, out = run(capsys, "drift", "--store", "nowhere", "--reference", "banking77")
    assert code == 2
    assert "nowhere: no trace store here (traces.sqlite missing) — import traces first: harness traces import" in out


# --- retention --------------------------------------------------------------------------------------------


def test_prune_deletes_traces_past_the_retention_limit_and_their_text_from_disk(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:  # fmt: skip
    rows = [trace(f"old question about tulip{day}", timestamp=f"2025-05-{day:02d}T12:00:00Z") for day in (1, 2)]
    rows += [trace(f"new question about rose{day}", timestamp=f"2025-06-{day:02d}T12:00:00Z") for day in (1, 2, 3)]
    assert run(capsys, "import", str(write_jsonl(tmp_path / "t.jsonl", rows)), "--store", "store")[0] == 0
    code, out = run(capsys, "prune", "--store", "store", "--keep-days", "30", "--now", "2025-06-10T00:00:00Z",
                    "--dry-run")  # fmt: skip
    assert code == 0 and "would delete 2 trace(s) served before 2025-05-11T00:00:00.000000Z; 3 kept" in out
    assert b"tulip1" in stored_bytes(tmp_path / "store")
    code, out = run(capsys, "prune", "--store", "store", "--keep-days", "30", "--now", "2025-06-10T00:00:00Z")
    assert code == 0 and "deleted 2 trace(s)" in out and "3 kept (store vacuumed)" in out
    on_disk = stored_bytes(tmp_path / "store")
    assert b"tulip" not in on_disk and b"rose3" in on_disk  # gone from the file, not only from queries
    assert run(capsys, "prune", "--store", "store", "--keep-days", "0")[0] == 2
