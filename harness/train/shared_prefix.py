"""Shared-prefix training: compute a prompt prefix common to every row of a batch once, not once per row.

Task data for a router or a classifier repeats one long system prompt in every example. Banking77's is
~600 tokens (the list of intents) while each example adds ~40 of its own, so a plain SFT step spends
~94% of its compute on identical prefixes. Here a batch runs the shared prefix once (batch size 1, with
gradients), repeats its KV cache across the rows, and runs only each row's own tokens on top of it.

It is exact: every token sees the same keys and values at the same positions through the same weights,
so loss and gradients equal the plain forward's up to floating-point order (tests compare both). It
pays only when batches share a prefix, so `PrefixGroupedSampler` builds batches from rows that start
alike, shortest-to-longest within a group to keep right padding small.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

MIN_SHARED_TOKENS = 32
"""Below this the split costs more than it saves (an extra forward call and a cache copy per layer)."""
GROUP_KEY_TOKENS = 64
"""Rows whose first tokens hash alike are batched together; the exact shared length is found per batch."""


@dataclass(frozen=True)
class LossParts:
    loss: Any
    """Summed token losses divided by the token count (or by `num_items_in_batch` across accumulation)."""
    label_tokens: int
    correct_tokens: int


def shared_length(input_ids: Any, attention_mask: Any, labels: Any) -> int:
    """Tokens every row of a right-padded batch starts with, stopping before any row's first label token
    and before any row's last real token (each row must keep a token of its own)."""
    import torch

    same = (input_ids == input_ids[:1]).all(dim=0)
    first_differing = int(torch.nonzero(~same)[0, 0]) if (~same).any() else input_ids.shape[1]
    shortest = int(attention_mask.sum(dim=1).min()) - 1
    labelled = (labels != -100).any(dim=0)
    first_label = int(torch.nonzero(labelled)[0, 0]) if labelled.any() else input_ids.shape[1]
    return max(0, min(first_differing, shortest, first_label))


def real_rows(input_ids: Any, attention_mask: Any) -> list[tuple[int, ...]]:
    """Each row of a right-padded batch as its token ids, padding cut: how a row is known across batches."""
    lengths = attention_mask.sum(dim=1).tolist()
    return [tuple(ids[:real].tolist()) for ids, real in zip(input_ids, lengths, strict=True)]


def batch_rows(inputs: dict[str, Any], indices: list[int]) -> dict[str, Any]:
    """Some rows of a right-padded batch as a batch of their own, cut to its longest row."""
    width = int(inputs["attention_mask"][indices].sum(dim=1).max())
    return {key: inputs[key][indices, :width] for key in ("input_ids", "attention_mask", "labels")}


def splittable(model: Any) -> bool:
    """Models whose logits are exactly `head(decoder(...))`; those that post-process logits (Gemma 2's
    soft-capping) train on TRL's plain path instead."""
    inner = causal_lm(model)
    config = getattr(inner, "config", None)
    plain_head = getattr(config, "final_logit_softcapping", None) is None
    return plain_head and hasattr(inner, "get_decoder") and inner.get_output_embeddings() is not None


def prefix_shared_loss(model: Any, inputs: dict[str, Any], prefix: int, num_items_in_batch: Any = None) -> LossParts:
    """Causal-LM loss of a right-padded batch whose rows share their first `prefix` tokens."""
    head = causal_lm(model).get_output_embeddings()
    return label_loss(head, *prefix_shared_predictors(model, inputs, prefix), num_items_in_batch)


def prefix_shared_predictors(model: Any, inputs: dict[str, Any], prefix: int) -> tuple[Any, Any]:
    """The final hidden states that predict each learned token of a batch whose rows share their first
    `prefix` tokens, and those tokens (`Predictors`).

    Row layout stays [prefix][own tokens][right padding]; the own tokens get positions prefix.. so each
    token has the position it has in the plain forward. The prediction of token `prefix` comes from the
    prefix's last hidden state, every later one from the rows' own."""
    import torch
    from transformers import DynamicCache

    input_ids, mask, labels = inputs["input_ids"], inputs["attention_mask"], inputs["labels"]
    rows, width = input_ids.shape
    decoder = causal_lm(model).get_decoder()
    cache = DynamicCache()  # held here: the decoder fills it whatever its own use_cache default says
    shared = decoder(input_ids=input_ids[:1, :prefix], cache=cache, use_cache=True).last_hidden_state
    cache.batch_repeat_interleave(rows)
    positions = torch.arange(prefix, width, device=input_ids.device).expand(rows, -1)
    own = decoder(
        input_ids=input_ids[:, prefix:], attention_mask=mask, position_ids=positions, cache=cache,
        use_cache=False,
    ).last_hidden_state  # fmt: skip
    hidden = torch.cat([shared[:, -1:].expand(rows, -1, -1), own[:, :-1]], dim=1)  # predicts tokens prefix..
    return hidden, labels[:, prefix:]


def plain_predictors(model: Any, inputs: dict[str, Any]) -> tuple[Any, Any]:
    """`prefix_shared_predictors` without a shared prefix: every row runs whole through every layer."""
    input_ids, mask, labels = inputs["input_ids"], inputs["attention_mask"], inputs["labels"]
    decoder = causal_lm(model).get_decoder()
    hidden = decoder(input_ids=input_ids, attention_mask=mask, use_cache=False).last_hidden_state
    return hidden[:, :-1], labels[:, 1:]


def causal_lm(model: Any) -> Any:
    """The transformers model under a PEFT wrapper (or the model itself): where the decoder and head are."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def label_loss(head: Any, predictors: Any, targets: Any, num_items_in_batch: Any = None) -> LossParts:
    """Cross-entropy of `targets` (-100: not learned) from the states that predict them, position for
    position. The LM head (a 49k-wide matmul for SmolLM2, ~20% of a token's work) runs only where a label
    is: completion-only loss needs no other logits."""
    import torch

    valid = targets != -100
    logits = head(predictors[valid]).float()
    picked = targets[valid]
    token_loss = torch.nn.functional.cross_entropy(logits, picked, reduction="sum")
    count = int(valid.sum())
    divisor = num_items_in_batch if num_items_in_batch is not None else max(count, 1)
    correct = int((logits.argmax(-1) == picked).sum())
    return LossParts(loss=token_loss / divisor, label_tokens=count, correct_tokens=correct)


def group_key(input_ids: Sequence[int]) -> str:
    return hashlib.sha1(str(list(input_ids[:GROUP_KEY_TOKENS])).encode()).hexdigest()


def min_group_rows(batch_size: int) -> int:
    """Rows a prefix group needs to be batched on its own: half a batch shares enough to pay for the split."""
    return max(2, batch_size // 2)


POOL = ""
"""The group of rows that start like too few others to share a prefix: batched together, each row whole."""


def prefix_groups(input_ids: Sequence[Sequence[int]], min_rows: int) -> list[str]:
    """Each row's batch group: the hash of its first GROUP_KEY_TOKENS tokens when at least `min_rows` rows
    start that way, else POOL. Without the pool, rows with prompts of their own (replayed general chats)
    would each make a batch of one or a few, and a 10% share of the rows would take most of the steps."""
    keys = [group_key(row) for row in input_ids]
    sizes = Counter(keys)
    return [key if sizes[key] >= min_rows else POOL for key in keys]


class PrefixGroupedBatches:
    """A batch sampler whose batches hold rows of one `prefix_groups` group (rows that start alike, or the
    pool of rows that start like too few others).

    Per epoch: shuffle each group, sort rows by length inside windows of 8 batches (little padding, still
    random), cut batches, then shuffle the order of all batches. Batches never mix groups; a group's last
    batch may be short."""

    def __init__(
        self, input_ids: Sequence[Sequence[int]], batch_size: int, seed: int = 0, groups: Sequence[str] | None = None
    ) -> None:  # fmt: skip
        self.lengths = [len(row) for row in input_ids]
        self.batch_size = batch_size
        self.seed = seed
        self.epoch = 0
        by_group: dict[str, list[int]] = defaultdict(list)
        keys = groups if groups is not None else prefix_groups(input_ids, min_group_rows(batch_size))
        for index, key in enumerate(keys):
            by_group[key].append(index)
        self.groups = list(by_group.values())

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[list[int]]:
        rng = random.Random(self.seed * 100_003 + self.epoch)
        window = 8 * self.batch_size
        batches: list[list[int]] = []
        for group in self.groups:
            shuffled = rng.sample(group, len(group))
            for start in range(0, len(shuffled), window):
                chunk = sorted(shuffled[start : start + window], key=lambda i: self.lengths[i])
                batches += [chunk[i : i + self.batch_size] for i in range(0, len(chunk), self.batch_size)]
        rng.shuffle(batches)
        self.epoch += 1  # a loader that never calls set_epoch still gets a new order each epoch
        return iter(batches)

    def __len__(self) -> int:
        return sum(-(-len(group) // self.batch_size) for group in self.groups)
