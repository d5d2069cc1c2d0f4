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

What it costs: one no-grad forward of the trunk over the training rows, and the states in memory (rows x
own tokens x hidden x 4 bytes: 464 MB for Banking77's 7,053 distinct rows on SmolLM2). What it saves: the
trunk's forward, with autograd, at every step. `bench/frozen_trunk.py` measures both on real batches.

Stored trunks (`harness train` keeps them in the cache dir) lend their rows to a later pass of the same
trunk on other rows (`build_trunk_cache`'s `reuse`), so a re-curation recomputes the rows it changed.

A run too short to pay for the pass takes the same layer path from the embeddings (`embedded_predictors`):
every layer runs each step, but the prefix still runs once and the rows in chunks of similar length.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from harness.train.shared_prefix import (
    MIN_SHARED_TOKENS,
    POOL,
    LossParts,
    causal_lm,
    label_loss,
    prefix_groups,
    real_rows,
)

TRUNK_BATCH_ROWS = 64
"""Rows per no-grad trunk forward while building the cache: big enough to keep the matmuls busy."""
_LAYER_INDEX = re.compile(r"\.layers\.(\d+)\.")
Row = tuple[int, ...]
"""A training row, by its token ids: how the cache finds its states."""


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


def trunk_supported(model: Any, longest_row: int = 0) -> bool:
    """Decoder-only models built as embed -> layers -> norm -> head with rotary positions and full causal
    attention over the rows (Llama, Qwen2, Mistral, SmolLM): `shared_prefix_attention` knows no sliding
    window, so a window shorter than the longest row falls back to the plain path."""
    inner = causal_lm(model)
    decoder = inner.get_decoder() if hasattr(inner, "get_decoder") else None
    parts = ("embed_tokens", "layers", "norm", "rotary_emb")
    config = getattr(inner, "config", None)
    window = getattr(config, "sliding_window", None) if getattr(config, "use_sliding_window", True) else None
    return (
        decoder is not None
        and all(hasattr(decoder, part) for part in parts)
        and getattr(config, "final_logit_softcapping", None) is None
        and (window is None or window >= longest_row)
    )


class PrefixCapture:
    """The `cache` the attention layers write to in the prefix pass: each layer's prefix keys and values.
    In the rows' pass it is handed to `shared_prefix_attention`, which puts them before every row's own."""

    def __init__(self) -> None:
        self.layers: dict[int, tuple[Any, Any]] = {}

    def update(self, key: Any, value: Any, layer_idx: int, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        self.layers[layer_idx] = (key, value)
        return key, value


ATTENTION = "harness_shared_prefix"
"""The name `shared_prefix_attention` is registered under in transformers' AttentionInterface."""


def shared_prefix_attention(
    module: Any, query: Any, key: Any, value: Any, attention_mask: Any, scaling: float | None = None,
    dropout: float = 0.0, shared_prefix: PrefixCapture | None = None, **kwargs: Any,
) -> tuple[Any, None]:  # fmt: skip
    """Attention of R rows of own tokens to one prefix's keys and values (shared by every row) and to their
    own, without copying the prefix once per row: every row's queries meet the prefix keys in one matmul
    per key/value head, then one softmax runs over prefix and own scores together (so it is the same
    attention, not an approximation). Measured at Banking77's shapes (32 rows x 36 tokens, 609-token
    prefix, 9 query / 3 kv heads, bf16, forward and backward, one thread): 1.5x less time than torch's
    fused SDPA over the prefix expanded to every row, which itself was 4x faster than transformers' sdpa.

    query (R, H, L, d); key, value (R, KVH, L, d); prefix keys/values (1, KVH, P, d); attention_mask
    (R, 1, L, L) booleans over the own tokens (True: attend). Returns (R, L, H, d), as transformers'
    attention functions do. Without a prefix (the prefix pass itself) it is transformers' plain sdpa."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    if shared_prefix is None or module.layer_idx not in shared_prefix.layers:
        return sdpa_attention_forward(module, query, key, value, attention_mask, scaling=scaling, dropout=dropout,
                                      **kwargs)  # fmt: skip
    prefix_key, prefix_value = shared_prefix.layers[module.layer_idx]
    output = _prefix_and_own_attention(query, key, value, prefix_key[0], prefix_value[0], attention_mask,
                                       query.shape[-1] ** -0.5 if scaling is None else scaling, dropout)  # fmt: skip
    return output.transpose(1, 2).contiguous(), None


def _prefix_and_own_attention(
    query: Any, key: Any, value: Any, prefix_key: Any, prefix_value: Any, visible: Any, scale: float, dropout: float
) -> Any:
    """softmax([q·Kp, q·Ko] * scale) · [Vp; Vo] per row, with grouped-query heads; returns (R, H, L, d).

    Prefix keys/values are (KVH, P, d), the same for every row: the rows' queries are stacked into one
    (KVH, R x G x L, d) matrix per kv head, so the prefix part is a single large matmul."""
    import torch

    rows, heads, length, dim = query.shape
    kv_heads, prefix = prefix_key.shape[0], prefix_key.shape[1]
    group = heads // kv_heads
    grouped = query.reshape(rows, kv_heads, group * length, dim)  # query head h reads kv head h // group
    stacked = grouped.transpose(0, 1).reshape(kv_heads, rows * group * length, dim)
    prefix_scores = torch.matmul(stacked, prefix_key.transpose(1, 2).to(stacked.dtype))
    prefix_scores = prefix_scores.view(kv_heads, rows, group * length, prefix).transpose(0, 1)
    own_scores = torch.matmul(grouped, key.transpose(2, 3))  # (R, KVH, G x L, L)
    own_visible = visible.unsqueeze(2).expand(rows, 1, group, length, length).reshape(rows, 1, group * length, length)
    own_scores = own_scores.masked_fill(~own_visible, float("-inf"))
    weights = torch.softmax(torch.cat([prefix_scores, own_scores], dim=-1).float() * scale, dim=-1)
    weights = torch.nn.functional.dropout(weights, p=dropout, training=dropout > 0).to(value.dtype)
    prefix_weights = weights[..., :prefix].transpose(0, 1).reshape(kv_heads, rows * group * length, prefix)
    from_prefix = torch.matmul(prefix_weights, prefix_value.to(value.dtype))
    from_prefix = from_prefix.view(kv_heads, rows, group * length, dim).transpose(0, 1)
    output = from_prefix + torch.matmul(weights[..., prefix:], value)
    return output.reshape(rows, heads, length, dim)


def _register_attention() -> None:
    from transformers import AttentionInterface

    AttentionInterface.register(ATTENTION, shared_prefix_attention)


def run_layers(
    decoder: Any, layers: Sequence[Any], hidden: Any, positions: Any, mask: Any, *,
    capture: PrefixCapture | None = None, prefix: PrefixCapture | None = None,
) -> Any:  # fmt: skip
    """`hidden` through `layers` with the layers' own forward (same rotary embeddings, projections and norms),
    without the embedding lookup or the final norm. `capture` records each layer's keys and values (the
    prefix pass); `prefix` is attended to by every row (the rows' pass)."""
    position_embeddings = decoder.rotary_emb(hidden, position_ids=positions)
    with _attention_implementation(decoder.config, ATTENTION):
        for layer in layers:
            hidden = layer(hidden, attention_mask=mask, position_ids=positions, cache=capture,
                           use_cache=capture is not None, position_embeddings=position_embeddings,
                           shared_prefix=prefix)  # fmt: skip
            hidden = hidden[0] if isinstance(hidden, tuple) else hidden
    return hidden


@contextmanager
def _attention_implementation(config: Any, name: str) -> Iterator[None]:
    """The decoder layers look their attention function up by `config._attn_implementation` at each call."""
    previous = config._attn_implementation
    config._attn_implementation = name
    try:
        yield
    finally:
        config._attn_implementation = previous


def own_mask(mask: Any) -> Any:
    """(R, 1, L, L) booleans for right-padded rows (`mask` their 0/1 real-token mask): each token sees the
    real tokens at or before it in its own row. The prefix, seen by all, is not part of it."""
    import torch

    width = mask.shape[1]
    causal = torch.ones(width, width, dtype=torch.bool, device=mask.device).tril()
    return (causal[None] & mask[:, None, :].bool())[:, None]


@dataclass
class TrunkCache:
    """Hidden states at the first adapted layer's input, computed once by the frozen layers below it."""

    boundary: int
    """Index of the first adapted layer: layers [0, boundary) are the frozen trunk."""
    prefix_length: dict[str, int] = field(default_factory=dict)
    """Per prefix group (`prefix_groups`): the length of the prefix all its rows share (0: none worth sharing)."""
    prefix_hidden: dict[str, Any] = field(default_factory=dict)
    """Per group: the shared prefix's states, shape (1, prefix, hidden)."""
    own_hidden: dict[tuple[int, ...], Any] = field(default_factory=dict)
    """Per row (its token ids): the states of the tokens after its group's prefix, shape (own tokens, hidden)."""
    group: dict[tuple[int, ...], str] = field(default_factory=dict)
    """Per row: its prefix group."""
    reused_rows: int = 0
    """Rows taken from an earlier cache rather than computed (`build_trunk_cache`'s `reuse`)."""

    @property
    def megabytes(self) -> float:
        tensors = [*self.prefix_hidden.values(), *self.own_hidden.values()]
        return sum(t.numel() * t.element_size() for t in tensors) / 2**20


def build_trunk_cache(
    model: Any, input_ids: Sequence[Sequence[int]], completion_masks: Sequence[Sequence[int]], boundary: int,
    groups: Sequence[str] | None = None, autocast: Any = None, reuse: TrunkCache | None = None,
) -> TrunkCache:  # fmt: skip
    """Run the frozen trunk once over every distinct row, in the prefix groups the batches are made of
    (`groups`, one key per row; default: `prefix_groups` with groups of 2 rows or more), and keep the states
    at `boundary`. `autocast` is the context the training forward runs under, so the cached states are
    what the trunk would have produced at every step.

    `reuse`: a cache built earlier by the same trunk (same weights, boundary and dtype: `trunk_fingerprint`)
    on other rows. A row it holds, split after the same number of prefix tokens, is taken from it instead of
    computed: its states depend only on its own tokens, so curating a few rows more or less recomputes
    those rows, not the whole set."""
    import contextlib

    import torch

    from harness.progress import plain_progress

    cache = TrunkCache(boundary=boundary)
    rows_of: dict[str, list[tuple[int, ...]]] = defaultdict(list)
    keys = groups if groups is not None else prefix_groups(input_ids, 2)
    for ids, completion, key in zip(input_ids, completion_masks, keys, strict=True):
        row = tuple(int(t) for t in ids)
        if row in cache.group:
            continue
        cache.group[row] = key
        rows_of[key].append(row)
        first_label = next((i for i, flag in enumerate(completion) if flag), len(row))
        shared = _common_prefix(cache.prefix_length.get(key, len(row)), row, rows_of[key][0])
        cache.prefix_length[key] = min(shared, first_label, len(row) - 1)
    for key in rows_of:
        if key == POOL or cache.prefix_length[key] < MIN_SHARED_TOKENS:
            cache.prefix_length[key] = 0
        if reuse is not None:
            rows_of[key] = _take_reusable(cache, reuse, key, rows_of[key])
    progress = plain_progress(sum(map(len, rows_of.values())), "frozen trunk")
    with torch.no_grad(), autocast or contextlib.nullcontext(), progress as done:
        for key, rows in rows_of.items():
            if rows:
                _cache_group(model, cache, key, rows, done)
    return cache


def _take_reusable(cache: TrunkCache, earlier: TrunkCache, key: str, rows: list[Row]) -> list[Row]:
    """Copy into `cache` the states of `rows` that `earlier` holds after the same prefix length (a row's own
    states are then the same slice of the same positions); return the rows still to compute. The group's
    prefix states come along when nothing is left to compute; otherwise the prefix runs again, because
    computing rows needs its keys and values in every trunk layer, which no cache keeps."""
    prefix = cache.prefix_length[key]
    missing: list[Row] = []
    for row in rows:
        old_group = earlier.group.get(row)
        if old_group is not None and earlier.prefix_length[old_group] == prefix:
            cache.own_hidden[row] = earlier.own_hidden[row]
        else:
            missing.append(row)
    if prefix and not missing:
        cache.prefix_hidden[key] = earlier.prefix_hidden[earlier.group[rows[0]]]
    cache.reused_rows += len(rows) - len(missing)
    return missing


def _common_prefix(limit: int, row: tuple[int, ...], other: tuple[int, ...]) -> int:
    length = 0
    while length < min(limit, len(row), len(other)) and row[length] == other[length]:
        length += 1
    return length


def _cache_group(
    model: Any, cache: TrunkCache, key: str, rows: list[tuple[int, ...]], done: Callable[[int], None]
) -> None:  # fmt: skip
    import torch

    decoder = causal_lm(model).get_decoder()
    trunk = list(decoder.layers[: cache.boundary])
    prefix = cache.prefix_length[key]
    kv = None
    if prefix:
        kv = PrefixCapture()
        embedded = decoder.embed_tokens(torch.tensor([rows[0][:prefix]]))
        cache.prefix_hidden[key] = run_layers(decoder, trunk, embedded, torch.arange(prefix)[None], None, capture=kv)
    for chunk in _length_sorted_chunks(rows, TRUNK_BATCH_ROWS):
        ids, mask = _right_padded([row[prefix:] for row in chunk])
        positions = (torch.arange(ids.shape[1]) + prefix).expand(len(chunk), -1)
        hidden = run_layers(decoder, trunk, decoder.embed_tokens(ids), positions, own_mask(mask), prefix=kv)
        for row, states, real in zip(chunk, hidden, mask.sum(dim=1).tolist(), strict=True):
            cache.own_hidden[row] = states[:real].clone()
        done(len(chunk))


def trunk_loss(model: Any, cache: TrunkCache, inputs: dict[str, Any], num_items_in_batch: Any = None) -> LossParts:
    """Causal-LM loss of a right-padded batch of rows from one prefix group, running only the adapted layers."""
    head = causal_lm(model).get_output_embeddings()
    return label_loss(head, *trunk_predictors(model, cache, inputs), num_items_in_batch)


def trunk_predictors(model: Any, cache: TrunkCache, inputs: dict[str, Any]) -> tuple[Any, Any]:
    """The final hidden states that predict each learned token, and those tokens, as
    `prefix_shared_predictors` gives them, running only the adapted layers: the prefix once (batch 1, with
    gradients), then the rows' own tokens attending to its keys and values."""
    rows = real_rows(inputs["input_ids"], inputs["attention_mask"])
    key = cache.group[rows[0]]
    prefix = cache.prefix_length[key]
    prefix_states = cache.prefix_hidden[key] if prefix else None
    own_states = [cache.own_hidden[row] for row in rows]
    return layers_predictors(model, cache.boundary, prefix_states, own_states, inputs["labels"][:, prefix:])


def embedded_predictors(model: Any, inputs: dict[str, Any], prefix: int) -> tuple[Any, Any]:
    """`prefix_shared_predictors` on the trunk's path with no frozen layers: every layer runs, the shared
    prefix once and the rows' own tokens in length chunks, so a run too short to pay for the trunk pass
    no longer pads a batch to its longest row either."""
    input_ids, mask, labels = inputs["input_ids"], inputs["attention_mask"], inputs["labels"]
    embed = causal_lm(model).get_decoder().embed_tokens
    prefix_states = embed(input_ids[:1, :prefix]) if prefix else None
    own_states = [embed(ids[prefix:real]) for ids, real in zip(input_ids, mask.sum(dim=1).tolist(), strict=True)]
    return layers_predictors(model, 0, prefix_states, own_states, labels[:, prefix:])


def layers_predictors(
    model: Any, first_layer: int, prefix_states: Any, own_states: list[Any], targets: Any
) -> tuple[Any, Any]:  # fmt: skip
    """Run the decoder layers from `first_layer` on: the prefix's states (1, prefix, hidden), or None, once,
    then each row's own states (own tokens, hidden) in `length_chunks`, attending to the prefix's keys and
    values; back in the batch's row order, aligned with `targets` (the labels after the prefix)."""
    import torch

    decoder = causal_lm(model).get_decoder()
    layers = list(decoder.layers[first_layer:])
    prefix = 0 if prefix_states is None else prefix_states.shape[1]
    kv, last_prefix_state = None, None
    if prefix:
        kv = PrefixCapture()
        shared = run_layers(decoder, layers, prefix_states, torch.arange(prefix)[None], None, capture=kv)
        last_prefix_state = decoder.norm(shared[:, -1:]).expand(len(own_states), -1, -1)
    width = max(s.shape[0] for s in own_states)
    pieces, order = [], []
    for chunk in length_chunks([s.shape[0] for s in own_states]):
        own, real = _stacked([own_states[i] for i in chunk])
        positions = (torch.arange(own.shape[1]) + prefix).expand(len(chunk), -1)
        hidden = run_layers(decoder, layers, own, positions, own_mask(real), prefix=kv)
        pieces.append(torch.nn.functional.pad(hidden, (0, 0, 0, width - own.shape[1])))
        order += chunk
    hidden = torch.cat(pieces)[torch.tensor(order).argsort()]  # back to the batch's row order
    return _aligned(decoder.norm(hidden), last_prefix_state, targets)


CHUNK_PADDING = 1.25
"""`length_chunks` lets a chunk's padded tokens exceed its real ones by at most this factor."""
CHUNK_MIN_TOKENS = 256
"""A chunk is closed only once it holds this many real tokens: smaller matmuls waste more than padding."""


def length_chunks(lengths: Sequence[int]) -> list[list[int]]:
    """Row indices grouped, shortest first, so that rows of similar length run together: one long row
    (a query wrapped in 160 words of small talk) no longer pads 31 short ones to its length. Each row's
    states depend only on its own tokens and the prefix, so running a batch in chunks is exact.
    `bench/length_chunks.py` measures a real mixed batch (own tokens 26-239, top 16 layers, 2 threads):
    5.0 s per step and a 5.3 GB peak in chunks, 27.0 s and 15.9 GB padded to the longest row."""
    chunks: list[list[int]] = []
    chunk: list[int] = []
    real = 0
    for index in sorted(range(len(lengths)), key=lambda i: lengths[i]):
        padded = (len(chunk) + 1) * lengths[index]
        if chunk and real >= CHUNK_MIN_TOKENS and padded > CHUNK_PADDING * (real + lengths[index]):
            chunks.append(chunk)
            chunk, real = [], 0
        chunk.append(index)
        real += lengths[index]
    return [*chunks, chunk] if chunk else chunks


def _aligned(hidden: Any, last_prefix_state: Any, targets: Any) -> tuple[Any, Any]:
    """Token t is predicted from position t - 1: the first own token from the prefix's last state (when
    there is a prefix; without one it is the row's first token, never predicted), the rest from the
    rows' own states."""
    import torch

    if last_prefix_state is not None:
        return torch.cat([last_prefix_state, hidden[:, :-1]], dim=1), targets
    return hidden[:, :-1], targets[:, 1:]


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


_register_attention()


KEPT_TRUNKS = 2
"""Trunk files kept on disk, the most recently used: the demo's two trainings share one; ~0.7 GB each for Banking77."""


def trunk_fingerprint(model: Any, boundary: int, dtype: str) -> str:
    """Everything a row's cached states depend on besides the row: the trunk's weights (hashed, not named: a
    re-materialised base with the same weights reuses them), the model config, the boundary, the autocast
    dtype and torch's version (kernels change numerics). Trunks with one fingerprint can lend each other rows."""
    import hashlib

    import torch

    inner = causal_lm(model)
    digest = hashlib.sha256(f"{torch.__version__}|{dtype}|{boundary}|{inner.config.to_json_string()}".encode())
    decoder = inner.get_decoder()
    for module in (decoder.embed_tokens, *decoder.layers[:boundary]):
        for name, tensor in module.state_dict().items():
            digest.update(name.encode())
            digest.update(tensor.detach().float().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def trunk_file_name(fingerprint: str, input_ids: Sequence[Sequence[int]], groups: Sequence[str]) -> str:
    """`<fingerprint>-<rows>.pt`: one file per trunk and row set, found again by its rows and groups, and by
    its fingerprint alone when another row set of the same trunk can lend rows (`reusable_trunk`)."""
    import hashlib

    digest = hashlib.sha256()
    for ids, group in zip(input_ids, groups, strict=True):
        digest.update(f"{group}:{','.join(map(str, ids))};".encode())
    return f"{fingerprint}-{digest.hexdigest()[:16]}.pt"


def reusable_trunk(store: Any, fingerprint: str) -> Any:
    """The largest stored trunk file of the same fingerprint (the most rows to lend: a quick run on a few rows
    must not shadow the full run's trunk), or None."""
    return max(store.glob(f"{fingerprint}-*.pt"), key=lambda p: p.stat().st_size, default=None)


def save_trunk(cache: TrunkCache, path: Any) -> None:
    """One file, written atomically; older trunk files beyond KEPT_TRUNKS are removed."""
    import os

    import torch

    rows = list(cache.own_hidden)
    payload = {
        "boundary": cache.boundary, "prefix_length": cache.prefix_length, "prefix_hidden": cache.prefix_hidden,
        "rows": rows, "groups": [cache.group[r] for r in rows],
        "lengths": [cache.own_hidden[r].shape[0] for r in rows],
        "states": torch.cat([cache.own_hidden[r] for r in rows]) if rows else torch.empty(0),
    }  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    torch.save(payload, partial)
    os.replace(partial, path)
    for old in sorted(path.parent.glob("*.pt"), key=lambda p: p.stat().st_mtime, reverse=True)[KEPT_TRUNKS:]:
        old.unlink(missing_ok=True)


def load_trunk(path: Any) -> TrunkCache | None:
    """The cache saved at `path`, or None when there is none, or when it cannot be read (a damaged file is said
    and left for KEPT_TRUNKS to age out: the caller computes the states instead, and a trunk is never a reason
    for a run to fail)."""
    import pickle

    import torch

    if not path.is_file():
        return None
    try:
        payload = torch.load(path, weights_only=True)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as error:
        print(f"frozen trunk: {path} cannot be read ({type(error).__name__}); computing the states instead",
              flush=True)  # fmt: skip
        return None
    cache = TrunkCache(boundary=payload["boundary"], prefix_length=payload["prefix_length"],
                       prefix_hidden=payload["prefix_hidden"])  # fmt: skip
    states = payload["states"].split(payload["lengths"]) if payload["rows"] else []
    for row, group, state in zip(payload["rows"], payload["groups"], states, strict=True):
        cache.own_hidden[tuple(row)] = state
        cache.group[tuple(row)] = group
    path.touch()
    return cache
