"""Replay by distillation (`replay.loss: distill`): the loss is KL(base || adapted) on the distilled rows and
cross-entropy elsewhere, the same on every fast path as on two plain forwards, and zero with zero gradient
while the adapter is still the identity. On a tiny real 4-layer Llama."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.config import HarnessConfig
from harness.train.distill import TeacherStates, adapter_off, distilled_rows, learned_states, mixed_loss
from harness.train.frozen_trunk import build_trunk_cache, trunk_predictors
from harness.train.shared_prefix import plain_predictors, prefix_shared_predictors, shared_length
from tests.test_frozen_trunk import _completion_masks, _lora, _rows
from tests.test_shared_prefix_training import _batch, _grads
from tests.tiny_models import build_tiny_model

TEXTS = ["my card has not arrived", "what is the capital of france yet", "no"]
ANSWERS = ["yes", "no", "yes no"]


@pytest.fixture(scope="module")
def four_layers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-4-layers-distill"), layers=4)


def _reference_loss(model: Any, batch: dict[str, Any], distilled: Any) -> Any:
    """Two whole forwards, adapter on and off: KL per learned token of a distilled row, cross-entropy of
    the label per learned token of any other row, over the learned-token count."""
    import torch
    import torch.nn.functional as functional

    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1].float()
    with torch.no_grad(), model.disable_adapter():
        base = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1].float()
    targets = batch["labels"][:, 1:]
    total = logits.new_zeros(())
    for row in range(len(targets)):
        learned = targets[row] != -100
        log_probs = functional.log_softmax(logits[row][learned], dim=-1)
        if distilled[row]:
            base_probs = functional.softmax(base[row][learned], dim=-1)
            total = total + (base_probs * (base_probs.log() - log_probs)).sum()
        else:
            total = total - log_probs.gather(1, targets[row][learned][:, None]).sum()
    return total / (targets != -100).sum()


def _fast_loss(model: Any, batch: dict[str, Any], distilled: Any, path: str) -> Any:
    if path == "trunk":
        cache = build_trunk_cache(model, _rows(batch), _completion_masks(batch), 2)
        forward = lambda: trunk_predictors(model, cache, batch)  # noqa: E731
    elif path == "shared":
        prefix = shared_length(batch["input_ids"], batch["attention_mask"], batch["labels"])
        assert prefix > 0
        forward = lambda: prefix_shared_predictors(model, batch, prefix)  # noqa: E731
    else:
        forward = lambda: plain_predictors(model, batch)  # noqa: E731
    predictors, targets = forward()
    with adapter_off(model):
        teacher, _ = forward()
    teacher_states = learned_states(teacher, targets, distilled)
    return mixed_loss(model.get_base_model().lm_head, predictors, teacher_states, targets, distilled).loss


@pytest.mark.parametrize("path", ["trunk", "shared", "plain"])
@pytest.mark.parametrize("flags", [(True, True, True), (True, False, True)])
def test_loss_and_gradients_equal_two_plain_forwards(four_layers: Path, path: str, flags: tuple[bool, ...]) -> None:
    import torch

    model, tokenizer = _lora(four_layers, top_layers=2)
    batch = _batch(tokenizer, TEXTS, ANSWERS)
    distilled = torch.tensor(flags)
    expected_loss = _reference_loss(model, batch, distilled)
    expected_loss.backward()
    expected = _grads(model)

    loss = _fast_loss(model, batch, distilled, path)
    loss.backward()
    got = _grads(model)

    assert float(expected_loss) > 0.01  # a random adapter: the adapted model is far from the base
    assert torch.allclose(loss, expected_loss, atol=1e-5)
    assert expected.keys() == got.keys() and expected
    for name in expected:
        assert torch.allclose(got[name], expected[name], atol=1e-5, rtol=1e-4), name


def test_an_identity_adapter_has_zero_loss_and_zero_gradient(four_layers: Path) -> None:
    """At the start (LoRA's B = 0) the adapted model is the base: nothing to pull back, so replay rows move
    no weight, unlike cross-entropy on the base's answers, which is positive from the first step."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = get_peft_model(AutoModelForCausalLM.from_pretrained(four_layers, dtype=torch.float32),
                           LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"]))  # fmt: skip
    model.train()
    batch = _batch(AutoTokenizer.from_pretrained(four_layers), TEXTS, ANSWERS)
    loss = _fast_loss(model, batch, torch.tensor([True, True, True]), "plain")
    loss.backward()
    assert abs(float(loss)) < 1e-6
    assert all(float(g.abs().max()) < 1e-6 for g in _grads(model).values())
    cross_entropy = _fast_loss(model, batch, torch.tensor([False, False, False]), "plain")
    assert float(cross_entropy) > 1.0


def test_the_weight_scales_the_distilled_tokens_only(four_layers: Path) -> None:
    import torch

    model, tokenizer = _lora(four_layers, top_layers=2)
    batch = _batch(tokenizer, TEXTS, ANSWERS)
    predictors, targets = plain_predictors(model, batch)
    with adapter_off(model):
        teacher, _ = plain_predictors(model, batch)
    head = model.get_base_model().lm_head

    def loss(flags: list[bool], weight: float) -> float:
        rows = torch.tensor(flags)
        states = learned_states(teacher, targets, rows)
        return float(mixed_loss(head, predictors, states, targets, rows, weight=weight).loss)

    assert loss([True, True, True], 3.0) == pytest.approx(3 * loss([True, True, True], 1.0), rel=1e-5)
    assert loss([False, False, False], 3.0) == pytest.approx(loss([False, False, False], 1.0), rel=1e-6)


@pytest.mark.parametrize("path", ["trunk", "plain"])
def test_kept_teacher_states_equal_a_fresh_forward_and_run_each_row_once(four_layers: Path, path: str) -> None:
    """A row's base-model states are computed at its first visit and reused in a batch of other rows and
    other padding; the loss and gradients with them equal those of a fresh teacher forward."""
    import torch

    from harness.train.shared_prefix import batch_rows, real_rows

    model, tokenizer = _lora(four_layers, top_layers=2)
    first = _batch(tokenizer, TEXTS, ANSWERS)
    second = _batch(tokenizer, [TEXTS[2], "where is my money", TEXTS[0]], [ANSWERS[2], "yes yes yes", ANSWERS[0]])
    rows, learned = _rows(first) + _rows(second), _completion_masks(first) + _completion_masks(second)
    cache = build_trunk_cache(model, rows, learned, 2)

    def forward(batch: dict[str, Any]) -> Any:
        return trunk_predictors(model, cache, batch) if path == "trunk" else plain_predictors(model, batch)

    def compute(batch: dict[str, Any]) -> Any:
        def run(indices: list[int]) -> Any:
            with adapter_off(model):
                return forward(batch_rows(batch, indices))

        return run

    teacher = TeacherStates()
    flags = torch.tensor([True, False, True])
    teacher.for_batch(real_rows(first["input_ids"], first["attention_mask"]), flags, compute(first))
    assert teacher.forwards == 2
    both = torch.tensor([True, True, True])
    kept = teacher.for_batch(real_rows(second["input_ids"], second["attention_mask"]), both, compute(second))
    assert teacher.forwards == 3  # only the new row ran: the other two were kept from the first batch

    predictors, targets = forward(second)
    with adapter_off(model):
        fresh = learned_states(forward(second)[0], targets, both)
    assert kept.shape == fresh.shape and torch.allclose(kept, fresh, atol=1e-5)
    head = model.get_base_model().lm_head
    mixed_loss(head, predictors, kept, targets, both).loss.backward()
    got = _grads(model)
    predictors, _ = forward(second)
    mixed_loss(head, predictors, fresh, targets, both).loss.backward()
    expected = _grads(model)
    assert expected.keys() == got.keys() and expected
    for name in expected:
        assert torch.allclose(got[name], expected[name], atol=1e-5, rtol=1e-4), name


def test_rows_are_found_by_their_tokens_whatever_the_padding(four_layers: Path) -> None:
    import torch

    _, tokenizer = _lora(four_layers, top_layers=2)
    batch = _batch(tokenizer, TEXTS, ANSWERS)
    wanted = frozenset({tuple(_rows(batch)[1])})
    assert distilled_rows(batch["input_ids"], batch["attention_mask"], wanted).tolist() == [False, True, False]
    assert not distilled_rows(batch["input_ids"], batch["attention_mask"], frozenset()).any()
    assert torch.equal(distilled_rows(batch["input_ids"][1:2], batch["attention_mask"][1:2], wanted),
                       torch.tensor([True]))  # fmt: skip


def test_harness_train_learns_replay_by_distillation(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:  # fmt: skip
    """End to end: a tiny run with `replay.loss: distill` trains its replay batches through the
    distillation loss, says so, and records the setting."""
    import harness.train.trainer as trainer_module
    from harness.train.config import load_train_config
    from harness.train.run import train
    from tests.test_train import TINY_TRAIN, _write_dataset

    distilled_per_batch = []

    def counting_mixed_loss(*args: Any, **kwargs: Any) -> Any:
        distilled_per_batch.append(int(args[4].sum()))
        return mixed_loss(*args, **kwargs)

    monkeypatch.setattr(trainer_module, "mixed_loss", counting_mixed_loss)  # the real loss, counted
    teachers: list[TeacherStates] = []

    class RecordedTeacherStates(TeacherStates):
        def __init__(self) -> None:
            super().__init__()
            teachers.append(self)

    monkeypatch.setattr(trainer_module, "TeacherStates", RecordedTeacherStates)

    _write_dataset(tmp_path / "data")
    (tmp_path / "prompts.jsonl").write_text("".join(json.dumps({"prompt": f"tell me about {w}"}) + "\n"
                                                    for w in ("cats", "rain", "bread", "maps")))  # fmt: skip
    project = HarnessConfig(root=tmp_path, cache_dir=tmp_path / "cache", models={"tiny": f"hf:{tiny_model_dir}"},
                            gates={"tiny.accuracy": 0.0})  # fmt: skip
    text = TINY_TRAIN.format(steps=4).replace(
        "  experiment: tiny", "  replay: {prompts: prompts.jsonl, share: 0.25, max_new_tokens: 8, loss: distill}\n"
        "  experiment: tiny")  # fmt: skip
    config = load_train_config(_write_path(tmp_path / "distill.yaml", text), tmp_path)
    result = train(config, project, data_gates=False)

    assert result.steps == 4 and result.replay_rows == 8
    assert distilled_per_batch and all(rows > 0 for rows in distilled_per_batch)
    (teacher,) = teachers  # 4 chats, each replayed twice: the base model ran once per chat, not per visit
    assert sum(distilled_per_batch) == 8 and teacher.forwards == len(teacher.by_row) == 4
    assert "learned by distillation" in capsys.readouterr().out
    summary = json.loads(result.summary_path.read_text())
    assert summary["config"]["replay"]["loss"] == "distill"
    assert all(entry["loss"] == entry["loss"] for entry in summary["log_history"] if "loss" in entry)  # no NaN


def _write_path(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_distill_needs_the_harness_trainer(tmp_path: Path) -> None:
    from harness.train.config import TrainConfigError, load_train_config

    text = "task: t\ntrain:\n  shared_prefix: false\n  replay: {loss: distill}\n"
    with pytest.raises(TrainConfigError, match="shared_prefix: true"):
        load_train_config(_write_path(tmp_path / "t.yaml", text), tmp_path)
    with pytest.raises(TrainConfigError, match="replay.loss = 'kl'; use one of"):
        load_train_config(_write_path(tmp_path / "u.yaml", "task: t\ntrain:\n  replay: {loss: kl}\n"), tmp_path)
