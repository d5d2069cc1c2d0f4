"""`objective: dpo`: a second-round fine-tune on preference pairs moves the preference margin the right way,
starting from (and measured against) an SFT adapter, on a tiny real model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.config import HarnessConfig
from harness.train.config import TrainConfigError, load_train_config
from harness.train.data import DatasetError
from harness.train.preferences import read_pairs
from harness.train.run import TrainingRefused, train

PROMPTS = ["my card never came", "where is my new card", "card still not here", "has my card shipped"]


def _pair(prompt: str, chosen: str = "card_arrival", rejected: str = "card_linking") -> dict[str, Any]:
    return {"id": prompt, "prompt": [{"role": "user", "content": prompt}],
            "chosen": [{"role": "assistant", "content": chosen}],
            "rejected": [{"role": "assistant", "content": rejected}]}  # fmt: skip


def _margin(adapter: Path, base: Path) -> float:
    """Summed log p(chosen) - log p(rejected) over the prompts, under the adapter."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base)
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32), adapter).eval()

    def logp(prompt: str, answer: str) -> float:
        head = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                             tokenize=False)  # fmt: skip
        ids = tokenizer(head + answer, add_special_tokens=False, return_tensors="pt")["input_ids"]
        start = len(tokenizer(head, add_special_tokens=False)["input_ids"])
        with torch.no_grad():
            logits = model(input_ids=ids).logits[0, :-1].log_softmax(-1)
        return float(logits[start - 1 :].gather(1, ids[0, start:, None]).sum())

    return sum(logp(p, "card_arrival") - logp(p, "card_linking") for p in PROMPTS)


def _val_split(directory: Path) -> None:
    """A curated validation split for the eval gate: the prompts, each labelled with the preferred answer."""
    directory.mkdir(parents=True)
    rows = [{"id": f"val-{i}", "label": "card_arrival", "messages": [
        {"role": "user", "content": prompt}, {"role": "assistant", "content": "card_arrival"}]}
        for i, prompt in enumerate(PROMPTS)]  # fmt: skip
    (directory / "val.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))


DPO_CONFIG = """\
train:
  base_model: tiny
  objective: dpo
  dataset: data
  preferences: {{pairs: pairs.jsonl, start_adapter: {start}, beta: 0.1}}
  output_dir: out/dpo
  learning_rate: 1.0e-2
  batch_size: 4
  max_steps: 8
  bf16: false
  eval_gate: {{every_steps: 4, val_limit: 4, gates: {{accuracy: tiny.accuracy}}, stop_margin: null, max_new_tokens: 3}}
  experiment: tiny-dpo
"""


def test_a_dpo_round_moves_the_preference_margin_and_keeps_the_checkpoint_the_eval_gate_chose(
    tmp_path: Path, tiny_model_dir: Path, tiny_adapter_dir: Path
) -> None:  # fmt: skip
    (tmp_path / "pairs.jsonl").write_text("".join(json.dumps(_pair(p)) + "\n" for p in PROMPTS))
    _val_split(tmp_path / "data")
    (tmp_path / "dpo.yaml").write_text(DPO_CONFIG.format(start=tiny_adapter_dir))
    project = HarnessConfig(root=tmp_path, cache_dir=tmp_path / "cache", models={"tiny": f"hf:{tiny_model_dir}"},
                            gates={"tiny.accuracy": 0.0})  # fmt: skip
    result = train(load_train_config(tmp_path / "dpo.yaml", tmp_path), project, data_gates=False)

    assert result.steps == 8 and result.train_rows == 4
    assert [e["step"] for e in result.history] == [4, 8]
    assert result.best is not None and result.best["step"] in (4, 8)
    assert sorted(p.name for p in result.adapter_dir.iterdir()) == [
        "README.md", "adapter_config.json", "adapter_model.safetensors", "training_summary.json"]  # no "ref" copy
    assert (tmp_path / "runs" / "mlflow.db").is_file()
    before, after = _margin(tiny_adapter_dir, tiny_model_dir), _margin(result.adapter_dir, tiny_model_dir)
    assert after > before + 1.0, (before, after)


def test_a_pair_that_repeats_a_golden_case_stops_the_dpo_round_before_any_training(
    tmp_path: Path, tiny_model_dir: Path, tiny_adapter_dir: Path
) -> None:  # fmt: skip
    golden = tmp_path / "golden" / "router"
    golden.mkdir(parents=True)
    case = {"id": "router-7", "input": "Where is my new card??", "expected": "card_arrival"}
    (golden / "cases.jsonl").write_text(json.dumps(case) + "\n")
    (tmp_path / "pairs.jsonl").write_text("".join(json.dumps(_pair(p)) + "\n" for p in PROMPTS))
    (tmp_path / "dpo.yaml").write_text(DPO_CONFIG.format(start=tiny_adapter_dir))
    project = HarnessConfig(root=tmp_path, cache_dir=tmp_path / "cache", models={"tiny": f"hf:{tiny_model_dir}"})

    with pytest.raises(TrainingRefused, match=r"pairs\.jsonl:2: the prompt leaks into golden/router/cases\.jsonl "
                                              r"case router-7: same text once normalised") as refused:  # fmt: skip
        train(load_train_config(tmp_path / "dpo.yaml", tmp_path), project)
    assert "1 preference pair(s)" in str(refused.value)
    assert not (tmp_path / "out").exists()


def test_bad_pairs_are_named_by_line_and_a_dpo_config_needs_its_inputs(tmp_path: Path) -> None:
    path = tmp_path / "pairs.jsonl"
    path.write_text(json.dumps(_pair("a")) + "\n{oops\n" + json.dumps(_pair("b", "same", "same")) + "\n"
                    + json.dumps({"prompt": [{"role": "assistant", "content": "x"}], "chosen": [], "rejected": []})
                    + "\n")  # fmt: skip
    with pytest.raises(DatasetError) as error:
        read_pairs(path)
    message = str(error.value)
    assert f"{path}:2: not JSON" in message and f"{path}:3: \"chosen\" and \"rejected\" are the same" in message
    assert f"{path}:4: \"prompt\" must be a list of chat turns ending with a user turn" in message
    (tmp_path / "t.yaml").write_text("train: {objective: dpo}\n")
    with pytest.raises(TrainConfigError, match="needs train.preferences.pairs"):
        load_train_config(tmp_path / "t.yaml", tmp_path)
