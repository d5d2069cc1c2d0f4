"""hf: and peft: backends on tiny real models built in-process."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.cache import GenerationCache
from harness.config import HarnessConfig
from harness.models.base import as_messages
from harness.models.cached import CachedModel
from harness.models.resolve import ModelFactory
from harness.models.spec import HFSpec, PeftSpec
from harness.progress import no_progress
from tests.tiny_models import build_tiny_adapter

PROMPTS = [
    "what is the capital of france",
    [
        {"role": "system", "content": "answer with yes or no only"},
        {"role": "user", "content": "is the fox quick"},
    ],
    "my card",
    "please transfer money to my savings account and tell me why my card has not arrived yet",
    "the lazy dog",
]


def factory(config: HarnessConfig, cache: GenerationCache) -> ModelFactory:
    return ModelFactory(config, cache, no_progress)


def test_generate_returns_answers_in_order_with_counts(config, cache, tiny_model_dir: Path) -> None:
    model = factory(config, cache).build(HFSpec(str(tiny_model_dir)))

    answers = model.generate(PROMPTS, max_new_tokens=8)

    assert len(answers) == len(PROMPTS)
    assert all(a.completion_tokens >= 1 and a.prompt_tokens >= 3 and a.latency_s > 0 for a in answers)
    assert answers[3].prompt_tokens > answers[2].prompt_tokens  # counts exclude left padding
    assert all(a.completion_tokens <= 8 for a in answers)
    assert {a.finish_reason for a in answers} <= {"stop", "length"}


def test_batched_left_padded_generation_matches_one_at_a_time(config, cache, tiny_model_dir: Path) -> None:
    batched = factory(config, cache).build(HFSpec(str(tiny_model_dir)))
    single = factory(config, GenerationCache(cache.path, enabled=False)).build(HFSpec(str(tiny_model_dir)))
    single.backend.batch_size = 1  # type: ignore[attr-defined]

    together = batched.generate(PROMPTS, max_new_tokens=8)
    alone = [single.generate([p], max_new_tokens=8)[0] for p in PROMPTS]

    assert [a.text for a in together] == [a.text for a in alone]


def test_greedy_generation_is_deterministic_without_cache(config, tmp_path: Path, tiny_model_dir: Path) -> None:
    uncached = GenerationCache(tmp_path / "off.sqlite", enabled=False)
    first = factory(config, uncached).build(HFSpec(str(tiny_model_dir))).generate(PROMPTS, max_new_tokens=8)
    second = factory(config, uncached).build(HFSpec(str(tiny_model_dir))).generate(PROMPTS, max_new_tokens=8)
    assert [a.text for a in first] == [a.text for a in second]
    assert not any(a.cached for a in first + second)


def test_max_new_tokens_bounds_the_answer(config, cache, tiny_model_dir: Path) -> None:
    model = factory(config, cache).build(HFSpec(str(tiny_model_dir)))
    answers = model.generate(["the quick brown fox"] * 2, max_new_tokens=3)
    assert all(a.completion_tokens <= 3 for a in answers)


def test_unknown_generation_parameter_is_a_clear_error(config, cache, tiny_model_dir: Path) -> None:
    model = factory(config, cache).build(HFSpec(str(tiny_model_dir)))
    with pytest.raises(TypeError, match=r"unknown generation parameter\(s\) \['max_tokens'\]; valid:"):
        model.generate(["hi"], max_tokens=3)


def test_fully_cached_rerun_never_loads_weights(config, cache, tiny_model_dir: Path) -> None:
    factory(config, cache).build(HFSpec(str(tiny_model_dir))).generate(PROMPTS, max_new_tokens=8)

    rerun = factory(config, cache).build(HFSpec(str(tiny_model_dir)))
    answers = rerun.generate(PROMPTS, max_new_tokens=8)

    assert all(a.cached for a in answers)
    assert not rerun.backend.weights.is_loaded  # type: ignore[attr-defined]


def test_changed_parameters_are_a_cache_miss(config, cache, tiny_model_dir: Path) -> None:
    model = factory(config, cache).build(HFSpec(str(tiny_model_dir)))
    model.generate(PROMPTS[:2], max_new_tokens=4)
    assert not any(a.cached for a in model.generate(PROMPTS[:2], max_new_tokens=5))


def test_duplicate_prompts_in_one_call_are_generated_once(config, cache, tiny_model_dir: Path) -> None:
    model = factory(config, cache).build(HFSpec(str(tiny_model_dir)))
    answers = model.generate(["the lazy dog", "my card", "the lazy dog"], max_new_tokens=4)
    assert answers[0] == answers[2]
    assert cache.count() == 2


SYSTEM = "answer with yes or no only, the quick brown fox jumps over the lazy dog, " * 3
SHARED_PREFIX_PROMPTS = [
    [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}]
    for question in ("is the fox quick", "my card has not arrived", "what is the capital of france", "yes")
]


def reference_generate(hf_model, tokenizer, prompt, max_new_tokens: int) -> str:
    """Plain transformers, one prompt, no padding, no prefix reuse."""
    import torch

    text = tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=False)
    ids = torch.tensor([tokenizer(text, add_special_tokens=False)["input_ids"]])
    with torch.no_grad():
        out = hf_model.generate(
            ids, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id
        )
    generated = out[0, ids.shape[1] :].tolist()
    if tokenizer.eos_token_id in generated:
        generated = generated[: generated.index(tokenizer.eos_token_id) + 1]
    return tokenizer.decode(generated, skip_special_tokens=True)


def reference_score(hf_model, tokenizer, prompt, choice: str) -> float:
    """Log-likelihood of choice + end-of-turn from one full forward pass."""
    import torch

    context = tokenizer.apply_chat_template(as_messages(prompt), add_generation_prompt=True, tokenize=False)
    context_ids = tokenizer(context, add_special_tokens=False)["input_ids"]
    choice_ids = tokenizer(choice, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    with torch.no_grad():
        logprobs = hf_model(torch.tensor([context_ids + choice_ids])).logits.log_softmax(-1)[0]
    return sum(logprobs[len(context_ids) + j - 1, t].item() for j, t in enumerate(choice_ids))


@pytest.mark.parametrize("kind", ["hf", "peft"])
def test_shared_system_prompt_reuse_gives_the_same_answers(
    kind: str, config, cache, tiny_model_dir: Path, tiny_adapter_dir: Path
) -> None:
    """Batches start from the cached KV of the shared system prompt, padded after it: same answers."""
    spec = HFSpec(str(tiny_model_dir)) if kind == "hf" else PeftSpec(tiny_adapter_dir)
    model = factory(config, cache).build(spec)
    model.backend.batch_size = 3  # type: ignore[attr-defined]  # two batches: the second reuses the prefix

    answers = model.generate(SHARED_PREFIX_PROMPTS, max_new_tokens=8)

    hf_model, tokenizer = model.backend.weights.get()  # type: ignore[attr-defined]
    assert [a.text for a in answers] == [reference_generate(hf_model, tokenizer, p, 8) for p in SHARED_PREFIX_PROMPTS]


def test_score_choices_matches_full_sequence_log_likelihood(config, cache, tiny_model_dir: Path) -> None:
    """Prefix reuse across prompts (extend, then crop) must give the numbers of scoring each full sequence."""
    model = factory(config, cache).build(HFSpec(str(tiny_model_dir)))
    model.backend.batch_size = 3  # type: ignore[attr-defined]  # choices in two chunks
    choices = ["yes", "no", "card arrival", "the quick brown fox"]
    prompts = [*SHARED_PREFIX_PROMPTS, PROMPTS[0]]  # the last shares only the template's first tokens

    fast = model.score_choices(prompts, choices)

    hf_model, tokenizer = model.backend.weights.get()  # type: ignore[attr-defined]
    for prompt, scores in zip(prompts, fast, strict=True):
        expected = [reference_score(hf_model, tokenizer, prompt, choice) for choice in choices]
        assert scores == pytest.approx(expected, abs=1e-4)


def test_peft_baseline_is_the_same_weights_with_the_adapter_off(
    config, cache, tiny_model_dir: Path, tiny_adapter_dir: Path
) -> None:
    adapter, base_view = factory(config, cache).build_all([PeftSpec(tiny_adapter_dir), HFSpec(str(tiny_model_dir))])
    plain_base = factory(config, GenerationCache(cache.path, enabled=False)).build(HFSpec(str(tiny_model_dir)))

    assert base_view.backend.weights is adapter.backend.weights  # type: ignore[attr-defined]
    with_adapter = adapter.generate(PROMPTS, max_new_tokens=8)
    without = base_view.generate(PROMPTS, max_new_tokens=8)
    reference = plain_base.generate(PROMPTS, max_new_tokens=8)

    assert [a.text for a in without] == [a.text for a in reference]
    assert [a.text for a in with_adapter] != [a.text for a in reference]
    assert base_view.fingerprint() == plain_base.fingerprint() != adapter.fingerprint()


def test_peft_base_comes_from_adapter_config(config, cache, tiny_adapter_dir: Path, tiny_model_dir: Path) -> None:
    adapter = factory(config, cache).build(PeftSpec(tiny_adapter_dir))
    assert adapter.backend.weights.source.base_dir == tiny_model_dir.resolve()  # type: ignore[attr-defined]


def test_retrained_adapter_changes_fingerprint_and_misses_cache(
    config, cache, tiny_model_dir: Path, tmp_path: Path
) -> None:
    adapter_dir = build_tiny_adapter(tiny_model_dir, tmp_path / "adapter", seed=1)
    first = factory(config, cache).build(PeftSpec(adapter_dir))
    first.generate(PROMPTS[:2], max_new_tokens=4)

    shutil.rmtree(adapter_dir)
    build_tiny_adapter(tiny_model_dir, adapter_dir, seed=2)  # "retrained" in place
    second = factory(config, cache).build(PeftSpec(adapter_dir))

    assert second.fingerprint() != first.fingerprint()
    assert not any(a.cached for a in second.generate(PROMPTS[:2], max_new_tokens=4))


def test_cached_model_generate_accepts_completions_as_strings(config, cache, tiny_model_dir: Path) -> None:
    model: CachedModel = factory(config, cache).build(HFSpec(str(tiny_model_dir)))
    answer = model.generate(["my card"], max_new_tokens=4)[0]
    assert str(answer) == answer.text
