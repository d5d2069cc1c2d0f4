"""Run reports: what a run decided, written from what the session recorded (nothing is re-run).

record.py   the run record (`attach` feeds it) and the verdict it adds up to: results.json
summary.py  the gate table for the terminal and summary.md
html.py     reports/<run>/report.html: one self-contained page for a person to read
diff.py     `harness report diff`: which gates moved and which cases flipped between two runs

Suites call `report.attach(name, data)`; the plugin builds the record and `write`s it at the end of the run.
Every file is written from the record alone; nothing is re-run to produce a report.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from harness.report import html
from harness.report.record import RunRecord, Verdict, attach, configure_attach, git_commit, run_dir_name, verdict
from harness.report.summary import summary_markdown, terminal_table

__all__ = [
    "RunRecord",
    "Verdict",
    "attach",
    "configure_attach",
    "git_commit",
    "run_dir_name",
    "summary_markdown",
    "terminal_table",
    "verdict",
    "write",
]


def write(record: RunRecord) -> Path:
    """results.json, summary.md and report.html; `record.html_written` says whether the last one made it."""
    record.run_dir.mkdir(parents=True, exist_ok=True)
    results = record.to_json()
    (record.run_dir / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (record.run_dir / "summary.md").write_text(summary_markdown(record))
    try:
        html.write(record.run_dir, results)  # its plots import matplotlib, only now
        record.html_written = True
    except Exception as error:  # noqa: BLE001 - a rendering bug must not change the exit code, which is the decision
        record.html_written = False
        print(f"harness: {record.run_dir / html.HTML_FILE} not written ({type(error).__name__}: {error}); "
              "results.json and summary.md are complete", file=sys.stderr)  # fmt: skip
    return record.run_dir
