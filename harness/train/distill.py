"""Replay by distillation: on replayed chats, learn the base model's whole next-token distribution, not
only the answer it happened to give.

Replay with cross-entropy on the base model's greedy answers (`replay.loss: answers`) keeps general
skills only in part. Its loss is not zero at the start, because the base puts less than all of its
probability on its own greedy token, so the replay rows themselves move the weights: they sharpen the
model towards memorised answers to a few hundred chats. The KL divergence from the base model's
distribution to the adapted model's (`replay.loss: distill`) is zero, with zero gradient, at the start;
it grows only as the task pulls the shared weights away, and then it pulls back on every token of the
vocabulary at every position of the replayed answer, which keeps the margins a greedy answer depends on.

The base model is the model under training with its adapter switched off (PEFT's `disable_adapter`),
run without gradients over the same states: no second copy of the weights is held, and on the frozen
trunk it costs one more forward of the adapted layers for the replay batches only.
"""

from __future__ import annotations

from typing import Any

from harness.train.shared_prefix import LossParts


def distilled_rows(input_ids: Any, attention_mask: Any, distilled: frozenset[tuple[int, ...]]) -> Any:
    """A (rows,) boolean tensor: which rows of a right-padded batch are learned by distillation."""
    import torch

    rows = [tuple(ids[:real].tolist()) for ids, real in zip(input_ids, attention_mask.sum(dim=1).tolist(), strict=True)]
    return torch.tensor([row in distilled for row in rows], dtype=torch.bool)


def mixed_loss(
    head: Any, predictors: Any, teacher_predictors: Any, targets: Any, distilled: Any, num_items_in_batch: Any = None,
    weight: float = 1.0,
) -> LossParts:  # fmt: skip
    """Per learned token: KL(base || adapted) over the vocabulary in the `distilled` rows, cross-entropy of
    the target elsewhere; summed and divided as `label_loss` divides, so both kinds weigh per token alike
    unless `weight` (`replay.distill_weight`) scales the KL terms.

    `predictors` and `teacher_predictors` are the final hidden states that predict each target, from the
    adapted model and from the base model (the adapter off), position for position."""
    import torch.nn.functional as functional

    valid = targets != -100
    by_kl = distilled[:, None].to(valid.device).expand_as(valid)[valid]
    logits = head(predictors[valid]).float()
    picked = targets[valid]
    log_probs = functional.log_softmax(logits, dim=-1)
    cross_entropy = -log_probs[~by_kl].gather(1, picked[~by_kl, None]).sum()
    teacher_log_probs = functional.log_softmax(head(teacher_predictors[valid][by_kl]).float(), dim=-1)
    kl = functional.kl_div(log_probs[by_kl], teacher_log_probs, log_target=True, reduction="sum")
    count = int(valid.sum())
    divisor = num_items_in_batch if num_items_in_batch is not None else max(count, 1)
    correct = int((logits.argmax(-1) == picked).sum())
    return LossParts(loss=(cross_entropy + weight * kl) / divisor, label_tokens=count, correct_tokens=correct)


def adapter_off(model: Any) -> Any:
    """A context in which `model` computes as its base model: PEFT's `disable_adapter`, without gradients."""
    import contextlib

    import torch

    if not hasattr(model, "disable_adapter"):
        raise TypeError("replay.loss = distill needs a PEFT model: the base model is the adapter switched off")
    stack = contextlib.ExitStack()
    stack.enter_context(torch.no_grad())
    stack.enter_context(model.disable_adapter())
    return stack
