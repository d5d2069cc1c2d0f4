"""`harness train --config training/configs/<task>.yaml [--strict] [--max-steps N] [--output-dir DIR] [--force]`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_REFUSED = 0, 1


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("train", help="train an adapter on a curated dataset (data gates must pass)")
    parser.add_argument("--config", type=Path, required=True, metavar="YAML", help="task config with a train: section")
    parser.add_argument("--strict", action="store_true", help="config lint warnings are errors")
    parser.add_argument("--max-steps", type=int, default=None, metavar="N", help="override train.max_steps")
    parser.add_argument("--output-dir", type=Path, default=None, metavar="DIR", help="override train.output_dir")
    parser.add_argument(
        "--force", action="store_true", help="train even when output_dir holds an adapter trained from the same inputs"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Train; a refusal (TrainingRefused) or bad input raises, and `harness` turns it into exit 1 or 2."""
    from harness.config import HarnessConfig
    from harness.train.config import load_train_config
    from harness.train.run import train

    harness = HarnessConfig.load(Path.cwd())
    config = load_train_config(args.config, root=harness.root)
    if args.max_steps is not None:
        config.max_steps = args.max_steps
    if args.output_dir is not None:
        config.output_dir = args.output_dir.resolve()
    result: Any = train(config, harness, strict=args.strict, force=args.force)
    return EXIT_OK if result.adapter_dir.is_dir() else EXIT_REFUSED
