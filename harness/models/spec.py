"""Parse `--model` / `--baseline` strings into typed specs. Parsing never loads anything.

Forms: a name from [tool.harness.models], `hf:PATH_OR_ID`, `peft:ADAPTER_DIR`, `openai:MODEL@BASE_URL`.
`champion` (the registry alias, `[tool.harness.registry] alias`) is the promoted adapter, unless a
[tool.harness.models] entry of that name says otherwise; `champion:TASK` is task TASK's
(`[tool.harness.tasks]`), and plain `champion` the only task's when there is one. It parses to a
`RegistrySpec`: which adapter the alias points to is the registry's to say, and `harness.models.resolve.pinned` asks it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.config import HarnessConfig
from harness.errors import UsageError

VALID_FORMS = (
    "NAME (one of [tool.harness.models]: {names})",
    "hf:PATH_OR_ID",
    "peft:ADAPTER_DIR",
    "openai:MODEL@BASE_URL",
)


class SpecError(UsageError):
    """A model spec that cannot be used. The message lists the valid forms."""


@dataclass(frozen=True)
class HFSpec:
    path_or_id: str
    """A local model directory (absolute) or a hub id, which must resolve offline."""


@dataclass(frozen=True)
class PeftSpec:
    adapter_dir: Path


@dataclass(frozen=True)
class OpenAISpec:
    model: str
    base_url: str
    key_env: str = "OPENAI_API_KEY"
    """Name of the environment variable holding the API key. The key itself is never stored."""


@dataclass(frozen=True)
class RegistrySpec:
    """The version the model registry's alias points to. Parsing stops here, so parsing never reads the
    registry (MLflow, a server); `resolve.pinned` turns it into the PeftSpec of the stored adapter."""

    alias: str
    task: str | None = None
    """The task whose champion it is (`champion:TASK`); None: the only task's, or the project's."""


PinnedSpec = HFSpec | PeftSpec | OpenAISpec
"""A spec that names one model for good (files or a server): what `resolve` builds."""
ModelSpec = PinnedSpec | RegistrySpec


def parse_spec(text: str, config: HarnessConfig, *, cwd: Path, key_env: str = "OPENAI_API_KEY") -> ModelSpec:
    """Turn a spec string into a spec. Names from config resolve their relative paths against config.root."""
    return _parse(text, config, cwd=cwd, key_env=key_env, seen=())


def describe_forms(config: HarnessConfig) -> str:
    names = ", ".join(sorted(config.models)) or "none configured"
    forms = [form.format(names=names) for form in VALID_FORMS]
    if config.registry.alias not in config.models:
        forms.append(f"{config.registry.alias} (the model registry's {config.registry.alias} version)")
        if config.tasks:
            tasks = ", ".join(sorted(config.tasks))
            forms.append(f"{config.registry.alias}:TASK (a task's {config.registry.alias}; tasks: {tasks})")
    return "; ".join(forms)


def _parse(text: str, config: HarnessConfig, *, cwd: Path, key_env: str, seen: tuple[str, ...]) -> ModelSpec:
    scheme, sep, rest = text.partition(":")
    if not sep:
        return _parse_name(text, config, key_env=key_env, seen=seen)
    if scheme == config.registry.alias and rest and scheme not in config.models:
        config.task_settings(rest)  # an unknown task is an error now, naming the closest
        return RegistrySpec(scheme, task=rest)
    if scheme == "hf" and rest:
        local = cwd / rest
        return HFSpec(str(local.resolve()) if local.is_dir() else rest)
    if scheme == "peft" and rest:
        return PeftSpec((cwd / rest).resolve())
    if scheme == "openai" and "@" in rest:
        model, _, url = rest.partition("@")
        if model and url.startswith(("http://", "https://")):
            return OpenAISpec(model=model, base_url=url.rstrip("/"), key_env=key_env)
    raise SpecError(f"model spec {text!r} is not valid. Valid forms: {describe_forms(config)}")


def _parse_name(name: str, config: HarnessConfig, *, key_env: str, seen: tuple[str, ...]) -> ModelSpec:
    if name not in config.models and name == config.registry.alias:
        return RegistrySpec(name)
    if name not in config.models:
        raise SpecError(f"model spec {name!r} is not a configured name. Valid forms: {describe_forms(config)}")
    if name in seen:
        raise SpecError(f"[tool.harness.models] names refer to each other in a loop: {' -> '.join(seen)}")
    return _parse(config.models[name], config, cwd=config.root, key_env=key_env, seen=(*seen, name))

