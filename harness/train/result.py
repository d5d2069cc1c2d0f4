"""What one training run produced: the adapter, its summary file and the figures both the run's summary
and its MLflow record report. Its own module, so that `run.py` (which makes it) and `tracking.py` (which
logs it) both import it, and not each other."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class TrainResult:
    adapter_dir: Path
    summary_path: Path
    warnings: list[str]
    """Config lint warnings the run went ahead with."""
    steps: int
    seconds: float
    train_rows: int
    replay_rows: int
    tokens_per_second: float
    peak_rss_mb: float
    best: dict[str, Any] | None
    """The checkpoint the eval gate chose (step, score, checks); None when none was scored (no val split)."""
    accepted_lint: list[str] = field(default_factory=list)
    """Config lint warnings the config accepts (`train.lint_accepted`), each with its reason."""
    history: list[dict[str, Any]] = field(default_factory=list)
    """Every eval-gate evaluation, in step order."""
    machine: str = ""
    """Where it trained and in which precision (`harness.machine.describe`): a time means little without it."""
