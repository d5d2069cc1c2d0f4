"""Frozen-trunk training is exact: with the adapter in the top layers only, running those layers on cached
trunk states gives the plain forward's loss and gradients, on a tiny real 4-layer Llama."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.train.frozen_trunk import (
    build_trunk_cache,
    first_trained_layer,
    load_trunk,
    trunk_loss,
    trunk_supported,
)
from tests.test_shared_prefix_training import SYSTEM, _batch, _grads, _plain_loss
from tests.tiny_models import build_tiny_model

TEXTS = ["my card has not arrived", "what is the capital of france yet", "no"]
ANSWERS = ["yes", "no", "yes no"]


def _lora(model_dir: Path, *, top_layers: int, attention: str = "sdpa"):  # type: ignore[no-untyped-def]
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation=attention)
    layers = list(range(4 - top_layers, 4))
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "down_proj"],
                        layers_to_transform=layers, init_lora_weights=False)  # fmt: skip
    model = get_peft_model(model, config)
    model.train()
    return model, AutoTokenizer.from_pretrained(model_dir)


@pytest.fixture(scope="module")
def four_layers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-4-layers"), layers=4)


def _completion_masks(batch) -> list[list[int]]:  # type: ignore[no-untyped-def]
    return [[int(x != -100) for x in row] for row in batch["labels"].tolist()]


def _rows(batch) -> list[list[int]]:  # type: ignore[no-untyped-def]
    return [ids[: int(m.sum())] for ids, m in zip(batch["input_ids"].tolist(), batch["attention_mask"], strict=True)]


@pytest.mark.parametrize("attention", ["sdpa", "eager"])  # the model's own attention, in the plain forward
@pytest.mark.parametrize("top_layers", [1, 2])
def test_loss_and_gradients_equal_the_plain_forward(four_layers: Path, top_layers: int, attention: str) -> None:
    import torch

    model, tokenizer = _lora(four_layers, top_layers=top_layers, attention=attention)
    assert first_trained_layer(model) == 4 - top_layers and trunk_supported(model)
    batch = _batch(tokenizer, TEXTS, ANSWERS)
    plain = _plain_loss(model, batch)
    plain.backward()
    expected = _grads(model)

    cache = build_trunk_cache(model, _rows(batch), _completion_masks(batch), first_trained_layer(model))
    assert max(cache.prefix_length.values()) > 0  # the system turn is shared and cached once
    parts = trunk_loss(model, cache, batch)
    parts.loss.backward()
    got = _grads(model)

    assert torch.allclose(parts.loss, plain, atol=1e-5)
    assert model.config._attn_implementation == attention  # the shared-prefix attention was only borrowed
    assert expected.keys() == got.keys() and expected
    for name in expected:
        assert torch.allclose(got[name], expected[name], atol=1e-5, rtol=1e-4), name


def test_rows_of_very_different_lengths_run_in_chunks_with_the_same_loss_and_gradients(
    four_layers: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # fmt: skip
    """One long row no longer pads the short ones to its length: each chunk of similar rows runs alone,
    attending to the same prefix, and the batch's loss and gradients are still the plain forward's."""
    import torch

    import harness.train.frozen_trunk as frozen_trunk

    monkeypatch.setattr(frozen_trunk, "CHUNK_MIN_TOKENS", 1)  # the tiny rows are far below the real minimum
    long_text = " ".join(["my card payment was declined twice at the shop this morning"] * 4)
    texts, answers = ["no", "my card has not arrived", long_text, "top up"], ["yes", "no", "yes no", "no"]
    model, tokenizer = _lora(four_layers, top_layers=2)
    batch = _batch(tokenizer, texts, answers)
    plain = _plain_loss(model, batch)
    plain.backward()
    expected = _grads(model)
    model.zero_grad()

    cache = build_trunk_cache(model, _rows(batch), _completion_masks(batch), 2)
    prefix = max(cache.prefix_length.values())
    own_lengths = [len(row) - prefix for row in _rows(batch)]
    assert len(frozen_trunk.length_chunks(own_lengths)) > 1
    parts = trunk_loss(model, cache, batch)
    parts.loss.backward()
    got = _grads(model)
    assert torch.allclose(parts.loss, plain, atol=1e-5)
    for name in expected:
        assert torch.allclose(got[name], expected[name], atol=1e-5, rtol=1e-4), name


@pytest.mark.parametrize("top_layers", [2, 4])  # 4: the adapter in every layer, nothing to freeze
def test_without_a_trunk_shared_prefix_rows_run_in_length_chunks_with_the_plain_loss_and_gradients(
    four_layers: Path, top_layers: int, monkeypatch: pytest.MonkeyPatch
) -> None:  # fmt: skip
    """A run too short for the trunk pass still runs a batch's rows in chunks of similar length (every
    layer, from the embeddings), with the plain forward's loss and gradients."""
    import torch

    import harness.train.frozen_trunk as frozen_trunk
    from harness.train.shared_prefix import label_loss, shared_length

    monkeypatch.setattr(frozen_trunk, "CHUNK_MIN_TOKENS", 1)
    long_text = " ".join(["my card payment was declined twice at the shop this morning"] * 4)
    texts, answers = ["no", "my card has not arrived", long_text, "top up"], ["yes", "no", "yes no", "no"]
    model, tokenizer = _lora(four_layers, top_layers=top_layers)
    batch = _batch(tokenizer, texts, answers)
    plain = _plain_loss(model, batch)
    plain.backward()
    expected = _grads(model)

    prefix = shared_length(batch["input_ids"], batch["attention_mask"], batch["labels"])
    own_lengths = [len(row) - prefix for row in _rows(batch)]
    assert prefix > 0 and len(frozen_trunk.length_chunks(own_lengths)) > 1
    head = model.get_base_model().get_output_embeddings()
    parts = label_loss(head, *frozen_trunk.embedded_predictors(model, batch, prefix))
    parts.loss.backward()
    got = _grads(model)
    assert torch.allclose(parts.loss, plain, atol=1e-5)
    assert expected.keys() == got.keys()
    for name in expected:
        assert torch.allclose(got[name], expected[name], atol=1e-5, rtol=1e-4), name


def test_length_chunks_keep_long_rows_apart_and_every_row_once() -> None:
    from harness.train.frozen_trunk import length_chunks

    lengths = [44] * 31 + [236]  # a Banking77 batch with one query wrapped in small talk
    chunks = length_chunks(lengths)
    assert chunks == [list(range(31)), [31]]
    assert length_chunks([44] * 32) == [list(range(32))]  # similar rows stay one chunk
    assert length_chunks([300, 10, 280]) == [[1, 2], [0]]  # a chunk closes only from CHUNK_MIN_TOKENS real tokens
    assert length_chunks([]) == []


def test_rows_without_a_shared_prefix_are_exact_too(four_layers: Path) -> None:
    """A single-row group, and rows too different to share a prefix, take the no-prefix path."""
    import torch

    model, tokenizer = _lora(four_layers, top_layers=2)
    batch = _batch(tokenizer, ["no"], ["yes"])
    plain = _plain_loss(model, batch)
    cache = build_trunk_cache(model, _rows(batch), _completion_masks(batch), 2)
    assert torch.allclose(trunk_loss(model, cache, batch).loss, plain, atol=1e-5)

    rows, labels = [], []
    for text, answer in (("the quick brown fox", "yes"), ("answer with yes or no only", "no")):
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        completion = tokenizer(answer, add_special_tokens=False)["input_ids"]
        rows.append(ids + completion)
        labels.append([-100] * len(ids) + completion)
    width = max(map(len, rows))
    plain_batch = {
        "input_ids": torch.tensor([r + [0] * (width - len(r)) for r in rows]),
        "attention_mask": torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows]),
        "labels": torch.tensor([lab + [-100] * (width - len(lab)) for lab in labels]),
    }
    cache = build_trunk_cache(model, rows, [[int(x != -100) for x in lab] for lab in labels], 2)
    assert set(cache.prefix_length.values()) == {0}
    for index in range(2):  # one row per batch: the rows start differently, so they are in different groups
        single = {k: v[index : index + 1, : len(rows[index])] for k, v in plain_batch.items()}
        assert torch.allclose(trunk_loss(model, cache, single).loss, _plain_loss(model, single), atol=1e-5)


def test_a_cache_of_other_rows_lends_the_rows_it_holds_and_only_the_rest_are_computed(four_layers: Path) -> None:
    """Curating a row more recomputes that row: the rows an earlier trunk holds (same prefix split) come from
    it, and the result equals a cache built from nothing, state for state, and trains to the plain loss."""
    import torch

    model, tokenizer = _lora(four_layers, top_layers=2)
    batch = _batch(tokenizer, TEXTS, ANSWERS)
    rows, masks = _rows(batch), _completion_masks(batch)
    earlier = build_trunk_cache(model, rows[:2], masks[:2], 2)
    fresh = build_trunk_cache(model, rows, masks, 2)
    grown = build_trunk_cache(model, rows, masks, 2, reuse=earlier)

    assert grown.reused_rows == 2 and fresh.reused_rows == 0
    assert grown.own_hidden.keys() == fresh.own_hidden.keys() and grown.prefix_length == fresh.prefix_length
    for row, states in fresh.own_hidden.items():
        assert torch.allclose(grown.own_hidden[row], states, atol=1e-6), row
    for key, states in fresh.prefix_hidden.items():
        assert torch.allclose(grown.prefix_hidden[key], states, atol=1e-6), key
    assert torch.allclose(trunk_loss(model, grown, batch).loss, _plain_loss(model, batch), atol=1e-5)

    again = build_trunk_cache(model, rows[:2], masks[:2], 2, reuse=fresh)  # nothing left to compute
    assert again.reused_rows == 2 and again.prefix_hidden.keys() == earlier.prefix_hidden.keys()


def test_a_row_split_after_another_prefix_length_is_computed_again(four_layers: Path) -> None:
    """A row's cached states start after its group's prefix: where the new group shares a shorter prefix (a
    row that starts differently joined it), the earlier slice is the wrong one and the row is recomputed."""
    model, tokenizer = _lora(four_layers, top_layers=2)
    batch = _batch(tokenizer, TEXTS, ANSWERS)
    rows, masks = _rows(batch), _completion_masks(batch)
    earlier = build_trunk_cache(model, rows, masks, 2)
    odd = tokenizer("the quick brown fox", add_special_tokens=False)["input_ids"]
    grown = build_trunk_cache(model, [*rows, odd], [*masks, [0] * len(odd)], 2, groups=["g"] * 4, reuse=earlier)
    assert set(grown.prefix_length.values()) == {0} and grown.reused_rows == 0


def test_a_damaged_trunk_file_is_said_and_computed_again_not_a_crash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Any trunk of the same fingerprint may now be read as a lender, so a damaged one must not stop training."""
    for name, content in (("garbage.pt", b"not a torch file"), ("cut.pt", b"PK\x03\x04 cut short")):
        (tmp_path / name).write_bytes(content)
        assert load_trunk(tmp_path / name) is None
        assert f"frozen trunk: {tmp_path / name} cannot be read" in capsys.readouterr().out


def test_an_adapter_outside_the_layers_freezes_nothing(four_layers: Path) -> None:
    model, _ = _lora(four_layers, top_layers=2)
    model.get_base_model().lm_head.weight.requires_grad_(True)
    assert first_trained_layer(model) == 0


def test_system_prompt_is_what_the_rows_share() -> None:
    assert "yes or no" in SYSTEM  # the helper batch shares this system turn; keeps the fixture honest
