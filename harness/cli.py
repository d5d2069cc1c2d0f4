"""The `harness` command: golden-set authoring and freezing, and run-to-run report diffs.

    harness golden add SET --from FILE     append cases from a CSV/TSV/JSONL table to golden/SET
    harness golden freeze --reason TEXT    re-pin golden/golden.lock, on purpose and with a reason
    harness golden verify                  exit 1 when a golden set differs from the lock (for CI)
    harness report diff RUN_A RUN_B        which gates moved and which cases flipped
    harness review export RUN --worst N    the cases most worth a human look -> review.csv + review.html
    harness review import FILE --reason T  reviewers' verdicts -> golden/judge_calibration (re-frozen)
    harness curate --config YAML           raw data -> curated chat splits (rejections logged with reasons)
    harness promote --adapter DIR          run the suites on an adapter; register it as champion if it wins
    harness task new NAME --from TABLE     a classification task (golden set, suite, bars) from a labelled table
    harness traces import FILE --store DIR production traces -> the trace store, PII redacted first
    harness traces drift --store DIR --reference REF   exit 1 when recent traffic drifted from REF
    harness traces prune --store DIR --keep-days N     delete traces past a retention limit (vacuumed)
    harness shadow --candidate SPEC --store DIR        replay traces through candidate and champion, compare

Exit codes: 0 done, 1 golden sets differ from the lock or the harness refused (a promotion, a training
run, drift found, a shadow gate), 2 bad input or a broken run (the message says what, where and how to
fix it). Suites run through `pytest`, not through this command.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from harness.errors import HarnessError, Refused
from harness.golden import GoldenError, display_path

EXIT_OK, EXIT_DIFFERS, EXIT_BAD_INPUT = 0, 1, 2
EXIT_REFUSED = 1
"""A refusal is a decision (a gate failed, training refused), like golden sets that differ: not bad input."""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `harness` console script; returns the exit code.

    Subcommands raise; only here is an error turned into an exit code, by its branch of the harness's error
    tree (harness.errors): a refusal exits 1, anything else the harness raised on purpose (bad input, a
    registry that cannot answer, a model that could not) exits 2 with its message, never a traceback."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except Refused as refusal:
        print(f"harness: refused: {refusal}", file=sys.stderr)
        return EXIT_REFUSED
    except HarnessError as error:
        print(f"harness: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harness", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    golden = commands.add_parser("golden", help="add, freeze and verify golden sets")
    golden_commands = golden.add_subparsers(title="golden commands", metavar="ACTION", required=True)
    _add_freeze(golden_commands)
    _add_verify(golden_commands)
    _add_add(golden_commands)
    from harness.release.promote import register as register_promote  # imports the registry only when run

    register_promote(commands)
    report = commands.add_parser("report", help="compare run reports")
    report_commands = report.add_subparsers(title="report commands", metavar="ACTION", required=True)
    _add_diff(report_commands)
    from harness.judge.review import register as register_review

    register_review(commands)
    from harness.train.cli import register as register_train

    register_train(commands)
    from harness.curation.cli import register as register_curate

    register_curate(commands)
    from harness.production.cli import register as register_production

    register_production(commands)
    from harness.task import register as register_task

    register_task(commands)
    return parser


def _root_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--root", metavar="DIR", type=Path, default=Path("golden"), help="golden sets directory (default: golden)"
    )


def _add_freeze(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("freeze", help="pin every golden set in golden.lock (needs --reason)")
    parser.add_argument(
        "--reason", metavar="TEXT", required=True, help="why the sets changed; lands in the lock and in review"
    )
    _root_option(parser)
    parser.set_defaults(run=golden_freeze)


def _add_verify(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("verify", help="exit 1 if a golden set differs from golden.lock")
    _root_option(parser)
    parser.set_defaults(run=golden_verify)


def _add_add(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("add", help="append cases from a .csv/.tsv/.jsonl table to a golden set")
    parser.add_argument("set", metavar="SET", help="golden set name: cases go to <root>/SET/cases.jsonl")
    parser.add_argument("--from", dest="table", type=Path, required=True, metavar="FILE", help="the table to read")
    parser.add_argument("--id-column", default="id", metavar="NAME",
                        help="column of case ids (default: id; without one: <file stem>-0001, …)")  # fmt: skip
    parser.add_argument("--input-column", metavar="NAME", default="input", help="column of prompts (default: input)")
    parser.add_argument(
        "--expected-column", metavar="NAME", default="expected", help="column of expected answers (default: expected)"
    )
    parser.add_argument(
        "--tags-column", metavar="NAME", default=None, help="column of comma-separated tags (default: none)"
    )
    parser.add_argument("--system", metavar="TEXT", default=None, help="system prompt to put before every input")
    _root_option(parser)
    parser.set_defaults(run=golden_add)


def _add_diff(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("diff", help="gates and cases that changed between two runs")
    parser.add_argument("run_a", type=Path, metavar="RUN_A", help="a reports/<run> dir or its results.json")
    parser.add_argument("run_b", type=Path, metavar="RUN_B", help="the run to compare with RUN_A")
    parser.add_argument(
        "--max-cases", metavar="N", type=_positive, default=20, help="flipped cases shown per gate (default: 20)"
    )
    parser.set_defaults(run=report_diff)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number — pass e.g. --max-cases 50")
    return int(text)


def _golden_root(args: argparse.Namespace) -> Path:
    root: Path = args.root
    if not root.is_dir():
        fix = "run from the repository root, or pass --root DIR"
        raise GoldenError([f"{display_path(root)}: no golden sets directory here — {fix}"])
    return root


# --- subcommands: one function each, returning the exit code ---------------------------------------------


def golden_freeze(args: argparse.Namespace) -> int:
    """Write golden.lock; freeze itself refuses an empty reason and invalid cases."""
    from harness.golden.lock import LOCK_FILE, freeze

    root = _golden_root(args)
    lock = freeze(root, args.reason)
    print(f"froze {len(lock.files)} golden file(s) into {display_path(root / LOCK_FILE)}: {lock.reason!r}")
    for name, entry in sorted(lock.files.items()):
        print(f"  {name}: {entry.cases} cases, sha256 {entry.sha256[:12]}, frozen {entry.frozen_at}")
    print(f"lock_hash {lock.lock_hash}")
    print("commit the lock with the sets, so the change and its reason are reviewed together")
    return EXIT_OK


def golden_verify(args: argparse.Namespace) -> int:
    """For CI: 0 and the lock hash when the sets match the lock, 1 and what differs otherwise."""
    from harness.golden.lock import verify

    root = _golden_root(args)
    try:
        status = verify(root)
    except GoldenError as error:  # an unreadable or hand-edited lock is a failed verification, not bad input
        print(error, file=sys.stderr)
        return EXIT_DIFFERS
    if not status.ok:
        print(status.explain(), file=sys.stderr)
        return EXIT_DIFFERS
    print(f"ok {status.lock_hash}")
    return EXIT_OK


def golden_add(args: argparse.Namespace) -> int:
    """Append validated cases; the lock then no longer matches, and that is deliberate."""
    from harness.golden import append_cases
    from harness.golden.lock import REFREEZE
    from harness.golden.table import cases_from_table

    cases = cases_from_table(args.table, id_column=args.id_column, input_column=args.input_column,
                             expected_column=args.expected_column, tags_column=args.tags_column,
                             system=args.system)  # fmt: skip
    if not cases:
        raise GoldenError([f"{display_path(args.table)}: no rows — add one case per row under the header"])
    path = append_cases(args.root, args.set, cases)
    print(f"added {len(cases)} case(s) from {display_path(args.table)} to {display_path(path)}")
    print(f"golden.lock no longer matches, so every suite run stops until you re-freeze on purpose: `{REFREEZE}`")
    return EXIT_OK


def report_diff(args: argparse.Namespace) -> int:
    """Print what changed from run A to run B, most important first."""
    from harness.report.diff import read_results, render

    run_a, run_b = read_results(args.run_a), read_results(args.run_b)
    for line in render(run_a, run_b, max_cases=args.max_cases):
        print(line)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
