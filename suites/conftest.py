"""Suites are the product: plain pytest files run against the `model` / `baseline` fixtures
(`pytest suites/ --model=X`). The fixtures, `golden` and the gates come from the harness plugin."""
