"""`[tool.harness]` in pyproject.toml, read into typed dataclasses.

Every default a run depends on lives here, so a reviewer can see every knob and bar in one place.
Unknown keys are errors: a typo in a threshold must not silently fall back to a default.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from harness.errors import UsageError

EMBEDDED_BASE_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"


class ConfigError(UsageError, ValueError):
    """`[tool.harness]` is malformed. The message names the file and key."""


@dataclass(frozen=True)
class GenerationDefaults:
    max_new_tokens: int = 64
    temperature: float = 0.0
    top_p: float = 1.0
    batch_size: int = 16

    def params(self) -> dict[str, Any]:
        """The request-level parameters (batch_size is an execution detail, not part of a request)."""
        return {"max_new_tokens": self.max_new_tokens, "temperature": self.temperature, "top_p": self.top_p}


@dataclass(frozen=True)
class OpenAISettings:
    concurrency: int = 8
    timeout_s: float = 60.0
    max_retries: int = 5
    backoff_s: float = 0.5
    backoff_max_s: float = 8.0


@dataclass(frozen=True)
class JudgeSettings:
    """`[tool.harness.judge]`: the LLM judge and the bar its agreement with people must clear."""

    spec: str = ""
    """A model spec like --model (usually openai:MODEL@BASE_URL); empty: no judge, the judge suite skips."""
    min_kappa: float = 0.6
    """Cohen's kappa with the human verdicts in golden/judge_calibration below which the judge is untrusted."""
    max_error_rate: float = 0.1
    """Share of calibration verdicts the judge may fail to give (unparseable after a re-ask) and stay trusted."""
    max_items: int = 40
    """Model answers judged per run: enough for a win-rate interval, few enough to stay cheap."""
    max_new_tokens: int = 128
    """Room for a one-sentence reason and the verdict as JSON."""

    def __post_init__(self) -> None:
        bounds = {"min_kappa": (-1.0, 1.0), "max_error_rate": (0.0, 1.0)}
        for name, (low, high) in bounds.items():
            if not low <= getattr(self, name) <= high:
                raise ConfigError(f"[tool.harness.judge] {name} = {getattr(self, name)!r} must be in [{low}, {high}]")
        for name in ("max_items", "max_new_tokens"):
            if getattr(self, name) < 1:
                raise ConfigError(f"[tool.harness.judge] {name} = {getattr(self, name)!r} must be at least 1")


@dataclass(frozen=True)
class RegistrySettings:
    """`[tool.harness.registry]`: the MLflow model registry that `harness promote` writes and `--model=champion`
    reads. $MLFLOW_TRACKING_URI wins over tracking_uri, so CI can point at a team server without an edit."""

    tracking_uri: str = ""
    """MLflow tracking and registry URI; empty: the embedded sqlite store `sqlite:///<repo root>/runs/mlflow.db`."""
    model_name: str = "harness-model"
    """The registered model that promoted adapters become versions of."""
    alias: str = "champion"
    """The alias promotion moves; also the --model / --baseline name that resolves to it."""
    store_dir: str = "runs/registry"
    """Content-addressed copies of promoted adapters and their results (relative to the repo root), so retraining
    into the same directory cannot change a promoted model. With a team server, put it on shared storage."""

    def __post_init__(self) -> None:
        for name in ("model_name", "alias", "store_dir"):
            if not getattr(self, name).strip():
                raise ConfigError(f"[tool.harness.registry] {name} must not be empty")
        if ":" in self.alias or "@" in self.alias:
            raise ConfigError(
                f"[tool.harness.registry] alias = {self.alias!r}: ':' and '@' would read as a model spec scheme; "
                "use a plain name such as champion"
            )


@dataclass(frozen=True)
class ProductionSettings:
    """`[tool.harness.production]`: how the loop after release reads the trace store (harness.production)."""

    store: str = ""
    """A trace store dir (`harness traces import --store DIR`) that `harness promote` hands to the suites as
    --traces, so suites/test_production.py replays it through the candidate and the champion (the shadow
    gates); empty: promotion runs no shadow comparison."""
    window_days: float = 7.0
    """Traces within this many days of the newest stored one are "recent": what drift and shadow look at."""
    max_traces: int = 300
    """At most this many recent traces (an evenly spread, seeded sample) go into a drift test or a shadow run:
    enough for the tests' power, few enough for minutes of CPU."""
    max_reference: int = 1000
    """At most this many reference rows (training split or golden set) in a drift test, sampled with the seed."""
    permutations: int = 1000
    """Permutations of the two-sample tests: the smallest p-value they can show is 1/(permutations + 1)."""
    seed: int = 0
    system_from: str = ""
    """A golden set whose system turn is put before traces logged without one when they are replayed (the
    prompt production used); empty: traces are replayed as logged."""

    def __post_init__(self) -> None:
        for name in ("max_traces", "max_reference", "permutations"):
            if getattr(self, name) < 1:
                raise ConfigError(f"[tool.harness.production] {name} = {getattr(self, name)!r} must be at least 1")
        if self.window_days <= 0:
            raise ConfigError(f"[tool.harness.production] window_days = {self.window_days!r} must be above 0")


@dataclass(frozen=True)
class TaskSettings:
    """`[tool.harness.tasks.NAME]`: one task of the project, promoted on its own. A project may hold many
    (an adapter per task on one base); each has its suites and its registered model, so one task's
    unfinished suite never blocks another's release, and each has its own champion."""

    suites: tuple[str, ...]
    """Suite files or directories, relative to the repository root, whose gates decide this task's promotions."""
    model_name: str
    """The registered model this task's adapters become versions of; its alias is the task's champion."""


@dataclass(frozen=True)
class HarnessConfig:
    root: Path = field(default_factory=Path.cwd)
    """Relative paths in model specs resolve against this (the directory holding pyproject.toml)."""
    models: dict[str, str] = field(
        default_factory=lambda: {"base": f"hf:{EMBEDDED_BASE_ID}", "adapter": "peft:runs/banking77/adapter"}
    )
    generation: GenerationDefaults = field(default_factory=GenerationDefaults)
    openai: OpenAISettings = field(default_factory=OpenAISettings)
    judge: JudgeSettings = field(default_factory=JudgeSettings)
    registry: RegistrySettings = field(default_factory=RegistrySettings)
    production: ProductionSettings = field(default_factory=ProductionSettings)
    cache_dir: Path = field(default_factory=lambda: default_cache_dir())
    gates: dict[str, Any] = field(default_factory=dict)
    """`[tool.harness.gates]` as written: thresholds by gate name, plus mode / confidence / alpha."""
    tasks: dict[str, TaskSettings] = field(default_factory=dict)
    """`[tool.harness.tasks]`: the project's tasks by name (none: the whole of suites/ is one task)."""
    task: str | None = None
    """The task this config is seen from (`for_task`): its registered model is `registry.model_name`."""

    def for_task(self, name: str | None) -> HarnessConfig:
        """This config as task `name` sees it: the registry's model is the task's, so `champion` is its
        champion. None: the only task when there is exactly one; otherwise the config unchanged."""
        if name is None:
            if self.task is not None or len(self.tasks) != 1:
                return self
            name = next(iter(self.tasks))
        settings = self.task_settings(name)
        return replace(self, registry=replace(self.registry, model_name=settings.model_name), task=name)

    def task_settings(self, name: str) -> TaskSettings:
        if name not in self.tasks:
            import difflib

            known = sorted(self.tasks)
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            listed = ", ".join(known) or "none: add a [tool.harness.tasks.NAME] table to pyproject.toml"
            raise ConfigError(f"no task {name!r} in [tool.harness.tasks] (tasks: {listed}){hint}")
        return self.tasks[name]

    @property
    def golden_dir(self) -> Path:
        return self.root / "golden"

    @classmethod
    def load(cls, root: Path) -> HarnessConfig:
        """Read `root/pyproject.toml`; a missing file or section gives the defaults."""
        pyproject = root / "pyproject.toml"
        table: dict[str, Any] = {}
        if pyproject.is_file():
            with pyproject.open("rb") as f:
                table = tomllib.load(f).get("tool", {}).get("harness", {})
        return cls.from_table(table, root=root, source=str(pyproject))

    @classmethod
    def from_table(cls, table: dict[str, Any], *, root: Path, source: str = "[tool.harness]") -> HarnessConfig:
        known = {"models", "generation", "openai", "judge", "registry", "production", "cache_dir", "gates", "tasks"}
        _reject_unknown(table, known, source, "tool.harness")
        defaults = cls(root=root)
        models = {**defaults.models, **_str_table(table.get("models", {}), source, "tool.harness.models")}
        cache_dir = default_cache_dir(table.get("cache_dir"), root)
        return cls(
            root=root,
            models=models,
            generation=_dataclass_from(GenerationDefaults, table.get("generation", {}), source, "generation"),
            openai=_dataclass_from(OpenAISettings, table.get("openai", {}), source, "openai"),
            judge=_dataclass_from(JudgeSettings, table.get("judge", {}), source, "judge"),
            registry=_dataclass_from(RegistrySettings, table.get("registry", {}), source, "registry"),
            production=_dataclass_from(ProductionSettings, table.get("production", {}), source, "production"),
            cache_dir=cache_dir,
            gates=dict(table.get("gates", {})),
            tasks=_tasks(table.get("tasks", {}), source),
        )


def default_cache_dir(configured: str | None = None, root: Path | None = None) -> Path:
    """$HARNESS_CACHE, else the configured cache_dir, else ~/.cache/harness (outside any repo)."""
    if env := os.environ.get("HARNESS_CACHE"):
        return Path(env).expanduser().resolve()
    if configured:
        path = Path(configured).expanduser()
        return (root / path if root and not path.is_absolute() else path).resolve()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "harness"


def _tasks(table: Any, source: str) -> dict[str, TaskSettings]:
    if not isinstance(table, dict) or not all(isinstance(v, dict) for v in table.values()):
        raise ConfigError(f"{source}: [tool.harness.tasks] must hold one table per task: [tool.harness.tasks.NAME]")
    tasks = {}
    for name, entry in table.items():
        section = f"tool.harness.tasks.{name}"
        _reject_unknown(entry, {"suites", "model_name"}, source, section)
        suites, model_name = entry.get("suites"), entry.get("model_name")
        if not isinstance(suites, list) or not suites or not all(isinstance(s, str) and s for s in suites):
            example = f'["suites/test_{name}.py"]'
            raise ConfigError(f"{source}: [{section}] suites must list the task's suite files, e.g. {example}")
        if not isinstance(model_name, str) or not model_name:
            raise ConfigError(f'{source}: [{section}] model_name must name its registered model, e.g. "{name}"')
        tasks[name] = TaskSettings(tuple(suites), model_name)
    return tasks


def _reject_unknown(table: dict[str, Any], known: set[str], source: str, section: str) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {unknown} in [{section}]; valid keys: {sorted(known)}")


def _str_table(table: Any, source: str, section: str) -> dict[str, str]:
    if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
        raise ConfigError(f"{source}: [{section}] must map names to model spec strings")
    return dict(table)


def _dataclass_from(cls: type, table: Any, source: str, section: str) -> Any:
    names = {f.name: f for f in fields(cls)}
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: [tool.harness.{section}] must be a table")
    _reject_unknown(table, set(names), source, f"tool.harness.{section}")
    values = {}
    for key, value in table.items():
        expected = type(names[key].default)
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, expected) or isinstance(value, bool):
            raise ConfigError(f"{source}: [tool.harness.{section}] {key} = {value!r} must be {expected.__name__}")
        values[key] = value
    return cls(**values)
