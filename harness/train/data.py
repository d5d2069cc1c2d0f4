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

from harness.errors import InputDataError

SPLITS = ("train", "val", "test")


class DatasetError(InputDataError):
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


@dataclass(frozen=True)
class TrainRow:
    """One training example: a chat prompt and the assistant text learned after it.

    `finished` says whether the text is a whole answer. A whole answer is followed by the chat template's
    end of turn, which is learned too; a cut-off one (a replayed base answer that hit its token budget)
    is not, so the model learns its content without learning to stop where the budget happened to end."""

    prompt: list[dict[str, str]]
    completion: str
    finished: bool = True
    distilled: bool = False
    """Learned by distillation from the base model along `completion` (`replay.loss: distill`), not by
    cross-entropy on it."""


def task_row(row: dict[str, Any]) -> TrainRow:
    """A curated row: everything before the last assistant turn is the prompt."""
    return TrainRow(prompt=row["messages"][:-1], completion=row["messages"][-1]["content"])


def tokenize(tokenizer: Any, rows: list[TrainRow]) -> list[dict[str, list[int]]]:
    """input_ids and completion_mask per row, in the model's own chat template (what TRL would build for a
    conversational prompt-completion row, plus the unfinished case TRL cannot express)."""
    encoded = []
    for row in rows:
        prompt_text = tokenizer.apply_chat_template(row.prompt, add_generation_prompt=True, tokenize=False)
        prompt_ids = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
        if row.finished:
            chat = [*row.prompt, {"role": "assistant", "content": row.completion}]
            full_text = tokenizer.apply_chat_template(chat, tokenize=False)
            full_ids = tokenizer(full_text, add_special_tokens=False)["input_ids"]
            if full_ids[: len(prompt_ids)] != prompt_ids:
                raise DatasetError(f"the chat template renders the prompt differently inside a full chat: {row.prompt}")
            completion_ids = full_ids[len(prompt_ids) :]
        else:
            completion_ids = tokenizer(row.completion, add_special_tokens=False)["input_ids"]
        encoded.append({"input_ids": prompt_ids + completion_ids,
                        "completion_mask": [0] * len(prompt_ids) + [1] * len(completion_ids)})  # fmt: skip
    return encoded


def val_cases(rows: list[dict[str, Any]]) -> list[ValCase]:
    return [
        ValCase(id=str(row.get("id", i)), prompt=row["messages"][:-1],
                label=str(row.get("label") or row["messages"][-1]["content"]))
        for i, row in enumerate(rows)
    ]  # fmt: skip


def replay_prompts(path: Path) -> list[list[dict[str, str]]]:
    """General chats whose base-model answers are replayed: one `{"prompt": "..."}` (a single user turn)
    or `{"messages": [...]}` (earlier turns, ending with a user turn) per line."""
    chats = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as error:
            raise DatasetError(f"{path}:{number}: not JSON ({error.msg})") from None
        chats.append(_replay_chat(entry, f"{path}:{number}"))
    return chats


def _replay_chat(entry: Any, where: str) -> list[dict[str, str]]:
    expected = 'expected {"prompt": "..."} or {"messages": [..., {"role": "user", "content": "..."}]}'
    if isinstance(entry, dict) and isinstance(entry.get("prompt"), str) and entry["prompt"].strip():
        return [{"role": "user", "content": entry["prompt"]}]
    messages = entry.get("messages") if isinstance(entry, dict) else None
    if not isinstance(messages, list) or not messages:
        raise DatasetError(f"{where}: {expected}")
    for turn in messages:
        if not isinstance(turn, dict) or turn.get("role") not in {"system", "user", "assistant"} \
                or not isinstance(turn.get("content"), str) or not turn["content"].strip():  # fmt: skip
            raise DatasetError(f"{where}: every message needs a role (system, user or assistant) and non-empty content")
    if messages[-1]["role"] != "user":
        raise DatasetError(f"{where}: the chat must end with a user turn, which the base model answers")
    return [{"role": turn["role"], "content": turn["content"]} for turn in messages]


def without_system_prompt(rows: list[dict[str, Any]], count: int, labels: list[str]) -> list[list[dict[str, str]]]:
    """Up to `count` training rows' user turns as chats of their own (no system prompt), taken round-robin
    over `labels` (all labels when empty), in the split's order: replayed with the base model's answers."""
    by_label: dict[str, list[list[dict[str, str]]]] = {}
    for row in rows:
        label = str(row.get("label") or row["messages"][-1]["content"])
        if labels and label not in labels:
            continue
        turns = [turn for turn in row["messages"][:-1] if turn["role"] != "system"]
        by_label.setdefault(label, []).append(turns)
    queues = [by_label[label] for label in sorted(by_label)]
    picked: list[list[dict[str, str]]] = []
    for depth in range(max(map(len, queues), default=0)):
        picked += [queue[depth] for queue in queues if depth < len(queue)]
    return picked[:count]


def replay_rows(
    prompts: list[list[dict[str, str]]], answers: list[Any], count: int, distilled: bool = False
) -> list[TrainRow]:  # fmt: skip
    """`count` rows of the base model's own answers, cycling through the prompts when there are fewer."""
    rows = [
        TrainRow(prompt=prompt, completion=answer.text,
                 finished=answer.finish_reason == "stop", distilled=distilled)
        for prompt, answer in zip(prompts, answers, strict=True)
        if answer.text.strip()
    ]  # fmt: skip
    return [rows[i % len(rows)] for i in range(count)] if rows else []
