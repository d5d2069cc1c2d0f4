"""Shared-prefix training is exact: same loss and gradients as the plain forward, on a tiny real model."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.train.shared_prefix import (
    MIN_SHARED_TOKENS,
    POOL,
    PrefixGroupedBatches,
    min_group_rows,
    prefix_groups,
    prefix_shared_loss,
    shared_length,
)

SYSTEM = "answer with yes or no only. " * 6


def _batch(tokenizer, texts: list[str], answers: list[str]):  # type: ignore[no-untyped-def]
    """A right-padded batch with completion-only labels, as TRL's collator builds it."""
    import torch

    rows, labels = [], []
    for text, answer in zip(texts, answers, strict=True):
        prompt = tokenizer.apply_chat_template(
            [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text}], add_generation_prompt=True
        )
        prompt = list(prompt["input_ids"] if hasattr(prompt, "keys") else prompt)
        completion = tokenizer(answer + "<|im_end|>", add_special_tokens=False)["input_ids"]
        rows.append(prompt + completion)
        labels.append([-100] * len(prompt) + completion)
    width = max(len(r) for r in rows)
    pad = tokenizer.pad_token_id
    return {
        "input_ids": torch.tensor([r + [pad] * (width - len(r)) for r in rows]),
        "attention_mask": torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows]),
        "labels": torch.tensor([lab + [-100] * (width - len(lab)) for lab in labels]),
    }


@pytest.fixture(scope="module")
def lora_model(tiny_model_dir: Path):  # type: ignore[no-untyped-def]
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"],
                                             init_lora_weights=False))  # fmt: skip
    model.train()
    return model, AutoTokenizer.from_pretrained(tiny_model_dir)


def _plain_loss(model, batch):  # type: ignore[no-untyped-def]
    import torch

    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    targets = batch["labels"][:, 1:]
    total = torch.nn.functional.cross_entropy(
        logits[:, :-1].reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100, reduction="sum"
    )
    return total / (targets != -100).sum()


def _grads(model) -> dict[str, object]:  # type: ignore[no-untyped-def]
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad and p.grad is not None}
    model.zero_grad()
    return grads


def test_loss_and_gradients_equal_the_plain_forward(lora_model) -> None:  # type: ignore[no-untyped-def]
    import torch

    model, tokenizer = lora_model
    batch = _batch(tokenizer, ["my card has not arrived", "what is the capital of france yet", "no"],
                   ["yes", "no", "yes no"])  # fmt: skip
    prefix = shared_length(batch["input_ids"], batch["attention_mask"], batch["labels"])
    assert prefix >= MIN_SHARED_TOKENS  # the system turn and the user header are shared

    plain = _plain_loss(model, batch)
    plain.backward()
    expected = _grads(model)
    shared = prefix_shared_loss(model, batch, prefix)
    shared.loss.backward()
    got = _grads(model)

    assert torch.allclose(shared.loss, plain, atol=1e-5)
    assert expected.keys() == got.keys() and expected
    for name in expected:
        assert torch.allclose(got[name], expected[name], atol=1e-5, rtol=1e-4), name


def test_shared_length_stops_before_labels_and_before_a_row_runs_out(lora_model) -> None:  # type: ignore[no-untyped-def]
    import torch

    _, tokenizer = lora_model
    same = _batch(tokenizer, ["the quick brown fox", "the quick brown fox"], ["yes", "no"])
    first_label = int(torch.nonzero((same["labels"] != -100).any(0))[0, 0])
    assert shared_length(same["input_ids"], same["attention_mask"], same["labels"]) == first_label
    ids = torch.tensor([[5, 6, 7, 8], [5, 6, 0, 0]])
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]])
    assert shared_length(ids, mask, torch.full_like(ids, -100)) == 1  # the short row keeps one token


@settings(max_examples=30, deadline=None)
@given(
    groups=st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=4),
    batch_size=st.integers(min_value=1, max_value=8),
    epoch=st.integers(min_value=0, max_value=3),
)
def test_batches_cover_every_row_once_and_never_mix_groups(groups: list[int], batch_size: int, epoch: int) -> None:
    rows = [[g] * 70 + [i] for g, size in enumerate(groups) for i in range(size)]
    sampler = PrefixGroupedBatches(rows, batch_size, seed=1)
    sampler.set_epoch(epoch)
    batches = list(sampler)
    keys = prefix_groups(rows, min_group_rows(batch_size))
    assert sorted(i for b in batches for i in b) == list(range(len(rows)))
    assert all(len({keys[i] for i in b}) == 1 and 0 < len(b) <= batch_size for b in batches)
    assert len(batches) == len(sampler)


def test_rows_that_start_like_too_few_others_are_pooled_not_batched_alone() -> None:
    """A 10% share of rows with prompts of their own (replay) must not become most of the steps."""
    task = [[7] * 70 + [i] for i in range(90)]
    own_prompts = [[100 + i] * 70 for i in range(10)]
    rows = task + own_prompts
    keys = prefix_groups(rows, min_group_rows(8))
    assert set(keys[90:]) == {POOL} and POOL not in keys[:90] and len(set(keys[:90])) == 1
    assert len(PrefixGroupedBatches(rows, 8, seed=0)) == 12 + 2  # ceil(90 / 8) task batches + ceil(10 / 8)
