"""The forgetting gate's noise floor: negative flips of the base model's regression passes under changes
that remove no knowledge (bf16, batch size and padding, a null adapter). See harness/noise_floor.py.

    .venv/bin/python bench/noise_floor.py [--set regression] [--out runs/noise_floor.json]

Trains the null adapter first (48 steps on replay rows, ~2 min on 2 cores) unless --null-adapter DIR is
given, then runs the reference and the four variants on every case of the set, without the generation
cache. Prints each variant's negative flips as a share of the reference's passes, the ids, and the share
of the set that passes under all of them; writes the whole record to --out.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "golden" / "regression"))


def main() -> None:
    from harness import noise_floor
    from harness.config import HarnessConfig
    from harness.golden import generation_settings, load_set
    from harness.machine import cpu_flags
    from harness.train.config import load_train_config
    from harness.train.run import base_model

    from build import passes  # the builder's pass rule: the set was selected with it

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", default="regression")
    parser.add_argument("--config", type=Path, default=ROOT / "training" / "configs" / "banking77.yaml")
    parser.add_argument("--null-adapter", type=Path, help="a trained null adapter to reuse")
    parser.add_argument("--seed", type=int, default=None, help="the null adapter's seed (default: the config's)")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "noise_floor.json")
    args = parser.parse_args()
    if args.null_adapter and not (args.null_adapter / "adapter_config.json").is_file():
        parser.error(f"--null-adapter {args.null_adapter}: no adapter_config.json there; pass a PEFT adapter "
                     "directory, or leave the option out to train one")  # fmt: skip
    print(f"cpu: {cpu_flags()}", flush=True)
    harness = HarnessConfig.load(ROOT)
    cases = load_set(harness.golden_dir, args.set)
    budget = generation_settings(harness.golden_dir, args.set).get("max_new_tokens", harness.generation.max_new_tokens)
    started = time.perf_counter()  # the set and its budget are read before the null adapter's long training
    null_adapter = args.null_adapter or noise_floor.train_null_adapter(
        args.config, harness, ROOT / "runs" / f"null_adapter_seed{args.seed}", noise_floor.NULL_ADAPTER_STEPS,
        args.seed)
    _, base_dir = base_model(load_train_config(args.config, ROOT), harness)
    reference, variants = noise_floor.measure(
        base_dir, null_adapter, [c.prompt() for c in cases], [c.id for c in cases],
        lambda i, text: passes(text, cases[i].expected),
        max_new_tokens=budget,
        batch_size=harness.generation.batch_size)  # fmt: skip
    robust = [c.id for i, c in enumerate(cases) if reference[i] and all(v.passed[i] for v in variants)]
    record = {"set": args.set, "null_adapter_seed": args.seed, "cases": len(cases),
              "reference_passes": sum(reference), "robust": len(robust),
              "variants": {v.name: v.to_json(sum(reference)) for v in variants},
              "seconds": round(time.perf_counter() - started), "cpu": cpu_flags()}  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"{args.set}: reference passes {sum(reference)}/{len(cases)}")
    for v in variants:
        share = len(v.negative_flips) / max(sum(reference), 1)
        print(f"  {v.name:13} lost {len(v.negative_flips):3} ({share:.1%}), gained {len(v.positive_flips):3}: "
              f"{', '.join(v.negative_flips)}")
    print(f"passed under every variant: {len(robust)}/{len(cases)}; record: {args.out}")


if __name__ == "__main__":
    main()
