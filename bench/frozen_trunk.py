"""Frozen-trunk training against the shared-prefix path alone: time per epoch on the same rows and weights.

    .venv/bin/python bench/frozen_trunk.py [--top-layers 8] [--batch-size 32] [--batches 6] [--repeats 3]

Needs the curated Banking77 split (`harness curate --config training/configs/banking77.yaml`). Takes
`--batches` real training batches (rows sharing the golden system prompt, as `PrefixGroupedBatches`
makes them) and times, alternating, on the embedded SmolLM2 with a LoRA on the top `--top-layers`
layers under the trainer's precision (bf16 autocast where native):
  shared   one training step (forward + backward) on the path `harness train` takes without a trunk
           (`embedded_predictors`: every layer, the prefix once, rows in length chunks)
  trunk    the one-off no-grad trunk pass for those rows, and one step of `trunk_loss` on them
An epoch of n batches costs n x shared without the trunk, and trunk pass + n x trunk step with it. The
lines printed last are those per-epoch figures and the ratio for 1 and 3 epochs (shared / trunk).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "training" / "configs" / "banking77.yaml"


def batches(args: argparse.Namespace) -> tuple[Any, list[dict[str, Any]], list[list[int]], list[list[int]]]:
    from harness.train.data import read_split, task_row, tokenize

    config, tokenizer, model = adapted_model(args.top_layers)
    rows = tokenize(tokenizer, [task_row(r) for r in read_split(config.dataset, "train")])
    rows = rows[: args.batches * args.batch_size]
    ids = [r["input_ids"] for r in rows]
    learned = [r["completion_mask"] for r in rows]
    return model, [collate(rows[i : i + args.batch_size], tokenizer.pad_token_id)
                   for i in range(0, len(rows), args.batch_size)], ids, learned  # fmt: skip


def adapted_model(top_layers: int | None = None) -> tuple[Any, Any, Any]:
    """The repo config, its tokenizer, and the embedded SmolLM2 with the config's LoRA on the top `top_layers`
    layers (None: the config's own), in training mode."""
    from peft import get_peft_model

    from harness.config import HarnessConfig
    from harness.train.config import load_train_config
    from harness.train.run import _peft_config, base_model, load_model, load_tokenizer

    config = load_train_config(CONFIG, ROOT)
    if top_layers is not None:
        config.adapter.top_layers = top_layers
    _, base_dir = base_model(config, HarnessConfig.load(ROOT))
    tokenizer, model = load_tokenizer(base_dir), load_model(config, base_dir)
    model = get_peft_model(model, _peft_config(config, model))
    model.train()
    return config, tokenizer, model


def collate(rows: list[dict[str, list[int]]], pad: int) -> dict[str, Any]:
    """Right padding and completion-only labels, as TRL's collator builds a batch."""
    import torch

    width = max(len(r["input_ids"]) for r in rows)
    return {
        "input_ids": torch.tensor([r["input_ids"] + [pad] * (width - len(r["input_ids"])) for r in rows]),
        "attention_mask": torch.tensor([[1] * len(r["input_ids"]) + [0] * (width - len(r["input_ids"])) for r in rows]),
        "labels": torch.tensor([[t if m else -100 for t, m in zip(r["input_ids"], r["completion_mask"], strict=True)]
                                + [-100] * (width - len(r["input_ids"])) for r in rows]),
    }  # fmt: skip


def main() -> None:
    import torch

    from harness.train.frozen_trunk import build_trunk_cache, embedded_predictors, first_trained_layer, trunk_loss
    from harness.train.run import _use_bf16
    from harness.train.shared_prefix import causal_lm, label_loss, shared_length

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--top-layers", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--batches", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from harness.machine import cpu_flags

    print(f"cpu: {cpu_flags()}; torch threads {torch.get_num_threads()}", flush=True)
    model, data, ids, learned = batches(args)
    from harness.train.config import load_train_config

    bf16 = _use_bf16(load_train_config(CONFIG, ROOT))
    def autocast() -> Any:  # a fresh context per use; off where the CPU has no native bf16 (AVX2 only)
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)

    boundary = first_trained_layer(model)

    head = causal_lm(model).get_output_embeddings()

    def shared_step(batch: dict[str, Any]) -> None:
        prefix = shared_length(batch["input_ids"], batch["attention_mask"], batch["labels"])
        with autocast():
            loss = label_loss(head, *embedded_predictors(model, batch, prefix)).loss
        loss.backward()
        model.zero_grad()

    def trunk_step(cache: Any, batch: dict[str, Any]) -> None:
        with autocast():
            loss = trunk_loss(model, cache, batch).loss
        loss.backward()
        model.zero_grad()

    shared_times, pass_times, trunk_times = [], [], []
    for _ in range(args.repeats):
        started = time.perf_counter()
        for batch in data:
            shared_step(batch)
        shared_times.append((time.perf_counter() - started) / len(data))
        started = time.perf_counter()
        cache = build_trunk_cache(model, ids, learned, boundary, autocast=autocast())
        pass_times.append((time.perf_counter() - started) / len(data))
        started = time.perf_counter()
        for batch in data:
            trunk_step(cache, batch)
        trunk_times.append((time.perf_counter() - started) / len(data))
    shared, one_off, step = (statistics.median(t) for t in (shared_times, pass_times, trunk_times))
    print(f"top {args.top_layers} of {boundary + args.top_layers} layers adapted, batches of {args.batch_size} "
          f"rows, bf16 {bf16}; medians of {args.repeats} alternating repeats over {len(data)} batches")
    print(f"per batch: shared-prefix step {shared:.2f} s | trunk pass {one_off:.2f} s once, "
          f"then trunk step {step:.2f} s")
    for epochs in (1, 3):
        ratio = epochs * shared / (one_off + epochs * step)
        print(f"{epochs} epoch(s): shared-prefix / frozen-trunk time = {ratio:.2f}x")


if __name__ == "__main__":
    main()
