"""`make demo`: the main job end to end on the embedded SmolLM2 and Banking77, through the real commands.

    .venv/bin/python -m harness.demo [--config training/configs/banking77.yaml]

1. `harness curate`   raw Banking77 (+ out-of-scope and replay pools) -> runs/banking77/data, data gates
2. `harness train --strict`    LoRA adapter -> runs/banking77/adapter (refuses unless the data gates pass and
   every config-lint warning is fixed or accepted with its reason in `train.lint_accepted`)
3. `pytest suites/ --task banking77 --model=base`   the bar: the base model on every Banking77 suite, with
   the cheap baselines
4. `harness promote --task banking77 --adapter runs/banking77/adapter`   the task's suites decide;
   registry alias `champion` of its registered model
5. `harness train --max-steps N --output-dir runs/banking77/candidate`   a deliberately weaker candidate:
   the same recipe with a quarter of the steps (on the stored frozen trunk, so only its steps cost)
6. `harness promote --task banking77 --adapter runs/banking77/candidate`   refused: its own gates, and the paired
   comparison with the champion

Each step is the command a user would type, run as a subprocess with its output streamed. A failed gate
is a result, not a crash: the demo ends with the table of every model and its decision either way. Run a
second time, every stage reuses its work (curated data, adapters trained from the same inputs, cached
answers) and the champion stays as it is.
Exit code: 0 when the demo ran to its decisions (promoted or refused), 2 when a step broke.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import report
from harness.machine import cpu_flags

ADAPTER = Path("runs/banking77/adapter")
CANDIDATE = Path("runs/banking77/candidate")
CANDIDATE_STEP_SHARE = 0.25
"""The weaker candidate trains this share of the champion's steps: a plausible "cheaper run" to refuse."""
ACCURACY_GATE = "banking77.accuracy"
FORGETTING_GATE = "regression.no_forgetting"
CLASSICAL_GATES = ("banking77.classical_baseline.tfidf.accuracy", "banking77.classical_baseline.minilm.accuracy")
RETRIEVAL_GATE = "banking77.retrieval_baseline.accuracy"


@dataclass
class Step:
    name: str
    seconds: float
    exit_code: int


def run(name: str, command: list[str], ok: tuple[int, ...] = (0,)) -> Step:
    """One stage; an exit code outside `ok` stops the demo."""
    print(f"\n=== demo: {name}: {' '.join(command)}", flush=True)
    started = time.perf_counter()
    code = subprocess.run(command, check=False).returncode
    step = Step(name, time.perf_counter() - started, code)
    if code not in ok:
        print(f"demo: {name} failed with exit code {code}; stopping", file=sys.stderr)
        raise SystemExit(2)
    return step


def stop_if_broken(name: str, results: dict[str, Any] | None) -> None:
    """pytest exits 1 both for a failed gate (a result) and for a test that errored (a broken run); the run's
    verdict tells them apart. The base run is the bar every decision after it is read against."""
    decided = report.verdict(results) if results is not None else None
    if decided is None or decided.decision == "none":
        why = decided.headline if decided is not None else "it wrote no results.json"
        print(f"demo: {name} is not a decision ({why}); stopping", file=sys.stderr)
        raise SystemExit(2)


def harness_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "harness.cli", *args]


def gate(results: dict[str, Any] | None, name: str) -> dict[str, Any] | None:
    return next((g for g in (results or {}).get("gates", []) if g["name"] == name), None)


def read_json(path: Path | None) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path is not None and path.is_file() else None


def newest_report(pattern: str, since: float) -> Path | None:
    found = [p for p in Path("reports").glob(pattern) if p.is_dir() and p.stat().st_mtime >= since]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def accuracy_cell(found: dict[str, Any] | None) -> str:
    if not found:
        return "-"
    low, high = found.get("interval") or (None, None)
    interval = f" [{low:.3f}, {high:.3f}]" if low is not None else ""
    return f"{found['value']:.3f}{interval}"


def forgetting_cell(results: dict[str, Any] | None) -> str:
    found = gate(results, FORGETTING_GATE)
    if not found:
        return "- (not measured)"  # an adapter's run without the gate must not read as the reference
    return f"{found['value']:.3f} ({'pass' if found['passed'] else 'FAIL'})"


def decision_cell(step: Step, decision: dict[str, Any] | None) -> str:
    """What `harness promote` decided, from its decision.json: promoted, unchanged, or refused and why."""
    if decision is None:
        return f"no decision (promote exit {step.exit_code})"
    if decision["promote"]:
        if decision["already_champion"]:
            return f"unchanged: already champion (v{decision['champion_before']})"
        return f"promoted: champion v{decision['registered']}"
    why = []
    failed = sorted(decision["gates_failed"], key=lambda name: (name not in (ACCURACY_GATE, FORGETTING_GATE), name))
    if failed:  # the task's accuracy and forgetting first: the table's own columns
        why.append(f"{len(failed)} gates failed ({', '.join(failed[:3])}" + (", …)" if len(failed) > 3 else ")"))
    if decision["worse_than_champion"]:
        why.append(f"worse than champion v{decision['champion_before']} on "
                   f"{len(decision['worse_than_champion'])} gates")  # fmt: skip
    return "REFUSED: " + ("; ".join(why) or decision["reasons"][0])


def table(rows: list[tuple[str, str, str, str]]) -> str:
    header = ("model", "Banking77 accuracy [95% CI]", "regression lost", "decision")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |"
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows]
    return "\n".join([line, rule, *body])


def baseline_rows(base: dict[str, Any] | None) -> list[tuple[str, str, str, str]]:
    """The audit before spend, as the base run measured it: the stronger classical classifier and
    retrieval few-shot on the base model."""
    classical = [found for name in CLASSICAL_GATES if (found := gate(base, name))]
    rows = []
    if classical:
        best = max(classical, key=lambda g: g["value"])
        kind = best["name"].split(".")[2]
        rows.append((f"classical baseline ({kind} + logistic regression)", accuracy_cell(best), "-", "cheap baseline"))
    if found := gate(base, RETRIEVAL_GATE):
        rows.append(("retrieval few-shot on base (k=4)", accuracy_cell(found), "-", "cheap baseline"))
    return rows


def promote(adapter: Path, task: str) -> tuple[Step, Path | None]:
    started = time.time()
    command = harness_command("promote", "--task", task, "--adapter", str(adapter))
    step = run(f"promote {adapter.name}", command, ok=(0, 1))
    return step, newest_report(f"*promote-{adapter.name}*", started)


def adapter_row(label: str, adapter: Path, step: Step, report_dir: Path | None) -> tuple[str, str, str, str]:
    """An adapter's table row from its promote run's results.json and decision.json."""
    results = read_json(report_dir / "results.json" if report_dir else None)
    decision = read_json(report_dir / "decision.json" if report_dir else None)
    return (f"{label} ({adapter}, {trained_steps(adapter)} steps)", accuracy_cell(gate(results, ACCURACY_GATE)),
            forgetting_cell(results), decision_cell(step, decision))  # fmt: skip


def trained_steps(adapter: Path) -> int:
    summary = read_json(adapter / "training_summary.json") or {}
    return int(summary.get("result", {}).get("steps", 0))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="training/configs/banking77.yaml")
    args = parser.parse_args(argv)
    from harness.curation.config import load

    task = load(Path(args.config)).task  # its [tool.harness.tasks] entry: its suites decide, its champion moves
    started = time.perf_counter()
    steps = [run("curate", harness_command("curate", "--config", args.config))]
    steps.append(run("train", harness_command("train", "--config", args.config, "--strict")))  # lint-clean recipes
    base_dir = Path("reports") / report.run_dir_name("demo-base")
    steps.append(run("base suites", [sys.executable, "-m", "pytest", "suites/", "--task", task, "--model=base",
                                     f"--report-dir={base_dir}", "-q"], ok=(0, 1)))  # fmt: skip
    base = read_json(base_dir / "results.json")
    stop_if_broken("base suites", base)
    champion_step, champion_dir = promote(ADAPTER, task)
    stop_if_broken(f"promote {ADAPTER}", read_json(champion_dir / "results.json" if champion_dir else None))
    candidate_steps = max(1, round(trained_steps(ADAPTER) * CANDIDATE_STEP_SHARE))
    steps += [champion_step, run("train candidate", harness_command(
        "train", "--config", args.config, "--strict", "--max-steps", str(candidate_steps),
        "--output-dir", str(CANDIDATE)))]
    candidate_step, candidate_dir = promote(CANDIDATE, task)
    steps.append(candidate_step)
    rows = [
        ("base (SmolLM2-135M-Instruct)", accuracy_cell(gate(base, ACCURACY_GATE)), "- (reference)", "the bar"),
        *baseline_rows(base),
        adapter_row("adapter", ADAPTER, champion_step, champion_dir),
        adapter_row("weaker candidate", CANDIDATE, candidate_step, candidate_dir),
    ]
    print("\n" + table(rows))
    print(f"\nreports: base {base_dir}, adapter {champion_dir}, candidate {candidate_dir}")
    print("times: " + ", ".join(f"{s.name} {s.seconds / 60:.1f} min" for s in steps)
          + f"; total {(time.perf_counter() - started) / 60:.1f} min on {cpu_flags()}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
