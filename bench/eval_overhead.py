"""Harness `generate` (through the same CachedModel the `model` fixture gives, cold cache) vs raw batched
`model.generate` on the same 200 prompts, same weights, same settings, in one process.

    .venv/bin/python bench/eval_overhead.py [--prompts 200] [--max-new-tokens 32] [--repeats 2]

Both sides use the one loaded model, so only the harness's own work differs: chat templating,
cache lookups and writes, batching order, decoding. The ratio (harness / raw, lower is better) is
printed last. Target: <= 1.10.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from harness.cache import GenerationCache
from harness.config import HarnessConfig
from harness.models.cached import CachedModel
from harness.models.resolve import ModelFactory
from harness.models.spec import HFSpec
from harness.progress import no_progress

ROOT = Path(__file__).resolve().parent.parent
QUERIES = ROOT / "golden" / "banking77" / "data" / "test.csv"
INSTRUCTION = "You are a bank's support assistant. Answer the customer briefly."


def prompts(n: int) -> list[list[dict[str, str]]]:
    with QUERIES.open(newline="") as f:
        texts = [row["text"] for row in csv.DictReader(f)][:n]
    return [[{"role": "system", "content": INSTRUCTION}, {"role": "user", "content": t}] for t in texts]


def raw_generate(model: Any, tokenizer: Any, conversations: list[Any], batch_size: int, max_new: int) -> list[str]:
    """The reference: what a careful user writes by hand with transformers, batches in input order."""
    import torch

    texts = [tokenizer.apply_chat_template(c, add_generation_prompt=True, tokenize=False) for c in conversations]
    answers: list[str] = []
    for start in range(0, len(texts), batch_size):
        encoded = tokenizer(texts[start : start + batch_size], return_tensors="pt", padding=True,
                            add_special_tokens=False)  # fmt: skip
        with torch.inference_mode():
            output = model.generate(
                **encoded, max_new_tokens=max_new, do_sample=False, pad_token_id=tokenizer.pad_token_id,
                temperature=None, top_p=None, top_k=None,
            )  # fmt: skip
        width = encoded["input_ids"].shape[1]
        answers += tokenizer.batch_decode(output[:, width:], skip_special_tokens=True)
    return answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prompts", type=int, default=200)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    config = HarnessConfig.load(ROOT)
    conversations = prompts(args.prompts)
    with tempfile.TemporaryDirectory() as scratch:
        factory = ModelFactory(config, GenerationCache(Path(scratch) / "unused.sqlite", enabled=False), no_progress)
        loaded = factory.build(HFSpec(config.models["base"].removeprefix("hf:")))
        hf_model, tokenizer = loaded.backend.weights.get()  # type: ignore[attr-defined]
        batch = config.generation.batch_size
        raw_generate(hf_model, tokenizer, conversations[:batch], batch, 4)  # warm-up, untimed

        raw_times, harness_times = [], []
        for repeat in range(args.repeats):
            started = time.perf_counter()
            raw = raw_generate(hf_model, tokenizer, conversations, batch, args.max_new_tokens)
            raw_times.append(time.perf_counter() - started)

            cold = GenerationCache(Path(scratch) / f"cold-{repeat}.sqlite")  # a real, empty cache
            model = CachedModel(loaded.backend, cold, config.generation.params(), no_progress)  # same tensors
            started = time.perf_counter()
            answers = model.generate(conversations, max_new_tokens=args.max_new_tokens)
            harness_times.append(time.perf_counter() - started)

    same = sum(a.text.strip() == r.strip() for a, r in zip(answers, raw, strict=True))
    tokens = sum(a.completion_tokens for a in answers)
    raw_s, harness_s = statistics.median(raw_times), statistics.median(harness_times)
    print(f"prompts: {len(conversations)}, max_new_tokens: {args.max_new_tokens}, batch_size: {batch}")
    print(f"raw model.generate:   {raw_s:7.2f} s (median of {args.repeats})")
    print(f"harness generate:     {harness_s:7.2f} s ({tokens / harness_s:.0f} generated tokens/s)")
    print(f"identical answers:    {same}/{len(answers)}")
    print(f"ratio harness/raw: {harness_s / raw_s:.3f} (target <= 1.10)")


if __name__ == "__main__":
    main()
