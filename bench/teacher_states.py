"""Distilled replay with the base model's states kept from a chat's first visit, against running the base
model at every visit: time per replay batch, and what it saves over the demo's run.

    .venv/bin/python bench/teacher_states.py [--batches 4] [--repeats 3]

Needs the curated Banking77 split (`harness curate --config training/configs/banking77.yaml`) and the
replay answers (generated once by the base model and cached; the first run pays for them). Builds the
demo config's replay rows (`replay.loss: distill`), batches them as `harness train` does, takes
`--batches` batches, and times one training step on the frozen trunk (forward, loss, backward), on the
embedded SmolLM2 with the config's adapter, under the trainer's precision, alternating:
  fresh   the base model (adapter off) runs over the batch's replayed chats at every step
  kept    their states come from `TeacherStates`, filled beforehand as a first visit fills it
The line printed last projects the saving onto the demo's run: the teacher's time per row, times the
visits a run makes beyond the first of each distinct chat (rows repeated to reach `replay.share`, and
again each epoch).
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from pathlib import Path
from typing import Any

from frozen_trunk import adapted_model, collate

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "training" / "configs" / "banking77.yaml"


def replay_batches(config: Any, tokenizer: Any, count: int, size: int) -> tuple[list[list[dict[str, Any]]], int, int]:
    """`count` batches of the demo config's tokenized replay rows, as the trainer's sampler cuts them; with
    the run's replay row count and its distinct chats."""
    from harness.config import HarnessConfig
    from harness.train.data import read_split, tokenize
    from harness.train.run import _replay
    from harness.train.shared_prefix import PrefixGroupedBatches

    train_rows = read_split(config.dataset, "train")
    rows = tokenize(tokenizer, _replay(config, HarnessConfig.load(ROOT), len(train_rows), train_rows))
    distinct = len({tuple(row["input_ids"]) for row in rows})
    ids = [row["input_ids"] for row in rows]
    order = list(PrefixGroupedBatches(ids, size, seed=config.seed))[:count]
    return [[rows[i] for i in batch] for batch in order], len(rows), distinct


def main() -> None:
    import torch

    from harness.machine import cpu_flags
    from harness.train.distill import TeacherStates, adapter_off, mixed_loss
    from harness.train.frozen_trunk import build_trunk_cache, first_trained_layer, trunk_predictors
    from harness.train.run import _use_bf16
    from harness.train.shared_prefix import batch_rows, causal_lm, min_group_rows, prefix_groups, real_rows

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    config, tokenizer, model = adapted_model()  # the demo config's adapter, top layers included
    chosen, run_rows, distinct = replay_batches(config, tokenizer, args.batches, config.batch_size)
    data = [collate(rows, tokenizer.pad_token_id) for rows in chosen]
    bf16 = _use_bf16(config)
    print(f"cpu: {cpu_flags()}; torch threads {torch.get_num_threads()}; bf16 {bf16}", flush=True)

    def autocast() -> Any:  # a fresh context per use; off where the CPU has no native bf16 (AVX2 only)
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)

    ids = [row["input_ids"] for rows in chosen for row in rows]
    learned = [row["completion_mask"] for rows in chosen for row in rows]
    groups = prefix_groups(ids, min_group_rows(config.batch_size))  # as the trainer groups them: chats are pooled
    trunk = build_trunk_cache(model, ids, learned, first_trained_layer(model), groups, autocast=autocast())
    head = causal_lm(model).get_output_embeddings()
    every_row = [torch.ones(len(batch["input_ids"]), dtype=torch.bool) for batch in data]

    def base_states(batch: dict[str, Any]) -> Any:
        """The base model (adapter off) over some rows of a batch: what a first visit computes."""

        def run(indices: list[int]) -> tuple[Any, Any]:
            with adapter_off(model):
                return trunk_predictors(model, trunk, batch_rows(batch, indices))

        return run

    def rows_of(batch: dict[str, Any]) -> list[tuple[int, ...]]:
        return real_rows(batch["input_ids"], batch["attention_mask"])

    kept = TeacherStates()
    for batch, rows in zip(data, every_row, strict=True):
        with autocast():
            kept.for_batch(rows_of(batch), rows, base_states(batch))

    def step(batch: dict[str, Any], rows: Any, fresh: bool) -> None:
        with autocast():
            predictors, targets = trunk_predictors(model, trunk, batch)
            # fresh: a TeacherStates that keeps nothing, so every visit runs the base model
            teacher = TeacherStates() if fresh else kept
            states = teacher.for_batch(rows_of(batch), rows, base_states(batch))
            loss = mixed_loss(head, predictors, states, targets, rows).loss
        loss.backward()
        model.zero_grad()

    times: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(args.repeats):
        for fresh in (True, False):
            started = time.perf_counter()
            for batch, rows in zip(data, every_row, strict=True):
                step(batch, rows, fresh)
            times[fresh].append((time.perf_counter() - started) / len(data))
    fresh_time, kept_time = (statistics.median(times[f]) for f in (True, False))
    rows_per_batch = sum(len(b["input_ids"]) for b in data) / len(data)
    per_row = (fresh_time - kept_time) / rows_per_batch
    visits = round(run_rows * config.epochs)
    print(f"replay batches of {config.batch_size} rows, top {config.adapter.top_layers} layers adapted; medians of "
          f"{args.repeats} alternating repeats over {len(data)} batches")
    print(f"per replay batch: fresh teacher {fresh_time:.2f} s | kept states {kept_time:.2f} s "
          f"({fresh_time / kept_time:.2f}x)")
    print(f"the demo's run: {run_rows} replay rows from {distinct} distinct chats, {config.epochs} epochs = "
          f"{visits} visits, {math.ceil(visits / config.batch_size)} replay batches; kept states run the base "
          f"model {distinct} times instead of {visits}, saving ~{(visits - distinct) * per_row / 60:.1f} min")


if __name__ == "__main__":
    main()
