"""Build golden/banking77/cases.jsonl: a reproducible stratified sample of the Banking77 test set.

Run from the repo root (it reads only files in this directory, so the output is the same anywhere):

    .venv/bin/python golden/banking77/build.py

Exactly PER_LABEL cases per intent (77 x 5 = 385), drawn with random.Random(SEED) from data/test.csv,
one label at a time in label order (sorted, ignoring case), then written sorted by row index. The case
id `b77-0042` is the 0-based data row of test.csv (header excluded), so every case traces back to its
source row. Rebuilding gives byte-identical files; after a deliberate change, re-freeze the golden lock.
"""

from __future__ import annotations

import csv
import json
import random
from collections import defaultdict
from pathlib import Path

from harness.golden import GoldenCase, write_file

HERE = Path(__file__).resolve().parent
TEST_CSV = HERE / "data" / "test.csv"
CATEGORIES = HERE / "data" / "categories.json"
SEED = 77
PER_LABEL = 5
TRAIN_CSV = HERE.parent.parent / "training" / "data" / "banking77" / "train.csv"
SHOTS_PER_LABEL = 1  # few-shot examples for the prompted baseline, drawn from train.csv (never from test)

# The system turn of every case, and the prompt training data should use so that train and eval match.
# Kept short and literal for SmolLM2-135M: one task sentence, one output rule, one label per line, then the
# fallback rule (~600 SmolLM2 tokens in all). FALLBACK_LABEL is what an out-of-scope message must get: a
# router that forces every message into an intent is wrong on everything it was not built for.
# Fill it with SYSTEM_PROMPT_TEMPLATE.format(labels="\n".join(labels), fallback=FALLBACK_LABEL), labels as
# in labels.json, or take messages[0] of any case in cases.jsonl.
SYSTEM_PROMPT_TEMPLATE = """\
Classify the bank customer's message into one intent. Reply with the intent label only, copied \
exactly from this list:
{labels}
If the message fits none of these intents, reply {fallback}."""
FALLBACK_LABEL = "out_of_scope"

Row = tuple[int, str, str]  # (0-based data row in test.csv, text, label)


def read_rows() -> list[Row]:
    with TEST_CSV.open(newline="", encoding="utf-8") as f:
        return [(index, row["text"], row["category"]) for index, row in enumerate(csv.DictReader(f))]


def read_labels(rows: list[Row]) -> list[str]:
    """The labels of categories.json, sorted ignoring case (the dataset spells one `Refund_not_showing_up`);
    they must be exactly the labels used in test.csv."""
    labels = sorted(json.loads(CATEGORIES.read_text(encoding="utf-8")), key=str.casefold)
    used = {label for _, _, label in rows}
    if used != set(labels):
        raise SystemExit(f"{CATEGORIES}: labels differ from {TEST_CSV}: {sorted(used ^ set(labels))}")
    return labels


def stratified_sample(rows: list[Row], labels: list[str], seed: int = SEED) -> list[Row]:
    """PER_LABEL rows per label, drawn label by label (sorted) from one seeded generator."""
    by_label: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_label[row[2]].append(row)
    rng = random.Random(seed)
    picked = [row for label in labels for row in rng.sample(by_label[label], PER_LABEL)]
    return sorted(picked)


def to_case(row: Row, system_prompt: str) -> GoldenCase:
    index, text, label = row
    messages = [{"role": "system", "content": system_prompt}, {"role": "user", "content": text}]
    case = {"id": f"b77-{index:04d}", "messages": messages, "expected": label, "tags": [label]}
    return GoldenCase.model_validate(case)


def build() -> tuple[list[str], list[GoldenCase]]:
    """The labels and the cases, computed only from files in this directory (tests rebuild and compare)."""
    rows = read_rows()
    labels = read_labels(rows)
    system_prompt = SYSTEM_PROMPT_TEMPLATE.format(labels="\n".join(labels), fallback=FALLBACK_LABEL)
    return labels, [to_case(row, system_prompt) for row in stratified_sample(rows, labels)]


def few_shot_examples(labels: list[str], seed: int = SEED) -> list[GoldenCase]:
    """SHOTS_PER_LABEL training queries per intent for the prompted-baseline prompt, in label order.
    Stored as golden cases (input = query, expected = intent), so the lock freezes them too."""
    by_label: dict[str, list[str]] = defaultdict(list)
    with TRAIN_CSV.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            by_label[row["category"]].append(row["text"])
    rng = random.Random(seed)
    picked = [(label, text) for label in labels for text in rng.sample(by_label[label], SHOTS_PER_LABEL)]
    return [
        GoldenCase.model_validate({"id": f"shot-{i:03d}", "input": text, "expected": label})
        for i, (label, text) in enumerate(picked)
    ]


def main() -> None:
    labels, cases = build()
    shots = few_shot_examples(labels)
    shots_file = HERE / "fewshot.jsonl"
    write_file(shots_file, shots)
    (HERE / "labels.json").write_text(json.dumps(labels, indent=2) + "\n", encoding="utf-8", newline="\n")
    out = HERE / "cases.jsonl"
    write_file(out, cases)
    print(f"wrote {out}: {len(cases)} cases, {len(labels)} labels x {PER_LABEL}, seed {SEED}")


if __name__ == "__main__":
    main()
