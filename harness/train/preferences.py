"""Second-round fine-tuning on preferences (`train.objective: dpo`): an SFT adapter, improved with DPO on
the pairs production corrections yield (`harness traces pairs`).

    train:
      objective: dpo
      preferences:
        pairs: runs/pairs.jsonl             # {"prompt": [...], "chosen": [...], "rejected": [...]} per line
        start_adapter: runs/banking77/adapter   # the SFT adapter to improve; also the DPO reference
        beta: 0.1

TRL's `DPOTrainer` does the work. Given a PEFT model that already holds an adapter, it copies that adapter
into a frozen reference, so the loss measures the policy against the SFT adapter it starts from, not
against the base: preferring the correction is learned relative to what the adapter already says. The
result is a standard PEFT adapter in `output_dir` (the reference copy is dropped before saving), promoted
like any other by `harness promote`.

The run keeps the SFT run's guarantees: no pair may repeat a golden case (`golden_leaks`, curation's
leakage finder: the gates would score what was trained on), and the checkpoint kept is the one the eval
gate scores best on the curated validation split (`train.dataset`), not merely the last.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.train.data import DatasetError

ROLES = ("prompt", "chosen", "rejected")


@dataclass(frozen=True)
class Pair:
    """One preference row and the line of the pairs file it came from (for messages that name it)."""

    line: int
    row: dict[str, Any]
    """TRL's conversational DPO row: "prompt", "chosen", "rejected"."""


def read_pairs(path: Path) -> list[Pair]:
    """Preference rows in TRL's conversational format; every bad line is named with what to fix."""
    if not path.is_file():
        raise DatasetError(f"{path}: no preference pairs here; write them with `harness traces pairs --out {path}`")
    rows, problems = [], []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            problems.append(f"{path}:{number}: not JSON ({error.msg})")
            continue
        if problem := _problem(row):
            problems.append(f"{path}:{number}: {problem}")
            continue
        rows.append(Pair(number, {key: row[key] for key in ROLES}))
    if problems or not rows:
        raise DatasetError("\n  ".join(problems) if problems else f"{path}: no preference pairs in the file")
    return rows


def _problem(row: Any) -> str | None:
    if not isinstance(row, dict) or any(key not in row for key in ROLES):
        return 'needs "prompt" (chat turns ending with a user turn), "chosen" and "rejected" (one assistant turn each)'
    prompt, chosen, rejected = (row[key] for key in ROLES)
    if not _turns(prompt) or prompt[-1]["role"] != "user":
        return '"prompt" must be a list of chat turns ending with a user turn'
    for name, answer in (("chosen", chosen), ("rejected", rejected)):
        if not _turns(answer) or [turn["role"] for turn in answer] != ["assistant"]:
            return f'"{name}" must be one assistant turn, e.g. [{{"role": "assistant", "content": "..."}}]'
    if chosen[0]["content"].strip() == rejected[0]["content"].strip():
        return '"chosen" and "rejected" are the same answer: the pair prefers nothing'
    return None


def _turns(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(
        isinstance(turn, dict) and turn.get("role") in ("system", "user", "assistant")
        and isinstance(turn.get("content"), str) and turn["content"].strip() for turn in value
    )  # fmt: skip


def golden_leaks(pairs: list[Pair], path: Path, golden_dir: Path, root: Path) -> list[str]:
    """A line per pair whose prompt repeats a golden case or an adversarial probe (exact, word 13-gram or
    MinHash near-duplicate, as curation's leakage stage finds them), naming both."""
    from harness.curation.config import LeakageConfig, NearDupConfig
    from harness.curation.leakage import finder_for
    from harness.golden import display_path

    finder = finder_for(golden_dir, LeakageConfig().ngram, NearDupConfig().params(), root, probes_from=None)
    turns = [[turn["content"] for turn in pair.row["prompt"] if turn["role"] == "user"] for pair in pairs]
    return [f"{display_path(path)}:{pairs[index].line}: the prompt {leak.reason()}"
            for index, leak in sorted(finder.find(turns).items())]  # fmt: skip


def build_dpo_trainer(
    config: Any, model: Any, tokenizer: Any, rows: list[dict[str, Any]], work_dir: Path, callbacks: list[Any]
) -> Any:  # fmt: skip
    """TRL's DPOTrainer on `model` (a PEFT model holding the start adapter, trainable), with the run's
    optimiser settings; TRL adds the frozen reference copy of the adapter."""
    import torch
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    args = DPOConfig(
        output_dir=str(work_dir), per_device_train_batch_size=config.batch_size, learning_rate=config.learning_rate,
        num_train_epochs=config.epochs, max_steps=config.max_steps, warmup_steps=config.warmup_ratio,
        lr_scheduler_type=config.scheduler, beta=config.preferences.beta, seed=config.seed,
        use_cpu=not torch.cuda.is_available(), bf16=False, save_strategy="no", logging_steps=1, report_to=[],
        gradient_checkpointing=False, disable_tqdm=True,
    )  # fmt: skip
    return DPOTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tokenizer,
                      callbacks=callbacks)  # fmt: skip


def start_model(config: Any, base: Any) -> Any:
    """The base with the start adapter loaded, trainable: the policy DPO moves from the SFT adapter."""
    from peft import PeftModel

    start = config.preferences.start_adapter
    if start is None or not (start / "adapter_config.json").is_file():
        raise DatasetError(f"{config.source}: train.preferences.start_adapter {start} is not a PEFT adapter directory "
                           "(adapter_config.json); point it at the SFT adapter to improve")  # fmt: skip
    return PeftModel.from_pretrained(base, start, is_trainable=True)
