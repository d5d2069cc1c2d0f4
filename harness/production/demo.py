"""`make demo-loop`: the loop after release on two synthetic weeks of traffic, through the real commands.

    .venv/bin/python -m harness.production.demo [--out runs/demo-loop]

The traffic is synthetic and says so: week 1 is 300 Banking77 training messages, week 2 is 240 more and 60
out-of-scope questions (a topic the router was never trained on). The "served" answers are the rows'
own labels, with every 12th answer swapped for a wrong intent and a user's correction or thumbs-down on
some of those, and `out_of_scope` for the out-of-scope questions, half of them thumbed down: no model
runs, so the demo takes a minute on a laptop (MiniLM embeddings are the cost, cached after the first run).
A few messages carry an email address, which the store never holds.

1. `harness traces import`   each week's export -> runs/demo-loop/store (PII redacted first)
2. `harness traces drift --until <end of week 1>`   no drift against the Banking77 training texts (exit 0)
3. `harness traces drift --until <end of week 2>`   the out-of-scope week drifts (exit 1: the alarm)
4. `harness traces review`   corrected / thumbs-down / least confident traces, clustered -> review.csv
5. `harness traces pairs`    corrections -> DPO preference pairs

`harness shadow --candidate SPEC --store runs/demo-loop/store` is the next step with real models (it
replays these traces through both); `make demo` trains and promotes the champion it compares with.
Exit code: 0 when every step gave its expected exit code, 2 otherwise.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BANKING = Path("training/data/banking77/train.csv")
OOD = Path("training/data/ood/train.jsonl")
WEEK_1 = datetime(2025, 6, 2, tzinfo=UTC)
EMAIL = "sam.jones@example.com"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/demo-loop"), help="where the demo writes")
    args = parser.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    weeks = write_weeks(out)
    store = str(out / "store")
    harness = [sys.executable, "-m", "harness.cli"]
    end_1 = (WEEK_1 + timedelta(days=7)).isoformat()
    steps = [
        ("import week 1", [*harness, "traces", "import", str(weeks[0]), "--store", store], 0),
        ("import week 2", [*harness, "traces", "import", str(weeks[1]), "--store", store], 0),
        ("drift, week 1", [*harness, "traces", "drift", "--store", store, "--reference", str(BANKING), "--until",
                           end_1, "--days", "7", "--json", str(out / "drift-week1.json")], 0),  # fmt: skip
        ("drift, week 2", [*harness, "traces", "drift", "--store", store, "--reference", str(BANKING), "--json",
                           str(out / "drift-week2.json")], 1),  # fmt: skip
        ("review", [*harness, "traces", "review", "--store", store, "--out", str(out / "review")], 0),
        ("pairs", [*harness, "traces", "pairs", "--store", store, "--out", str(out / "pairs.jsonl")], 0),
    ]
    for name, command, expected in steps:
        print(f"\n=== demo-loop: {name}: harness {' '.join(command[3:])}", flush=True)
        code = subprocess.run(command, check=False).returncode
        if code != expected:
            print(f"demo-loop: {name} exited {code}, expected {expected}; stopping", file=sys.stderr)
            return 2
    stored = (out / "store" / "traces.sqlite").read_bytes()
    drifted = [_drifted(out / f"drift-week{n}.json") for n in (1, 2)]
    print(f"\n=== demo-loop: done. {EMAIL} in the store: {EMAIL.encode() in stored}; week 1 drifted: {drifted[0]}, "
          f"week 2 drifted: {drifted[1]}; review: {out / 'review' / 'review.csv'}")
    return 0


def write_weeks(out: Path) -> list[Path]:
    """Two JSONL exports of synthetic traffic (see the module docstring), seeded: the same every run."""
    rng = random.Random(0)
    with BANKING.open(encoding="utf-8") as f:
        banking = [(row["text"], row["category"]) for row in csv.DictReader(f)]
    labels = sorted({label for _, label in banking})
    ood = [json.loads(line)["text"] for line in OOD.read_text(encoding="utf-8").splitlines() if line.strip()]
    chosen = rng.sample(banking, 540)
    week_1 = [_served(text, label, labels, i, rng) for i, (text, label) in enumerate(chosen[:300])]
    week_2 = [_served(text, label, labels, i, rng) for i, (text, label) in enumerate(chosen[300:])]
    week_2 += [_out_of_scope(text, i, rng) for i, text in enumerate(rng.sample(ood, 60))]
    paths = []
    for number, (rows, start) in enumerate(((week_1, WEEK_1), (week_2, WEEK_1 + timedelta(days=7))), start=1):
        rng.shuffle(rows)
        for i, row in enumerate(rows):
            row["timestamp"] = (start + timedelta(seconds=int(i * 7 * 86400 / len(rows)) + 60)).isoformat()
        path = out / f"week{number}.jsonl"
        path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
        paths.append(path)
    return paths


def _served(text: str, label: str, labels: list[str], i: int, rng: random.Random) -> dict[str, Any]:
    confidence = round(rng.uniform(0.6, 0.99), 3)
    row: dict[str, Any] = {"text": text, "output": label, "model_version": "1", "confidence": confidence,
                           "tags": {"channel": rng.choice(["app", "web"])}}
    if i % 12 == 0:  # a wrong answer, less sure of itself; a third get corrected, a third thumbed down
        row["output"] = rng.choice([x for x in labels if x != label])
        row["confidence"] = round(rng.uniform(0.2, 0.6), 3)
        if i % 36 == 0:
            row["correction"] = label
        elif i % 36 == 12:
            row["feedback"] = "down"
    if i % 50 == 7:
        row["text"] = f"{text} (reply to {EMAIL})"
    return row


def _out_of_scope(text: str, i: int, rng: random.Random) -> dict[str, Any]:
    row: dict[str, Any] = {"text": text, "output": "out_of_scope", "model_version": "1",
                           "confidence": round(rng.uniform(0.3, 0.9), 3), "tags": {"channel": "app"}}  # fmt: skip
    if i % 2 == 0:
        row["feedback"] = "down"
    return row


def _drifted(path: Path) -> bool | None:
    return json.loads(path.read_text())["drifted"] if path.is_file() else None


if __name__ == "__main__":
    sys.exit(main())
