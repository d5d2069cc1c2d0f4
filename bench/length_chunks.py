"""A frozen-trunk training step on a batch of mixed row lengths: own tokens in length chunks against one
padded chunk.

    .venv/bin/python bench/length_chunks.py [--top-layers 16] [--long 4] [--rows 32] [--repeats 3] [--no-trunk]

Needs the curated Banking77 split (`harness curate --config training/configs/banking77.yaml`). Builds one
real training batch: the `--long` longest rows of the train split (queries wrapped in small talk by the
augmentation) and `--rows` minus that many rows of median length, all under the golden system prompt.
Each measurement runs in its own process (so its peak resident memory is its own), alternating
`chunked` (`length_chunks`, as `harness train` runs) and `one` (every row padded to the longest), with
the repo config's LoRA on the top `--top-layers` layers and the trainer's precision: the no-grad trunk
pass for the batch, then one warm-up step and `--steps` timed steps (forward + backward). Prints the
median seconds per step, peak RSS and the ratio one / chunked.

`--no-trunk` measures the path of a run too short for the trunk pass: every layer runs each step, and
`chunked` is `embedded_predictors` (the trunk's layer path from the embeddings, in length chunks) while
`one` is `prefix_shared_predictors` (transformers' own layers over a repeated KV cache, every row padded
to the longest), the path such runs took before.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "training" / "configs" / "banking77.yaml"


def mixed_batch(tokenizer: Any, train_rows: list[dict[str, Any]], long: int, size: int) -> list[dict[str, list[int]]]:
    from harness.train.data import task_row, tokenize

    encoded = tokenize(tokenizer, [task_row(r) for r in train_rows])
    by_length = sorted(encoded, key=lambda r: len(r["input_ids"]))
    middle = len(by_length) // 2
    return by_length[middle : middle + size - long] + by_length[-long:]


def measure(args: argparse.Namespace) -> dict[str, float]:
    import torch
    from frozen_trunk import adapted_model, collate  # bench/frozen_trunk.py: the same model and TRL-like batches

    import harness.train.frozen_trunk as trunk
    from harness.train.data import read_split
    from harness.train.run import _use_bf16

    if args.mode == "one":
        trunk.CHUNK_MIN_TOKENS = 10**9  # never close a chunk: every row padded to the longest
    config, tokenizer, model = adapted_model(args.top_layers)
    rows = mixed_batch(tokenizer, read_split(config.dataset, "train"), args.long, args.rows)
    batch = collate(rows, tokenizer.pad_token_id)
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=_use_bf16(config))
    step, prefix = _step(args, model, rows, batch, autocast)
    times = []
    for _ in range(args.steps + 1):
        started = time.perf_counter()
        with autocast:
            loss = step()
        loss.backward()
        model.zero_grad()
        times.append(time.perf_counter() - started)
    own = [len(r["input_ids"]) - prefix for r in rows]
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    return {"seconds": statistics.median(times[1:]), "peak_gb": peak_gb, "own_min": min(own), "own_max": max(own),
            "chunks": len(trunk.length_chunks(own))}  # fmt: skip


def _step(
    args: argparse.Namespace, model: Any, rows: list[dict[str, list[int]]], batch: dict[str, Any], autocast: Any
) -> tuple[Any, int]:  # fmt: skip
    """The loss of one step, as a function, and the batch's shared prefix length."""
    import harness.train.frozen_trunk as trunk
    from harness.train.shared_prefix import causal_lm, label_loss, prefix_shared_predictors, shared_length

    if args.no_trunk:
        prefix = shared_length(batch["input_ids"], batch["attention_mask"], batch["labels"])
        predictors = trunk.embedded_predictors if args.mode == "chunked" else prefix_shared_predictors
        head = causal_lm(model).get_output_embeddings()
        return (lambda: label_loss(head, *predictors(model, batch, prefix)).loss), prefix
    cache = trunk.build_trunk_cache(model, [r["input_ids"] for r in rows], [r["completion_mask"] for r in rows],
                                    trunk.first_trained_layer(model), autocast=autocast)  # fmt: skip
    return (lambda: trunk.trunk_loss(model, cache, batch).loss), max(cache.prefix_length.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--top-layers", type=int, default=16)
    parser.add_argument("--long", type=int, default=4, help="rows taken from the longest of the split")
    parser.add_argument("--rows", type=int, default=32)
    parser.add_argument("--steps", type=int, default=2, help="timed steps per process, after one warm-up")
    parser.add_argument("--repeats", type=int, default=3, help="processes per mode, alternating")
    parser.add_argument("--no-trunk", action="store_true", help="every layer each step: the path of short runs")
    parser.add_argument("--mode", choices=("chunked", "one"), help=argparse.SUPPRESS)  # one measurement
    args = parser.parse_args()
    if args.mode:
        print(json.dumps(measure(args)))
        return
    import torch

    from harness.machine import cpu_flags

    print(f"cpu: {cpu_flags()}; torch threads {torch.get_num_threads()}", flush=True)
    results: dict[str, list[dict[str, float]]] = {"chunked": [], "one": []}
    for _ in range(args.repeats):
        for mode in results:
            command = [sys.executable, __file__, "--mode", mode, "--top-layers", str(args.top_layers),
                       "--long", str(args.long), "--rows", str(args.rows), "--steps", str(args.steps),
                       *(["--no-trunk"] if args.no_trunk else [])]  # fmt: skip
            finished = subprocess.run(command, stdout=subprocess.PIPE, text=True)  # its errors reach the terminal
            if finished.returncode:
                raise SystemExit(f"bench/length_chunks.py: the {mode} measurement failed (its error is above)")
            output = finished.stdout
            results[mode].append(json.loads(output.strip().splitlines()[-1]))
            print(f"{mode:8s} {results[mode][-1]}", flush=True)
    shape = results["chunked"][0]
    path = "no trunk, every layer each step" if args.no_trunk else "frozen trunk"
    print(f"batch: {args.rows} rows, own tokens {shape['own_min']:.0f}-{shape['own_max']:.0f}, "
          f"{shape['chunks']:.0f} chunks; top {args.top_layers} layers adapted; {path}; "
          f"medians of {args.repeats} processes")
    for mode, runs in results.items():
        print(f"{mode:8s} {statistics.median(r['seconds'] for r in runs):6.2f} s per step, "
              f"peak RSS {statistics.median(r['peak_gb'] for r in runs):5.1f} GB")
    one, chunked = (statistics.median(r["seconds"] for r in results[mode]) for mode in ("one", "chunked"))
    ratio = one / chunked
    print(f"one padded chunk / length chunks, time per step: {ratio:.2f}x")


if __name__ == "__main__":
    main()
