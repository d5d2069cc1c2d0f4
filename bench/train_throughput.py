"""`harness train` vs a plain TRL `SFTTrainer` with default settings: same model, data, steps and adapter.

    .venv/bin/python bench/train_throughput.py [--steps 6] [--batch-size 16] [--val 154]

Three runs, each in its own process (so peak RSS is its own), on the same Banking77 rows with the golden
system prompt (~625 tokens a row, ~600 of them shared):
  trl            SFTTrainer, TRL's defaults for everything the trainer decides (precision, checkpointing,
                 batching; `use_cpu` on a machine without CUDA, which TRL requires there); LoRA r16 on
                 every linear layer; the same learning rate as the repo config
  harness-same   harness train with that same adapter (every layer): the trainer's own gain
  harness        harness train with training/configs/banking77.yaml's adapter (top 8 layers)
Each is then scored on the same held-out validation rows (greedy, as the suites do). Tokens/s counts
the rows' real tokens (prefix included, padding excluded) over training wall time. The ratio printed
last is harness-same / trl tokens/s: the same adapter, so validation accuracy is comparable. Target:
>= 1.3, with validation accuracy not lower.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TRAIN_CSV = ROOT / "training" / "data" / "banking77" / "train.csv"
CONFIG = ROOT / "training" / "configs" / "banking77.yaml"
VARIANTS = ("trl", "harness-same", "harness")


def rows_and_val(n_train: int, n_val: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Training rows and validation rows (2 per label), disjoint, in the curated chat format."""
    system = json.loads((ROOT / "golden" / "banking77" / "cases.jsonl").open().readline())["messages"][0]["content"]
    with TRAIN_CSV.open(newline="") as f:
        data = [(r["text"], r["category"]) for r in csv.DictReader(f)]
    random.Random(0).shuffle(data)
    val, seen = [], {}
    for text, label in data:
        if seen.get(label, 0) < 2 and len(val) < n_val:
            val.append((text, label))
            seen[label] = seen.get(label, 0) + 1
    rest = [row for row in data if row not in set(val)][:n_train]

    def chat(text: str, label: str) -> dict[str, Any]:
        return {"messages": [{"role": "system", "content": system}, {"role": "user", "content": text},
                             {"role": "assistant", "content": label}], "label": label}  # fmt: skip

    return [chat(*r) for r in rest], [chat(*r) for r in val]


def run_variant(variant: str, steps: int, batch_size: int, n_val: int, out: Path) -> dict[str, Any]:
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from trl import SFTConfig, SFTTrainer

    from harness.config import HarnessConfig
    from harness.train.config import load_train_config
    from harness.train.data import task_row, val_cases
    from harness.train.eval_gate import generate_answers
    from harness.train.run import base_model, build_trainer, load_model, load_tokenizer

    harness = HarnessConfig.load(ROOT)
    config = load_train_config(CONFIG, ROOT)
    config.max_steps, config.batch_size, config.replay.prompts = steps, batch_size, None
    config.output_dir = out / "adapter"
    if variant == "harness-same":
        config.adapter.top_layers = None
    rows, val = rows_and_val(steps * batch_size, n_val)
    _, base_dir = base_model(config, harness)
    tokenizer, model = load_tokenizer(base_dir), load_model(config, base_dir)
    if variant == "trl":
        lora = LoraConfig(r=config.adapter.rank, lora_alpha=config.adapter.alpha, target_modules="all-linear",
                          task_type="CAUSAL_LM")  # fmt: skip
        args = SFTConfig(output_dir=str(out), per_device_train_batch_size=batch_size, max_steps=steps,
                         learning_rate=config.learning_rate, report_to=[], save_strategy="no",
                         use_cpu=not torch.cuda.is_available())  # fmt: skip
        conversational = [{"prompt": r["messages"][:-1], "completion": r["messages"][-1:]} for r in rows]
        dataset = Dataset.from_list(conversational)  # TRL tokenizes it itself
        trainer = SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer,
                             peft_config=lora)  # fmt: skip
    else:
        trainer = build_trainer(config, harness, model, tokenizer, [task_row(r) for r in rows])
    tokens = sum(len(ids) for ids in trainer.train_dataset["input_ids"])
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    cases = val_cases(val)
    answers = generate_answers(trainer.model, tokenizer, [c.prompt for c in cases], 16)
    correct = sum(a.strip() == c.label for a, c in zip(answers, cases, strict=True))
    return {"variant": variant, "seconds": seconds, "tokens": tokens, "tokens_per_s": tokens / seconds,
            "rows": len(rows), "val_accuracy": correct / len(cases), "val_n": len(cases),
            "loss": trainer.state.log_history[-1].get("train_loss"),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--val", type=int, default=154)
    parser.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)  # one run, in a child process
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        result = run_variant(args.variant, args.steps, args.batch_size, args.val, args.out)
        (args.out / "result.json").write_text(json.dumps(result))
        return
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        for variant in VARIANTS:
            out = Path(scratch) / variant
            out.mkdir()
            command = [sys.executable, __file__, "--variant", variant, "--out", str(out), "--steps", str(args.steps),
                       "--batch-size", str(args.batch_size), "--val", str(args.val)]  # fmt: skip
            subprocess.run(command, check=True, env=os.environ | {"HF_HUB_OFFLINE": "1"}, stdout=subprocess.DEVNULL)
            results[variant] = json.loads((out / "result.json").read_text())
            r = results[variant]
            print(f"{variant:13s} {r['seconds']:7.1f} s  {r['tokens_per_s']:7.0f} tokens/s  val accuracy "
                  f"{r['val_accuracy']:.3f} (n={r['val_n']})  loss {r['loss']:.3f}  peak RSS {r['peak_rss_mb']:.0f} MB",
                  flush=True)  # fmt: skip
    trl, same, repo = results["trl"], results["harness-same"], results["harness"]
    print(f"harness (repo config, top-8 layers) / trl: {repo['tokens_per_s'] / trl['tokens_per_s']:.2f}x tokens/s")
    print(f"ratio harness-same / trl tokens/s (same adapter; val accuracy {same['val_accuracy']:.3f} vs "
          f"{trl['val_accuracy']:.3f}): {same['tokens_per_s'] / trl['tokens_per_s']:.2f}")


if __name__ == "__main__":
    main()
