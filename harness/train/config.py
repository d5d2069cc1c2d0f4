"""The `train:` section of a task config (training/configs/<task>.yaml), as typed dataclasses.

Every field has a default that works for the embedded SmolLM2 on a CPU; the YAML file says why each
value was chosen. Unknown keys and wrong types are errors naming the file and the key path, so a typo
never silently trains with a default.
"""

from __future__ import annotations

import types
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

import yaml

from harness.errors import UsageError
from harness.golden import REGRESSION_SET

METHODS = ("lora", "dora", "qlora")
REPLAY_LOSSES = ("answers", "distill")
EVAL_METRICS = ("accuracy", "macro_f1", "check", "forgetting")
"""What the eval gate can gate on. accuracy and macro_f1 compare labels (a classifier); check is the share of
answers that pass the golden set's own check with the row's answer as its expected value (an extractor's
`json_equals`); forgetting replays the regression suite's golden cases against the base model's answers
(`harness.train.eval_gate.ForgettingProbe`)."""


class TrainConfigError(UsageError):
    """A config that cannot be trained with; the message names the file and key."""


@dataclass
class AdapterSettings:
    method: str = "lora"
    rank: int = 16
    alpha: int = 32
    dropout: float = 0.0
    target_modules: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    )
    top_layers: int | None = None
    """Adapters only in the last N decoder layers (None: all). Backward then stops at the first adapted layer."""
    loraplus_lr_ratio: float = 1.0
    """LoRA+ (Hayou et al., 2024): the B matrices learn at this multiple of `learning_rate`, the A matrices at
    `learning_rate` itself. 1.0 is plain LoRA. B starts at zero and carries what the update writes, so a
    faster B learns features sooner (PEFT's `create_loraplus_optimizer`)."""


@dataclass
class EvalGateSettings:
    every_steps: int = 20
    val_limit: int | None = 154
    """Validation rows scored per evaluation (spread evenly over labels); None: all of them."""
    gates: dict[str, str] = field(
        default_factory=lambda: {"accuracy": "banking77.accuracy", "macro_f1": "banking77.macro_f1"}
    )
    """metric -> gate name in [tool.harness.gates] whose bar the metric must clear."""
    stop_margin: float | None = 0.03
    """Stop early once every gate's lower bound clears its bar by this much (None: never stop early)."""
    golden_set: str | None = None
    """Answer validation rows as this golden set's suites do: with its generation settings
    (golden/<set>/generation.toml), so the gate and the suites score the same kind of answer."""
    max_new_tokens: int | None = None
    """The new-token budget when no golden_set is named (neither: [tool.harness.generation]'s)."""
    forgetting_set: str = REGRESSION_SET
    """The golden set the `forgetting` metric replays: suites/test_regression.py's, answered with its budget."""


@dataclass
class ReplaySettings:
    prompts: Path | None = None
    """General prompts (JSONL, one {"prompt": ...} per line); the base model's own answers are replayed."""
    share: float = 0.05
    """Replay rows as a share of all training rows (prompts are cycled when there are fewer)."""
    max_prompts: int = 150
    """Distinct prompts answered by the base model: the cost of replay, paid once (then cached)."""
    max_new_tokens: int = 64
    task_inputs: int = 0
    """Training rows whose user message is also replayed without the task's system prompt, answered by the
    base model. The task's answers then belong to the task's prompt, not to its words: without this, a
    router that learns "general question -> out_of_scope" answers general questions with "out_of..."
    everywhere. Taken round-robin over `task_input_labels`."""
    task_input_labels: list[str] = field(default_factory=list)
    """Labels whose rows `task_inputs` draws from (empty: every label)."""
    loss: str = "answers"
    """How replay rows are learned. answers: cross-entropy on the base model's answer. distill: along that
    answer, the KL divergence from the base model's whole next-token distribution (`harness.train.distill`)."""
    distill_weight: float = 1.0
    """With loss distill: how much a replayed token's KL counts against a task token's cross-entropy. It is
    zero while the adapted model agrees with the base, so a larger weight costs nothing until it drifts."""


@dataclass
class PreferenceSettings:
    """`train.preferences`, for `objective: dpo` (`harness.train.preferences`)."""

    pairs: Path | None = None
    """Preference pairs in TRL's conversational DPO format, as `harness traces pairs` writes them."""
    start_adapter: Path | None = None
    """The SFT adapter to improve; a frozen copy of it is the DPO reference."""
    beta: float = 0.1
    """DPO's beta: how far the policy may move from the reference (higher: less)."""


@dataclass
class TrainConfig:
    source: Path
    """The YAML file this came from (for messages)."""
    dataset: Path = Path("runs/data")
    output_dir: Path = Path("runs/adapter")
    base_model: str = "base"
    adapter: AdapterSettings = field(default_factory=AdapterSettings)
    learning_rate: float = 2e-4
    batch_size: int = 32
    gradient_accumulation_steps: int = 1
    epochs: float = 1.0
    max_steps: int = -1
    warmup_ratio: float = 0.1
    scheduler: str = "cosine"
    weight_decay: float = 0.0
    bf16: bool | str = "auto"
    """auto: bf16 autocast where the hardware does it natively (CUDA, or a CPU with AVX512-BF16/AMX)."""
    shared_prefix: bool = True
    frozen_trunk: bool | str = "auto"
    """With adapter.top_layers, run the frozen layers below them once per run, not at every step (exact).
    auto: when the run visits at least as many rows as there are, where the one-off pass pays for itself."""
    seed: int = 0
    eval_gate: EvalGateSettings = field(default_factory=EvalGateSettings)
    replay: ReplaySettings = field(default_factory=ReplaySettings)
    objective: str = "sft"
    """sft: learn the curated dataset's answers. dpo: improve `preferences.start_adapter` on preference pairs."""
    preferences: PreferenceSettings = field(default_factory=PreferenceSettings)
    experiment: str = "harness-train"
    """MLflow experiment name the run is logged under."""
    lint_accepted: dict[str, str] = field(default_factory=dict)
    """Config-lint rules (`harness.train.lint`) whose warning this recipe accepts -> why. Accepted warnings are
    still printed and recorded, with the reason, but `--strict` does not refuse them."""


def load_train_config(path: Path, root: Path | None = None) -> TrainConfig:
    """Read the `train:` section of a task YAML. Relative paths resolve against `root` (default: cwd)."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise TrainConfigError(f"{path}: cannot read the config: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get("train"), dict):
        raise TrainConfigError(f"{path}: needs a `train:` section (a mapping)")
    config: TrainConfig = _build(TrainConfig, {**document["train"], "source": path}, str(path), "train")
    _resolve_paths(config, root or Path.cwd())
    _check(config)
    return config


def _build(cls: type, table: dict[str, Any], source: str, where: str) -> Any:
    hints = get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(table) - known)
    if unknown:
        raise TrainConfigError(f"{source}: unknown key(s) {unknown} in {where}; valid keys: {sorted(known)}")
    values = {name: _coerce(hints[name], value, source, f"{where}.{name}") for name, value in table.items()}
    missing = [f.name for f in fields(cls) if f.name not in values and f.default is MISSING
               and f.default_factory is MISSING]  # fmt: skip
    if missing:
        raise TrainConfigError(f"{source}: {where} needs {missing}")
    return cls(**values)


def _coerce(hint: Any, value: Any, source: str, where: str) -> Any:
    """Check a YAML value against a field's type hint (dataclass, Path, list, dict, optional scalars)."""
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        for option in options[:-1]:
            try:
                return _coerce(option, value, source, where)
            except TrainConfigError:
                continue
        return _coerce(options[-1], value, source, where)
    if isinstance(hint, type) and hasattr(hint, "__dataclass_fields__"):
        if not isinstance(value, dict):
            raise TrainConfigError(f"{source}: {where} must be a mapping, got {value!r}")
        return _build(hint, value, source, where)
    if hint is Path:
        if not isinstance(value, str | Path):
            raise TrainConfigError(f"{source}: {where} must be a path, got {value!r}")
        return Path(value)
    if origin is list:
        if not isinstance(value, list):
            raise TrainConfigError(f"{source}: {where} must be a list, got {value!r}")
        return [_coerce(args[0], item, source, f"{where}[{i}]") for i, item in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise TrainConfigError(f"{source}: {where} must be a mapping, got {value!r}")
        return {str(k): _coerce(args[1], v, source, f"{where}.{k}") for k, v in value.items()}
    if hint is float and isinstance(value, int | str) and not isinstance(value, bool):
        try:
            return float(value)  # YAML reads 1e-4 as a string
        except ValueError:
            pass
    if not isinstance(value, hint) or (isinstance(value, bool) and hint is not bool):
        raise TrainConfigError(f"{source}: {where} = {value!r} must be {hint.__name__}")
    return value


def _resolve_paths(config: TrainConfig, root: Path) -> None:
    config.dataset = (root / config.dataset).resolve()
    config.output_dir = (root / config.output_dir).resolve()
    if config.replay.prompts is not None:
        config.replay.prompts = (root / config.replay.prompts).resolve()
    for name in ("pairs", "start_adapter"):
        if (value := getattr(config.preferences, name)) is not None:
            setattr(config.preferences, name, (root / value).resolve())


def _check(config: TrainConfig) -> None:
    where = config.source
    if config.adapter.method not in METHODS:
        raise TrainConfigError(f"{where}: train.adapter.method = {config.adapter.method!r}; use one of {METHODS}")
    if config.frozen_trunk not in ("auto", True, False):
        raise TrainConfigError(f"{where}: train.frozen_trunk = {config.frozen_trunk!r}; use auto, true or false")
    if config.bf16 not in ("auto", True, False):
        raise TrainConfigError(f"{where}: train.bf16 = {config.bf16!r}; use auto, true or false")
    if not 0 <= config.replay.share < 1:
        raise TrainConfigError(f"{where}: train.replay.share = {config.replay.share} must be in [0, 1)")
    if config.replay.loss not in REPLAY_LOSSES:
        raise TrainConfigError(f"{where}: train.replay.loss = {config.replay.loss!r}; use one of {REPLAY_LOSSES}")
    if config.objective not in ("sft", "dpo"):
        raise TrainConfigError(f"{where}: train.objective = {config.objective!r}; use sft or dpo")
    if config.objective == "dpo" and (config.preferences.pairs is None or config.preferences.start_adapter is None):
        raise TrainConfigError(f"{where}: train.objective = dpo needs train.preferences.pairs (from `harness traces "
                               "pairs`) and train.preferences.start_adapter (the SFT adapter to improve)")  # fmt: skip
    if config.eval_gate.golden_set is not None and config.eval_gate.max_new_tokens is not None:
        raise TrainConfigError(f"{where}: train.eval_gate sets golden_set and max_new_tokens; the set's "
                               "generation.toml fixes the budget, so drop max_new_tokens")  # fmt: skip
    if unknown := sorted(set(config.eval_gate.gates) - set(EVAL_METRICS)):
        raise TrainConfigError(f"{where}: train.eval_gate.gates: unknown metric(s) {unknown}; use {EVAL_METRICS}")
    if config.replay.distill_weight <= 0:
        raise TrainConfigError(f"{where}: train.replay.distill_weight = {config.replay.distill_weight} must be > 0")
    if config.replay.loss == "distill" and not config.shared_prefix:
        raise TrainConfigError(f"{where}: train.replay.loss = distill needs train.shared_prefix: true (the harness's "
                               "trainer computes the distillation loss; TRL's own cannot)")  # fmt: skip
    if (ratio := config.adapter.loraplus_lr_ratio) < 1:
        raise TrainConfigError(f"{where}: train.adapter.loraplus_lr_ratio = {ratio} must be at least 1 "
                               "(1: plain LoRA; LoRA+ speeds up the B matrices, never slows them)")  # fmt: skip
    for name, value in (("batch_size", config.batch_size), ("adapter.rank", config.adapter.rank)):
        if value < 1:
            raise TrainConfigError(f"{where}: train.{name} = {value} must be at least 1")
