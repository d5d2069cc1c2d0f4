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
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.cache import GenerationCache
from harness.models.base import Completion, Params, ProgressFactory, Prompt, as_messages

WEIGHT_PATTERNS = ("*.safetensors", "*.bin", "config.json", "generation_config.json")
TOKENIZER_FILES = (
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja",
    "chat_template.json", "tokenizer.model", "vocab.json", "merges.txt", "added_tokens.json",
)  # fmt: skip
ADAPTER_PATTERNS = ("adapter_model.safetensors", "adapter_model.bin", "adapter_config.json")


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
    model = AutoModelForCausalLM.from_pretrained(source.base_dir, dtype=dtype).to(device)
    if source.adapter_dir is not None:
        from peft import PeftModel

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

    def fingerprint(self) -> str:
        return self.weights.source.fingerprint(self.cache, adapter_enabled=self.adapter_enabled)

    def generate(
        self, prompts: Sequence[Prompt], params: Params, progress: ProgressFactory
    ) -> Iterator[tuple[int, Completion]]:
        model, tokenizer = self.weights.get()
        texts = [_chat_text(tokenizer, p) for p in prompts]
        lengths = [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
        # Longest first, so each batch holds similar lengths (little padding) and a batch that runs
        # out of memory does so at the start. The order is deterministic, so reruns batch identically.
        order = sorted(range(len(texts)), key=lambda i: (-lengths[i], i))
        batches = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        with progress(len(texts), f"generating {self.label}") as advance:
            for batch in batches:
                yield from zip(
                    batch, self._generate_batch(model, tokenizer, [texts[i] for i in batch], params), strict=True
                )
                advance(len(batch))

    def score_choices(self, prompt: Prompt, choices: Sequence[str]) -> list[float]:
        model, tokenizer = self.weights.get()
        with self._adapter_context(model):
            return _score_choices(model, tokenizer, _chat_text(tokenizer, prompt), choices)

    def _generate_batch(self, model: Any, tokenizer: Any, texts: list[str], params: Params) -> list[Completion]:
        import torch

        encoded = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
        started = time.perf_counter()
        with torch.inference_mode(), self._adapter_context(model):
            if "seed" in params:
                torch.manual_seed(int(params["seed"]))
            output = model.generate(**encoded, **_hf_generation_kwargs(params, tokenizer))
        per_item = (time.perf_counter() - started) / len(texts)
        prompt_width = encoded["input_ids"].shape[1]
        prompt_tokens = encoded["attention_mask"].sum(dim=1).tolist()
        stop_ids = _stop_ids(model, tokenizer)
        completions = []
        for row, n_prompt in zip(output[:, prompt_width:].tolist(), prompt_tokens, strict=True):
            n_generated = next((i + 1 for i, t in enumerate(row) if t in stop_ids), None)
            kept = row[:n_generated] if n_generated else row
            completions.append(
                Completion(
                    text=tokenizer.decode(kept, skip_special_tokens=True),
                    prompt_tokens=int(n_prompt),
                    completion_tokens=len(kept),
                    latency_s=per_item,
                    finish_reason="stop" if n_generated else "length",
                )
            )
        return completions

    def _adapter_context(self, model: Any) -> AbstractContextManager[Any]:
        """Switch the adapter off for the baseline view of a peft model; a no-op otherwise."""
        if self.weights.source.adapter_dir is not None and not self.adapter_enabled:
            return model.disable_adapter()  # type: ignore[no-any-return]
        return nullcontext()


def _chat_text(tokenizer: Any, prompt: Prompt) -> str:
    """The prompt rendered with the model's own chat template, ending where the assistant speaks."""
    return str(tokenizer.apply_chat_template(as_messages(prompt), add_generation_prompt=True, tokenize=False))


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


def _score_choices(model: Any, tokenizer: Any, context: str, choices: Sequence[str]) -> list[float]:
    """Summed log-probability of each choice, followed by end-of-turn, after the context.

    The context runs through the model once; its KV cache is then repeated across all choices, which
    run as one right-padded batch. Ending each choice with the end-of-turn token keeps a label that
    is a prefix of another ("card" vs "card_arrival") from winning on length alone."""
    import torch

    context_ids = tokenizer(context, add_special_tokens=False, return_tensors="pt")["input_ids"].to(model.device)
    end = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    choice_ids = [tokenizer(c, add_special_tokens=False)["input_ids"] + end for c in choices]
    width = max(len(ids) for ids in choice_ids)
    pad = tokenizer.pad_token_id or 0
    batch = torch.tensor([ids + [pad] * (width - len(ids)) for ids in choice_ids], device=model.device)
    valid = torch.tensor([[1] * len(ids) + [0] * (width - len(ids)) for ids in choice_ids], device=model.device)
    with torch.inference_mode():
        prefix = model(input_ids=context_ids, use_cache=True)
        cache = prefix.past_key_values
        cache.batch_repeat_interleave(len(choices))
        mask = torch.cat([torch.ones(len(choices), context_ids.shape[1], device=model.device), valid], dim=1)
        logits = model(input_ids=batch, attention_mask=mask.long(), past_key_values=cache).logits
        first = prefix.logits[:, -1:, :].expand(len(choices), 1, -1)
        predicting = torch.cat([first, logits[:, :-1, :]], dim=1).float().log_softmax(dim=-1)
        token_logprobs = predicting.gather(2, batch.unsqueeze(-1)).squeeze(-1) * valid
    return token_logprobs.sum(dim=1).tolist()  # type: ignore[no-any-return]
