"""Training data: a curated dataset directory in, TRL prompt-completion rows and validation cases out.

`harness curate` writes `train.jsonl`, `val.jsonl` and `test.jsonl`, one chat per line ending with the
assistant's answer. Training learns the last assistant turn only (completion-only loss); validation
rows become cases the eval gate answers the way the suites do.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SPLITS = ("train", "val", "test")


class DatasetError(ValueError):
    """A curated dataset that cannot be trained on; the message names the file and line."""


@dataclass(frozen=True)
class ValCase:
    id: str
    prompt: list[dict[str, str]]
    label: str


def read_split(dataset: Path, split: str) -> list[dict[str, Any]]:
    """Rows of `<dataset>/<split>.jsonl`; a missing val/test split is empty, a missing train split an error."""
    path = dataset / f"{split}.jsonl"
    if not path.is_file():
        if split == "train":
            raise DatasetError(f"{path}: no training split; run `harness curate --config ...` first")
        return []
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise DatasetError(f"{path}:{number}: not JSON ({error.msg})") from None
        rows.append(_checked(row, f"{path}:{number}"))
    return rows


def _checked(row: Any, where: str) -> dict[str, Any]:
    messages = row.get("messages") if isinstance(row, dict) else None
    if not isinstance(messages, list) or len(messages) < 2:
        raise DatasetError(f"{where}: needs `messages`, a chat of at least a user and an assistant turn")
    if messages[-1].get("role") != "assistant" or not str(messages[-1].get("content", "")).strip():
        raise DatasetError(f"{where}: the last message must be a non-empty assistant turn (what is learned)")
    return dict(row)


def prompt_completion(row: dict[str, Any]) -> dict[str, list[dict[str, str]]]:
    """TRL's conversational prompt-completion form: only the completion contributes to the loss."""
    return {"prompt": row["messages"][:-1], "completion": row["messages"][-1:]}


def val_cases(rows: list[dict[str, Any]]) -> list[ValCase]:
    return [
        ValCase(id=str(row.get("id", i)), prompt=row["messages"][:-1],
                label=str(row.get("label") or row["messages"][-1]["content"]))
        for i, row in enumerate(rows)
    ]  # fmt: skip


def replay_prompts(path: Path) -> list[str]:
    """General prompts, one `{"prompt": ...}` per line, whose base-model answers are replayed."""
    prompts = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            prompt = json.loads(line)["prompt"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise DatasetError(f"{path}:{number}: expected {{\"prompt\": \"...\"}}") from None
        if not isinstance(prompt, str) or not prompt.strip():
            raise DatasetError(f"{path}:{number}: prompt must be a non-empty string")
        prompts.append(prompt)
    return prompts


def replay_rows(prompts: list[str], answers: list[Any]) -> list[dict[str, list[dict[str, str]]]]:
    """Prompt-completion rows of the base model's own finished answers. A truncated answer is left out:
    training on it would teach the model to stop mid-sentence."""
    return [
        {"prompt": [{"role": "user", "content": prompt}], "completion": [{"role": "assistant", "content": a.text}]}
        for prompt, a in zip(prompts, answers, strict=True)
        if a.finish_reason == "stop" and a.text.strip()
    ]
