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
run without gradients over the same states: no second copy of the weights is held. Its states along a
replayed answer never change (its weights are frozen), while each replayed chat is visited several times
a run (rows are repeated to reach `replay.share`, and again each epoch), so `TeacherStates` computes them
the first time a row is met and keeps them: one forward of the adapted layers per distinct chat, not
per visit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from harness.train.shared_prefix import LossParts, real_rows


def distilled_rows(input_ids: Any, attention_mask: Any, distilled: frozenset[tuple[int, ...]]) -> Any:
    """A (rows,) boolean tensor: which rows of a right-padded batch are learned by distillation."""
    import torch

    return torch.tensor([row in distilled for row in real_rows(input_ids, attention_mask)], dtype=torch.bool)


def learned_states(predictors: Any, targets: Any, rows: Any) -> Any:
    """The states that predict the learned tokens (target != -100) of the chosen `rows` (a boolean mask),
    row after row: the order `mixed_loss` expects its teacher's states in."""
    chosen = rows.to(targets.device)
    return predictors[chosen][targets[chosen] != -100]


class TeacherStates:
    """The base model's final hidden states along each distilled row's learned tokens, computed the first
    time the row is met and kept for the run (~0.1 GB for the demo's 960 replayed chats on SmolLM2).

    Exact: the base model is frozen, so a row's states are the same at every visit, up to floating-point
    order across batch shapes (as for the frozen trunk)."""

    def __init__(self) -> None:
        self.by_row: dict[tuple[int, ...], Any] = {}
        self.forwards = 0
        """Rows the base model has been run on: each distinct distilled row once."""

    def for_batch(
        self, rows: Sequence[tuple[int, ...]], distilled: Any, compute: Callable[[list[int]], tuple[Any, Any]]
    ) -> Any:  # fmt: skip
        """The teacher's states for a batch's distilled rows, in `learned_states` order. `compute(indices)`
        runs the base model on those rows of the batch and returns (predictors, targets) for them."""
        import torch

        wanted = [i for i, is_distilled in enumerate(distilled.tolist()) if is_distilled]
        first_index = {rows[i]: i for i in reversed(wanted)}  # a chat repeated within the batch runs once
        missing = [i for row, i in first_index.items() if row not in self.by_row]
        if missing:
            predictors, targets = compute(missing)
            for position, index in enumerate(missing):
                learned = targets[position] != -100
                self.by_row[rows[index]] = predictors[position][learned].detach().clone()
            self.forwards += len(missing)
        return torch.cat([self.by_row[rows[i]] for i in wanted])


def mixed_loss(
    head: Any, predictors: Any, teacher_states: Any, targets: Any, distilled: Any, num_items_in_batch: Any = None,
    weight: float = 1.0,
) -> LossParts:  # fmt: skip
    """Per learned token: KL(base || adapted) over the vocabulary in the `distilled` rows, cross-entropy of
    the target elsewhere; summed and divided as `label_loss` divides, so both kinds weigh per token alike
    unless `weight` (`replay.distill_weight`) scales the KL terms.

    `predictors` are the adapted model's final hidden states that predict each target, position for
    position; `teacher_states` the base model's (the adapter off) along the distilled rows' learned tokens
    only, in `learned_states` order."""
    import torch.nn.functional as functional

    valid = targets != -100
    by_kl = distilled[:, None].to(valid.device).expand_as(valid)[valid]
    logits = head(predictors[valid]).float()
    picked = targets[valid]
    log_probs = functional.log_softmax(logits, dim=-1)
    cross_entropy = -log_probs[~by_kl].gather(1, picked[~by_kl, None]).sum()
    teacher_log_probs = functional.log_softmax(head(teacher_states).float(), dim=-1)
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
