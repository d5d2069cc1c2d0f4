"""The forgetting gate's noise floor: which of the base model's passes flip under changes that remove no knowledge.

`golden/regression` holds cases the base passes under greedy decoding, and some pass by a hair: a
different matmul order is enough to tip them. A gate that counts those flips as forgetting refuses every
adapter. So the base is re-run under changes that cannot remove knowledge:

  bf16          the same weights in bfloat16 (what a GPU serves)
  batch1        one prompt per forward pass: no padding at all
  batch5        five prompts per pass: other neighbours, other padding
  null-adapter  a LoRA trained only on the base's own answers to general prompts (the replay rows):
                weights that moved, with nothing new to learn

and each variant's *negative flips* (passed by the reference run, failed by the variant) are its noise.
`golden/regression/build.py` keeps only cases that pass under every variant; `bench/noise_floor.py`
measures the flips on the frozen set.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.cache import GenerationCache
from harness.config import HarnessConfig
from harness.models.base import Completion, Prompt
from harness.models.hf import HFBackend, HFSource, HFWeights
from harness.progress import plain_progress

REFERENCE = "reference"
"""fp32, the generation defaults' batch size: how the suites run the base on CPU."""
NULL_ADAPTER_STEPS = 48
"""Steps of 32 replay rows (~10 passes over 150 prompts): more replay than a task adapter ever sees."""


@dataclass
class VariantRun:
    name: str
    passed: list[bool]
    negative_flips: list[str] = field(default_factory=list)
    positive_flips: list[str] = field(default_factory=list)

    def to_json(self, reference_passes: int) -> dict[str, Any]:
        share = len(self.negative_flips) / reference_passes if reference_passes else 0.0
        return {"passes": sum(self.passed), "negative_flips": self.negative_flips,
                "positive_flips": self.positive_flips, "negative_flip_share": share}  # fmt: skip


def generate(
    weights: HFWeights, prompts: Sequence[Prompt], max_new_tokens: int, *, batch_size: int, label: str
) -> list[Completion]:
    """Greedy answers straight from the weights: no generation cache, so every variant really runs."""
    backend = HFBackend(weights, GenerationCache(Path("/nonexistent"), enabled=False), label=label,
                        batch_size=batch_size)  # fmt: skip
    params = {"max_new_tokens": max_new_tokens, "temperature": 0.0, "top_p": 1.0}
    answers: dict[int, Completion] = dict(backend.generate(prompts, params, plain_progress))
    return [answers[i] for i in range(len(prompts))]


def _in_bf16(source: HFSource) -> HFWeights:
    """The same weights, cast to bfloat16 once loaded."""
    import torch

    weights = HFWeights(source)
    weights.get()[0].to(torch.bfloat16)
    return weights


def train_null_adapter(
    config_path: Path, harness: HarnessConfig, output_dir: Path, steps: int, seed: int | None = None
) -> Path:
    """A LoRA with the task config's adapter settings, trained only on the replay rows (the base's own answers).
    Another `seed` gives another initialisation and row order: a second null adapter to validate a selection."""
    from harness.train.config import load_train_config
    from harness.train.run import _finish, _replay, base_model, build_trainer, load_model, load_tokenizer

    config = load_train_config(config_path, harness.root)
    config.output_dir, config.max_steps, config.frozen_trunk = output_dir, steps, False
    config.replay.share = 0.5  # `_replay` then returns as many rows as the count it is given
    config.seed = config.seed if seed is None else seed
    base_id, base_dir = base_model(config, harness)
    rows = _replay(config, harness, steps * config.batch_size * config.gradient_accumulation_steps)
    trainer = build_trainer(config, harness, load_model(config, base_dir), load_tokenizer(base_dir), rows)
    trainer.train()
    _finish(config, trainer, None, base_id)
    return output_dir


def flips(reference: Sequence[bool], variant: Sequence[bool], ids: Sequence[str]) -> tuple[list[str], list[str]]:
    """(negative, positive): ids the reference passes and the variant fails, and the other way round."""
    negative = [i for i, r, v in zip(ids, reference, variant, strict=True) if r and not v]
    positive = [i for i, r, v in zip(ids, reference, variant, strict=True) if v and not r]
    return negative, positive


def measure(
    base_dir: Path, null_adapter: Path, prompts: Sequence[Prompt], ids: Sequence[str],
    passes: Callable[[int, str], bool], *, max_new_tokens: int, batch_size: int,
) -> tuple[list[bool], list[VariantRun]]:  # fmt: skip
    """The reference run's passes and every variant's, with their flips against the reference."""
    fp32 = HFWeights(HFSource(base_dir))  # loaded once for the three fp32 runs of the base
    runs = {
        REFERENCE: (fp32, batch_size),
        "bf16": (_in_bf16(HFSource(base_dir)), batch_size),
        "batch1": (fp32, 1),
        "batch5": (fp32, 5),
        "null-adapter": (HFWeights(HFSource(base_dir, null_adapter)), batch_size),
    }
    outcomes: dict[str, list[bool]] = {}
    for name, (weights, size) in runs.items():
        answers = generate(weights, prompts, max_new_tokens, batch_size=size, label=f"{name} run")
        outcomes[name] = [passes(i, a.text) for i, a in enumerate(answers)]
    reference = outcomes.pop(REFERENCE)
    variants = [VariantRun(name, passed, *flips(reference, passed, ids)) for name, passed in outcomes.items()]
    return reference, variants
