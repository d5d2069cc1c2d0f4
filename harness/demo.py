"""`make demo`: the main job end to end on the embedded SmolLM2 and Banking77, through the real commands.

    .venv/bin/python -m harness.demo [--config training/configs/banking77.yaml]

1. `harness curate`   raw Banking77 (+ out-of-scope and replay pools) -> runs/banking77/data, data gates
2. `harness train`    LoRA adapter -> runs/banking77/adapter (refuses unless the data gates pass)
3. `pytest suites/ --model=base`   the bar: the base model on every suite
4. `harness promote --adapter runs/banking77/adapter`   the suites on the adapter decide; registry alias

Each step is the command a user would type, run as a subprocess with its output streamed. A failed gate
is a result, not a crash: the demo ends with the table of both models and the decision either way.
Exit code: 0 when the demo ran to its decision (promoted or refused), 2 when a step broke.
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

ADAPTER = Path("runs/banking77/adapter")
ACCURACY_GATE = "banking77.accuracy"
FORGETTING_GATE = "regression.no_forgetting"


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


def read_results(report_dir: Path | None) -> dict[str, Any] | None:
    path = report_dir / "results.json" if report_dir else None
    return json.loads(path.read_text()) if path and path.is_file() else None


def newest_report(pattern: str, since: float) -> Path | None:
    found = [p for p in Path("reports").glob(pattern) if p.is_dir() and p.stat().st_mtime >= since]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def accuracy_cell(results: dict[str, Any] | None) -> str:
    found = gate(results, ACCURACY_GATE)
    if not found:
        return "-"
    low, high = found.get("interval") or (None, None)
    interval = f" [{low:.3f}, {high:.3f}]" if low is not None else ""
    return f"{found['value']:.3f}{interval}"


def forgetting_cell(results: dict[str, Any] | None) -> str:
    found = gate(results, FORGETTING_GATE)
    if not found:
        return "- (reference)"
    return f"{found['value']:.3f} ({'pass' if found['passed'] else 'FAIL'})"


def table(rows: list[tuple[str, str, str, str]]) -> str:
    header = ("model", "Banking77 accuracy", "regression lost", "decision")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |"
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows]
    return "\n".join([line, rule, *body])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="training/configs/banking77.yaml")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    steps = [run("curate", harness_command("curate", "--config", args.config))]
    steps.append(run("train", harness_command("train", "--config", args.config)))
    base_dir = Path("reports") / report.run_dir_name("demo-base")
    steps.append(run("base suites", [sys.executable, "-m", "pytest", "suites/", "--model=base",
                                     f"--report-dir={base_dir}", "-q"], ok=(0, 1)))  # fmt: skip
    stop_if_broken("base suites", read_results(base_dir))
    promote_started = time.time()
    steps.append(run("promote", harness_command("promote", "--adapter", str(ADAPTER)), ok=(0, 1)))
    adapter_dir = newest_report(f"*promote-{ADAPTER.name}*", promote_started)
    decision = "promoted: alias champion" if steps[-1].exit_code == 0 else "refused (gates above)"
    rows = [
        ("base (SmolLM2-135M-Instruct)", accuracy_cell(read_results(base_dir)), "- (reference)", "the bar"),
        (f"adapter ({ADAPTER})", accuracy_cell(read_results(adapter_dir)),
         forgetting_cell(read_results(adapter_dir)), decision),
    ]  # fmt: skip
    print("\n" + table(rows))
    print(f"\nreports: base {base_dir}, adapter {adapter_dir}")
    print("times: " + ", ".join(f"{s.name} {s.seconds / 60:.1f} min" for s in steps)
          + f"; total {(time.perf_counter() - started) / 60:.1f} min")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
