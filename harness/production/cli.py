"""`harness traces ...`: the commands of the loop after release.

    harness traces import FILE --store DIR [--reject-to FILE]   check, redact and store a trace export

Exit codes as for every `harness` command: 0 done, 2 bad input (the message says what, where and how to
fix it).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.config import HarnessConfig

EXIT_OK = 0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `traces` to the `harness` command."""
    traces = commands.add_parser("traces", help="import production traces")
    actions = traces.add_subparsers(title="traces commands", metavar="ACTION", required=True)
    _add_import(actions)


def _store_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", type=Path, required=True, metavar="DIR", help="the trace store directory")


# --- import ----------------------------------------------------------------------------------------------


def _add_import(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = actions.add_parser("import", help="check, redact PII and store a .jsonl/.csv trace export")
    parser.add_argument("file", type=Path, metavar="FILE", help="the export: one trace per JSONL line or CSV row")
    _store_option(parser)
    parser.add_argument("--reject-to", type=Path, default=None, metavar="FILE",
                        help="store the good rows, write bad ones here, redacted (default: refuse the import)")
    parser.add_argument("--drop-field", action="append", default=[], metavar="NAME",
                        help="a field of the export traces do not use (repeatable): read past, never stored")
    parser.set_defaults(run=import_command)


def import_command(args: argparse.Namespace) -> int:
    from harness.curation.config import PIIConfig
    from harness.curation.pii import Redactor
    from harness.golden import display_path
    from harness.production.ingest import import_traces

    config = HarnessConfig.load(Path.cwd())
    redactor = Redactor(PIIConfig(), config.cache_dir)  # curation's defaults: the same entities and score bars
    done = import_traces(args.file, args.store, redactor, reject_to=args.reject_to, drop_fields=args.drop_field)
    log = done.log
    redacted = ", ".join(f"{k} {v}" for k, v in sorted(log.redactions.items())) or "none"
    print(f"imported {display_path(args.file)} into {display_path(done.store.path)}: {log.rows} row(s), "
          f"{log.stored} new, {log.updated} updated, {log.duplicates} already stored, "
          f"{log.rejected} rejected")  # fmt: skip
    print(f"PII redacted before storing: {redacted}")
    if done.rejected_path is not None:
        print(f"{log.rejected} row(s) set aside, redacted, in {display_path(done.rejected_path)}:")
        for problem in done.problems[:10]:
            print(f"  {problem}")
    print(f"the store holds {done.store.count()} trace(s)")
    return EXIT_OK
