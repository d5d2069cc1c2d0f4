"""Training: TRL SFT of LoRA/DoRA/QLoRA adapters, gated by the data suites before and the golden gates during.

`config.py` (the YAML `train:` section), `lint.py` (recipes known to fail), `data.py` (curated splits),
`shared_prefix.py` + `trainer.py` (prefix computed once per batch), `eval_gate.py` (checkpoint choice
by gate score), `result.py` (what a run produced), `tracking.py` (MLflow), `run.py` (one run, top to
bottom), `cli.py` (`harness train`).
"""
