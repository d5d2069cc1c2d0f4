"""Data curation: `harness curate` turns raw rows into chat-format train/val/test splits.

One module per concept, in pipeline order: `sources` (read CSV/JSONL/datasets dirs, keep file:line),
`schema`, `dedup` (exact + MinHash near-dup, on `minhash` and `text`), `semantic`, `pii`, `label_noise`,
`leakage`, `split`, `report`; `pipeline` runs them top to bottom and `config` reads the YAML. The data
suites (`suites/data`) read a written dataset back through `dataset` and judge it with `checks`.
"""
