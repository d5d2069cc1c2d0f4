"""Hugging Face backends: `hf:` models and `peft:` adapters, batched on local weights.

`HFWeights` loads a model (and optionally its adapter) once, on first use. A `peft:` model and its
adapter-disabled baseline share one `HFWeights`, so the base weights are in memory once and the
baseline runs the same tensors with the adapter switched off.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.cache import GenerationCache
from harness.models.base import Completion, Params, ProgressFactory, Prompt, PromptsTooLong, as_messages
from harness.models.files import ADAPTER_PATTERNS, TOKENIZER_FILES, WEIGHT_PATTERNS
from harness.models.prefix import MIN_SHARED_TOKENS, PrefixKV, batch_cache, shared_prefix_length


@dataclass(frozen=True)
class HFSource:
    """Where a model's files are: base weights, optional adapter, and the tokenizer actually used."""

    base_dir: Path
    adapter_dir: Path | None = None

    @property
    def tokenizer_dir(self) -> Path:
        """An adapter saved with its own tokenizer (new tokens, new template) overrides the base's."""
        if self.adapter_dir and (self.adapter_dir / "tokenizer_config.json").is_file():
            return self.adapter_dir
        return self.base_dir

    def fingerprint(self, cache: GenerationCache, *, adapter_enabled: bool) -> str:
        """sha256 over the digests of weights, adapter (if enabled), tokenizer and chat template files.

        Names are recorded relative to their role, not their directory, so an adapter-disabled view
        fingerprints exactly like its base model and shares its cached answers."""
        parts = [("weights", p.name, cache.file_sha256(p)) for p in _files(self.base_dir, WEIGHT_PATTERNS)]
        if adapter_enabled and self.adapter_dir:
            parts += [("adapter", p.name, cache.file_sha256(p)) for p in _files(self.adapter_dir, ADAPTER_PATTERNS)]
        parts += [("tokenizer", p.name, cache.file_sha256(p)) for p in _files(self.tokenizer_dir, TOKENIZER_FILES)]
        return hashlib.sha256(json.dumps(sorted(parts)).encode()).hexdigest()


def _files(directory: Path, patterns: Sequence[str]) -> list[Path]:
    return sorted({p for pattern in patterns for p in directory.glob(pattern) if p.is_file()})


class HFWeights:
    """Model and tokenizer for one HFSource, loaded on first `get()` and then reused (thread-safe)."""

    def __init__(self, source: HFSource) -> None:
        self.source = source
        self._loaded: tuple[Any, Any] | None = None
        self._lock = threading.Lock()

    @classmethod
    def of(cls, model: Any, tokenizer: Any, source: HFSource | None = None) -> HFWeights:
        """Weights already in memory, e.g. a model being trained (its fingerprint is not meaningful)."""
        weights = cls(source or HFSource(base_dir=Path(getattr(model, "name_or_path", "") or ".")))
        weights._loaded = (model, tokenizer)
        return weights

    @property
    def is_loaded(self) -> bool:
        return self._loaded is not None

    def get(self) -> tuple[Any, Any]:
        with self._lock:
            if self._loaded is None:
                self._loaded = _load(self.source)
            return self._loaded


def _load(source: HFSource) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    tokenizer = AutoTokenizer.from_pretrained(source.tokenizer_dir)
    tokenizer.padding_side = "left"  # generation continues from the right edge of every row
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(source.base_dir, dtype=dtype).to(device)  # type: ignore[arg-type]
    if source.adapter_dir is not None:
        from peft import PeftModel

        with warnings.catch_warnings():  # peft reads a property transformers 5 deprecates: nothing a user can act on
            warnings.filterwarnings("ignore", "`is_gradient_checkpointing` is deprecated", FutureWarning)
            model = PeftModel.from_pretrained(model, source.adapter_dir)
    model.eval()
    return model, tokenizer


class HFBackend:
    """A `Backend` over HFWeights; `adapter_enabled=False` gives the base model's answers."""

    def __init__(
        self,
        weights: HFWeights,
        cache: GenerationCache,
        *,
        label: str,
        adapter_enabled: bool = True,
        batch_size: int = 16,
    ) -> None:
        self.weights = weights
        self.cache = cache
        self.label = label
        self.adapter_enabled = adapter_enabled and weights.source.adapter_dir is not None
        self.batch_size = batch_size
        self.prefix = PrefixKV()

    def fingerprint(self) -> str:
        return self.weights.source.fingerprint(self.cache, adapter_enabled=self.adapter_enabled)

    def generate(
        self, prompts: Sequence[Prompt], params: Params, progress: ProgressFactory
    ) -> Iterator[tuple[int, Completion]]:
        model, tokenizer = self.weights.get()
        rows = _fitting_rows(tokenizer, prompts, int(params["max_new_tokens"]), model, self.label)
        # Longest first, so each batch holds similar lengths (little padding) and a batch that runs
        # out of memory does so at the start. The order is deterministic, so reruns batch identically.
        order = sorted(range(len(rows)), key=lambda i: (-len(rows[i]), i))
        batches = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        with progress(len(rows), f"generating {self.label}") as advance:
            for batch in batches:
                answers = self._generate_batch(model, tokenizer, [rows[i] for i in batch], params)
                yield from zip(batch, answers, strict=True)
                advance(len(batch))

    def score_choices(self, prompt: Prompt, choices: Sequence[str]) -> list[float]:
        import torch

        model, tokenizer = self.weights.get()
        context = _chat_ids(tokenizer, prompt)
        end = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
        choice_rows = [tokenizer(c, add_special_tokens=False)["input_ids"] + end for c in choices]
        scores: list[float] = []
        with torch.inference_mode(), self._adapter_context(model):
            for start in range(0, len(choice_rows), self.batch_size):
                kv = self.prefix.kv_for(model, context[:-1])
                scores += _score_rows(model, kv, context[-1], choice_rows[start : start + self.batch_size])
        return scores

    def _generate_batch(self, model: Any, tokenizer: Any, rows: list[list[int]], params: Params) -> list[Completion]:
        import torch

        started = time.perf_counter()
        with torch.inference_mode(), self._adapter_context(model):
            shared = shared_prefix_length(rows)
            if shared < MIN_SHARED_TOKENS:
                shared = 0
            input_ids, mask = _pad_after_prefix(rows, shared, tokenizer.pad_token_id, model.device)
            kv = None
            if shared:
                max_length = input_ids.shape[1] + int(params["max_new_tokens"])
                kv = batch_cache(model, self.prefix.kv_for(model, rows[0][:shared]), len(rows), max_length)
            if "seed" in params:
                torch.manual_seed(int(params["seed"]))
            output = model.generate(
                input_ids=input_ids, attention_mask=mask, cache=kv, **_hf_generation_kwargs(params, tokenizer)
            )
        per_item = (time.perf_counter() - started) / len(rows)
        stop_ids = _stop_ids(model, tokenizer)
        return [
            _completion(tokenizer, generated, len(row), per_item, stop_ids)
            for generated, row in zip(output[:, input_ids.shape[1] :].tolist(), rows, strict=True)
        ]

    def _adapter_context(self, model: Any) -> AbstractContextManager[Any]:
        """Switch the adapter off for the baseline view of a peft model; a no-op otherwise."""
        if self.weights.source.adapter_dir is not None and not self.adapter_enabled:
            return model.disable_adapter()  # type: ignore[no-any-return]
        return nullcontext()


def _chat_ids(tokenizer: Any, prompt: Prompt) -> list[int]:
    """Token ids of the prompt in the model's own chat template, ending where the assistant speaks."""
    return _ids(tokenizer, _chat_text(tokenizer, prompt))


def _chat_text(tokenizer: Any, prompt: Prompt) -> str:
    return str(tokenizer.apply_chat_template(as_messages(prompt), add_generation_prompt=True, tokenize=False))


def _ids(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def _fitting_rows(
    tokenizer: Any, prompts: Sequence[Prompt], max_new_tokens: int, model: Any, label: str
) -> list[list[int]]:
    """Token ids of every prompt, or PromptsTooLong naming each prompt that cannot fit the context.

    The harness never truncates a prompt, and must not run one past the model's context either: the
    answer would come from positions the model never saw in training and pass for an ordinary wrong one.
    A prompt whose length in characters already proves it too long is refused without tokenizing it:
    tokenizing a 10 MB case takes half a minute and gigabytes of memory to learn the same thing."""
    limit = getattr(model.config, "max_position_embeddings", None)
    texts = [_chat_text(tokenizer, p) for p in prompts]
    if not limit:
        return [_ids(tokenizer, text) for text in texts]
    room = limit - max_new_tokens
    longest_token = _longest_token(tokenizer) if any(len(text) > room for text in texts) else 1
    rows: list[list[int]] = []
    over: list[tuple[int, str]] = []
    for i, text in enumerate(texts):
        if len(text) > room * longest_token:  # every token covers at most `longest_token` characters
            over.append((i, f"is {len(text)} characters, so at least {len(text) // longest_token} tokens"))
            rows.append([])
            continue
        rows.append(_ids(tokenizer, text))
        if len(rows[-1]) > room:
            over.append((i, f"is {len(rows[-1])} tokens"))
    if over:
        rule = (f"With max_new_tokens {max_new_tokens}, the model's context of {limit} tokens "
                f"(config.max_position_embeddings) leaves room for {room} prompt tokens. Prompts are never "
                "truncated silently: shorten the input or lower max_new_tokens")  # fmt: skip
        raise PromptsTooLong(label, over, rule)
    return rows


def _longest_token(tokenizer: Any) -> int:
    """Characters in the longest vocabulary entry: no token stands for more text than that (byte-level
    entries spell one character per byte; special tokens are spelled out in full)."""
    return max((len(token) for token in tokenizer.get_vocab()), default=1) or 1


def _pad_after_prefix(rows: list[list[int]], shared: int, pad_id: int, device: Any) -> tuple[Any, Any]:
    """[shared prefix][padding][own tokens] per row, and its attention mask.

    With shared = 0 this is plain left padding. Padding after the prefix lets every row start from the
    same cached prefix; positions come from the mask, so each token keeps the position it would have
    had unpadded."""
    import torch

    width = max(len(row) for row in rows) - shared
    ids = [row[:shared] + [pad_id] * (width - len(row) + shared) + row[shared:] for row in rows]
    mask = [[1] * shared + [0] * (width - len(row) + shared) + [1] * (len(row) - shared) for row in rows]
    return torch.tensor(ids, device=device), torch.tensor(mask, device=device)


def _completion(
    tokenizer: Any, generated: list[int], prompt_tokens: int, latency_s: float, stop_ids: set[int]
) -> Completion:
    n_kept = next((i + 1 for i, token in enumerate(generated) if token in stop_ids), None)
    kept = generated[:n_kept] if n_kept else generated
    return Completion(
        text=tokenizer.decode(kept, skip_special_tokens=True),
        prompt_tokens=prompt_tokens,
        completion_tokens=len(kept),
        latency_s=latency_s,
        finish_reason="stop" if n_kept else "length",
    )


def _hf_generation_kwargs(params: Params, tokenizer: Any) -> dict[str, Any]:
    sampling = float(params.get("temperature", 0.0)) > 0
    kwargs: dict[str, Any] = {
        "max_new_tokens": int(params["max_new_tokens"]),
        "do_sample": sampling,
        "pad_token_id": tokenizer.pad_token_id,
    }
    if sampling:
        kwargs |= {"temperature": float(params["temperature"]), "top_p": float(params.get("top_p", 1.0))}
    else:  # silence generation_config sampling defaults that greedy decoding ignores
        kwargs |= {"temperature": None, "top_p": None, "top_k": None}
    return kwargs


def _stop_ids(model: Any, tokenizer: Any) -> set[int]:
    eos = model.generation_config.eos_token_id
    ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return ids


def _score_rows(model: Any, kv: Any, last_context_token: int, choice_rows: list[list[int]]) -> list[float]:
    """Summed log-probability of each choice (followed by end-of-turn) after a cached context.

    Each row is [last context token][choice tokens][padding]: the logits at position j predict token
    j + 1, so one forward pass scores every choice. Ending with the end-of-turn token keeps a label that
    is a prefix of another ("card" vs "card_arrival") from winning on length alone."""
    import torch

    width = 1 + max(len(row) for row in choice_rows)
    rows = [[last_context_token, *row] + [0] * (width - 1 - len(row)) for row in choice_rows]
    valid = [[1] * (1 + len(row)) + [0] * (width - 1 - len(row)) for row in choice_rows]
    batch = torch.tensor(rows, device=model.device)
    kv.batch_repeat_interleave(len(rows))
    past = kv.get_seq_length()
    mask = torch.cat([torch.ones(len(rows), past, dtype=torch.long, device=model.device),
                      torch.tensor(valid, device=model.device)], dim=1)  # fmt: skip
    logprobs = model(input_ids=batch, attention_mask=mask, cache=kv).logits.float().log_softmax(-1)
    targets = batch[:, 1:]
    picked = logprobs[:, :-1, :].gather(2, targets.unsqueeze(-1)).squeeze(-1)
    return (picked * torch.tensor(valid, device=model.device)[:, 1:]).sum(dim=1).tolist()  # type: ignore[no-any-return]
