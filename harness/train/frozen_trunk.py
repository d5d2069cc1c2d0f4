"""Frozen-trunk training: the layers below the first adapted one run once per run, not once per step.

When an adapter sits only in the top N decoder layers (`adapter.top_layers`), everything below them is
frozen: for a given row, the hidden states that reach the first adapted layer are the same at every step
of every epoch, and so are the shared system prompt's. This module computes them once, before the first
step (`build_trunk_cache`), and each step then runs only the adapted layers on the cached states
(`trunk_loss`), with the shared prompt prefix run once per batch as in `shared_prefix`.

It is exact: the adapted layers see the same inputs, positions and prefix keys/values as in the plain
forward, so loss and gradients equal it up to floating-point order (a test compares both). The cache
holds the states in the dtype the trunk produced them in (float32 between layers, also under bf16
autocast, where the residual stream stays float32), so nothing is rounded on the way.

What it costs: one no-grad forward of the trunk over the training rows (about a third of a plain epoch)
and the states in memory (rows x own tokens x hidden x 4 bytes: ~0.7 GB for Banking77 on SmolLM2).
What it saves: the trunk's forward at every later step. With 4 of 30 layers adapted, an epoch runs
~7x fewer layer-tokens than the shared-prefix path alone.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.train.shared_prefix import MIN_SHARED_TOKENS, LossParts, group_key

TRUNK_BATCH_ROWS = 64
"""Rows per no-grad trunk forward while building the cache: big enough to keep the matmuls busy."""
SUPPORTED_ATTENTION = ("sdpa", "eager")
_LAYER_INDEX = re.compile(r"\.layers\.(\d+)\.")


def first_trained_layer(model: Any) -> int:
    """Index of the lowest decoder layer holding a trainable parameter; 0 when anything outside the decoder
    layers trains (embeddings, head), because then no part of the forward is frozen."""
    lowest: int | None = None
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        match = _LAYER_INDEX.search(name)
        if match is None:
            return 0
        lowest = int(match.group(1)) if lowest is None else min(lowest, int(match.group(1)))
    return lowest or 0


def trunk_supported(model: Any) -> bool:
    """Decoder-only models built as embed -> layers -> norm -> head with rotary positions (Llama, Qwen2,
    Mistral, SmolLM) and an attention implementation whose mask format this module builds."""
    causal_lm = _causal_lm(model)
    decoder = causal_lm.get_decoder() if hasattr(causal_lm, "get_decoder") else None
    parts = ("embed_tokens", "layers", "norm", "rotary_emb")
    config = getattr(causal_lm, "config", None)
    return (
        decoder is not None
        and all(hasattr(decoder, part) for part in parts)
        and getattr(config, "final_logit_softcapping", None) is None
        and getattr(config, "_attn_implementation", "sdpa") in SUPPORTED_ATTENTION
    )


class PrefixKV:
    """The `cache` the attention layers write to and read from: in the prefix pass it keeps each layer's
    keys and values; in the rows' pass it puts them in front of the rows' own, expanded (not copied) to
    the batch. Gradients flow through both, as they do through a DynamicCache in the plain forward."""

    def __init__(self) -> None:
        self.layers: dict[int, tuple[Any, Any]] = {}
        self.rows: int | None = None

    def update(self, key: Any, value: Any, layer_idx: int, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        import torch

        if self.rows is None:
            self.layers[layer_idx] = (key, value)
            return key, value
        if layer_idx not in self.layers:
            return key, value
        prefix_key, prefix_value = self.layers[layer_idx]
        shape = (self.rows, -1, -1, -1)
        return (torch.cat([prefix_key.expand(shape), key], dim=2),
                torch.cat([prefix_value.expand(shape), value], dim=2))  # fmt: skip

    def get_seq_length(self, layer_idx: int = 0) -> int:
        if not self.layers:
            return 0
        return int(next(iter(self.layers.values()))[0].shape[2])


def run_layers(
    decoder: Any, layers: Sequence[Any], hidden: Any, positions: Any, mask: Any, kv: PrefixKV | None
) -> Any:  # fmt: skip
    """`hidden` through `layers`, as the decoder's own forward runs them (same rotary embeddings, mask and
    cache protocol), without the embedding lookup or the final norm."""
    position_embeddings = decoder.rotary_emb(hidden, position_ids=positions)
    for layer in layers:
        hidden = layer(hidden, attention_mask=mask, position_ids=positions, cache=kv, use_cache=kv is not None,
                       position_embeddings=position_embeddings)  # fmt: skip
        hidden = hidden[0] if isinstance(hidden, tuple) else hidden
    return hidden


def attention_mask(prefix: int, own: Any, implementation: str, dtype: Any) -> Any:
    """A 4-D mask for rows of own tokens (right-padded, `own` is their 0/1 mask) after a shared prefix of
    `prefix` tokens: every token sees the whole prefix and the real tokens before it in its row.
    sdpa takes it as booleans (True: attend); eager adds it to the scores (0 or the dtype's minimum)."""
    import torch

    rows, width = own.shape
    causal = torch.ones(width, width, dtype=torch.bool, device=own.device).tril()
    visible = causal[None] & own[:, None, :].bool()
    full = torch.cat([visible.new_ones(rows, width, prefix), visible], dim=2)[:, None]
    if implementation == "eager":
        return torch.zeros(full.shape, dtype=dtype, device=own.device).masked_fill(~full, torch.finfo(dtype).min)
    return full


@dataclass
class TrunkCache:
    """Hidden states at the first adapted layer's input, computed once by the frozen layers below it."""

    boundary: int
    """Index of the first adapted layer: layers [0, boundary) are the frozen trunk."""
    prefix_length: dict[str, int] = field(default_factory=dict)
    """Per prefix group (`group_key`): the length of the prefix all its rows share (0: none worth sharing)."""
    prefix_hidden: dict[str, Any] = field(default_factory=dict)
    """Per group: the shared prefix's states, shape (1, prefix, hidden)."""
    own_hidden: dict[tuple[int, ...], Any] = field(default_factory=dict)
    """Per row (its token ids): the states of the tokens after the prefix, shape (own tokens, hidden)."""

    @property
    def megabytes(self) -> float:
        tensors = [*self.prefix_hidden.values(), *self.own_hidden.values()]
        return sum(t.numel() * t.element_size() for t in tensors) / 2**20


def build_trunk_cache(
    model: Any, input_ids: Sequence[Sequence[int]], completion_masks: Sequence[Sequence[int]], boundary: int,
    autocast: Any = None,
) -> TrunkCache:  # fmt: skip
    """Run the frozen trunk once over every distinct row, in prefix groups (as `PrefixGroupedBatches`
    batches them), and keep the states at `boundary`. `autocast` is the context the training forward runs
    under, so the cached states are what the trunk would have produced at every step."""
    import contextlib

    import torch

    cache = TrunkCache(boundary=boundary)
    groups: dict[str, list[tuple[int, ...]]] = defaultdict(list)
    for ids, completion in zip(input_ids, completion_masks, strict=True):
        row = tuple(int(t) for t in ids)
        if row not in cache.own_hidden:
            groups[group_key(row)].append(row)
            cache.own_hidden[row] = None
            cache.prefix_length.setdefault(group_key(row), len(row))
            first_label = next((i for i, flag in enumerate(completion) if flag), len(row))
            prefix = _common_prefix(cache.prefix_length[group_key(row)], row, groups[group_key(row)][0])
            cache.prefix_length[group_key(row)] = min(prefix, first_label, len(row) - 1)
    with torch.no_grad(), autocast or contextlib.nullcontext():
        for key, rows in groups.items():
            if cache.prefix_length[key] < MIN_SHARED_TOKENS:
                cache.prefix_length[key] = 0
            _cache_group(model, cache, key, rows)
    return cache


def _common_prefix(limit: int, row: tuple[int, ...], other: tuple[int, ...]) -> int:
    length = 0
    while length < min(limit, len(row), len(other)) and row[length] == other[length]:
        length += 1
    return length


def _cache_group(model: Any, cache: TrunkCache, key: str, rows: list[tuple[int, ...]]) -> None:
    import torch

    decoder = _causal_lm(model).get_decoder()
    trunk = list(decoder.layers[: cache.boundary])
    prefix = cache.prefix_length[key]
    kv = PrefixKV()
    if prefix:
        ids = torch.tensor([rows[0][:prefix]])
        positions = torch.arange(prefix)[None]
        mask = attention_mask(0, torch.ones(1, prefix), _implementation(model), _dtype(decoder))
        cache.prefix_hidden[key] = run_layers(decoder, trunk, decoder.embed_tokens(ids), positions, mask, kv)
    for chunk in _length_sorted_chunks(rows, TRUNK_BATCH_ROWS):
        own_ids, own_mask = _right_padded([row[prefix:] for row in chunk])
        kv.rows = len(chunk) if prefix else None
        positions = (torch.arange(own_ids.shape[1]) + prefix).expand(len(chunk), -1)
        mask = attention_mask(prefix, own_mask, _implementation(model), _dtype(decoder))
        hidden = run_layers(decoder, trunk, decoder.embed_tokens(own_ids), positions, mask, kv if prefix else None)
        for row, states, real in zip(chunk, hidden, own_mask.sum(dim=1).tolist(), strict=True):
            cache.own_hidden[row] = states[:real].clone()
    kv.rows = None


def trunk_loss(model: Any, cache: TrunkCache, inputs: dict[str, Any], num_items_in_batch: Any = None) -> LossParts:
    """Causal-LM loss of a right-padded batch of rows from one prefix group, running only the adapted
    layers: the prefix once (batch 1, with gradients), then the rows' own tokens on top of its keys and
    values. The LM head runs only where a label is, as in `prefix_shared_loss`."""
    import torch

    input_ids, mask, labels = inputs["input_ids"], inputs["attention_mask"], inputs["labels"]
    rows = [tuple(ids[:real].tolist()) for ids, real in zip(input_ids, mask.sum(dim=1).tolist(), strict=True)]
    key = group_key(rows[0])
    prefix = cache.prefix_length[key]
    causal_lm = _causal_lm(model)
    decoder, head = causal_lm.get_decoder(), causal_lm.get_output_embeddings()
    adapted = list(decoder.layers[cache.boundary :])
    implementation, dtype = _implementation(model), _dtype(decoder)
    kv, last_prefix_state = PrefixKV(), None
    if prefix:
        prefix_mask = attention_mask(0, torch.ones(1, prefix), implementation, dtype)
        shared = run_layers(decoder, adapted, cache.prefix_hidden[key], torch.arange(prefix)[None], prefix_mask, kv)
        last_prefix_state = decoder.norm(shared[:, -1:]).expand(len(rows), -1, -1)
        kv.rows = len(rows)
    own, own_mask = _stacked([cache.own_hidden[row] for row in rows])
    positions = (torch.arange(own.shape[1]) + prefix).expand(len(rows), -1)
    own_mask_4d = attention_mask(prefix, own_mask, implementation, dtype)
    hidden = decoder.norm(run_layers(decoder, adapted, own, positions, own_mask_4d, kv if prefix else None))
    return _label_loss(head, hidden, last_prefix_state, labels[:, prefix:], num_items_in_batch)


def _label_loss(
    head: Any, hidden: Any, last_prefix_state: Any, targets: Any, num_items_in_batch: Any
) -> LossParts:  # fmt: skip
    """Token t is predicted from position t - 1: the first own token from the prefix's last state (when
    there is a prefix; without one it is the row's first token, never predicted), the rest from the
    rows' own states."""
    import torch

    if last_prefix_state is not None:
        predictors = torch.cat([last_prefix_state, hidden[:, :-1]], dim=1)
    else:
        predictors, targets = hidden[:, :-1], targets[:, 1:]
    valid = targets != -100
    logits = head(predictors[valid]).float()
    picked = targets[valid]
    token_loss = torch.nn.functional.cross_entropy(logits, picked, reduction="sum")
    count = int(valid.sum())
    divisor = num_items_in_batch if num_items_in_batch is not None else max(count, 1)
    correct = int((logits.argmax(-1) == picked).sum())
    return LossParts(loss=token_loss / divisor, label_tokens=count, correct_tokens=correct)


def _stacked(states: list[Any]) -> tuple[Any, Any]:
    """Right-pad per-row states (own tokens, hidden) into a batch, with the 0/1 mask of real tokens."""
    import torch

    width = max(s.shape[0] for s in states)
    batch = states[0].new_zeros(len(states), width, states[0].shape[1])
    mask = torch.zeros(len(states), width, dtype=torch.long)
    for index, s in enumerate(states):
        batch[index, : s.shape[0]] = s
        mask[index, : s.shape[0]] = 1
    return batch, mask


def _right_padded(rows: list[tuple[int, ...]]) -> tuple[Any, Any]:
    import torch

    width = max(len(r) for r in rows)
    ids = torch.tensor([list(r) + [0] * (width - len(r)) for r in rows])
    mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
    return ids, mask


def _length_sorted_chunks(rows: list[tuple[int, ...]], size: int) -> Iterator[list[tuple[int, ...]]]:
    ordered = sorted(rows, key=len)
    for start in range(0, len(ordered), size):
        yield ordered[start : start + size]


def _causal_lm(model: Any) -> Any:
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def _implementation(model: Any) -> str:
    return str(getattr(_causal_lm(model).config, "_attn_implementation", "sdpa") or "sdpa")


def _dtype(decoder: Any) -> Any:
    return decoder.embed_tokens.weight.dtype
