"""`harness train`: config loading and lint, and a few real training steps on a tiny in-process model."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from harness.config import HarnessConfig
from harness.train.config import TrainConfigError, load_train_config
from harness.train.lint import RunFacts, review
from harness.train.run import TrainingRefused, check_data_gates, train

LABELS = ["yes", "no"]
SYSTEM = "answer with yes or no only. " * 6


def _write_dataset(directory: Path, n_train: int = 24, n_val: int = 6) -> Path:
    directory.mkdir(parents=True)
    texts = ["my card has not arrived", "what is the capital of france", "the quick brown fox", "transfer money"]

    def row(i: int) -> dict[str, object]:
        label = LABELS[i % 2]
        messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": f"{texts[i % 4]} {i}"},
                    {"role": "assistant", "content": label}]  # fmt: skip
        return {"id": f"row-{i}", "messages": messages, "label": label}

    for split, rows in (("train", range(n_train)), ("val", range(n_train, n_train + n_val))):
        (directory / f"{split}.jsonl").write_text("".join(json.dumps(row(i)) + "\n" for i in rows))
    return directory


def _write_config(path: Path, body: str) -> Path:
    path.write_text(body)
    return path


TINY_TRAIN = """\
task: tiny
train:
  base_model: tiny
  dataset: data
  output_dir: out/adapter
  adapter: {{rank: 4, alpha: 8, target_modules: [q_proj, v_proj], top_layers: 1}}
  learning_rate: 5.0e-3
  batch_size: 8
  max_steps: {steps}
  bf16: false
  eval_gate: {{every_steps: 2, val_limit: 4, gates: {{accuracy: tiny.accuracy}}, stop_margin: null, max_new_tokens: 3}}
  experiment: tiny
"""


@pytest.fixture
def project(tmp_path: Path, tiny_model_dir: Path) -> HarnessConfig:
    _write_dataset(tmp_path / "data")
    return HarnessConfig(root=tmp_path, cache_dir=tmp_path / "cache", models={"tiny": f"hf:{tiny_model_dir}"},
                         gates={"tiny.accuracy": 0.0})  # fmt: skip


def test_a_few_steps_produce_a_standard_peft_adapter_chosen_by_the_eval_gate(project: HarnessConfig) -> None:
    config = load_train_config(_write_config(project.root / "tiny.yaml", TINY_TRAIN.format(steps=4)), project.root)
    result = train(config, project, data_gates=False)

    adapter = project.root / "out" / "adapter"
    assert result.adapter_dir == adapter and result.steps == 4
    assert (adapter / "adapter_model.safetensors").is_file()
    saved = json.loads((adapter / "adapter_config.json").read_text())
    assert saved["base_model_name_or_path"] == project.models["tiny"].removeprefix("hf:")
    assert saved["layers_to_transform"] == [1]  # top_layers: 1 of the tiny model's 2
    assert [e["step"] for e in result.history] == [2, 4]
    assert result.best is not None and result.best["step"] in (2, 4)
    summary = json.loads(result.summary_path.read_text())
    assert summary["result"]["steps"] == 4 and summary["log_history"]
    assert summary["result"]["machine"] == result.machine and result.machine.endswith("; fp32")  # bf16: false
    assert (project.root / "runs" / "mlflow.db").is_file()

    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(saved["base_model_name_or_path"])
    PeftModel.from_pretrained(base, adapter)  # loads as a plain PEFT adapter


def test_dora_trains_on_the_frozen_trunk_and_loads_back(project: HarnessConfig) -> None:
    import torch
    from peft import PeftModel
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    text = TINY_TRAIN.format(steps=4).replace("rank: 4,", "method: dora, rank: 4,")
    config = load_train_config(_write_config(project.root / "dora.yaml", text), project.root)
    result = train(config, project, data_gates=False)

    saved = json.loads((result.adapter_dir / "adapter_config.json").read_text())
    assert saved["use_dora"] is True
    weights = load_file(result.adapter_dir / "adapter_model.safetensors")
    assert any("lora_magnitude_vector" in name for name in weights)  # DoRA's learned magnitudes were saved
    base = AutoModelForCausalLM.from_pretrained(saved["base_model_name_or_path"])
    ids = torch.tensor([[5, 6, 7, 8]])
    before = base(input_ids=ids).logits
    adapted = PeftModel.from_pretrained(base, result.adapter_dir)
    assert not torch.allclose(adapted(input_ids=ids).logits, before)  # the loaded adapter changes the model


def test_loraplus_moves_the_b_matrices_at_its_ratio_of_the_learning_rate(project: HarnessConfig) -> None:
    from safetensors.torch import load_file

    def b_norm(name: str, extra: str) -> float:
        text = TINY_TRAIN.format(steps=4).replace("top_layers: 1}", "top_layers: 1" + extra + "}")
        config = load_train_config(_write_config(project.root / f"{name}.yaml", text), project.root)
        config.output_dir = project.root / "out" / name
        weights = load_file(train(config, project, data_gates=False).adapter_dir / "adapter_model.safetensors")
        return sum(float(w.norm()) for key, w in weights.items() if "lora_B" in key)

    # B starts at zero and Adam moves each entry by about its learning rate per step, so after the same
    # steps on the same batches the B matrices of a ratio-16 run are several times larger
    assert b_norm("loraplus", ", loraplus_lr_ratio: 16") > 4 * b_norm("plain", "")


def test_a_loraplus_ratio_below_one_is_a_config_error(project: HarnessConfig) -> None:
    text = TINY_TRAIN.format(steps=4).replace("top_layers: 1}", "top_layers: 1, loraplus_lr_ratio: 0.5}")
    with pytest.raises(TrainConfigError, match="loraplus_lr_ratio = 0.5 must be at least 1"):
        load_train_config(_write_config(project.root / "bad.yaml", text), project.root)


def test_the_frozen_trunk_trains_exactly_like_the_full_forward(
    project: HarnessConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    """Same seed, same rows: the per-step training losses with the trunk cached equal the full forward's."""
    losses = {}
    for frozen in (True, False):
        text = TINY_TRAIN.format(steps=10).replace("experiment: tiny", f"frozen_trunk: {str(frozen).lower()}\n"
                                                  "  experiment: tiny")  # fmt: skip
        text = text.replace("out/adapter", f"out/{frozen}")
        config = load_train_config(_write_config(project.root / f"{frozen}.yaml", text), project.root)
        summary = json.loads(train(config, project, data_gates=False).summary_path.read_text())
        losses[frozen] = [entry["loss"] for entry in summary["log_history"] if "loss" in entry]
        assert ("frozen trunk: layers 0-0 over" in capsys.readouterr().out) is frozen
    assert len(losses[True]) == 2 and losses[True] == pytest.approx(losses[False], rel=1e-4)


def test_auto_skips_the_trunk_for_a_run_shorter_than_half_an_epoch(
    project: HarnessConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    """1 step of 8 rows visits 8 of 24 rows: the one-off pass over all 24 would cost more than it saves."""
    config = load_train_config(_write_config(project.root / "short.yaml", TINY_TRAIN.format(steps=1)), project.root)
    train(config, project, data_gates=False)
    assert "frozen trunk: off (auto)" in capsys.readouterr().out

    long = TINY_TRAIN.format(steps=10).replace("out/adapter", "out/long")  # stores the trunk of these rows
    train(load_train_config(_write_config(project.root / "long.yaml", long), project.root), project, data_gates=False)
    train(config, project, data_gates=False, force=True)  # a stored trunk costs nothing: auto uses it
    assert "reused from" in capsys.readouterr().out


def test_a_second_run_on_the_same_rows_reuses_the_stored_trunk(
    project: HarnessConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    losses = []
    for run in ("first", "second"):
        text = TINY_TRAIN.format(steps=10).replace("out/adapter", f"out/{run}")
        config = load_train_config(_write_config(project.root / f"{run}.yaml", text), project.root)
        summary = json.loads(train(config, project, data_gates=False).summary_path.read_text())
        losses.append([entry["loss"] for entry in summary["log_history"] if "loss" in entry])
        printed = capsys.readouterr().out
        assert ("reused from" in printed) is (run == "second"), printed
    assert len(list((project.cache_dir / "trunk").glob("*.pt"))) == 1
    assert losses[0] and losses[0] == losses[1]  # the stored states are the computed ones, bit for bit


def test_a_run_on_a_few_more_rows_computes_only_those_and_takes_the_rest_from_the_stored_trunk(
    project: HarnessConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    """A second curation that adds rows (here 4 to 24) recomputes 4 trunk rows, not 28; both row sets stay."""
    first = TINY_TRAIN.format(steps=10).replace("out/adapter", "out/first")
    train(load_train_config(_write_config(project.root / "first.yaml", first), project.root), project, data_gates=False)
    assert "computed once in" in capsys.readouterr().out
    _write_dataset(project.root / "more", n_train=28)
    more = TINY_TRAIN.format(steps=10).replace("out/adapter", "out/more").replace("dataset: data", "dataset: more")
    train(load_train_config(_write_config(project.root / "more.yaml", more), project.root), project, data_gates=False)
    printed = capsys.readouterr().out
    assert "over 28 distinct rows, computed once (4 rows; 24 taken from" in printed, printed
    assert len(list((project.cache_dir / "trunk").glob("*.pt"))) == 2


def test_an_adapter_trained_from_the_same_inputs_is_not_trained_again(
    project: HarnessConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    """Seeded training is a function of its inputs: the second run reuses the adapter; new data or --force
    (force=True) trains again."""
    path = _write_config(project.root / "same.yaml", TINY_TRAIN.format(steps=2))
    first = train(load_train_config(path, project.root), project, data_gates=False)
    weights = (first.adapter_dir / "adapter_model.safetensors").stat().st_mtime_ns
    again = train(load_train_config(path, project.root), project, data_gates=False)
    assert "is up to date" in capsys.readouterr().out
    assert again.steps == first.steps and again.history == first.history
    assert (first.adapter_dir / "adapter_model.safetensors").stat().st_mtime_ns == weights

    with (project.root / "data" / "train.jsonl").open("a") as rows:  # one more curated row: other inputs
        rows.write((project.root / "data" / "val.jsonl").read_text().splitlines()[0] + "\n")
    train(load_train_config(path, project.root), project, data_gates=False)
    train(load_train_config(path, project.root), project, data_gates=False, force=True)
    assert "is up to date" not in capsys.readouterr().out


def test_the_eval_gate_scores_a_bf16_run_in_float32_like_the_suites(project: HarnessConfig) -> None:
    """Under bf16 mixed precision accelerate wraps the model's forward in autocast; the eval gate must still
    encode and decode in one precision (it crashed on a bf16 prefix cache fed float32 decode steps)."""
    text = TINY_TRAIN.format(steps=4).replace("bf16: false", "bf16: true")
    config = load_train_config(_write_config(project.root / "bf16.yaml", text), project.root)
    result = train(config, project, data_gates=False)
    assert [e["step"] for e in result.history] == [2, 4]


def test_qlora_on_a_machine_without_cuda_is_refused_with_the_reason(project: HarnessConfig) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: qlora is allowed here")
    text = TINY_TRAIN.format(steps=1).replace("rank: 4,", "method: qlora, rank: 4,")
    config = load_train_config(_write_config(project.root / "q.yaml", text), project.root)
    with pytest.raises(TrainingRefused, match="needs a CUDA GPU"):
        train(config, project, data_gates=False)


def test_strict_mode_turns_lint_warnings_into_a_refusal(project: HarnessConfig) -> None:
    text = TINY_TRAIN.format(steps=1).replace("rank: 4,", "rank: 64,")  # 24 rows at rank 64: memorisation
    config = load_train_config(_write_config(project.root / "s.yaml", text), project.root)
    with pytest.raises(TrainingRefused, match="--strict"):
        train(config, project, strict=True, data_gates=False)


def test_strict_mode_trains_past_a_warning_the_config_accepts_with_its_reason(project: HarnessConfig) -> None:
    text = TINY_TRAIN.format(steps=1).replace("rank: 4,", "rank: 64,") + (
        "  lint_accepted: {memorisation_recipe: 'a tiny fixture, memorised on purpose',\n"
        "                  high_learning_rate_on_instruct: a random tiny model has no alignment to lose}\n"
    )
    config = load_train_config(_write_config(project.root / "s.yaml", text), project.root)
    result = train(config, project, strict=True, data_gates=False)
    assert result.warnings == []
    assert [w.split(" [accepted: ")[1] for w in result.accepted_lint] == [
        "a tiny fixture, memorised on purpose]", "a random tiny model has no alignment to lose]"
    ]
    summary = json.loads(result.summary_path.read_text())
    assert summary["result"]["accepted_lint"] == result.accepted_lint  # the acceptance is on record, with its reason


def test_an_accepted_rule_leaves_the_other_warnings_standing(tmp_path: Path) -> None:
    body = ("train: {adapter: {rank: 128}, epochs: 5, learning_rate: 3.0e-3, "
            "lint_accepted: {high_learning_rate_on_instruct: measured in docs/x.md}}")  # fmt: skip
    config = load_train_config(_write_config(tmp_path / "c.yaml", body), tmp_path)
    report = review(config, RunFacts(train_rows=300, val_rows=10, base_is_instruct=True, has_regression_suite=True))
    assert [("destroy its alignment" in w, "measured in docs/x.md" in w) for w in report.accepted] == [(True, True)]
    assert len(report.warnings) == 2 and not any("destroy its alignment" in w for w in report.warnings)


@pytest.mark.parametrize(
    ("accepted", "message"),
    [
        ("{high_lr: measured}", r"train.lint_accepted.high_lr: no such lint rule; the rules are \['memorisation"),
        ("{memorisation_recipe: ' '}", r"train.lint_accepted.memorisation_recipe needs a reason"),
    ],
)
def test_an_acceptance_names_a_real_rule_and_says_why(project: HarnessConfig, accepted: str, message: str) -> None:
    text = TINY_TRAIN.format(steps=1) + f"  lint_accepted: {accepted}\n"
    path = _write_config(project.root / "a.yaml", text)
    with pytest.raises(TrainConfigError, match=message) as error:
        train(load_train_config(path, project.root), project)  # refused before the data gates run
    assert str(path) in str(error.value)


def test_training_refuses_to_start_without_data_suites(tmp_path: Path) -> None:
    with pytest.raises(TrainingRefused, match="no data suites"):
        check_data_gates(tmp_path / "data", tmp_path)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("train: {learning_rat: 1e-4}", r"unknown key\(s\) \['learning_rat'\] in train"),
        ("train: {batch_size: many}", r"train.batch_size = 'many' must be int"),
        ("train: {adapter: {method: ia3}}", r"train.adapter.method = 'ia3'"),
        ("train: {adapter: {target_modules: q_proj}}", r"train.adapter.target_modules must be a list"),
        ("task: x", r"needs a `train:` section"),
        ("train: {eval_gate: {golden_set: b, max_new_tokens: 5}}", r"sets golden_set and max_new_tokens"),
        ("train: {eval_gate: {gates: {f1: x.f1}}}", r"unknown metric\(s\) \['f1'\]; use \('accuracy'"),
    ],
)
def test_config_errors_name_the_file_and_the_key(tmp_path: Path, body: str, message: str) -> None:
    path = _write_config(tmp_path / "bad.yaml", body)
    with pytest.raises(TrainConfigError, match=message) as error:
        load_train_config(path, tmp_path)
    assert str(path) in str(error.value)


def test_the_repository_config_loads_and_resolves_paths() -> None:
    root = Path(__file__).resolve().parents[1]
    config = load_train_config(root / "training" / "configs" / "banking77.yaml", root)
    assert config.dataset == root / "runs" / "banking77" / "data"
    assert config.replay.prompts is not None and config.replay.prompts.is_file()
    assert config.learning_rate == 2e-3 and config.adapter.top_layers == 16
    assert config.eval_gate.gates["forgetting"] == "regression.no_forgetting"  # the suites choose the checkpoint
    assert config.eval_gate.forgetting_set == "regression_dev"  # on cases the promotion gate does not score
    facts = RunFacts(train_rows=7670, val_rows=862, base_is_instruct=True, has_regression_suite=True)
    assert review(config, facts).warnings == []  # the demo passes `harness train --strict`: every warning explained


def test_lint_flags_the_recipes_practitioners_report(tmp_path: Path) -> None:
    path = _write_config(tmp_path / "c.yaml", "train: {adapter: {rank: 128}, epochs: 5, learning_rate: 3.0e-3}")
    config = load_train_config(path, tmp_path)
    facts = RunFacts(train_rows=300, val_rows=0, base_is_instruct=True, has_regression_suite=True)
    warnings = review(config, facts).warnings
    text = "\n".join(warnings)
    assert "memorisation recipe" in text and "destroy its alignment" in text
    assert "no validation split" in text and "without replay" in text
    assert "or replay general data" in text  # no replay configured: replay is the other way out

    replayed = load_train_config(
        _write_config(tmp_path / "r.yaml", "train: {learning_rate: 3.0e-3, replay: {prompts: p.jsonl}}"), tmp_path
    )
    advice = [w for w in review(replayed, RunFacts(300, 10, True, True)).warnings if "destroy its alignment" in w]
    assert advice and "replay general data" not in advice[0]  # replay is already on: only the rate is left
    calm = load_train_config(_write_config(tmp_path / "ok.yaml", "train: {learning_rate: 2.0e-4}"), tmp_path)
    facts = RunFacts(train_rows=5000, val_rows=500, base_is_instruct=True, has_regression_suite=True)
    assert review(calm, facts).warnings == []


def test_lint_flags_a_forgetting_vote_on_the_set_the_promotion_gate_scores(tmp_path: Path) -> None:
    facts = RunFacts(train_rows=5000, val_rows=500, base_is_instruct=True, has_regression_suite=True)
    gates = "gates: {accuracy: a.accuracy, forgetting: regression.no_forgetting}"
    voted = load_train_config(_write_config(tmp_path / "v.yaml", f"train: {{eval_gate: {{{gates}}}}}"), tmp_path)
    assert ["golden/regression_dev" in w for w in review(voted, facts).warnings] == [True]
    dev = f"train: {{eval_gate: {{{gates}, forgetting_set: regression_dev}}}}"
    assert review(load_train_config(_write_config(tmp_path / "d.yaml", dev), tmp_path), facts).warnings == []


def test_whole_answers_learn_the_end_of_turn_and_cut_ones_do_not(tiny_model_dir: Path) -> None:
    from transformers import AutoTokenizer

    from harness.models.base import Completion
    from harness.train.data import TrainRow, replay_rows, tokenize

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    prompt = [{"role": "user", "content": "the quick brown fox"}]
    whole, cut = tokenize(tokenizer, [TrainRow(prompt, "yes"), TrainRow(prompt, "yes", finished=False)])
    end_of_turn = tokenizer.convert_tokens_to_ids("<|im_end|>")
    learned = [t for t, m in zip(whole["input_ids"], whole["completion_mask"], strict=True) if m]
    assert end_of_turn in learned and tokenizer.decode(learned).startswith("yes")
    assert end_of_turn not in [t for t, m in zip(cut["input_ids"], cut["completion_mask"], strict=True) if m]
    assert whole["completion_mask"].index(1) == cut["completion_mask"].index(1)  # same prompt, same boundary

    answers = [Completion("a", 1, 1, 0.1, finish_reason="stop"), Completion("b b b", 1, 3, 0.1, finish_reason="length")]
    chats = [[{"role": "user", "content": "p1"}], [{"role": "user", "content": "p2"}]]
    rows = replay_rows(chats, answers, count=5)
    assert [r.completion for r in rows] == ["a", "b b b", "a", "b b b", "a"]
    assert [r.finished for r in rows[:2]] == [True, False]


def test_replay_prompts_read_single_turns_and_few_shot_chats(tmp_path: Path) -> None:
    from harness.train.data import DatasetError, replay_prompts

    few_shot = [{"role": "user", "content": "Say hi in capitals."}, {"role": "assistant", "content": "HI"},
                {"role": "user", "content": "Say bye in capitals."}]  # fmt: skip
    path = tmp_path / "prompts.jsonl"
    path.write_text(json.dumps({"prompt": "Name a tree."}) + "\n\n" + json.dumps({"messages": few_shot}) + "\n")
    assert replay_prompts(path) == [[{"role": "user", "content": "Name a tree."}], few_shot]

    path.write_text(json.dumps({"prompt": "ok"}) + "\n" + json.dumps({"messages": few_shot[:2]}) + "\n")
    with pytest.raises(DatasetError, match=r"prompts.jsonl:2: the chat must end with a user turn"):
        replay_prompts(path)
    path.write_text(json.dumps({"text": "no prompt key"}) + "\n")
    with pytest.raises(DatasetError, match=r"prompts.jsonl:1: expected \{\"prompt\""):
        replay_prompts(path)


@pytest.mark.integration
def test_failing_data_gates_refuse_training_with_their_output(tmp_path: Path) -> None:
    """The repository's own data suites, on a dataset far too small to train on: training must not start."""
    dataset = _write_dataset(tmp_path / "data", n_train=12, n_val=2)
    (dataset / "test.jsonl").write_text("")
    (dataset / "curation.json").write_text(json.dumps({"labels": LABELS}))
    root = Path(__file__).resolve().parents[1]
    with pytest.raises(TrainingRefused, match="data gates failed") as refusal:
        check_data_gates(dataset, root)
    assert "data.min_examples" in str(refusal.value)


def test_data_gates_stopped_before_their_tests_refuse_training_with_pytests_reason(tmp_path: Path) -> None:
    """pytest stops with a usage error (exit 4; a tampered golden lock is one) and says why on stderr: the
    refusal carries that reason, not an empty tail."""
    (tmp_path / "suites" / "data").mkdir(parents=True)
    (tmp_path / "suites" / "data" / "conftest.py").write_text(
        "import pytest\n\n\ndef pytest_configure(config):\n"
        "    raise pytest.UsageError('golden sets differ from golden/golden.lock: restore them')\n"
    )
    with pytest.raises(TrainingRefused, match=r"(?s)pytest exit 4.*golden sets differ from golden/golden.lock"):
        check_data_gates(tmp_path / "data", tmp_path)


def test_task_inputs_are_replayed_without_the_system_prompt_round_robin_over_labels() -> None:
    from harness.train.data import without_system_prompt

    def row(text: str, label: str) -> dict[str, Any]:
        return {"label": label, "messages": [{"role": "system", "content": "Route it."},
                                             {"role": "user", "content": text},
                                             {"role": "assistant", "content": label}]}  # fmt: skip

    rows = [row("a1", "a"), row("a2", "a"), row("a3", "a"), row("b1", "b"), row("c1", "c")]
    chats = without_system_prompt(rows, 4, [])
    assert [chat[0]["content"] for chat in chats] == ["a1", "b1", "c1", "a2"]
    assert all(turn["role"] != "system" for chat in chats for turn in chat)
    assert [c[0]["content"] for c in without_system_prompt(rows, 10, ["a", "c"])] == ["a1", "c1", "a2", "a3"]
    assert without_system_prompt(rows, 3, ["nope"]) == []


def test_task_input_labels_that_match_no_training_row_are_refused_with_the_closest_label(tmp_path: Path) -> None:
    from harness.train.run import _replay

    (tmp_path / "prompts.jsonl").write_text(json.dumps({"prompt": "Name a tree."}) + "\n")
    body = "train: {replay: {prompts: prompts.jsonl, share: 0.25, task_inputs: 5, task_input_labels: [out_of_scop]}}"
    config = load_train_config(_write_config(tmp_path / "c.yaml", body), tmp_path)
    rows = [{"label": label, "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": label}]}
            for label in ("out_of_scope", "card_arrival")]  # fmt: skip
    with pytest.raises(TrainConfigError, match=r"c\.yaml: train\.replay\.task_input_labels \['out_of_scop'\] names no "
                                               r"label .*did you mean 'out_of_scope'\?"):  # fmt: skip
        _replay(config, None, 10, rows)  # type: ignore[arg-type]


def test_the_eval_gate_answers_with_its_golden_sets_budget(tmp_path: Path) -> None:
    """Named golden set: its generation.toml's budget, as the suites ask; else the gate's own; else the default."""
    from harness.train.run import eval_gate_budget

    (tmp_path / "golden" / "router").mkdir(parents=True)
    (tmp_path / "golden" / "router" / "generation.toml").write_text("max_new_tokens = 7\n")
    harness = HarnessConfig(root=tmp_path)
    for eval_gate, budget in (("{golden_set: router}", 7), ("{max_new_tokens: 5}", 5), ("{every_steps: 2}", 64)):
        path = _write_config(tmp_path / "t.yaml", f"train: {{eval_gate: {eval_gate}}}\n")
        assert eval_gate_budget(load_train_config(path, tmp_path), harness) == budget


def test_the_eval_gates_check_metric_applies_the_golden_sets_own_check(tmp_path: Path) -> None:
    """An extractor's validation answers are scored as its suite scores them: the golden set's json_equals,
    with each row's answer as the expected value (items in any order, units casefolded)."""
    from harness.golden import GoldenCase, write_file
    from harness.train.data import ValCase
    from harness.train.eval_gate import score_answers
    from harness.train.run import _golden_check

    spec = {"check": "json_equals", "value": [{"value": 1, "unit": "metre"}], "unordered": True, "casefold": True}
    (tmp_path / "golden" / "qty").mkdir(parents=True)
    write_file(tmp_path / "golden" / "qty" / "cases.jsonl", [GoldenCase(id="q-1", input="1 m", expected=spec)])
    harness = HarnessConfig(root=tmp_path)
    path = _write_config(tmp_path / "t.yaml", "train: {eval_gate: {golden_set: qty, gates: {check: qty.exact}}}\n")
    check = _golden_check(load_train_config(path, tmp_path), harness)
    assert check == {"check": "json_equals", "unordered": True, "casefold": True}

    answer = '[{"value": 2, "unit": "litre"}, {"value": 3.0, "unit": "Metre"}]'
    cases = [ValCase("a", [], answer), ValCase("b", [], answer), ValCase("c", [], "[]")]
    answers = ['[{"value": 3, "unit": "metre"}, {"value": 2, "unit": "litre"}]', '[{"value": 2, "unit": "litre"}]',
               "There are no quantities."]  # fmt: skip
    (result,) = score_answers(answers, cases, {"check": ("qty.exact", 0.5)}, check)
    assert result.value == pytest.approx(1 / 3) and result.lower < result.value

    labels_only = _write_config(tmp_path / "l.yaml", "train: {eval_gate: {gates: {check: qty.exact}}}\n")
    with pytest.raises(TrainConfigError, match="name the set in train.eval_gate.golden_set"):
        _golden_check(load_train_config(labels_only, tmp_path), harness)


def test_two_runs_in_one_process_each_log_to_their_own_project(tmp_path: Path, tiny_model_dir: Path) -> None:
    """MLflow's set_tracking_uri writes $MLFLOW_TRACKING_URI; a second run must not log into the first store."""
    import os

    for name in ("first", "second"):
        root = tmp_path / name
        _write_dataset(root / "data")
        harness = HarnessConfig(root=root, cache_dir=tmp_path / "cache", models={"tiny": f"hf:{tiny_model_dir}"},
                                gates={"tiny.accuracy": 0.0})  # fmt: skip
        text = TINY_TRAIN.format(steps=2).replace("val_limit: 4,", "val_limit: 2,")
        train(load_train_config(_write_config(root / "t.yaml", text), root), harness, data_gates=False)
        assert (root / "runs" / "mlflow.db").is_file(), name
        assert "MLFLOW_TRACKING_URI" not in os.environ


def _write_regression_set(root: Path, cases: list[Any]) -> None:
    from harness.golden import write_file
    from harness.golden.lock import freeze

    (root / "golden" / "regression").mkdir(parents=True)
    write_file(root / "golden" / "regression" / "cases.jsonl", cases)
    (root / "golden" / "regression" / "generation.toml").write_text("max_new_tokens = 4\n")
    freeze(root / "golden", "the regression cases of a test")


def test_the_forgetting_metric_replays_the_regression_set_at_every_evaluation(project: HarnessConfig) -> None:
    """Each evaluation scores the regression suite's cases against the base's answers with the gate's own
    rule. Two cases pass whatever the answer and one never can, so the base passes exactly two."""
    from harness.golden import GoldenCase

    anything = {"check": "word_count_between", "lo": 0, "hi": 1000}
    _write_regression_set(project.root, [
        GoldenCase(id="reg-a", input="say something", expected=[anything]),
        GoldenCase(id="reg-b", messages=[{"role": "user", "content": "and again"}], expected=[anything]),
        GoldenCase(id="reg-c", input="name it", expected=[{"check": "contains_all", "words": ["zqxjv-never"]}]),
    ])  # fmt: skip
    harness = replace(project, gates={**project.gates, "regression.no_forgetting": 0.05})
    text = TINY_TRAIN.format(steps=4).replace(
        "gates: {accuracy: tiny.accuracy}", "gates: {accuracy: tiny.accuracy, forgetting: regression.no_forgetting}"
    )
    result = train(load_train_config(_write_config(project.root / "t.yaml", text), project.root), harness,
                   data_gates=False)  # fmt: skip

    assert [e["step"] for e in result.history] == [2, 4]
    for evaluation in result.history:
        forgetting = next(c for c in evaluation["checks"] if c["metric"] == "forgetting")
        assert forgetting["gate"] == "regression.no_forgetting"
        assert forgetting["detail"] == "golden/regression: lost 0 of the base's 2 passes, gained 0; the gate allows 0"
        assert forgetting["value"] == 1.0 and forgetting["margin"] == 0.0 and forgetting["lost"] == []
        assert evaluation["score"] == min(c["margin"] for c in evaluation["checks"])


def test_a_checkpoint_that_forgets_more_than_the_gate_allows_scores_below_one_that_does_not() -> None:
    """The forgetting margin is the suite's rule in a score's units: (losses allowed - losses) / base passes,
    and it counts against the checkpoint like a failing accuracy bound."""
    from harness.train.eval_gate import Evaluation, GateCheck, forgetting_check

    base = [True] * 168
    accurate = GateCheck("t.accuracy", "accuracy", value=0.9, lower=0.86, bar=0.85)
    forgetful = forgetting_check("regression.no_forgetting", [False] * 9 + [True] * 159, base, 0.05, 0.05)
    assert forgetful.margin == pytest.approx((4 - 9) / 168)  # McNemar with no gains lets at most 4 go
    ids = [f"reg-{i}" for i in range(168)]
    careful = forgetting_check("regression.no_forgetting", [True, False, True, False] + [True] * 164, base, 0.05,
                               0.05, ids)  # fmt: skip
    assert careful.margin == pytest.approx(2 / 168) and careful.lost == ["reg-1", "reg-3"]
    less_accurate = GateCheck("t.accuracy", "accuracy", value=0.89, lower=0.845, bar=0.85)
    late = Evaluation(step=644, checks=[accurate, forgetful], seconds=0.0, n=154)
    earlier = Evaluation(step=576, checks=[less_accurate, careful], seconds=0.0, n=154)
    assert earlier.score > late.score and not late.passes() and not earlier.passes()


@pytest.mark.parametrize("gained", [0, 2, 6])
def test_most_losable_is_where_the_no_regression_gate_starts_to_fail(gained: int) -> None:
    """`stats.most_losable` agrees with the rule `gates.no_regression` applies, loss by loss."""
    from harness.stats import mcnemar_exact, most_losable

    n, bar, alpha = 168, 0.05, 0.05
    allowed = most_losable(n, gained, bar, alpha)
    for lost in range(0, 20):
        baseline = [True] * n + [False] * gained
        candidate = [False] * lost + [True] * (n - lost) + [True] * gained
        passes = lost / n <= bar and mcnemar_exact(candidate, baseline).p_worse >= alpha
        assert passes == (lost <= allowed), (lost, allowed)
    assert allowed == {0: 4, 2: 8, 6: 8}[gained]


def test_a_forgetting_metric_on_a_tampered_or_labelled_golden_set_stops_the_run(tmp_path: Path) -> None:
    from harness.golden import GoldenCase
    from harness.train.run import _forgetting_probe

    _write_regression_set(tmp_path, [GoldenCase(id="reg-a", input="2 + 2?", expected=[{"check": "number_equals",
                                                                                       "value": 4}])])  # fmt: skip
    harness = HarnessConfig(root=tmp_path, gates={"regression.no_forgetting": 0.05})
    config = load_train_config(_write_config(tmp_path / "t.yaml", "train: {eval_gate: {gates: "
                                             "{forgetting: regression.no_forgetting}}}\n"), tmp_path)  # fmt: skip
    assert _forgetting_probe(config, harness).checks == [[{"check": "number_equals", "value": 4}]]

    cases = tmp_path / "golden" / "regression" / "cases.jsonl"
    cases.write_text(cases.read_text().replace('"value": 4', '"value": 5'))
    with pytest.raises(TrainingRefused, match=r"(?s)replays golden set 'regression'.*changed: regression"):
        _forgetting_probe(config, harness)

    cases.write_text(GoldenCase(id="reg-label", input="hi", expected="greeting").model_dump_json() + "\n")
    from harness.golden.lock import freeze

    freeze(tmp_path / "golden", "a labelled set")
    with pytest.raises(TrainConfigError, match="case 'reg-label' expects a label, not checks"):
        _forgetting_probe(config, harness)
