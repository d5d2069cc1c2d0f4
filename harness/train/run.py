"""`harness train`: one training run, top to bottom (data gates → data → lint → model → train → save → log).

The adapter that lands in `output_dir` is the checkpoint the eval gate scored best, in standard PEFT
format (adapter_config.json + adapter_model.safetensors, loadable by PEFT and by vLLM `--lora-modules`).
It replaces the previous one atomically, so an interrupted run never leaves half an adapter behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from harness import machine
from harness.config import ConfigError, HarnessConfig
from harness.errors import Refused
from harness.golden import REGRESSION_SET
from harness.train import lint as config_lint
from harness.train.config import TrainConfig, TrainConfigError
from harness.train.data import (
    TrainRow,
    read_split,
    replay_prompts,
    replay_rows,
    task_row,
    val_cases,
    without_system_prompt,
)
from harness.train.result import TrainResult

if TYPE_CHECKING:
    from harness.models.base import Prompt  # a golden case's chat is one (its messages are string mappings)
    from harness.train.eval_gate import ForgettingProbe

DATA_SUITES = Path("suites/data")


class TrainingRefused(Refused):
    """Training did not start: data gates failed, lint in --strict mode, or an impossible method."""


def check_data_gates(dataset: Path, root: Path) -> None:
    """Run `pytest suites/data --dataset=DIR`; anything but exit 0 refuses training, with pytest's own output."""
    suites = root / DATA_SUITES
    if not suites.is_dir():
        raise TrainingRefused(f"{suites}: no data suites to gate the dataset with; training needs them")
    command = [sys.executable, "-m", "pytest", str(suites), f"--dataset={dataset}", "-q", "-p", "no:cacheprovider"]
    print(f"data gates: {' '.join(command[2:])}", flush=True)
    done = subprocess.run(command, cwd=root, capture_output=True, text=True)
    tail = "\n".join(done.stdout.strip().splitlines()[-25:])
    if done.returncode != 0:  # a run stopped before its tests (a tampered golden lock) says why on stderr
        said = "\n".join(part for part in (tail, done.stderr.strip()) if part)
        raise TrainingRefused(f"data gates failed (pytest exit {done.returncode}); training refused:\n{said}")
    print(tail.splitlines()[-1] if tail else "data gates passed", flush=True)


def train(
    config: TrainConfig, harness: HarnessConfig, *, strict: bool = False, data_gates: bool = True, force: bool = False
) -> TrainResult:
    started = time.perf_counter()
    base_id, base_dir = base_model(config, harness)
    inputs = inputs_digest(config, base_id)
    if not force and (done := _up_to_date(config.output_dir, inputs)) is not None:
        print(f"harness train: {config.output_dir} is up to date: trained from these settings, data splits, replay "
              f"prompts and base model (inputs {inputs[:12]}); --force trains it again", flush=True)  # fmt: skip
        return done
    config_lint.check_accepted(config)
    if config.objective == "dpo":
        return _train_on_preferences(config, harness, base_id, base_dir, inputs, started, data_gates)
    if data_gates:
        check_data_gates(config.dataset, harness.root)
    train_rows, val_rows = read_split(config.dataset, "train"), read_split(config.dataset, "val")
    tokenizer = load_tokenizer(base_dir)
    lint = config_lint.review(config, _facts(train_rows, val_rows, tokenizer, harness))
    for warning in lint.warnings:
        print(f"lint: {warning}", flush=True)
    for accepted in lint.accepted:
        print(f"lint (accepted in train.lint_accepted): {accepted}", flush=True)
    if strict and lint.warnings:
        raise TrainingRefused(f"--strict: {len(lint.warnings)} lint warning(s); fix the config, accept a rule "
                              "with its reason in train.lint_accepted, or drop --strict")  # fmt: skip
    gate = _eval_gate(config, harness, tokenizer, val_rows)  # a bad eval_gate stops here, before the slow work
    replay = _replay(config, harness, len(train_rows), train_rows)
    model = load_model(config, base_dir)
    rows = [task_row(r) for r in train_rows] + replay
    trainer = build_trainer(config, harness, model, tokenizer, rows, gate)
    output = trainer.train()
    seconds = time.perf_counter() - started
    final = _finish(config, trainer, gate, base_id)
    result = TrainResult(
        adapter_dir=config.output_dir, summary_path=config.output_dir / SUMMARY_FILE, warnings=lint.warnings,
        accepted_lint=lint.accepted,
        steps=int(output.global_step), seconds=seconds, train_rows=len(train_rows), replay_rows=len(replay),
        tokens_per_second=float(output.metrics.get("train_tokens_per_second", 0.0)) or _tokens_per_second(trainer),
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        best=final, history=[e.to_json() for e in gate.history] if gate else [],
        machine=machine.describe(bool(trainer.args.bf16)),
    )  # fmt: skip
    _write_summary(result, config, trainer, inputs)
    _log_to_mlflow(result, config, harness, trainer)
    return result


def _train_on_preferences(
    config: TrainConfig, harness: HarnessConfig, base_id: str, base_dir: Path, inputs: str, started: float,
    data_gates: bool,
) -> TrainResult:  # fmt: skip
    """`objective: dpo`: the start adapter, improved on preference pairs (harness.train.preferences), with the
    SFT run's data gate on golden leaks, eval-gate checkpoint choice and MLflow record."""
    from harness.train.preferences import build_dpo_trainer, golden_leaks, read_pairs, start_model

    assert config.preferences.pairs is not None
    pairs = read_pairs(config.preferences.pairs)
    if data_gates and (leaks := golden_leaks(pairs, config.preferences.pairs, harness.golden_dir, harness.root)):
        raise TrainingRefused(f"{len(leaks)} preference pair(s) repeat golden cases, which the gates would then score "
                              "as if unseen; drop these lines (or the cases' traces) and run again:\n  "
                              + "\n  ".join(leaks))  # fmt: skip
    tokenizer = load_tokenizer(base_dir)
    gate = _eval_gate(config, harness, tokenizer, read_split(config.dataset, "val"))  # none: no val split there
    if gate is None:
        print(f"eval gate: off: no validation split in {config.dataset} (train.dataset); the last step is kept",
              flush=True)  # fmt: skip
    trainer = build_dpo_trainer(config, start_model(config, load_model(config, base_dir)), tokenizer,
                                [pair.row for pair in pairs], _work_dir(config), [gate] if gate else [])  # fmt: skip
    output = trainer.train()
    if "ref" in trainer.model.peft_config:
        trainer.model.delete_adapter("ref")  # TRL's frozen reference copy: not part of the result
    final = _finish(config, trainer, gate, base_id)
    result = TrainResult(
        adapter_dir=config.output_dir, summary_path=config.output_dir / SUMMARY_FILE, warnings=[],
        steps=int(output.global_step), seconds=time.perf_counter() - started, train_rows=len(pairs), replay_rows=0,
        tokens_per_second=0.0, peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, best=final,
        history=[e.to_json() for e in gate.history] if gate else [], machine=machine.describe(bool(trainer.args.bf16)),
    )  # fmt: skip
    _write_summary(result, config, trainer, inputs)
    _log_to_mlflow(result, config, harness, trainer)
    return result


def base_model(config: TrainConfig, harness: HarnessConfig) -> tuple[str, Path]:
    """The base model's id (as recorded in the adapter) and its local directory."""
    from harness.models.resolve import local_model_dir
    from harness.models.spec import HFSpec, parse_spec

    spec = parse_spec(config.base_model, harness, cwd=harness.root)
    if not isinstance(spec, HFSpec):
        raise TrainingRefused(f"{config.source}: train.base_model must name an hf: model, got {config.base_model!r}")
    return spec.path_or_id, local_model_dir(spec.path_or_id, harness.cache_dir).resolve()


def load_tokenizer(base_dir: Path) -> Any:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _facts(train_rows: list[Any], val_rows: list[Any], tokenizer: Any, harness: HarnessConfig) -> config_lint.RunFacts:
    return config_lint.RunFacts(
        train_rows=len(train_rows), val_rows=len(val_rows), base_is_instruct=bool(tokenizer.chat_template),
        has_regression_suite=(harness.golden_dir / REGRESSION_SET).is_dir(),
    )  # fmt: skip


def _replay(
    config: TrainConfig, harness: HarnessConfig, train_rows: int, task_rows: list[dict[str, Any]] | None = None
) -> list[TrainRow]:
    """The base model's own answers to general chats and to the task's own messages asked without its
    system prompt (`replay.task_inputs`), generated through the harness (and its cache)."""
    settings = config.replay
    if settings.prompts is None or settings.share == 0:
        return []
    from harness.cache import GenerationCache
    from harness.models.resolve import ModelFactory
    from harness.models.spec import parse_spec

    wanted = round(train_rows * settings.share / (1 - settings.share))
    general = replay_prompts(settings.prompts)[: min(wanted, settings.max_prompts)]
    task = without_system_prompt(task_rows or [], settings.task_inputs, settings.task_input_labels)
    if settings.task_inputs and task_rows and not task:
        raise TrainConfigError(_unknown_labels(config, task_rows))
    prompts = _without_golden_leaks(general, harness) + task  # task rows passed curation's leakage stage
    cache = GenerationCache.in_dir(harness.cache_dir)
    try:
        base = ModelFactory(harness, cache).build(parse_spec(config.base_model, harness, cwd=harness.root))
        answers = base.generate(prompts, max_new_tokens=settings.max_new_tokens)
    finally:
        cache.close()
    rows = replay_rows(prompts, answers, wanted, distilled=settings.loss == "distill")
    finished = sum(a.finish_reason == "stop" for a in answers)
    print(f"replay: {len(rows)} rows from {len(prompts) - len(task)} general chats and {len(task)} training "
          "messages without the task's system prompt, answered by the base model "
          f"({finished} whole answers; {len(prompts) - finished} cut at {settings.max_new_tokens} tokens, "
          "learned without an end of turn); learned by "
          + ("distillation: the base model's whole next-token distribution along each answer"
             if settings.loss == "distill" else "cross-entropy on the answers"), flush=True)  # fmt: skip
    return rows


def _unknown_labels(config: TrainConfig, task_rows: list[dict[str, Any]]) -> str:
    """The error for `replay.task_input_labels` that match no training row, with the closest real labels."""
    import difflib

    labels = sorted({str(row.get("label") or row["messages"][-1]["content"]) for row in task_rows})
    wanted = config.replay.task_input_labels
    close = sorted({m for name in wanted for m in difflib.get_close_matches(name, labels, n=2)})
    hint = f"did you mean {', '.join(map(repr, close))}?" if close else f"the split's labels include {labels[:5]}"
    return (f"{config.source}: train.replay.task_input_labels {wanted} names no label of the training split "
            f"in {config.dataset}: {hint}")  # fmt: skip


def _without_golden_leaks(prompts: list[list[dict[str, str]]], harness: HarnessConfig) -> list[list[dict[str, str]]]:
    """Replay chats skip curation, so they get its leakage check here: no turn may repeat a golden case."""
    from harness.curation.config import LeakageConfig, NearDupConfig
    from harness.curation.leakage import finder_for

    finder = finder_for(harness.golden_dir, LeakageConfig().ngram, NearDupConfig().params(), harness.root)
    leaks = finder.find([[turn["content"] for turn in chat] for chat in prompts])
    for index, leak in sorted(leaks.items()):
        print(f"replay: dropped prompt {index + 1}: {leak.detail} as {leak.golden.case_id}", flush=True)
    return [prompt for i, prompt in enumerate(prompts) if i not in leaks]


def load_model(config: TrainConfig, base_dir: Path) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    if config.adapter.method == "qlora":
        return _load_4bit(config, base_dir)
    dtype = torch.bfloat16 if torch.cuda.is_available() and _use_bf16(config) else torch.float32
    model: Any = AutoModelForCausalLM.from_pretrained(base_dir, dtype=dtype)
    return model.to("cuda") if torch.cuda.is_available() else model


def _load_4bit(config: TrainConfig, base_dir: Path) -> Any:
    import torch

    if not torch.cuda.is_available():
        raise TrainingRefused(
            f"{config.source}: train.adapter.method = qlora loads the base in 4 bits with bitsandbytes, which needs "
            "a CUDA GPU; this machine has none. Use method: lora (or dora) on CPU."
        )
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise TrainingRefused("method: qlora needs bitsandbytes: pip install bitsandbytes") from None
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    quantization = BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16,
        bnb_4bit_use_double_quant=True,
    )  # fmt: skip
    return AutoModelForCausalLM.from_pretrained(base_dir, quantization_config=quantization, device_map={"": 0})


def _use_bf16(config: TrainConfig) -> bool:
    if config.bf16 != "auto":
        return bool(config.bf16)
    import torch

    if torch.cuda.is_available():
        return bool(torch.cuda.is_bf16_supported())
    cpu = torch.backends.cpu.get_cpu_capability()  # "AVX512" etc.; bf16 kernels need AVX512-BF16 or AMX
    native = getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)() or cpu == "AMX"
    return bool(native)


def _peft_config(config: TrainConfig, model: Any) -> Any:
    from peft import LoraConfig

    adapter = config.adapter
    layers = None
    if adapter.top_layers is not None:
        total = model.config.num_hidden_layers
        layers = list(range(max(0, total - adapter.top_layers), total))
    return LoraConfig(
        r=adapter.rank, lora_alpha=adapter.alpha, lora_dropout=adapter.dropout, target_modules=adapter.target_modules,
        layers_to_transform=layers, use_dora=adapter.method == "dora", task_type="CAUSAL_LM",
    )  # fmt: skip


def build_trainer(
    config: TrainConfig, harness: HarnessConfig, model: Any, tokenizer: Any, rows: list[TrainRow], gate: Any = None
) -> Any:  # fmt: skip
    import torch
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from harness.train.data import tokenize
    from harness.train.trainer import SharedPrefixSFTTrainer

    args = SFTConfig(
        output_dir=str(_work_dir(config)), per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps, learning_rate=config.learning_rate,
        num_train_epochs=config.epochs, max_steps=config.max_steps, warmup_steps=config.warmup_ratio,  # < 1: a share
        lr_scheduler_type=config.scheduler, weight_decay=config.weight_decay, bf16=_use_bf16(config),
        use_cpu=not torch.cuda.is_available(), seed=config.seed, completion_only_loss=True,
        gradient_checkpointing=False,  # small models fit; recomputing layers costs ~30% of the step
        save_strategy="no", logging_steps=5, report_to=[], disable_tqdm=False, dataset_num_proc=None,
    )  # fmt: skip
    callbacks = [gate] if gate is not None else []
    trainer_class = SharedPrefixSFTTrainer if config.shared_prefix else SFTTrainer
    encoded = tokenize(tokenizer, rows)
    dataset = Dataset.from_list(encoded).shuffle(seed=config.seed)
    trainer = trainer_class(model=model, args=args, train_dataset=dataset, processing_class=tokenizer,
                            peft_config=_peft_config(config, model), callbacks=callbacks)  # fmt: skip
    if config.adapter.loraplus_lr_ratio != 1.0:
        trainer.optimizer = _loraplus_optimizer(config, trainer.model)
    if isinstance(trainer, SharedPrefixSFTTrainer):
        trainer.frozen_trunk = config.frozen_trunk
        trainer.trunk_store = harness.cache_dir / "trunk"
        trainer.distill_weight = config.replay.distill_weight
        trainer.distilled = frozenset(
            tuple(encoding["input_ids"]) for encoding, row in zip(encoded, rows, strict=True) if row.distilled
        )
    return trainer


def _loraplus_optimizer(config: TrainConfig, model: Any) -> Any:
    """AdamW with LoRA's B matrices at `adapter.loraplus_lr_ratio` times the learning rate (LoRA+). The
    trainer keeps an optimizer it is given and schedules each parameter group from its own rate."""
    import torch
    from peft.optimizers import create_loraplus_optimizer

    return create_loraplus_optimizer(model, torch.optim.AdamW, lr=config.learning_rate,
                                     loraplus_lr_ratio=config.adapter.loraplus_lr_ratio,
                                     loraplus_weight_decay=config.weight_decay)  # fmt: skip


def _eval_gate(config: TrainConfig, harness: HarnessConfig, tokenizer: Any, val_rows: list[dict[str, Any]]) -> Any:
    """The callback that scores checkpoints by the suites' gates on the validation rows (None without any)."""
    from harness.train.eval_gate import EvalGateCallback, spread_over_labels

    if not val_rows:
        return None
    scored_on_answers = {metric: name for metric, name in config.eval_gate.gates.items() if metric != "forgetting"}
    bars = {metric: (name, harness_threshold(harness, name)) for metric, name in scored_on_answers.items()}
    cases = spread_over_labels(val_cases(val_rows), config.eval_gate.val_limit)
    return EvalGateCallback(cases=cases, settings=config.eval_gate, bars=bars, best_dir=_best_dir(config),
                            tokenizer=tokenizer, max_new_tokens=eval_gate_budget(config, harness),
                            check=_golden_check(config, harness),
                            forgetting=_forgetting_probe(config, harness))  # fmt: skip


def _forgetting_probe(config: TrainConfig, harness: HarnessConfig) -> ForgettingProbe | None:
    """The regression suite's cases for the `forgetting` metric (None without it). They are golden cases,
    so a set that differs from golden.lock stops the run here, as it stops the suites."""
    from harness.gates import GateSettings
    from harness.golden import GoldenError, generation_settings, load_set
    from harness.golden.lock import verify
    from harness.train.eval_gate import ForgettingProbe

    gate = config.eval_gate.gates.get("forgetting")
    if gate is None:
        return None
    name, where = config.eval_gate.forgetting_set, f"{config.source}: train.eval_gate.gates.forgetting"
    status = verify(harness.golden_dir)
    if not status.ok:
        raise TrainingRefused(f"{where} replays golden set {name!r}, but {status.explain()}")
    try:
        cases = load_set(harness.golden_dir, name)
    except GoldenError as error:
        raise TrainConfigError(f"{where}: {error}") from None
    checks = []
    for case in cases:
        spec = case.expected if isinstance(case.expected, list) else [case.expected]
        if not all(isinstance(check, dict) for check in spec):
            raise TrainConfigError(f"{where}: golden set {name!r} case {case.id!r} expects a label, not checks; "
                                   "forgetting replays checked cases (train.eval_gate.forgetting_set)")  # fmt: skip
        checks.append([check for check in spec if isinstance(check, dict)])
    budget = generation_settings(harness.golden_dir, name).get("max_new_tokens", harness.generation.max_new_tokens)
    return ForgettingProbe(
        gate=gate, max_share=harness_threshold(harness, gate), alpha=GateSettings.from_table(harness.gates).alpha,
        ids=[case.id for case in cases], prompts=[cast("Prompt", case.prompt()) for case in cases], checks=checks,
        max_new_tokens=int(budget), golden_set=name,
    )  # fmt: skip


def _golden_check(config: TrainConfig, harness: HarnessConfig) -> dict[str, Any] | None:
    """The eval gate's golden set's check, for the `check` metric; an error when that metric has none to use."""
    from harness.golden import GoldenError, load_set
    from harness.train.eval_gate import check_template

    if "check" not in config.eval_gate.gates:
        return None
    name = config.eval_gate.golden_set
    where = f"{config.source}: train.eval_gate.gates.check"
    if name is None:
        raise TrainConfigError(f"{where} applies a golden set's check: name the set in train.eval_gate.golden_set")
    try:
        template = check_template(load_set(harness.golden_dir, name))
    except GoldenError as error:
        raise TrainConfigError(f"{where}: {error}") from None
    if template is None:
        raise TrainConfigError(f"{where}: golden set {name!r} expects plain labels, not a check; gate on accuracy")
    return template


def eval_gate_budget(config: TrainConfig, harness: HarnessConfig) -> int:
    """The eval gate's new-token budget: its golden set's, else its own, else [tool.harness.generation]'s."""
    from harness.golden import generation_settings

    if config.eval_gate.golden_set is not None:
        fixed = generation_settings(harness.golden_dir, config.eval_gate.golden_set).get("max_new_tokens")
        return int(fixed) if fixed is not None else harness.generation.max_new_tokens
    return config.eval_gate.max_new_tokens or harness.generation.max_new_tokens


def harness_threshold(harness: HarnessConfig, gate: str) -> float:
    from harness.gates import GateSettings

    settings = GateSettings.from_table(harness.gates)
    try:
        return settings.threshold(gate, None)
    except ConfigError:
        raise TrainingRefused(f"eval_gate names gate {gate!r}, which has no bar in [tool.harness.gates]") from None


def _work_dir(config: TrainConfig) -> Path:
    return config.output_dir.parent / f".{config.output_dir.name}.work"


def _best_dir(config: TrainConfig) -> Path:
    return _work_dir(config) / "best"


def _finish(config: TrainConfig, trainer: Any, gate: Any, base_id: str) -> dict[str, Any] | None:
    """Put the best checkpoint (by gate score; the last one without a val split) in output_dir, atomically."""
    from harness.train.eval_gate import save_adapter

    if gate is not None:
        gate.on_step_end(trainer.args, trainer.state, trainer.control, model=trainer.model)  # score the final step
    best = _best_dir(config)
    if gate is None or gate.best is None:
        save_adapter(trainer.model, best)
    _record_base(best, base_id)
    staging = config.output_dir.parent / f".{config.output_dir.name}.staging"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(best, staging)
    old = config.output_dir.parent / f".{config.output_dir.name}.old"
    shutil.rmtree(old, ignore_errors=True)
    if config.output_dir.exists():
        os.replace(config.output_dir, old)
    os.replace(staging, config.output_dir)
    shutil.rmtree(old, ignore_errors=True)
    return gate.best.to_json() if gate is not None and gate.best is not None else None


def _record_base(adapter_dir: Path, base_id: str) -> None:
    """Record the base as its id, not the local materialised path, so the adapter resolves on any machine."""
    path = adapter_dir / "adapter_config.json"
    config = json.loads(path.read_text())
    config["base_model_name_or_path"] = base_id
    path.write_text(json.dumps(config, indent=2) + "\n")


def _tokens_per_second(trainer: Any) -> float:
    runtime = trainer.state.log_history[-1].get("train_runtime") if trainer.state.log_history else None
    return trainer._total_train_tokens / runtime if runtime else 0.0


SUMMARY_FILE = "training_summary.json"
NOT_INPUTS = ("source", "output_dir", "experiment", "lint_accepted")
"""Settings that say where an adapter goes, how it is logged and which warnings were accepted, not what it is."""


def inputs_digest(config: TrainConfig, base_id: str) -> str:
    """sha256 of everything the adapter is a function of: the training settings, the curated train and val
    splits, the replay prompts and the base model's id. Same digest, same adapter: training is seeded."""
    from harness.curation.sources import sha256

    settings = {k: v for k, v in asdict(config).items() if k not in NOT_INPUTS}
    files = [config.dataset / "train.jsonl", config.dataset / "val.jsonl", config.replay.prompts]
    if config.objective == "dpo" and config.preferences.start_adapter is not None:
        files += [config.preferences.pairs, config.preferences.start_adapter / "adapter_model.safetensors"]
    digests = {str(path): sha256(path) for path in files if path is not None and path.is_file()}
    record = {"settings": settings, "files": digests, "base": base_id}
    return hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()


def _up_to_date(adapter_dir: Path, inputs: str) -> TrainResult | None:
    """The stored result of the adapter in `adapter_dir` when it was trained from `inputs`; None otherwise."""
    try:
        summary = json.loads((adapter_dir / SUMMARY_FILE).read_text())
    except (OSError, ValueError):
        return None
    if summary.get("inputs") != inputs or not (adapter_dir / "adapter_config.json").is_file():
        return None
    stored = summary["result"] | {"adapter_dir": adapter_dir, "summary_path": adapter_dir / SUMMARY_FILE}
    return TrainResult(**stored)


def _write_summary(result: TrainResult, config: TrainConfig, trainer: Any, inputs: str) -> None:
    summary = {
        "inputs": inputs,
        "result": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(result).items()},
        "config": json.loads(json.dumps(asdict(config), default=str)),
        "log_history": trainer.state.log_history,
    }
    result.summary_path.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    print(_summary_lines(result), flush=True)


def _summary_lines(result: TrainResult) -> str:
    lines = [f"trained {result.steps} steps on {result.train_rows} rows (+{result.replay_rows} replay) in "
             f"{result.seconds / 60:.1f} min ({result.machine or 'machine not recorded'}); "
             f"{result.tokens_per_second:.0f} tokens/s; peak RSS {result.peak_rss_mb:.0f} MB"]  # fmt: skip
    if result.best:
        lines.append(f"best checkpoint: step {result.best['step']} (gate score {result.best['score']:+.3f})")
    lines += [f"lint warning: {w}" for w in result.warnings]
    lines += [f"lint accepted: {w}" for w in result.accepted_lint]
    lines.append(f"adapter: {result.adapter_dir}")
    return "\n".join(lines)


def _log_to_mlflow(result: TrainResult, config: TrainConfig, harness: HarnessConfig, trainer: Any) -> None:
    from harness.train.tracking import log_training_run

    log_training_run(result, config, harness, trainer.state.log_history)
