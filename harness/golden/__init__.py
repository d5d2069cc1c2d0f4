"""Golden sets: the frozen cases every suite scores a model on.

cases.py   `GoldenCase`, and reading, validating and writing `golden/<set>/cases.jsonl`
lock.py    freezing: `golden/golden.lock` pins the sha256 of every set
table.py   a user's CSV/TSV/JSONL table -> cases, for `harness golden add`
generation.py  `golden/<set>/generation.toml`: how the set's answers are generated, frozen with it

The cases API is re-exported here, so suites and build scripts write `from harness.golden import GoldenCase`.
"""

from harness.golden.cases import (
    CASES_FILE,
    ChatMessage,
    GoldenCase,
    GoldenError,
    append_cases,
    display_path,
    evenly_spread,
    list_sets,
    load_file,
    load_set,
    not_utf8,
    read_jsonl,
    set_path,
    source_of,
    validate_rows,
    write_file,
)
from harness.golden.generation import GENERATION_FILE, GoldenSet, generation_settings

REGRESSION_SET = "regression"
"""The general-capability set suites/test_regression.py scores `regression.no_forgetting` on at promotion.
The eval gate's forgetting vote replays it by default, and the config lint warns when it does."""

__all__ = [
    "REGRESSION_SET",
    "CASES_FILE",
    "GENERATION_FILE",
    "GoldenSet",
    "generation_settings",
    "ChatMessage",
    "GoldenCase",
    "GoldenError",
    "append_cases",
    "display_path",
    "evenly_spread",
    "list_sets",
    "load_file",
    "load_set",
    "not_utf8",
    "read_jsonl",
    "set_path",
    "source_of",
    "validate_rows",
    "write_file",
]
