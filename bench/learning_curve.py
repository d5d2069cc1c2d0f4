"""Validation accuracy against training wall minutes: `harness train` against a plain TRL `SFTTrainer`.

    .venv/bin/python bench/learning_curve.py [--variants harness,dora,trl,trl-matched] [--epochs 3] [--val 154]
                                             [--every 60] [--target 0.80] [--rows N]

Needs the curated Banking77 split (`harness curate --config training/configs/banking77.yaml`). Each
variant trains in its own process on the same rows (the curated train split, without replay: TRL cannot
learn a cut-off answer without its end of turn), with the repo config's adapter (rank, modules, top
layers), learning rate, batch size and schedule, for `--epochs` epochs (the config's max_steps is dropped:
the curve is the point). `--rows N` trains on the first N rows only, for a quick check of the script:
  harness   harness train's trainer: shared prompt prefix, frozen trunk, bf16 autocast where native
  dora      the same with adapter.method = dora
  trl       SFTTrainer with TRL's defaults for everything the trainer decides (precision, checkpointing,
            batching), on the same rows as prompt/completion chats
  trl-matched  the same in the harness's precision (bf16 only where the CPU or GPU has it natively): TRL's
            default bf16 is emulated, and slow, on a CPU with AVX2 only, which says nothing of its loop
Every `--every` seconds of training, the live weights answer `--val` validation rows spread over the
intents, greedily and through the suites' HF backend (the eval gate's own code); scoring time is not
counted as training time, the frozen trunk's one-off pass is. TRL gets 3x the time the harness took to
reach `--target` (or 3x its whole run if it never did), or `--trl-cap` seconds if that is less (on a CPU
where 3x would not fit in a session; the report then states the factor TRL was given). The ratio printed
last is minutes to reach the target, TRL / harness; target >= 5x. A variant that never reaches it is
reported as such, with the lower bound on the ratio its time cap gives.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from harness.machine import cpu_flags

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "training" / "configs" / "banking77.yaml"
VARIANTS = ("harness", "dora", "trl", "trl-matched")
TRL_VARIANTS = ("trl", "trl-matched")


class Curve(TrainerCallback):  # type: ignore[misc]
    """Scores the live weights every `every` seconds of training (scoring excluded); stops at `cap`."""

    def __init__(self, cases: list[Any], tokenizer: Any, every: float, cap: float, target: float) -> None:
        self.cases, self.tokenizer, self.every, self.cap, self.target = cases, tokenizer, every, cap, target
        self.started = time.perf_counter()
        self.scoring = 0.0
        self.points: list[dict[str, float]] = []
        self.next_at = every

    def training_seconds(self) -> float:
        return time.perf_counter() - self.started - self.scoring

    def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None, **_: Any) -> Any:
        elapsed = self.training_seconds()
        last = state.global_step >= state.max_steps
        if elapsed >= self.next_at or last or elapsed >= self.cap:
            self.score(model, state.global_step, elapsed)
            self.next_at = (elapsed // self.every + 1) * self.every  # once past a one-off pass, not once per step
            if self.points[-1]["accuracy"] >= self.target or elapsed >= self.cap:
                control.should_training_stop = True
        return control

    def score(self, model: Any, step: int, elapsed: float) -> None:
        from harness.train.eval_gate import generate_answers

        scoring = time.perf_counter()
        answers = generate_answers(model, self.tokenizer, [c.prompt for c in self.cases], 20)
        correct = sum(a.strip() == c.label for a, c in zip(answers, self.cases, strict=True))
        self.scoring += time.perf_counter() - scoring
        point = {"minutes": elapsed / 60, "step": step, "accuracy": correct / len(self.cases)}
        self.points.append(point)
        print(json.dumps(point), file=sys.stderr, flush=True)


def run_variant(args: argparse.Namespace, cap: float) -> dict[str, Any]:
    import torch
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from harness.config import HarnessConfig
    from harness.train.config import load_train_config
    from harness.train.data import read_split, task_row, val_cases
    from harness.train.eval_gate import spread_over_labels
    from harness.train.run import _peft_config, _use_bf16, base_model, build_trainer, load_model, load_tokenizer

    variant = args.variant
    harness = HarnessConfig.load(ROOT)
    config = load_train_config(CONFIG, ROOT)
    config.replay.prompts, config.epochs, config.max_steps = None, args.epochs, -1
    config.adapter.method = "dora" if variant == "dora" else config.adapter.method
    train_rows = read_split(config.dataset, "train")[: args.rows]
    cases = spread_over_labels(val_cases(read_split(config.dataset, "val")), args.val)
    _, base_dir = base_model(config, harness)
    tokenizer, model = load_tokenizer(base_dir), load_model(config, base_dir)
    curve = Curve(cases, tokenizer, args.every, cap, args.target)
    if variant in TRL_VARIANTS:
        precision = {"bf16": _use_bf16(config)} if variant == "trl-matched" else {}  # else TRL's default
        args = SFTConfig(output_dir=tempfile.mkdtemp(), per_device_train_batch_size=config.batch_size,
                         learning_rate=config.learning_rate, num_train_epochs=config.epochs, max_steps=config.max_steps,
                         warmup_steps=config.warmup_ratio, lr_scheduler_type=config.scheduler, seed=config.seed,
                         report_to=[], save_strategy="no", use_cpu=not torch.cuda.is_available(),
                         **precision)  # fmt: skip
        chats = [{"prompt": r["messages"][:-1], "completion": r["messages"][-1:]} for r in train_rows]
        trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(chats), processing_class=tokenizer,
                             peft_config=_peft_config(config, model), callbacks=[curve])  # fmt: skip
    else:
        trainer = build_trainer(config, harness, model, tokenizer, [task_row(r) for r in train_rows])
        trainer.add_callback(curve)
    curve.started = time.perf_counter()  # the frozen trunk's pass happens inside train(): it is counted
    trainer.train()
    return {"variant": variant, "points": curve.points, "rows": len(train_rows), "val_n": len(cases)}


def minutes_to(points: list[dict[str, float]], target: float) -> float | None:
    return next((p["minutes"] for p in points if p["accuracy"] >= target), None)


def run_child(variant: str, args: argparse.Namespace, cap: float, scratch: Path) -> dict[str, Any]:
    out = scratch / f"{variant}.json"
    command = [sys.executable, __file__, "--variant", variant, "--out", str(out), "--val", str(args.val),
               "--every", str(args.every), "--cap", str(cap), "--target", str(args.target),
               "--epochs", str(args.epochs)] + (["--rows", str(args.rows)] if args.rows else [])  # fmt: skip
    subprocess.run(command, check=True, env=os.environ | {"HF_HUB_OFFLINE": "1"}, stdout=subprocess.DEVNULL)
    return dict(json.loads(out.read_text()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--val", type=int, default=154, help="validation rows scored at each point")
    parser.add_argument("--every", type=float, default=60.0, help="training seconds between points")
    parser.add_argument("--target", type=float, default=0.80)
    parser.add_argument("--cap", type=float, default=3600.0, help="training seconds at most, per variant")
    parser.add_argument("--trl-cap", type=float, default=None, help="TRL's training seconds at most (else 3x)")
    parser.add_argument("--epochs", type=float, default=3.0)
    parser.add_argument("--rows", type=int, default=None, help="train on the first N rows (a quick check)")
    parser.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)  # one run, in a child process
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        result = run_variant(args, args.cap)
        args.out.write_text(json.dumps(result))
        return
    unknown = [name for name in args.variants.split(",") if name not in VARIANTS]
    if unknown:
        parser.error(f"--variants: unknown {', '.join(unknown)}; choose from {','.join(VARIANTS)}")
    print(f"cpu: {cpu_flags()}", flush=True)
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for variant in args.variants.split(","):
            cap = args.cap
            if variant in TRL_VARIANTS and "harness" in results:
                reference = results["harness"]["points"]
                cap = 3 * (minutes_to(reference, args.target) or reference[-1]["minutes"]) * 60
                cap = min(cap, args.trl_cap or cap)
            results[variant] = run_child(variant, args, cap, Path(scratch)) | {"cap_minutes": cap / 60}
            points = results[variant]["points"]
            curve = "  ".join(f"{p['minutes']:.1f}m@{p['step']}:{p['accuracy']:.3f}" for p in points)
            print(f"{variant:8s} {curve}", flush=True)
    report(results, args.target)


def report(results: dict[str, dict[str, Any]], target: float) -> None:
    reached = {name: minutes_to(r["points"], target) for name, r in results.items()}
    for name, minutes in reached.items():
        best = max(p["accuracy"] for p in results[name]["points"])
        where = f"reached {target} in {minutes:.1f} min" if minutes is not None else f"never reached {target}"
        print(f"{name:8s} {where} (best {best:.3f} in {results[name]['points'][-1]['minutes']:.1f} min)")
    for trl in (name for name in TRL_VARIANTS if name in reached and "harness" in reached):
        print(ratio_line(results, reached, trl, target))


def ratio_line(results: dict[str, dict[str, Any]], reached: dict[str, float | None], trl: str, target: float) -> str:
    harness, theirs = reached["harness"], reached[trl]
    if harness is None:
        return f"ratio {trl} / harness minutes to {target}: n/a (the harness did not reach it)"
    if theirs is not None:
        return f"ratio {trl} / harness minutes to {target}: {theirs / harness:.1f}x"
    given = results[trl]["cap_minutes"] / harness
    return (f"ratio {trl} / harness minutes to {target}: > {given:.1f} ({trl} did not reach it in {given:.1f}x the "
            f"harness's time)\n{pace_estimate(results, trl, target)}")  # fmt: skip


def pace_estimate(results: dict[str, dict[str, Any]], trl: str, target: float) -> str:
    """Where TRL's time cap ends the measurement: the minutes TRL would need at its own measured pace for the
    steps the harness took to the target. An estimate, and printed as one: it assumes the same accuracy per
    step (same rows, batch, adapter and schedule), which the two loops' different batch orders do not promise."""
    harness_point = next(p for p in results["harness"]["points"] if p["accuracy"] >= target)
    last = results[trl]["points"][-1]
    minutes_per_step = last["minutes"] / max(last["step"], 1)
    estimate = minutes_per_step * harness_point["step"]
    return (
        f"estimate, not measured: {trl} ran {last['step']} steps in {last['minutes']:.1f} min; at that pace the "
        f"harness's {harness_point['step']} steps to {target} take {estimate:.0f} min, "
        f"{estimate / harness_point['minutes']:.1f}x the harness's {harness_point['minutes']:.1f}"
    )


if __name__ == "__main__":
    main()
