"""`harness curate` end to end on a small planted dataset, the real Banking77 leakage, and config errors.

The planted dataset holds one of everything the pipeline must catch: an exact duplicate, a near-duplicate,
a paraphrase, PII to redact and a row that is mostly PII, a copy of a golden case, and malformed rows of
every kind. Each must land in rejected.jsonl with the right stage, reason and source line, and the good
rows must come out in the format the training stage reads.
"""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.curation import config as curation_config
from harness.curation import leakage, minhash, pipeline, schema, sources
from harness.curation.config import CurationError, SourceConfig

ROOT = Path(__file__).resolve().parent.parent
SYSTEM = "Classify the message. Reply with the intent label only."
GOLDEN_LEAK = "Please close my account and delete all of my personal data for good."
LONG = ("I ordered a new debit card three weeks ago and it still has not been delivered to my home address "
        "even though the app says that it was shipped last")  # fmt: skip
PII_TEXT = ("Please send my replacement card to john.smith@example.com, or call me on +1 (415) 555-0132 if the "
            "courier needs me; my old card was 4111 1111 1111 1111 and it expired last month.")
FILLER = {
    "card_arrival": ["Where is my card?", "My card is late, any news on the delivery?",
                     "How long does a card take to be delivered?", "Has my new card been posted yet?",
                     "Is there a tracking number for the card you sent me?"],
    "activate_my_card": ["The card came today, how do I start using it?", "I need to switch on my new card.",
                         "Where in the app do I turn the card on?", "My card arrived but it does not work yet."],
    "cancel_transfer": ["I sent money to the wrong person, please stop it.", "Can a payment I made be reversed?",
                        "Stop the transfer I just made!", "I want my bank transfer cancelled right now.",
                        "Is it too late to undo a transfer from this morning?"],
    "exchange_rate": ["What rate do you use to change pounds to euros?", "How much is one dollar in yen today?",
                      "Is the conversion rate fixed at the weekend?", "Where do I see current exchange rates?",
                      "Why did I get a worse rate than the market rate?"],
}  # fmt: skip
CSV_ROWS: list[list[str]] = [
    ["My card has not arrived yet, when will it come?", "card_arrival"],  # line 2
    ["my card HAS NOT arrived yet... when will it come", "card_arrival"],  # 3: exact duplicate of 2
    [LONG + " Monday", "card_arrival"],  # 4
    [LONG + " Tuesday", "card_arrival"],  # 5: near-duplicate of 4 (word 5-gram Jaccard 0.93)
    ["How do I activate my card?", "activate_my_card"],  # 6
    ["How can I activate my card?", "activate_my_card"],  # 7: paraphrase of 6 (MiniLM cosine 0.99)
    [PII_TEXT, "card_arrival"],  # 8: PII (a third of the text), redacted in place
    ["jane.doe@example.org", "activate_my_card"],  # 9: mostly PII, rejected
    [GOLDEN_LEAK.upper(), "cancel_transfer"],  # 10: a golden case, shouted
    ["   ", "card_arrival"],  # 11: empty text
    ["What is the fee for this?", "not_a_label"],  # 12: unknown label
    ["Why was I charged twice?", ""],  # 13: empty label
]
JSONL_LINES = [
    json.dumps({"messages": [{"role": "user", "content": "What is the euro rate today?"},
                             {"role": "assistant", "content": "exchange_rate"}], "label": "exchange_rate"}),  # 1
    '{"text": "broken line", "label": ',  # 2: bad JSON
    json.dumps({"messages": [{"role": "user", "content": "Hello?"}]}),  # 3: ends on a user turn
    json.dumps({"text": "A row without its label"}),  # 4: label field missing
    json.dumps({"messages": [{"role": "assistant", "content": "Hi"}, {"role": "user", "content": "x"},
                             {"role": "assistant", "content": "exchange_rate"}]}),  # 5: starts with assistant
]  # fmt: skip


def write_project(root: Path, extra_config: str = "", rows: list[list[str]] | None = None) -> Path:
    """A tmp project: pyproject.toml, a golden set, a label list, a CSV and a JSONL source, a config."""
    (root / "pyproject.toml").write_text('[project]\nname = "toy"\n')
    golden = root / "golden" / "toy"
    golden.mkdir(parents=True)
    chat = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": GOLDEN_LEAK}]
    cases = [{"id": "toy-1", "messages": chat, "expected": "cancel_transfer"},
             {"id": "toy-2", "input": "How much is a card replacement?", "expected": "card_arrival"}]  # fmt: skip
    (golden / "cases.jsonl").write_text("".join(json.dumps(c) + "\n" for c in cases))
    (root / "labels.json").write_text(json.dumps(sorted(FILLER)))
    data = root / "data"
    data.mkdir()
    with (data / "raw.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        writer.writerows(rows if rows is not None else CSV_ROWS)
        writer.writerows([text, label] for label, texts in FILLER.items() for text in texts)
    (data / "chats.jsonl").write_text("\n".join(JSONL_LINES) + "\n")
    config = root / "configs" / "toy.yaml"
    config.parent.mkdir()
    config.write_text(f"""# harness curate --config configs/toy.yaml
task: toy
curate:
  sources:
    - path: data/raw.csv
    - path: data/chats.jsonl
  labels: labels.json
  prompt:
    system_from: golden/toy/cases.jsonl
  output_dir: out
  label_noise:
    enabled: false
  report:
    golden_set: toy
{extra_config}""")
    return config


@pytest.fixture(scope="module")
def curated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("toy-project")
    config_path = write_project(root)
    result = pipeline.curate(curation_config.load(config_path))
    out = result.output_dir
    return {
        "root": root,
        "out": out,
        "curation": result.curation,
        "rejected": [json.loads(line) for line in (out / "rejected.jsonl").read_text().splitlines()],
        "splits": {name: [json.loads(line) for line in (out / f"{name}.jsonl").read_text().splitlines()]
                   for name in ("train", "val", "test")},  # fmt: skip
    }


def rejection(curated: dict[str, Any], source: str) -> dict[str, Any]:
    found = [r for r in curated["rejected"] if r["source"] == source]
    assert len(found) == 1, f"{source}: expected one rejection, got {found}"
    return found[0]


def test_duplicates_are_rejected_with_the_row_they_duplicate(curated):
    exact = rejection(curated, "data/raw.csv:3")
    assert exact["stage"] == "exact_dedup" and exact["duplicate_of"] == "data/raw.csv:2"
    near = rejection(curated, "data/raw.csv:5")
    assert near["stage"] == "near_dup" and near["duplicate_of"] == "data/raw.csv:4" and near["jaccard"] >= 0.8
    paraphrase = rejection(curated, "data/raw.csv:7")
    assert paraphrase["stage"] == "semantic_dedup" and paraphrase["duplicate_of"] == "data/raw.csv:6"
    assert paraphrase["cosine"] >= 0.95
    assert exact["row"] == {"text": CSV_ROWS[1][0], "label": "card_arrival"}  # the source row, as read


def test_pii_is_redacted_in_place_and_counted(curated):
    rows = [r for split in curated["splits"].values() for r in split if r["id"] == "raw.csv:8"]
    assert len(rows) == 1
    user = rows[0]["messages"][1]["content"]
    assert user == PII_TEXT.replace("john.smith@example.com", "<EMAIL_ADDRESS>").replace(
        "+1 (415) 555-0132", "<PHONE_NUMBER>").replace("4111 1111 1111 1111", "<CREDIT_CARD>")  # fmt: skip
    pii = curated["curation"]["pii"]
    assert pii["counts"] == {"EMAIL_ADDRESS": 1, "PHONE_NUMBER": 1, "CREDIT_CARD": 1}
    assert pii["redactions"] == [{"id": "raw.csv:8", "source": "data/raw.csv:8",
                                  "entities": {"EMAIL_ADDRESS": 1, "PHONE_NUMBER": 1, "CREDIT_CARD": 1}}]  # fmt: skip
    assert "names" in pii["not_detected"]
    mostly = rejection(curated, "data/raw.csv:9")
    assert mostly["stage"] == "pii" and "mostly PII" in mostly["reason"]
    assert "jane.doe" not in json.dumps(mostly), "rejected.jsonl must not carry the PII it rejects"


def test_golden_leak_names_the_file_and_case(curated):
    leak = rejection(curated, "data/raw.csv:10")
    assert leak["stage"] == "leakage"
    assert leak["golden"] == {"file": "golden/toy/cases.jsonl", "case_id": "toy-1", "kind": "exact"}
    assert leak["reason"] == "leaks into golden/toy/cases.jsonl case toy-1: same text once normalised"


@pytest.mark.parametrize(("source", "words"), [
    ("data/raw.csv:11", "empty text"),
    ("data/raw.csv:12", "unknown label 'not_a_label'"),
    ("data/raw.csv:13", "empty label"),
    ("data/chats.jsonl:2", "invalid JSON"),
    ("data/chats.jsonl:3", "ends on a user turn"),
    ("data/chats.jsonl:4", "field 'label' missing"),
    ("data/chats.jsonl:5", "starts with a assistant turn"),
])  # fmt: skip
def test_malformed_rows_are_rejected_with_line_and_reason(curated, source, words):
    found = rejection(curated, source)
    assert found["stage"] == "schema" and words in found["reason"]


def test_outputs_have_the_training_format_and_honest_counts(curated):
    splits, curation = curated["splits"], curated["curation"]
    rows = [r for split in splits.values() for r in split]
    for row in rows:
        assert set(row) == {"id", "messages", "label"}
        assert row["messages"][-1] == {"role": "assistant", "content": row["label"]}
    csv_row = next(r for r in rows if r["id"] == "raw.csv:2")
    assert csv_row["messages"] == [{"role": "system", "content": SYSTEM},
                                   {"role": "user", "content": CSV_ROWS[0][0]},
                                   {"role": "assistant", "content": "card_arrival"}]  # fmt: skip
    chat = next(r for r in rows if r["id"] == "chats.jsonl:1")
    assert chat["messages"][0]["role"] == "user", "chat rows pass through unchanged in shape"
    read = curation["rows_read"]
    assert read == len(CSV_ROWS) + sum(len(t) for t in FILLER.values()) + len(JSONL_LINES)
    assert read == len(rows) + len(curated["rejected"]), "every row is either written or rejected"
    for stage in curation["stages"]:
        if "skipped" not in stage:
            assert stage["in"] - stage["out"] == stage["rejected"], stage
    assert [s["name"] for s in curation["stages"]] == ["schema", "exact_dedup", "near_dup", "semantic_dedup", "pii",
                                                       "label_noise", "leakage"]  # fmt: skip
    raw = curated["root"] / "data" / "raw.csv"
    assert {"path": "data/raw.csv", "sha256": hashlib.sha256(raw.read_bytes()).hexdigest()} in curation["inputs"]
    assert (curated["out"] / "summary.md").read_text().startswith("# Curation: toy")


def test_distribution_report(curated):
    dist = curated["curation"]["distribution"]
    assert set(dist["counts"]) == set(FILLER)
    counts = dist["counts"]
    assert dist["imbalance_ratio"] == pytest.approx(max(counts.values()) / min(counts.values()), abs=1e-3)
    assert sum(counts.values()) == sum(len(s) for s in curated["splits"].values())
    train = dist["per_split"]["train"]
    golden = {"cancel_transfer": 0.5, "card_arrival": 0.5}  # toy-1 and toy-2
    expected_tvd = 0.5 * sum(abs(train[c] / sum(train.values()) - golden.get(c, 0)) for c in train)
    assert dist["golden_tvd"]["train"] == pytest.approx(expected_tvd, abs=1e-4)


def test_banking77_train_repeats_of_golden_cases_are_found():
    """train.csv and the Banking77 test split share queries; two of them are golden cases (found by a
    one-off normalised-text scan of both files). The leakage stage must find exactly those as exact leaks."""
    rows = sources.read(ROOT / "training/data/banking77/train.csv",
                        SourceConfig(path="train.csv", label_field="category"), ROOT)  # fmt: skip
    examples = schema.validate(rows, None, None, curation_config.SchemaConfig()).kept
    finder = leakage.finder_for(ROOT / "golden", 13, minhash.MinHashParams(), ROOT)
    out = leakage.remove(examples, finder)
    rejected = [r.to_json() for r in out.rejected]
    exact = {(r["source"], r["golden"]["case_id"]) for r in rejected if r["golden"]["kind"] == "exact"}
    assert exact == {("training/data/banking77/train.csv:3124", "b77-0977"),
                     ("training/data/banking77/train.csv:9693", "b77-2969")}  # fmt: skip
    assert all(r["golden"]["file"] == "golden/banking77/cases.jsonl" for r in rejected)
    assert len(out.kept) + len(out.rejected) == 10_003


def test_config_errors_name_file_line_and_key(tmp_path):
    config = write_project(tmp_path, "  near_dup:\n    bands: 14\n    band: 8\n")
    line = config.read_text().splitlines().index("    band: 8") + 1
    with pytest.raises(CurationError) as error:
        curation_config.load(config)
    assert str(error.value).startswith(f"{config}:{line}: curate.near_dup.band: unknown key — valid keys: enabled,")
    config.write_text(config.read_text().replace("    band: 8\n", "    rows: eight\n"))
    with pytest.raises(CurationError, match=rf":{line}: curate.near_dup.rows: expected an integer, got 'eight'"):
        curation_config.load(config)


def test_cli_exit_codes(tmp_path, capsys):
    config = write_project(tmp_path, rows=[])
    config.write_text(config.read_text().replace("data/raw.csv", "data/missing.csv"))
    assert main(["curate", "--config", str(config)]) == 2
    assert "curate.sources[0].path: data/missing.csv does not exist" in capsys.readouterr().err
    fast = "  semantic:\n    enabled: false\n  pii:\n    enabled: false\n"
    config.write_text(config.read_text().replace("data/missing.csv", "data/raw.csv") + fast)
    assert main(["curate", "--config", str(config), "--output", str(tmp_path / "elsewhere")]) == 0
    assert "next: pytest suites/data --dataset=" in capsys.readouterr().out
    assert (tmp_path / "elsewhere" / "train.jsonl").is_file()


def test_nothing_left_to_split_exits_2_but_still_logs_every_rejection(tmp_path, capsys):
    config = write_project(tmp_path, "  schema:\n    max_chars: 5\n  semantic:\n    enabled: false\n")
    assert main(["curate", "--config", str(config)]) == 2
    assert "fewer than the 10 folds" in capsys.readouterr().err
    rejected = (tmp_path / "out" / "rejected.jsonl").read_text().splitlines()
    assert len(rejected) == len(CSV_ROWS) + sum(len(t) for t in FILLER.values()) + len(JSONL_LINES)
    assert (tmp_path / "out" / "train.jsonl").read_text() == ""
