"""The loop after release: production traces become drift alarms, shadow comparisons and new cases.

traces.py   the trace format (JSONL / CSV), parsed and checked field by field
ingest.py   `harness traces import`: check, redact PII (curation's Presidio stage), store
store.py    the SQLite trace store: redacted traces, an import log, "the last N days"
drift.py    recent inputs and label mix against a training split or golden set (permutation tests)
shadow.py   recent inputs replayed through a candidate and the champion: agreement, flips, McNemar
cases.py    corrected / thumbs-down / least confident traces, clustered, into the review file; confirmed rows out
pairs.py    corrected traces as preference pairs in TRL's conversational DPO format
cli.py      `harness traces import|drift|review|confirmed|pairs`, `harness shadow`
demo.py     `make demo-loop`: two synthetic weeks of traffic through the commands above
"""
