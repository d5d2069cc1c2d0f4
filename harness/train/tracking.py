"""Training runs in MLflow: parameters, the loss curve, the eval-gate history and the summary file.

The store is the registry's (embedded sqlite under runs/ by default, `MLFLOW_TRACKING_URI` for a team
server), so a promoted model version and the run that trained it sit side by side.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from harness.config import HarnessConfig
from harness.release.registry import sqlite_path, tracking_uri
from harness.train.config import TrainConfig
from harness.train.result import TrainResult


def log_training_run(
    result: TrainResult, config: TrainConfig, harness: HarnessConfig, log_history: list[dict[str, Any]]
) -> str:
    """Log one finished run; returns its MLflow run id."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.getLogger("mlflow").setLevel(logging.ERROR)
        logging.getLogger("alembic").setLevel(logging.ERROR)
        import mlflow

        logging.getLogger("mlflow").setLevel(logging.ERROR)  # mlflow sets its own level on import
        uri = tracking_uri(harness)
        database = sqlite_path(uri)
        if database is not None:
            database.parent.mkdir(parents=True, exist_ok=True)
        with _tracking_uri_for_this_run(mlflow, uri):
            _use_experiment(mlflow, config.experiment, database)
            run_id = _log(mlflow, result, config, log_history)
    print(f"mlflow: run {run_id} in experiment {config.experiment!r} at {uri}", flush=True)
    return run_id


@contextmanager
def _tracking_uri_for_this_run(mlflow: Any, uri: str) -> Iterator[None]:
    """MLflow's `set_tracking_uri` also writes $MLFLOW_TRACKING_URI, which `tracking_uri` reads first: left
    set, a second run in the same process (a notebook, a test session) would log into the first one's
    store. The variable is restored when the run is logged."""
    previous = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = previous


def _log(mlflow: Any, result: TrainResult, config: TrainConfig, log_history: list[dict[str, Any]]) -> str:
    with mlflow.start_run(run_name=config.output_dir.name) as run:
        mlflow.log_params(_flat_params(config))
        for entry in log_history:
            step = int(entry.get("step", 0))
            mlflow.log_metrics({k: float(v) for k, v in entry.items() if _is_metric(k, v)}, step=step)
        for evaluation in result.history:
            mlflow.log_metrics(_gate_metrics(evaluation), step=int(evaluation["step"]))
        mlflow.log_metrics({"tokens_per_second": result.tokens_per_second, "peak_rss_mb": result.peak_rss_mb,
                            "train_seconds": result.seconds})  # fmt: skip
        mlflow.set_tags({"lint_warnings": len(result.warnings), "lint_accepted": len(result.accepted_lint),
                         "adapter_dir": str(result.adapter_dir), "machine": result.machine})
        mlflow.log_artifact(str(result.summary_path))
        return str(run.info.run_id)


def _use_experiment(mlflow: Any, name: str, database: Path | None) -> None:
    """With a local sqlite store, artifacts go beside it (runs/mlartifacts), not into ./mlruns of the cwd."""
    if mlflow.get_experiment_by_name(name) is None:
        location = (database.parent / "mlartifacts").resolve().as_uri() if database is not None else None
        mlflow.create_experiment(name, artifact_location=location)
    mlflow.set_experiment(name)


def _flat_params(config: TrainConfig) -> dict[str, str]:
    flat: dict[str, str] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        else:
            flat[prefix] = str(value)[:500]

    walk("", asdict(config))
    return flat


def _is_metric(key: str, value: Any) -> bool:
    return key != "step" and isinstance(value, int | float) and not isinstance(value, bool)


def _gate_metrics(evaluation: dict[str, Any]) -> dict[str, float]:
    values = {"gate_score": float(evaluation["score"])}
    for check in evaluation["checks"]:
        values[f"val_{check['metric']}"] = float(check["value"])
        values[f"val_{check['metric']}_lower"] = float(check["lower"])
    return values
