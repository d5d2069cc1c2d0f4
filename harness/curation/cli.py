"""`harness curate --config training/configs/<task>.yaml [--output DIR]`.

Exit codes: 0 written, 2 bad input (config, source file, label list, golden sets): the message says
what, where (file:line, key path) and how to fix it. A bad *row* is never bad input: it is rejected
and logged in rejected.jsonl, and the run goes on.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

EXIT_OK = 0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("curate", help="raw data -> curated chat splits, every rejection logged")
    parser.add_argument("--config", type=Path, required=True, metavar="YAML", help="task config with a curate: section")
    parser.add_argument("--output", type=Path, default=None, metavar="DIR", help="override curate.output_dir")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from harness.curation.config import load
    from harness.curation.pipeline import curate
    from harness.golden import display_path

    curation = load(args.config)  # a CurationError is bad input: `harness` exits 2 with its message
    if args.output is not None:
        curation = replace(curation, curate=replace(curation.curate, output_dir=str(args.output.resolve())))
    result = curate(curation, log=lambda line: print(line, flush=True))
    out = display_path(result.output_dir)
    splits = ", ".join(f"{name} {n}" for name, n in result.curation["splits"].items())
    rejected = sum(stage.get("rejected", 0) for stage in result.curation["stages"])
    print(f"wrote {out}: {splits}; {rejected} rejected (rejected.jsonl), "
          f"{sum(s.get('flagged', 0) for s in result.curation['stages'])} flagged (review.jsonl), "
          f"{result.curation['elapsed_s']:.1f} s")  # fmt: skip
    print(f"next: pytest suites/data --dataset={out}")
    return EXIT_OK
