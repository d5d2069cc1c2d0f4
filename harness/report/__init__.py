"""Run reports: what a run decided, written from what the session recorded (nothing is re-run).

record.py  the run record, its verdict, results.json + summary.md, the terminal table, `attach`
html.py    reports/<run>/report.html: one self-contained page for a person to read
diff.py    `harness report diff`: which gates moved and which cases flipped between two runs

Suites call `report.attach(name, data)`; the plugin builds the record and writes it at the end of the run.
"""

from harness.report.record import (
    RunRecord,
    Verdict,
    attach,
    configure_attach,
    git_commit,
    run_dir_name,
    summary_markdown,
    terminal_table,
    verdict,
    write,
)

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
