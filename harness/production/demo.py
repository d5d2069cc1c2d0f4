"""`make demo-loop`: the loop after release, on Banking77 traffic no model has seen, with real models.

    .venv/bin/python -m harness.production.demo [--out runs/demo-loop] [--served SPEC] [--candidate SPEC]

Production traffic is real text: Banking77 test-split messages that are not golden cases (the test split
minus the 385 rows golden/banking77 holds; training reads only the training split). Week 1 is 200 of them;
week 2 is 150 more and 50 out-of-scope questions from the half of training/data/ood/train.jsonl that
curation never reads (past the demo config's `max_rows`). The served model answers every message under the
router's system prompt, with golden/banking77's generation settings: the registry's `champion`, or the base
model while none is promoted (production ran *something* before the first adapter). Where its answer is
wrong, the dataset's label stands in for the user's correction; every 10th message carries an email
address, which the store never holds.

1. `harness traces import`    each week's export -> <out>/store (PII redacted first)
2. `harness traces drift`     week 1 against the golden set's messages (texts only): quiet (exit 0)
3. `harness traces drift`     week 2 with its out-of-scope questions: the alarm (exit 1)
4. `harness traces review`    corrected traces, clustered -> review.csv. The dataset's labels are the people
                              here: the demo marks every corrected row `add`, as a reviewer would after
                              checking it, then `harness review import --propose banking77` writes the
                              proposed golden cases and `harness traces confirmed` the training rows
5. `harness traces pairs`     corrections -> DPO preference pairs
6. `harness shadow`           the candidate (`make demo`'s adapter) against the served model on the stored
                              traffic: agreement, flips, McNemar on the corrected traces. Its gates are
                              the promotion decision on live traffic (exit 0 promote, 1 refuse)

Exit code: 0 when every step gave its expected exit code (the shadow step either), 2 otherwise.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import shutil
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

from harness.errors import RegistryError, UsageError

TEST_SPLIT = Path("golden/banking77/data/test.csv")
GOLDEN_SET = "banking77"
OOD_POOL = Path("training/data/ood/train.jsonl")
TRAINING_CONFIG = Path("training/configs/banking77.yaml")
"""Its curate.sources say how many of OOD_POOL's rows training reads (max_rows); the rest is unseen."""
WEEK_1 = datetime(2026, 6, 1, tzinfo=UTC)
WEEK_SIZES = ((200, 0), (150, 50))
"""(Banking77 messages, out-of-scope questions) per week."""
EMAIL = "sam.jones@example.com"
CANDIDATE = "adapter"
Step = tuple[str, list[str], set[int]]
"""(name, `harness` arguments, the exit codes that step should give)."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/demo-loop"), help="where the demo writes")
    parser.add_argument("--served", default=None, metavar="SPEC",
                        help="the model in production (default: champion, else base while none is promoted)")
    parser.add_argument("--candidate", default=CANDIDATE, metavar="SPEC",
                        help=f"the model shadowed against it (default: {CANDIDATE}, what `make demo` trained)")
    args = parser.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(out / "store", ignore_errors=True)  # each run starts from an empty trace store
    if problem := _unloadable(args.candidate):
        print(f"demo-loop: the candidate cannot be loaded: {problem}\n  run `make demo` first (it trains the "
              f"model named {CANDIDATE!r}), or name one with --candidate SPEC", file=sys.stderr)  # fmt: skip
        return 2
    served = args.served or _served_default()
    print(f"=== demo-loop: production traffic answered by {served}", flush=True)
    weeks = write_weeks(out, served)
    code = run_steps(out, weeks, served, args.candidate)
    if code == 0:
        summarise(out, weeks)
    return code


def _unloadable(spec: str) -> str | None:
    """Why `spec` names no model, checked before minutes of generation (weights load later, on first use)."""
    from harness.api import load_model

    try:
        load_model(spec)
    except UsageError as error:
        return str(error)
    return None


def _served_default() -> str:
    from harness.config import HarnessConfig
    from harness.curation.config import load
    from harness.release.registry import champion_adapter_dir

    task = load(TRAINING_CONFIG).task  # its [tool.harness.tasks] entry, whose champion serves the traffic
    try:
        champion_adapter_dir(HarnessConfig.load(Path.cwd()).for_task(task))
    except RegistryError as error:
        print(f"demo-loop: no champion yet ({error}); production serves the base model", file=sys.stderr)
        return "base"
    return f"champion:{task}"


def run_steps(out: Path, weeks: Sequence[Path], served: str, candidate: str) -> int:
    """The loop's commands, each checked against the exit code it should give."""
    store = str(out / "store")
    reference = str(write_reference(out))
    end_1 = (WEEK_1 + timedelta(days=7)).isoformat()
    review, confirmed = out / "review" / "review.csv", out / "review" / "confirmed.csv"
    observe: list[Step] = [
        ("import week 1", ["traces", "import", str(weeks[0]), "--store", store], {0}),
        ("import week 2", ["traces", "import", str(weeks[1]), "--store", store], {0}),
        ("drift, week 1", ["traces", "drift", "--store", store, "--reference", reference, "--until",
                           end_1, "--days", "7", "--json", str(out / "drift-week1.json")], {0}),  # fmt: skip
        ("drift, week 2", ["traces", "drift", "--store", store, "--reference", reference, "--json",
                           str(out / "drift-week2.json")], {1}),  # fmt: skip
        ("review", ["traces", "review", "--store", store, "--days", "14", "--least-confident", "0", "--max",
                    "400", "--out", str(review.parent)], {0}),  # fmt: skip
    ]
    act: list[Step] = [
        ("propose golden cases", ["review", "import", str(confirmed), "--propose", GOLDEN_SET, "--proposals",
                                  str(out / "proposed-banking77.jsonl")], {0}),  # fmt: skip
        ("training rows", ["traces", "confirmed", str(confirmed), "--out", str(out / "confirmed.jsonl")], {0}),
        ("pairs", ["traces", "pairs", "--store", store, "--out", str(out / "pairs.jsonl")], {0}),
        ("shadow", ["shadow", "--candidate", candidate, "--champion", served, "--store", store, "--days", "14",
                    "--json", str(out / "shadow.json")], {0, 1}),  # fmt: skip
    ]
    if not run(observe):
        return 2
    confirm_corrections(review, confirmed)
    return 0 if run(act) else 2


def run(steps: Sequence[Step]) -> bool:
    """Run each step through the real CLI; stop at the first that exits otherwise than expected."""
    for name, command, expected in steps:
        print(f"\n=== demo-loop: {name}: harness {' '.join(command)}", flush=True)
        code = subprocess.run([sys.executable, "-m", "harness.cli", *command], check=False).returncode
        if code not in expected:
            print(f"demo-loop: {name} exited {code}, expected {' or '.join(map(str, expected))}; stopping",
                  file=sys.stderr)  # fmt: skip
            return False
    return True


def write_reference(out: Path) -> Path:
    """The golden set's messages, texts only: the distribution week 1 is drawn from (Banking77's test split).

    Not the training split: against it even week 1 drifts (MMD p = 0.003 on 200 traces), because the test
    split is balanced over the intents and the training split is not. Texts only: the served model may be
    the base, whose answers are not labels, so a label comparison would alarm every week."""
    from harness.production.drift import load_reference

    path = out / "reference.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text"])
        writer.writerows([text] for text in load_reference(GOLDEN_SET, Path("golden")).texts)
    return path


def write_weeks(out: Path, served: str) -> list[Path]:
    """Two JSONL exports of served traffic: the messages (seeded), the served model's answers, and the
    dataset's label as the correction wherever the answer is wrong."""
    from harness.api import load_model
    from harness.config import HarnessConfig
    from harness.metrics import normalise_label
    from harness.production.shadow import served_as

    rng = random.Random(0)
    messages = _unseen_messages(rng)
    config = HarnessConfig.load(Path.cwd())
    system, generation = served_as(config.golden_dir, GOLDEN_SET)
    model = load_model(served)
    answers = model.generate([[{"role": "system", "content": system or ""}, {"role": "user", "content": text}]
                              for text, _ in messages], **generation)  # fmt: skip
    rows = [_trace(text, label, normalise_label(answer), model.label, i)
            for i, ((text, label), answer) in enumerate(zip(messages, answers, strict=True))]  # fmt: skip
    paths, start = [], 0
    for number, (banking, ood) in enumerate(WEEK_SIZES, start=1):
        week = rows[start : start + banking + ood]
        start += banking + ood
        rng.shuffle(week)
        begins = WEEK_1 + timedelta(days=7 * (number - 1))
        for i, row in enumerate(week):
            row["timestamp"] = (begins + timedelta(seconds=60 + int(i * 7 * 86400 / len(week)))).isoformat()
        path = out / f"week{number}.jsonl"
        path.write_text("".join(json.dumps(row) + "\n" for row in week), encoding="utf-8")
        paths.append(path)
    return paths


def _unseen_messages(rng: random.Random) -> list[tuple[str, str]]:
    """(text, label) per week in order: test-split rows no golden case holds, then unread out-of-scope rows.
    A golden case's id is its test-split row (`b77-0042`: data row 42, golden/banking77/build.py)."""
    from harness.golden import load_set

    golden_rows = {int(case.id.removeprefix("b77-")) for case in load_set(Path("golden"), GOLDEN_SET)}
    with TEST_SPLIT.open(encoding="utf-8") as f:
        test = [(row["text"], row["category"]) for i, row in enumerate(csv.DictReader(f)) if i not in golden_rows]
    pool = [json.loads(line) for line in OOD_POOL.read_text(encoding="utf-8").splitlines() if line.strip()]
    unread = [(row["text"], row["label"]) for row in pool[ood_rows_read_by_curation() :]]
    banking = iter(rng.sample(test, sum(b for b, _ in WEEK_SIZES)))
    ood = iter(rng.sample(unread, sum(o for _, o in WEEK_SIZES)))
    return [row for n_banking, n_ood in WEEK_SIZES for row in [*islice(banking, n_banking), *islice(ood, n_ood)]]


def ood_rows_read_by_curation() -> int:
    """How many of OOD_POOL's first rows the training config's curation reads (all of them without max_rows)."""
    from harness.curation.config import load

    curation = load(TRAINING_CONFIG)
    for source in curation.curate.sources:
        if curation.path(source.path).resolve() == OOD_POOL.resolve():
            return source.max_rows if source.max_rows is not None else sys.maxsize
    return 0


def _trace(text: str, label: str, answer: str, version: str, i: int) -> dict[str, Any]:
    row: dict[str, Any] = {"text": f"{text} (reply to {EMAIL})" if i % 10 == 3 else text, "output": answer,
                           "model_version": version, "tags": {"channel": "app" if i % 3 else "web"}}  # fmt: skip
    if answer != label:
        row["correction"] = label
    return row


def confirm_corrections(review: Path, confirmed: Path) -> None:
    """Mark every review row holding a correction `add`: here the dataset's label is the person who checked it."""
    with review.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        fields, rows = list(reader.fieldnames or []), list(reader)
    for row in rows:
        row["verdict"] = "add" if row["expected"].strip() else "skip"
    with confirmed.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def summarise(out: Path, weeks: Sequence[Path]) -> None:
    """How many traces it took to get how many new cases, and what drift and shadow said."""
    traces = [json.loads(line) for week in weeks for line in week.read_text(encoding="utf-8").splitlines()]
    corrected = sum("correction" in row for row in traces)
    proposed = _lines(out / "proposed-banking77.jsonl")
    stored = (out / "store" / "traces.sqlite").read_bytes()
    drifted = [json.loads((out / f"drift-week{n}.json").read_text())["drifted"] for n in (1, 2)]
    shadow = json.loads((out / "shadow.json").read_text())
    decision = "promote" if all(gate["passed"] for gate in shadow["gates"]) else "refuse"
    print(f"\n=== demo-loop: done\n"
          f"  traffic: {len(traces)} traces, {corrected} corrected ({corrected / len(traces):.0%}); "
          f"{EMAIL} in the store: {EMAIL.encode() in stored}\n"
          f"  drift: week 1 {'DRIFTED' if drifted[0] else 'quiet'}, week 2 {'DRIFTED' if drifted[1] else 'quiet'}\n"
          f"  new cases: {len(proposed)} proposed for golden/{GOLDEN_SET} from {len(traces)} traces "
          f"({out / 'proposed-banking77.jsonl'}); the same rows as training data in {out / 'confirmed.jsonl'}\n"
          f"  shadow: {shadow['candidate']} vs {shadow['champion']}: agreement {shadow['agreement']:.1%}; "
          f"decision on live traffic: {decision}")  # fmt: skip


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line] if path.is_file() else []


if __name__ == "__main__":
    sys.exit(main())
